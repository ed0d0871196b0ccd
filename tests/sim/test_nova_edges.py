"""Nova's edges, found writing notebook 06, through the real clients on the session's lab:

- a multi-server request that does not fit frees the claims of the servers it placed;
- a server deleted while it is being scheduled is gone for good (not listed, no quota, no
  claim), whichever of nova-api and nova-conductor gets to its build request first;
- TooManyInstances names every resource over its limit, and ``min_count`` < ``max_count``
  makes as many as the quota holds;
- Neutron's port quota is checked before anything is made (403, or fewer servers);
- a flavor's swap counts in the DISK_GB it claims;
- a listing names each server once while the conductor moves it into its cell (unit level).

Each test makes its own project (a random tag in the names), so the counts it checks are
its own even on the lab the other Nova tests share.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest

from tests.conftest import openstack_cli

pytestmark = pytest.mark.slow
Osc = Callable[..., subprocess.CompletedProcess[str]]
TAG = os.urandom(3).hex()
WAIT = {"interval": 0.2, "wait": 90}


@pytest.fixture(scope="module")
def admin(nova_lab: Any) -> Any:
    return nova_lab.connect("admin")


@pytest.fixture(scope="module")
def cli(nova_lab: Any) -> Osc:
    run = openstack_cli(nova_lab)
    return lambda *args, check=True: run(shlex.join(args), check=check)


def _json(cli: Osc, *args: str) -> Any:
    return json.loads(cli(*args, "-f", "json").stdout)


def _project(nova_lab: Any, admin: Any, name: str, **quota: int) -> tuple[Any, Any]:
    """A project of its own (the admin user has admin in it, as ``--os-project-id``) with
    these Nova quotas, and a connection scoped to it."""
    project = admin.identity.create_project(name=f"{name}-{TAG}", domain_id="default")
    admin.identity.assign_project_role_to_user(
        project, admin.identity.find_user("admin"), admin.identity.find_role("admin")
    )
    if quota:
        admin.compute.update_quota_set(project.id, **quota)
    creds = nova_lab.credentials("admin")
    conn = openstack.connect(
        auth_url=creds.auth_url,
        username=creds.username,
        password=creds.password,
        user_domain_name=creds.user_domain,
        project_id=project.id,
        region_name=creds.region,
    )
    return project, conn


def _create(conn: Any, name: str, flavor: Any, networks: Any = "none", **extra: Any) -> Any:
    image = conn.image.find_image("cirros", ignore_missing=False)
    return conn.compute.create_server(
        name=name, flavor_id=flavor.id, image_id=image.id, networks=networks, **extra
    )


def _settled(conn: Any, prefix: str, count: int) -> list[Any]:
    """The project's ``count`` servers named ``prefix``..., once none of them is BUILD."""
    servers: list[Any] = []
    for _ in range(400):
        servers = [s for s in conn.compute.servers() if s.name.startswith(prefix)]
        if len(servers) == count and all(s.status in ("ACTIVE", "ERROR") for s in servers):
            return servers
        time.sleep(0.2)
    raise AssertionError(f"{prefix}: {[(s.name, s.status) for s in servers]}")


def _delete_all(admin: Any, servers: list[Any]) -> None:
    for server in servers:
        admin.compute.delete_server(server.id, ignore_missing=True)
    for server in servers:
        admin.compute.wait_for_delete(server, **WAIT)


def _placement(conn: Any, path: str) -> Any:
    answer = conn.placement.get(path)
    assert answer.status_code == 200, (path, answer.text)
    return answer.json()


def _usages(admin: Any) -> dict[str, dict[str, int]]:
    """Every resource provider's usage, by provider name."""
    providers = _placement(admin, "/resource_providers")["resource_providers"]
    return {
        p["name"]: _placement(admin, f"/resource_providers/{p['uuid']}/usages")["usages"]
        for p in providers
    }


def _free_disk(admin: Any) -> list[int]:
    """DISK_GB each provider can still give one consumer (capacity - used, max_unit)."""
    free = []
    for p in _placement(admin, "/resource_providers")["resource_providers"]:
        inv = _placement(admin, f"/resource_providers/{p['uuid']}/inventories")["inventories"]
        disk = inv["DISK_GB"]
        used = _placement(admin, f"/resource_providers/{p['uuid']}/usages")["usages"]["DISK_GB"]
        capacity = int((disk["total"] - disk["reserved"]) * disk["allocation_ratio"])
        free.append(min(capacity - used, disk["max_unit"]))
    return free


# ---- 1. NoValidHost frees the claims already made --------------------------------------------


def test_a_batch_that_does_not_fit_leaves_no_claim_behind(nova_lab: Any, admin: Any) -> None:
    """Three servers of a flavor as big as the roomiest host's free disk: at most one per
    host is placed before the third finds nothing, and the claims of the placed ones are
    deleted with the NoValidHost (``_ensure_sufficient_hosts`` -> ``_cleanup_allocations``)."""
    _, conn = _project(nova_lab, admin, "edges-batch", instances=-1, cores=-1, ram=-1)
    assert nova_lab.sim.quiesce(60)
    disk = max(_free_disk(admin))
    flavor = admin.compute.create_flavor(name=f"edges-wide-{TAG}", vcpus=1, ram=64, disk=disk)
    before = _usages(admin)
    try:
        _create(conn, "wide", flavor, min_count=3, max_count=3)
        servers = _settled(conn, "wide-", 3)
        assert {s.status for s in servers} == {"ERROR"}
        for server in servers:
            assert server.fault["message"].startswith("No valid host was found."), server.fault
            assert _placement(admin, f"/allocations/{server.id}")["allocations"] == {}
        assert nova_lab.sim.quiesce(60)
        assert _usages(admin) == before
        _delete_all(admin, servers)
    finally:
        admin.compute.delete_flavor(flavor)


# ---- 2. deleted while being scheduled -------------------------------------------------------


def test_a_server_deleted_while_it_is_scheduled_is_gone_for_good(nova_lab: Any, admin: Any) -> None:
    """Create and delete at once, with delays that land the delete before, during and after
    the conductor's move of the server into its cell. Each delete answers 204 (never 404);
    afterwards no server is listed or found, the project uses no quota and Placement
    holds no claim for any of them."""
    project, conn = _project(nova_lab, admin, "edges-race")
    flavor = conn.compute.find_flavor("m1.nano", ignore_missing=False)
    before = _usages(admin)
    made = []
    for i in range(12):
        server = _create(conn, f"race-{i}", flavor)
        made.append(server.id)
        time.sleep((i % 4) * 0.01)
        conn.compute.delete_server(server.id)  # raises on a 404
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and list(conn.compute.servers()):
        time.sleep(0.2)
    assert nova_lab.sim.quiesce(60)
    assert [s.name for s in conn.compute.servers(details=True)] == []
    for uuid in made:
        with pytest.raises(openstack.exceptions.NotFoundException):
            conn.compute.get_server(uuid)
        assert _placement(admin, f"/allocations/{uuid}")["allocations"] == {}
    usage = admin.compute.get_quota_set(project.id, usage=True).usage
    assert (usage["instances"], usage["cores"], usage["ram"]) == (0, 0, 0)
    assert _usages(admin) == before


# ---- 3. Nova's quota: every resource over, and min_count -------------------------------------


def test_quota_names_every_resource_over_and_min_count_takes_what_fits(
    nova_lab: Any, admin: Any
) -> None:
    _, conn = _project(nova_lab, admin, "edges-quota", instances=3, cores=3)
    nano = conn.compute.find_flavor("m1.nano", ignore_missing=False)  # 1 vCPU, 64 MB

    def refused(**counts: int) -> str:
        with pytest.raises(openstack.exceptions.ForbiddenException) as caught:
            _create(conn, "q", nano, **counts)
        assert caught.value.status_code == 403
        return str(caught.value)

    # max_count is asked first; cores and instances are both over, named sorted
    assert (
        "Quota exceeded for cores, instances: Requested 5, 5, but already used 0, 0 of "
        "3, 3 cores, instances"
    ) in refused(min_count=5, max_count=5)
    # 3 fit, 4 are the least wanted: refused, the instances asked for read "4-5"
    assert (
        "Quota exceeded for cores, instances: Requested 5, 4-5, but already used 0, 0 of "
        "3, 3 cores, instances"
    ) in refused(min_count=4, max_count=5)
    assert list(conn.compute.servers()) == []
    # 1 to 5 wanted: the 3 that fit are made
    _create(conn, "some", nano, min_count=1, max_count=5)
    servers = _settled(conn, "some-", 3)
    assert sorted(s.name for s in servers) == ["some-1", "some-2", "some-3"]
    assert (
        "Quota exceeded for cores, instances: Requested 1, 1, but already used 3, 3 of "
        "3, 3 cores, instances"
    ) in refused()
    # only ram over (3 x 64 MB used of 256): one resource named
    admin.compute.update_quota_set(conn.current_project_id, instances=10, cores=10, ram=256)
    assert ("Quota exceeded for ram: Requested 128, but already used 192 of 256 ram") in refused(
        min_count=2, max_count=2
    )
    _delete_all(admin, servers)


# ---- 4. Neutron's port quota, before anything is made ----------------------------------------


def test_the_port_quota_is_checked_before_booting(nova_lab: Any, admin: Any, cli: Osc) -> None:
    project, conn = _project(nova_lab, admin, "edges-ports")
    nano = conn.compute.find_flavor("m1.nano", ignore_missing=False)
    admin.network.update_quota(project.id, ports=2)
    network = next(n for n in admin.network.networks(is_shared=True))

    def refused(networks: Any, **counts: int) -> str:
        with pytest.raises(openstack.exceptions.ForbiddenException) as caught:
            _create(conn, "p", nano, networks, **counts)
        assert caught.value.status_code == 403
        return str(caught.value)

    # 3 servers need 3 ports, the project may have 2: refused up front, nothing made
    assert "Maximum number of ports exceeded" in refused("auto", min_count=3, max_count=3)
    assert "Maximum number of ports exceeded" in refused(
        [{"uuid": network.id}], min_count=3, max_count=3
    )
    # two networks per server: 4 ports for 2 servers
    assert "Maximum number of ports exceeded" in refused(
        [{"uuid": network.id}, {"uuid": network.id}], min_count=2, max_count=2
    )
    assert list(conn.compute.servers()) == []
    # 1 to 3 wanted: the port quota holds 2, so 2 are made (and ACTIVE, with their ports)
    _create(conn, "ported", nano, "auto", min_count=1, max_count=3)
    servers = _settled(conn, "ported-", 2)
    assert {s.status for s in servers} == {"ACTIVE"}
    assert len(list(conn.network.ports(project_id=project.id))) == 2
    # no port left: even one server is refused; "none" needs no port and is let through
    assert "Maximum number of ports exceeded" in refused("auto")
    # below what is used already: Neutron's count is named
    admin.network.update_quota(project.id, ports=1)
    assert "The number of defined ports: 2 is over the limit: 1" in refused("auto")
    spare = _create(conn, "portless", nano, "none")
    conn.compute.wait_for_server(spare, status="ACTIVE", failures=["ERROR"], **WAIT)
    # the CLI shows Nova's 403 the same way
    said = cli(
        "server",
        "create",
        "--flavor",
        "m1.nano",
        "--image",
        "cirros",
        "--nic",
        "auto",
        "--os-project-id",
        project.id,
        "cli-ported",
        check=False,
    )
    assert said.returncode == 1
    assert "The number of defined ports: 2 is over the limit: 1" in said.stderr
    assert said.stderr.startswith("ForbiddenException: 403")
    _delete_all(admin, [*servers, spare])


# ---- 5. swap in the DISK_GB claim ------------------------------------------------------------


def test_swap_counts_in_the_disk_claimed(nova_lab: Any, admin: Any, cli: Osc) -> None:
    """1 GB root + 1 GB ephemeral + 1536 MB swap (rounded up: 2 GB) = 4 GB of DISK_GB."""
    flavor = admin.compute.create_flavor(
        name=f"edges-swap-{TAG}", vcpus=1, ram=64, disk=1, ephemeral=1, swap=1536
    )
    try:
        _, conn = _project(nova_lab, admin, "edges-swap")
        server = _create(conn, "swapper", flavor)
        server = conn.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], **WAIT)
        shown = _json(cli, "resource", "provider", "allocation", "show", server.id)
        assert len(shown) == 1
        assert shown[0]["resources"] == {"VCPU": 1, "MEMORY_MB": 64, "DISK_GB": 4}
        _delete_all(admin, [server])
    finally:
        admin.compute.delete_flavor(flavor)


# ---- 6. a listing names each server once (unit level) ----------------------------------------


class _Cells:
    """Just what :func:`instances.listing` and :func:`instances.count_usage` read of
    NovaCells: the API database and the cells' databases."""

    def __init__(self, root: Path) -> None:
        from labkit.sim.core.store import Database
        from labkit.sim.nova import models as m

        self.api = Database(root / "nova_api.db", m.ApiBase.metadata)
        self.cell = Database(root / "nova.db", m.CellBase.metadata)
        self.api.create_all()
        self.cell.create_all()

    def all(self) -> list[tuple[Any, Any]]:
        return [(None, self.cell)]


@pytest.fixture()
def cells(tmp_path: Path) -> Iterator[_Cells]:
    made = _Cells(tmp_path)
    yield made
    made.api.dispose()
    made.cell.dispose()


def test_a_server_in_its_build_request_and_its_cell_is_listed_once(cells: _Cells) -> None:
    """The conductor writes the server into its cell before it drops the build request;
    a listing (or a quota count) that reads both meanwhile must name it once -- the build
    request's copy, as ``compute/api.py get_all``'s unique filter keeps the first seen."""
    from labkit.sim.nova import instances
    from labkit.sim.nova import models as m

    flavor = {"flavorid": "1", "name": "m1.nano", "vcpus": 1, "memory_mb": 64, "root_gb": 1}

    def instance(uuid: str, created: str, **extra: Any) -> dict[str, Any]:
        return {
            "uuid": uuid,
            "display_name": uuid[:4],
            "project_id": "p",
            "user_id": "u",
            "flavor": flavor,
            "vm_state": "building",
            "created_at": created,
            **extra,
        }

    moving, placed = "aaaaaaaa-0000-0000-0000-000000000001", "bbbbbbbb-0000-0000-0000-000000000002"
    with cells.api.write() as s:
        s.add(
            m.BuildRequest(
                instance_uuid=moving,
                project_id="p",
                instance=instance(moving, "2030-01-01T00:00:02", task_state="scheduling"),
            )
        )
    with cells.cell.write() as s:
        s.add(m.Instance(**instance(moving, "2030-01-01T00:00:02", host="worker1")))
        s.add(m.Instance(**instance(placed, "2030-01-01T00:00:01", host="controller")))
    listed = instances.listing(cells, "p")  # type: ignore[arg-type]
    assert [i["uuid"] for i in listed] == [moving, placed]
    assert listed[0]["task_state"] == "scheduling" and not listed[0].get("host")
    assert instances.count_usage(cells, "p") == {"instances": 2, "cores": 2, "ram": 128}  # type: ignore[arg-type]
