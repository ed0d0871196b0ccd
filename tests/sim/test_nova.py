"""Nova through the real clients: the seed's boot, its trail, services, hypervisors, quotas.

Every test talks to the sim the way a learner does: the ``openstack`` CLI or openstacksdk.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openstack
import pytest

from tests.conftest import openstack_cli

pytestmark = pytest.mark.slow
Osc = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def admin(nova_lab: Any) -> Any:
    return nova_lab.connect("admin")


@pytest.fixture(scope="module")
def cli(nova_lab: Any) -> Osc:
    run = openstack_cli(nova_lab)
    return lambda *args, check=True: run(shlex.join(args), check=check)


def _json(cli: Osc, *args: str) -> Any:
    return json.loads(cli(*args, "-f", "json").stdout)


def _as_admin_in(lab: Any, project: Any) -> Any:
    """The admin user, scoped to another project (as `--os-project-id` would)."""
    creds = lab.credentials("admin")
    return openstack.connect(
        auth_url=creds.auth_url,
        username=creds.username,
        password=creds.password,
        user_domain_name=creds.user_domain,
        project_id=project.id,
        region_name=creds.region,
    )


def _project_with_quota(admin: Any, name: str, **quota: int) -> Any:
    project = admin.identity.create_project(name=name, domain_id="default")
    admin.identity.assign_project_role_to_user(
        project, admin.identity.find_user("admin"), admin.identity.find_role("admin")
    )
    admin.compute.update_quota_set(project.id, **quota)
    return project


def _boot(admin: Any, name: str, flavor: str = "m1.tiny", **extra: Any) -> Any:
    image = admin.image.find_image("cirros")
    server = admin.compute.create_server(
        name=name,
        flavor_id=admin.compute.find_flavor(flavor).id,
        image_id=image.id,
        networks="auto",
        **extra,
    )
    return admin.compute.wait_for_server(
        server, status="ACTIVE", failures=["ERROR"], interval=0.2, wait=60
    )


def test_the_seeds_boot_reaches_active_from_the_cli(cli: Osc) -> None:
    out = _json(
        cli, "server", "create", "--flavor", "m1.medium", "--image", "trusty", "--wait", "server1"
    )
    assert out["status"] == "ACTIVE"
    assert out["OS-EXT-STS:vm_state"] == "active"
    assert out["OS-EXT-STS:power_state"] in ("Running", 1)
    assert out["addresses"]  # a fixed IP on the provider network
    events = _json(cli, "server", "event", "list", "server1")
    assert [e["Action"] for e in events] == ["create"]
    detail = _json(cli, "server", "event", "show", "server1", events[0]["Request ID"])
    assert [e["event"] for e in detail["events"]] == ["compute__do_build_and_run_instance"]
    assert detail["events"][0]["result"] == "Success"


def test_compute_services_and_hypervisors_are_up(cli: Osc) -> None:
    services = _json(cli, "compute", "service", "list")
    binaries = sorted((s["Binary"], s["Host"], s["State"]) for s in services)
    assert ("nova-conductor", "controller", "up") in binaries
    assert ("nova-scheduler", "controller", "up") in binaries
    assert ("nova-compute", "controller", "up") in binaries
    assert ("nova-compute", "worker1", "up") in binaries
    hypervisors = _json(cli, "hypervisor", "list")
    assert sorted(h["Hypervisor Hostname"] for h in hypervisors) == ["controller", "worker1"]
    providers = _json(cli, "resource", "provider", "list")
    assert sorted(p["name"] for p in providers) == ["controller", "worker1"]


def test_a_boot_claims_resources_in_placement_and_delete_frees_them(admin: Any, cli: Osc) -> None:
    server = _boot(admin, "claims", "m1.small")
    host = server.compute_host
    provider = next(p for p in _json(cli, "resource", "provider", "list") if p["name"] == host)
    usage = {
        u["resource_class"]: u["usage"]
        for u in _json(cli, "resource", "provider", "usage", "show", provider["uuid"])
    }
    assert usage["VCPU"] >= 1 and usage["MEMORY_MB"] >= 2048
    admin.compute.delete_server(server)
    admin.compute.wait_for_delete(server, interval=0.2, wait=60)
    after = {
        u["resource_class"]: u["usage"]
        for u in _json(cli, "resource", "provider", "usage", "show", provider["uuid"])
    }
    assert after["MEMORY_MB"] == usage["MEMORY_MB"] - 2048


def test_stop_start_reboot_and_console_log(admin: Any, cli: Osc) -> None:
    server = _boot(admin, "power")
    admin.compute.stop_server(server)
    admin.compute.wait_for_server(server, status="SHUTOFF", interval=0.2, wait=30)
    with pytest.raises(openstack.exceptions.ConflictException, match="Cannot 'stop' instance"):
        admin.compute.stop_server(server)
    admin.compute.start_server(server)
    admin.compute.wait_for_server(server, status="ACTIVE", interval=0.2, wait=30)
    admin.compute.reboot_server(server, "SOFT")
    admin.compute.wait_for_server(server, status="ACTIVE", interval=0.2, wait=30)
    log = cli("console", "log", "show", "power").stdout
    assert "cloud-init" in log and "login:" in log
    actions = [e["Action"] for e in _json(cli, "server", "event", "list", "power")]
    assert actions[:3] == ["reboot", "start", "stop"]


def test_a_flavor_too_big_for_every_host_is_no_valid_host(admin: Any) -> None:
    # 5 TB of root disk: no host has it (and disk is not a Nova quota)
    flavor = admin.compute.create_flavor(name="huge", vcpus=1, ram=512, disk=5000)
    try:
        image = admin.image.find_image("cirros")
        server = admin.compute.create_server(
            name="huge", flavor_id=flavor.id, image_id=image.id, networks="auto"
        )
        server = admin.compute.wait_for_server(server, status="ERROR", interval=0.2, wait=30)
        assert server.fault["message"].startswith("No valid host was found.")
        actions = list(admin.compute.server_actions(server))
        detail = admin.compute.get_server_action(actions[0].request_id, server)
        assert detail.events[0]["event"] == "conductor_schedule_and_build_instances"
        assert detail.events[0]["result"] == "Error"
        admin.compute.delete_server(server)
    finally:
        admin.compute.delete_flavor(flavor)


def test_quota_exceeded_is_nova_403(admin: Any, nova_lab: Any) -> None:
    project = _project_with_quota(admin, "tiny-quota", cores=1)
    conn = _as_admin_in(nova_lab, project)
    flavor = conn.compute.find_flavor("m1.medium")
    image = conn.image.find_image("cirros")
    with pytest.raises(openstack.exceptions.ForbiddenException) as caught:
        conn.compute.create_server(
            name="q", flavor_id=flavor.id, image_id=image.id, networks="auto"
        )
    assert "Quota exceeded for cores: Requested 2, but already used 0 of 1 cores" in str(
        caught.value
    )


def test_fifty_concurrent_creates_against_a_quota_of_ten(admin: Any, nova_lab: Any) -> None:
    project = _project_with_quota(admin, "ten", instances=10)
    conn = _as_admin_in(nova_lab, project)
    flavor = conn.compute.find_flavor("m1.nano")
    image = conn.image.find_image("cirros")

    def create(n: int) -> str:
        try:
            conn.compute.create_server(
                name=f"c{n}", flavor_id=flavor.id, image_id=image.id, networks="none"
            )
            return "ok"
        except openstack.exceptions.ForbiddenException:
            return "quota"

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(create, range(50)))
    assert results.count("ok") == 10
    assert results.count("quota") == 40
    assert len(list(conn.compute.servers())) == 10
    assert nova_lab.sim.quiesce(60)


def test_bad_input_gets_novas_errors(admin: Any) -> None:
    with pytest.raises(openstack.exceptions.NotFoundException, match="could not be found"):
        admin.compute.get_server("00000000-0000-0000-0000-00000000dead")
    image = admin.image.find_image("cirros")
    with pytest.raises(
        openstack.exceptions.BadRequestException, match=r"Flavor nope could not be found\."
    ):
        admin.compute.create_server(name="x", flavor_id="nope", image_id=image.id, networks="none")
    flavor = admin.compute.find_flavor("m1.tiny")
    with pytest.raises(openstack.exceptions.BadRequestException, match="could not be found"):
        admin.compute.create_server(
            name="x",
            flavor_id=flavor.id,
            image_id="00000000-0000-0000-0000-000000000000",
            networks="none",
        )


def test_a_stopped_compute_goes_down_and_gets_no_servers(
    admin: Any, nova_lab: Any, cli: Osc
) -> None:
    nova_lab.stop_service("nova-compute", host="worker1")
    try:
        nova_lab.sim.advance_clock(61)  # service_down_time passes
        state = {
            (s["Host"], s["Binary"]): s["State"] for s in _json(cli, "compute", "service", "list")
        }
        assert state[("worker1", "nova-compute")] == "down"
        server = _boot(admin, "not-on-worker1")
        assert server.compute_host == "controller"
    finally:
        nova_lab.start_service("nova-compute", host="worker1")
    state = {(s["Host"], s["Binary"]): s["State"] for s in _json(cli, "compute", "service", "list")}
    assert state[("worker1", "nova-compute")] == "up"


def test_drill_image_deleted_mid_boot_ends_in_error(nova_lab: Any, admin: Any) -> None:
    shown = str(nova_lab.drill("image-deleted-mid-boot"))
    assert "lab.end_drill('image-deleted-mid-boot')" in shown
    server = admin.compute.find_server("doomed")
    server = admin.compute.get_server(server.id)
    assert server.status == "ERROR"
    assert "could not be found" in server.fault["message"]
    nova_lab.end_drill("image-deleted-mid-boot")
    assert admin.compute.find_server("doomed") is None


def test_drill_rabbitmq_stopped_takes_services_down_until_it_is_back(
    nova_lab: Any, cli: Osc
) -> None:
    nova_lab.drill("rabbitmq-stopped")
    try:
        state = {
            (s["Host"], s["Binary"]): s["State"] for s in _json(cli, "compute", "service", "list")
        }
        assert set(state.values()) == {"down"}
    finally:
        nova_lab.end_drill("rabbitmq-stopped")
    state = {(s["Host"], s["Binary"]): s["State"] for s in _json(cli, "compute", "service", "list")}
    assert set(state.values()) == {"up"}


def test_a_batch_spreads_over_the_hosts(admin: Any) -> None:
    # One request for four servers: each pick leaves its host with less free RAM, so the
    # RAM weigher sends the next one to the other host (as Nova's consume_from_request).
    admin.compute.update_quota_set(admin.current_project_id, instances=-1, cores=-1, ram=-1)
    image = admin.image.find_image("cirros")
    flavor = admin.compute.find_flavor("m1.small")
    admin.compute.create_server(
        name="batch",
        flavor_id=flavor.id,
        image_id=image.id,
        networks="none",
        min_count=4,
        max_count=4,
    )
    servers = list(admin.compute.servers(details=True, name="^batch"))
    assert len(servers) == 4
    hosts = [
        admin.compute.wait_for_server(s, status="ACTIVE", interval=0.2, wait=60).compute_host
        for s in servers
    ]
    assert sorted(set(hosts)) == ["controller", "worker1"], hosts
    for server in servers:
        admin.compute.delete_server(server)


def test_another_projects_server_is_not_found_not_forbidden(nova_lab: Any, admin: Any) -> None:
    """Nova reads instances project-only for non-admins: 404, as if it did not exist."""
    import openstack.exceptions

    server = _boot(admin, "Not yours!")
    demo = nova_lab.connect("demo")
    try:
        assert server.hostname == "not-yours"  # Nova's sanitize_hostname of the name
        with pytest.raises(openstack.exceptions.NotFoundException) as missing:
            demo.compute.get_server(server.id)
        assert missing.value.status_code == 404
        assert f"Instance {server.id} could not be found." in str(missing.value)
    finally:
        admin.compute.delete_server(server)


def test_anti_affinity_hint_as_openstacksdk_sends_it(admin: Any) -> None:
    """openstacksdk (and so `server create --hint group=ID`) sends the hints under
    OS-SCH-HNT:scheduler_hints; Nova reads that spelling too."""
    group = admin.compute.create_server_group(name="apart-sdk", policy="anti-affinity")
    image, flavor = admin.image.find_image("cirros"), admin.compute.find_flavor("m1.tiny")
    made = []
    try:
        for n in (1, 2, 3):
            server = admin.compute.create_server(
                name=f"apart-sdk-{n}",
                image_id=image.id,
                flavor_id=flavor.id,
                networks="none",
                scheduler_hints={"group": group.id},
            )
            made.append(server)
            with contextlib.suppress(Exception):
                admin.compute.wait_for_server(server, interval=0.2, wait=60)
        first, second, third = (admin.compute.get_server(s.id) for s in made)
        assert first.status == second.status == "ACTIVE"
        assert first.compute_host != second.compute_host  # two hosts, one member each
        assert third.status == "ERROR"
        assert "No valid host was found" in third.fault["message"]
    finally:
        for server in made:
            admin.compute.delete_server(server)
        admin.compute.delete_server_group(group)
