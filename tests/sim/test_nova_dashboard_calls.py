"""Nova calls the dashboard's python-novaclient makes and openstacksdk rarely does:
``os-hypervisors/statistics`` (the Hypervisors page's pie charts), ``os-hypervisors/
{pattern}/servers`` (a hypervisor's page), and a server's ``os-volume_attachments`` (every
instance page), sent here as novaclient sends them: no microversion header, i.e. 2.1.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import openstack_cli

Osc = Callable[..., subprocess.CompletedProcess[str]]
STATISTICS = {
    "count",
    "vcpus",
    "memory_mb",
    "local_gb",
    "vcpus_used",
    "memory_mb_used",
    "local_gb_used",
    "free_ram_mb",
    "free_disk_gb",
    "current_workload",
    "running_vms",
    "disk_available_least",
}


@pytest.fixture(scope="module")
def admin(nova_lab: Any) -> Any:
    return nova_lab.connect("admin")


@pytest.fixture(scope="module")
def cli(nova_lab: Any) -> Osc:
    run = openstack_cli(nova_lab)
    return lambda *args, check=True: run(shlex.join(args), check=check)


def _get(conn: Any, path: str, microversion: str | None = None) -> Any:
    headers = {"OpenStack-API-Version": f"compute {microversion}"} if microversion else {}
    return conn.compute.get(path, headers=headers, raise_exc=False)


def test_hypervisor_statistics_sum_the_hypervisors(admin: Any, cli: Osc) -> None:
    answer = _get(admin, "/os-hypervisors/statistics")
    assert answer.status_code == 200, answer.text
    stats = answer.json()["hypervisor_statistics"]
    assert set(stats) == STATISTICS
    nodes = _get(admin, "/os-hypervisors/detail").json()["hypervisors"]
    assert stats["count"] == len(nodes) == 2
    for field in ("vcpus", "memory_mb", "local_gb", "vcpus_used", "running_vms", "free_ram_mb"):
        assert stats[field] == sum(n[field] for n in nodes), field
    shown = json.loads(
        cli("hypervisor", "stats", "show", "--os-compute-api-version", "2.87", "-f", "json").stdout
    )
    assert shown["count"] == 2 and shown["vcpus"] == stats["vcpus"]


def test_hypervisor_statistics_are_gone_from_2_88_and_admin_only(admin: Any, nova_lab: Any) -> None:
    gone = _get(admin, "/os-hypervisors/statistics", "2.88")
    assert gone.status_code == 404
    assert gone.json()["itemNotFound"]["message"] == "The resource could not be found."
    refused = _get(nova_lab.connect("demo"), "/os-hypervisors/statistics")
    assert refused.status_code == 403
    assert refused.json()["forbidden"]["message"] == (
        "Policy doesn't allow os_compute_api:os-hypervisors:statistics to be performed."
    )


def test_a_server_without_cinder_has_no_volume_attachments(admin: Any, nova_lab: Any) -> None:
    image = admin.image.find_image("cirros", ignore_missing=False)
    server = admin.compute.create_server(
        name="no-volumes",
        flavor_id=admin.compute.find_flavor("m1.tiny", ignore_missing=False).id,
        image_id=image.id,
        networks="auto",
    )
    try:
        answer = _get(admin, f"/servers/{server.id}/os-volume_attachments")
        assert answer.status_code == 200
        assert answer.json() == {"volumeAttachments": []}
        # Another project's server, and one that does not exist: Nova's 404.
        hidden = _get(nova_lab.connect("demo"), f"/servers/{server.id}/os-volume_attachments")
        assert hidden.status_code == 404
        assert hidden.json()["itemNotFound"]["message"] == (
            f"Instance {server.id} could not be found."
        )
    finally:
        admin.compute.delete_server(server, ignore_missing=True)


def test_hypervisor_search_and_servers_by_hostname_pattern(admin: Any) -> None:
    image = admin.image.find_image("cirros", ignore_missing=False)
    server = admin.compute.create_server(
        name="on-a-host",
        flavor_id=admin.compute.find_flavor("m1.tiny", ignore_missing=False).id,
        image_id=image.id,
        networks="none",
    )
    try:
        server = admin.compute.wait_for_server(server, interval=0.2, wait=60)
        host = server.hypervisor_hostname
        found = _get(admin, f"/os-hypervisors/{host[:4]}/search").json()["hypervisors"]
        assert [h["hypervisor_hostname"] for h in found] == [host]
        assert set(found[0]) == {"id", "hypervisor_hostname", "state", "status"}
        listed = _get(admin, f"/os-hypervisors/{host}/servers").json()["hypervisors"]
        assert {"uuid": server.id, "name": server.instance_name} in listed[0]["servers"]
        # A pattern that matches nothing is Nova's 404; from 2.53 the routes are gone.
        missing = _get(admin, "/os-hypervisors/nosuchhost/servers")
        assert missing.status_code == 404
        assert missing.json()["itemNotFound"]["message"] == (
            "No hypervisor matching 'nosuchhost' could be found."
        )
        assert _get(admin, f"/os-hypervisors/{host}/servers", "2.53").status_code == 404
    finally:
        admin.compute.delete_server(server, ignore_missing=True)


def test_a_deleted_server_still_places_the_next_page(admin: Any) -> None:
    """Horizon pages its instance list with the last row it showed as the marker; Nova
    reads markers with read_deleted='yes', so a server deleted meanwhile still works."""
    image = admin.image.find_image("cirros", ignore_missing=False)
    flavor = admin.compute.find_flavor("m1.tiny", ignore_missing=False)
    made = []
    try:
        for name in ("page-older", "page-newer"):
            made.append(
                admin.compute.create_server(
                    name=name, flavor_id=flavor.id, image_id=image.id, networks="none"
                )
            )
        older, newer = (admin.compute.wait_for_server(s, interval=0.2, wait=60) for s in made)
        admin.compute.delete_server(newer)
        admin.compute.wait_for_delete(newer, interval=0.2, wait=60)
        after = _get(admin, f"/servers/detail?marker={newer.id}&limit=50")
        assert after.status_code == 200, after.text
        listed = [s["id"] for s in after.json()["servers"]]
        assert older.id in listed and newer.id not in listed
        unknown = _get(admin, "/servers/detail?marker=8a1b6f0e-0000-4000-8000-000000000000")
        assert unknown.status_code == 400
        assert unknown.json()["badRequest"]["message"] == (
            "marker [8a1b6f0e-0000-4000-8000-000000000000] not found"
        )
    finally:
        for server in made:
            admin.compute.delete_server(server, ignore_missing=True)


def test_rename_a_server_and_describe_it(admin: Any, nova_lab: Any, cli: Osc) -> None:
    """Horizon's "Edit Instance" (novaclient's servers.update at 2.19)."""
    image = admin.image.find_image("cirros", ignore_missing=False)
    server = admin.compute.create_server(
        name="before",
        flavor_id=admin.compute.find_flavor("m1.tiny", ignore_missing=False).id,
        image_id=image.id,
        networks="none",
    )
    try:
        server = admin.compute.wait_for_server(server, interval=0.2, wait=60)
        answer = admin.compute.put(
            f"/servers/{server.id}",
            json={"server": {"name": "after", "description": "renamed in the dashboard"}},
            headers={"OpenStack-API-Version": "compute 2.19"},
        )
        assert answer.status_code == 200
        shown = answer.json()["server"]
        assert (shown["name"], shown["description"]) == ("after", "renamed in the dashboard")
        cli("server", "set", "--name", "again", server.id)
        assert admin.compute.get_server(server.id).name == "again"
        # Before 2.19 a description is an unknown property; names are checked.
        old = admin.compute.put(
            f"/servers/{server.id}", json={"server": {"description": "x"}}, raise_exc=False
        )
        assert old.status_code == 400
        assert (
            "Additional properties are not allowed ('description' was unexpected)"
            in (old.json()["badRequest"]["message"])
        )
        blank = admin.compute.put(
            f"/servers/{server.id}", json={"server": {"name": " padded "}}, raise_exc=False
        )
        assert blank.status_code == 400
        hidden = nova_lab.connect("demo").compute.put(
            f"/servers/{server.id}", json={"server": {"name": "mine"}}, raise_exc=False
        )
        assert hidden.status_code == 404
        assert admin.compute.get_server(server.id).name == "again"
    finally:
        admin.compute.delete_server(server, ignore_missing=True)
