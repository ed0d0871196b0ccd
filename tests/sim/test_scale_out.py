"""Scale out (notebook 07) through the real clients: ``lab.add_worker`` gives the sim a third
host running nova-compute and the Linux bridge agent, the cloud sees it as a compute service,
a hypervisor and a resource provider and puts servers on it; a second call changes nothing;
the host survives a restart of the sim; anti-affinity spreads a group one member per host
and refuses one more; a stopped worker is skipped.

Adding a host changes the sim's hosts, which no shared lab may see: this module has a lab of
its own, a copy of the run's nova-compute template (tests/sim_templates.py).
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from labkit.envs import extra_hosts_path
from labkit.errors import LabkitError
from labkit.lab import Lab
from labkit.lab.scale import WorkerAdded
from tests.conftest import CurrentConnection, openstack_cli, private_sim

pytestmark = pytest.mark.slow
Osc = Callable[..., subprocess.CompletedProcess[str]]
HOSTS = {"controller", "worker1", "worker2"}


@pytest.fixture(scope="module")
def scale_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from private_sim(tmp_path_factory, "scale", layer="nova-compute")


@pytest.fixture(scope="module")
def added(scale_lab: Lab) -> WorkerAdded:
    return scale_lab.add_worker("worker2", cpus=4, ram_gb=8, disk_gb=250)


@pytest.fixture(scope="module")
def cli(scale_lab: Lab, added: WorkerAdded) -> Osc:
    run = openstack_cli(scale_lab)
    return lambda *args, check=True: run(shlex.join(args), check=check)


@pytest.fixture(scope="module")
def admin(scale_lab: Lab, added: WorkerAdded) -> Any:
    return CurrentConnection(scale_lab, "admin")


def _json(cli: Osc, *args: str) -> Any:
    return json.loads(cli(*args, "-f", "json").stdout)


def _boot_in_group(admin: Any, name: str, group: str, count: int = 1) -> None:
    """``POST /servers`` with ``os:scheduler_hints: {group: ...}``: the hint key Nova's API
    reference documents (openstacksdk and the CLI send its alias OS-SCH-HNT:scheduler_hints)."""
    compute = admin.compute
    body = {
        "server": {
            "name": name,
            "flavorRef": compute.find_flavor("m1.tiny", ignore_missing=False).id,
            "imageRef": admin.image.find_image("cirros", ignore_missing=False).id,
            "networks": "auto",
            "min_count": count,
            "max_count": count,
        },
        "os:scheduler_hints": {"group": group},
    }
    answer = compute.post("/servers", json=body, microversion="2.37")
    assert answer.status_code == 202, answer.text


def _settled(lab: Lab, prefix: str) -> dict[str, tuple[str, str]]:
    """name -> (status, host) of the servers named prefix[-N], once none is building."""
    table = lab.where_servers(prefix)
    return {row[0]: (row[1], row[2]) for row in table.rows}


def test_the_new_worker_runs_nova_compute_and_the_l2_agent(
    added: WorkerAdded, scale_lab: Lab, cli: Osc
) -> None:
    assert added.recorded and added.restarted
    assert "Map worker2 to cell1 (discover_hosts)" in added.changed
    assert added.host.address == "10.64.0.4"  # the next free address after .2 and .3
    services = _json(cli, "compute", "service", "list", "--service", "nova-compute")
    assert {s["Host"]: s["State"] for s in services} == dict.fromkeys(HOSTS, "up")
    hypervisors = {h["Hypervisor Hostname"]: h for h in _json(cli, "hypervisor", "list")}
    assert set(hypervisors) == HOSTS
    assert hypervisors["worker2"]["Host IP"] == "10.64.0.4"
    assert hypervisors["worker2"]["State"] == "up"
    providers = {p["name"]: p["uuid"] for p in _json(cli, "resource", "provider", "list")}
    assert set(providers) == HOSTS
    assert providers["worker2"] == hypervisors["worker2"]["ID"]  # one id for both
    inventory = {
        i["resource_class"]: i
        for i in _json(cli, "resource", "provider", "inventory", "list", providers["worker2"])
    }
    assert (inventory["VCPU"]["total"], inventory["VCPU"]["allocation_ratio"]) == (4, 4.0)
    assert (inventory["MEMORY_MB"]["total"], inventory["MEMORY_MB"]["reserved"]) == (8192, 512)
    assert inventory["DISK_GB"]["total"] == 250
    agents = _json(cli, "network", "agent", "list", "--host", "worker2")
    assert [(a["Binary"], a["Alive"]) for a in agents] == [("neutron-linuxbridge-agent", True)]
    host = next(h for h in scale_lab.sim.hosts()["hosts"] if h["name"] == "worker2")
    running = {s["name"] for s in host["services"] if s["state"] == "running"}
    assert {"nova-compute", "neutron-linuxbridge-agent", "libvirtd", "chrony"} <= running
    table = str(added)
    planned = len(scale_lab.scale.steps(added.host))  # base + nova-compute + networking
    assert len(added.results) == planned
    assert f"install steps       {planned} of {planned} done" in table
    assert "cell mapping        mapped to cell1" in table


def test_a_second_add_worker_changes_nothing(added: WorkerAdded, scale_lab: Lab) -> None:
    pid = scale_lab.sim.health()["pid"]
    recorded = extra_hosts_path(scale_lab.paths.root).read_text()
    again = scale_lab.add_worker("worker2", cpus=4, ram_gb=8, disk_gb=250)
    assert (again.recorded, again.restarted, again.changed) == (False, False, [])
    assert {r.status for r in again.results} == {"already done"}
    assert scale_lab.sim.health()["pid"] == pid  # no restart
    assert extra_hosts_path(scale_lab.paths.root).read_text() == recorded
    assert str(again) == str(added)  # a notebook shows the same the second time
    assert scale_lab.add_worker("worker2").changed == []  # sizes need not be repeated
    with pytest.raises(LabkitError, match=r"already in this lab, with ram_gb 8 \(asked 16\)"):
        scale_lab.add_worker("worker2", ram_gb=16)


def test_the_worker_takes_servers(scale_lab: Lab, cli: Osc) -> None:
    for host in ("controller", "worker1"):
        cli("compute", "service", "set", "--disable", host, "nova-compute")
    try:
        host = cli(
            "server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--wait",
            "only-w2", "-f", "value", "-c", "OS-EXT-SRV-ATTR:host",
        ).stdout.strip()  # fmt: skip
    finally:
        for name in ("controller", "worker1"):
            cli("compute", "service", "set", "--enable", name, "nova-compute")
    assert host == "worker2"
    assert _settled(scale_lab, "only-w2") == {"only-w2": ("ACTIVE", "worker2")}
    scores = str(scale_lab.draw_scores("only-w2"))
    assert "worker2     0 = RAMWeigher 0 + CPUWeigher 0 + DiskWeigher 0  << chosen" in scores
    assert "controller  dropped by ComputeFilter: disabled" in scores
    usage = str(scale_lab.draw_usage())
    assert "  worker2: 1 server (only-w2)" in usage
    assert "    MEMORY_MB  512/7680 MB (7%)" in usage
    assert str(scale_lab.remove_servers("only-w2")).endswith("only-w2*  only-w2")


def test_anti_affinity_puts_each_member_on_its_own_host_and_refuses_one_more(
    scale_lab: Lab, admin: Any, cli: Osc
) -> None:
    group = _json(cli, "server", "group", "create", "--policy", "anti-affinity", "t-apart")
    try:
        for i in range(1, 5):
            _boot_in_group(admin, f"t-apart-{i}", group["id"])
            _settled(scale_lab, f"t-apart-{i}")  # each sees where the ones before landed
        placed = _settled(scale_lab, "t-apart")
        assert {placed[f"t-apart-{i}"][1] for i in (1, 2, 3)} == HOSTS
        assert placed["t-apart-4"] == ("ERROR", "-")
        fault = admin.compute.get_server(admin.compute.find_server("t-apart-4").id).fault
        assert fault["message"] == "No valid host was found. There are not enough hosts available."
        scores = str(scale_lab.draw_scores("t-apart-4"))
        assert scores.count("dropped by ServerGroupAntiAffinityFilter") == 3
        assert scores.endswith("No host left: NoValidHost.")
        shown = _json(cli, "server", "group", "show", group["id"])
        assert len(shown["members"]) == 3  # the refused one never joined
    finally:
        scale_lab.remove_servers("t-apart")
        deleted = scale_lab.remove_server_groups("t-apart")
    assert deleted.rows == [("t-apart", "1 group")]
    assert _json(cli, "server", "group", "list") == []


def test_the_clis_hint_group_is_honoured(scale_lab: Lab, cli: Osc) -> None:
    """`server create --hint group=ID`, as notebook 07 boots the group's members: the CLI
    (openstacksdk) sends the hints as OS-SCH-HNT:scheduler_hints."""
    group = _json(cli, "server", "group", "create", "--policy", "anti-affinity", "t-hint")
    try:
        for i in (1, 2, 3):  # the weighers alone would put the third on controller again
            cli(
                "server", "create", "--flavor", "m1.tiny", "--image", "cirros",
                "--hint", f"group={group['id']}", "--wait", f"t-hint-{i}",
            )  # fmt: skip
        hosts = {host for _, host in _settled(scale_lab, "t-hint").values()}
    finally:
        scale_lab.remove_servers("t-hint")
        scale_lab.remove_server_groups("t-hint")
    assert hosts == HOSTS


def test_a_multi_create_in_an_anti_affinity_group_spreads_too(scale_lab: Lab, admin: Any) -> None:
    group = admin.compute.create_server_group(name="t-batch", policy="anti-affinity")
    try:
        _boot_in_group(admin, "t-batch", group.id, count=3)
        placed = _settled(scale_lab, "t-batch")
    finally:
        scale_lab.remove_servers("t-batch")
        scale_lab.remove_server_groups("t-batch")
    assert {host for _, host in placed.values()} == HOSTS


def test_a_stopped_worker_is_skipped_and_keeps_its_servers(scale_lab: Lab, cli: Osc) -> None:
    cli(
        "server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--wait",
        "--min", "3", "--max", "3", "t-keep",
    )  # fmt: skip
    on_worker2 = [n for n, (_, host) in _settled(scale_lab, "t-keep").items() if host == "worker2"]
    scale_lab.stop_service("nova-compute", host="worker2")
    scale_lab.advance_clock(61)
    try:
        states = {s["Host"]: s["State"] for s in _json(cli, "compute", "service", "list")}
        assert states["worker2"] == "down"
        cli("server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--wait", "t-down")
        assert _settled(scale_lab, "t-down")["t-down"][1] != "worker2"
        scores = str(scale_lab.draw_scores("t-down"))
        assert "worker2     dropped by ComputeFilter: nova-compute is down" in scores
        for name in on_worker2:  # the guests run on without their nova-compute
            assert _settled(scale_lab, name)[name] == ("ACTIVE", "worker2")
    finally:
        scale_lab.start_service("nova-compute", host="worker2")
        scale_lab.remove_servers("t-keep", "t-down")
    states = {s["Host"]: s["State"] for s in _json(cli, "compute", "service", "list")}
    assert states["worker2"] == "up"


def test_the_worker_survives_a_restart_of_the_sim(scale_lab: Lab, cli: Osc) -> None:
    from labkit.sim import process

    process.stop(scale_lab.paths)
    lab = Lab.from_env(
        scale_lab.env.path, state_root=scale_lab.paths.root.parent, sim_port=scale_lab.sim_port
    )
    assert [h.name for h in lab.env.hosts] == ["controller", "worker1", "worker2"]
    lab.up()
    config = json.loads((lab.paths.root / "sim-config.json").read_text())
    assert [h["name"] for h in config["hosts"]] == ["controller", "worker1", "worker2"]
    services = _json(cli, "compute", "service", "list", "--service", "nova-compute")
    assert {s["Host"]: s["State"] for s in services} == dict.fromkeys(HOSTS, "up")
    assert lab.add_worker("worker2").changed == []


def test_nova_deletes_a_compute_service_only_without_servers(scale_lab: Lab, cli: Osc) -> None:
    """``DELETE /os-services/{id}`` as Zed answers it: 400 for an id of the wrong kind per
    microversion, 404 for none, 409 while the host runs a server."""
    compute = scale_lab.connect("admin").compute
    bad = compute.delete("/os-services/abc", microversion="2.1")
    assert (bad.status_code, bad.json()["badRequest"]["message"]) == (
        400,
        "Invalid input received: id must be an integer",
    )
    bad = compute.delete("/os-services/42", microversion="2.53")
    assert (bad.status_code, bad.json()["badRequest"]["message"]) == (400, "Invalid uuid 42")
    missing = "8c3b2f5e-1d6a-4b7c-9e0f-123456789abc"
    gone = compute.delete(f"/os-services/{missing}", microversion="2.53")
    assert (gone.status_code, gone.json()["itemNotFound"]["message"]) == (
        404,
        f"Service {missing} not found.",
    )
    demo = scale_lab.connect("demo").compute
    body = {
        "server": {
            "name": "t-forced",
            "flavorRef": demo.find_flavor("m1.tiny", ignore_missing=False).id,
            "imageRef": scale_lab.connect("demo").image.find_image("cirros").id,
            "networks": "auto",
            "availability_zone": "nova:worker2",
        }
    }
    forced = demo.post("/servers", json=body, microversion="2.37")
    assert forced.status_code == 403
    assert "os_compute_api:servers:create:forced_host" in forced.json()["forbidden"]["message"]
    # An admin's zone:host forces the host (what the CLI's --availability-zone sends).
    cli(
        "server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--wait",
        "--availability-zone", "nova:worker2", "t-last",
    )  # fmt: skip
    assert _settled(scale_lab, "t-last")["t-last"] == ("ACTIVE", "worker2")
    try:
        (service,) = _json(
            cli, "--os-compute-api-version", "2.53", "compute", "service", "list",
            "--service", "nova-compute", "--host", "worker2",
        )  # fmt: skip
        refused = cli("compute", "service", "delete", service["ID"], check=False)
        assert refused.returncode == 1
        assert "Unable to delete compute service that is hosting instances" in refused.stderr
        with pytest.raises(LabkitError, match="Servers still live on worker2: t-last"):
            scale_lab.remove_worker("worker2")
        states = {s["Host"]: s["State"] for s in _json(cli, "compute", "service", "list")}
        assert states["worker2"] == "up"  # refused before anything was stopped
    finally:
        scale_lab.remove_servers("t-last")


def test_a_retired_worker_leaves_nova_placement_neutron_and_the_lab(
    scale_lab: Lab, cli: Osc
) -> None:
    """Notebook 99's ``lab.remove_worker``; then ``add_worker`` brings the host back. Last in
    this module: it restarts the sim twice."""
    with pytest.raises(LabkitError, match=r"worker1 was not added by lab\.add_worker"):
        scale_lab.remove_worker("worker1")
    done = scale_lab.remove_worker("worker2")
    assert done == (
        "removed: compute service and linux bridge agent deleted, sim restarted without it"
    )
    services = _json(cli, "compute", "service", "list", "--service", "nova-compute")
    assert {s["Host"] for s in services} == {"controller", "worker1"}
    hypervisors = {h["Hypervisor Hostname"] for h in _json(cli, "hypervisor", "list")}
    assert hypervisors == {"controller", "worker1"}
    providers = {p["name"] for p in _json(cli, "resource", "provider", "list")}
    assert providers == {"controller", "worker1"}
    assert "worker2" not in {a["Host"] for a in _json(cli, "network", "agent", "list")}
    assert "worker2" not in extra_hosts_path(scale_lab.paths.root).read_text()
    assert [h.name for h in scale_lab.env.hosts] == ["controller", "worker1"]
    # "Follow sections 5 and 6.2 again": the same host joins again, mapped and reporting.
    scale_lab.add_worker("worker2", cpus=4, ram_gb=8, disk_gb=250)
    services = _json(cli, "compute", "service", "list", "--service", "nova-compute")
    assert {s["Host"]: s["State"] for s in services} == dict.fromkeys(HOSTS, "up")
    assert {p["name"] for p in _json(cli, "resource", "provider", "list")} == HOSTS
