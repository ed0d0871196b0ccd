"""Notebook 07's pictures -- Placement's usage per host and the scheduler's scores for one
request: pure graph building, their text, and drawing. And the parts of scale-out that need
no cloud: the hosts a lab records for itself, the next free address, and what add_worker
says where it cannot make a host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from matplotlib.figure import Figure

from labkit.diagrams import Diagram, graphs
from labkit.diagrams.render import draw
from labkit.envs import (
    Host,
    SimEnv,
    extra_hosts_path,
    load_env,
    read_extra_hosts,
    record_extra_host,
    with_extra_hosts,
)
from labkit.errors import EnvError, LabkitError
from labkit.lab import Lab
from labkit.lab.scale import next_address

REPO = Path(__file__).resolve().parents[2]
ENVS = REPO / "envs"


# ---- Placement's usage per host --------------------------------------------------------------


def _usage(host: str, rc: str, used: int, capacity: int) -> dict[str, Any]:
    return {"host": host, "resource_class": rc, "used": used, "capacity": capacity}


USAGE = [
    _usage("controller", "VCPU", 3, 32),
    _usage("controller", "MEMORY_MB", 6144, 15872),
    _usage("controller", "DISK_GB", 60, 250),
    _usage("worker2", "VCPU", 0, 16),
    _usage("worker2", "MEMORY_MB", 0, 7680),
    _usage("worker2", "DISK_GB", 0, 0),  # a provider with no room of a class at all
]


def test_usage_keeps_hosts_and_classes_in_order_with_their_share() -> None:
    g = graphs.host_usage(USAGE, servers={"controller": ["spread-1", "spread-3"]})
    hosts = graphs.usage_hosts(g)
    assert [h["label"] for h, _ in hosts] == ["controller", "worker2"]
    controller, bars = hosts[0]
    assert controller["servers"] == ["spread-1", "spread-3"]
    assert [b["resource_class"] for b in bars] == ["VCPU", "MEMORY_MB", "DISK_GB"]
    assert bars[1]["share"] == pytest.approx(6144 / 15872)
    assert hosts[1][0]["servers"] == []
    assert hosts[1][1][2]["share"] == 0.0  # no capacity: nothing used, no division by zero


def test_usage_text_says_used_of_capacity_per_host() -> None:
    text = str(Diagram(graphs.host_usage(USAGE, servers={"controller": ["spread-1"]})))
    assert text.splitlines()[0] == "Placement: used / capacity per host:"
    assert "  controller: 1 server (spread-1)" in text
    assert "    MEMORY_MB  6144/15872 MB (39%)" in text
    assert "  worker2: 0 servers" in text
    assert "    VCPU       0/16 (0%)" in text


def test_usage_draws_a_panel_per_host() -> None:
    figure = draw(graphs.host_usage(USAGE * 2 + [_usage("worker3", "VCPU", 1, 4)]))
    assert isinstance(figure, Figure)
    width, height = figure.get_size_inches()
    assert width > 12 and height > 2.5  # three panels wide, wrapped onto no second row
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert "worker3" in texts and "1/4 (25%)" in texts
    assert Diagram(graphs.host_usage([])).png().startswith(b"\x89PNG")


# ---- the scheduler's scores ------------------------------------------------------------------

RESOURCES = {"VCPU": 1, "MEMORY_MB": 2048, "DISK_GB": 20}


def _scores(ram: float, cpu: float, disk: float) -> dict[str, float]:
    return {"total": ram + cpu + disk, "RAMWeigher": ram, "CPUWeigher": cpu, "DiskWeigher": disk}


def _filters(host: str, passed: bool = True, name: str = "ComputeFilter", why: str = "") -> Any:
    return {"filter": name, "host": host, "passed": passed, "why": why}


DECISION = {
    "resources": RESOURCES,
    "candidates": ["controller", "worker1", "worker2"],
    "filters": [
        _filters("controller"),
        _filters("worker1"),
        _filters("worker2", False, why="nova-compute is down"),
        _filters("controller", name="ImagePropertiesFilter"),
        _filters("worker1", name="ImagePropertiesFilter"),
    ],
    "weights": {"worker1": _scores(1.0, 1.0, 0.0), "controller": _scores(0.75, 0.9375, 0.0)},
}


def _hosts(g: Any) -> dict[str, dict[str, Any]]:
    return {d["label"]: d for d in graphs.score_hosts(g)}


def test_each_host_is_weighed_dropped_or_not_offered() -> None:
    g = graphs.scheduler_scores(
        DECISION, "worker1", hosts=["controller", "worker1", "worker2", "w3"]
    )
    hosts = _hosts(g)
    assert list(hosts) == ["controller", "w3", "worker1", "worker2"]  # by name
    assert hosts["worker1"]["fate"] == "weighed" and hosts["worker1"]["chosen"]
    assert hosts["worker1"]["scores"] == {"RAMWeigher": 1.0, "CPUWeigher": 1.0, "DiskWeigher": 0.0}
    assert hosts["controller"]["total"] == pytest.approx(1.6875)
    assert not hosts["controller"]["chosen"]
    dropped = hosts["worker2"]
    assert (dropped["fate"], dropped["filter"], dropped["why"]) == (
        "dropped",
        "ComputeFilter",
        "nova-compute is down",
    )
    assert dropped["scores"] == {}
    assert hosts["w3"]["fate"] == "no room"  # a compute host Placement did not offer


def test_scores_read_as_text_with_the_winner_marked() -> None:
    text = str(Diagram(graphs.scheduler_scores(DECISION, "worker1")))
    lines = text.splitlines()
    assert lines[0] == (
        "The scheduler's scores for one request (each server: 1 VCPU, 2048 MB RAM, 20 GB disk):"
    )
    assert "  worker1     2 = RAMWeigher 1 + CPUWeigher 1 + DiskWeigher 0  << chosen" in lines
    assert "  controller  1.6875 = RAMWeigher 0.75 + CPUWeigher 0.9375 + DiskWeigher 0" in lines
    assert "  worker2     dropped by ComputeFilter: nova-compute is down" in lines
    assert "Equal totals" not in text


def test_equal_totals_and_no_host_left_are_said() -> None:
    tie = {**DECISION, "filters": [], "weights": {h: _scores(0, 0, 0) for h in ("a", "b")}}
    tie["candidates"] = ["a", "b"]
    assert "Equal totals: the first host by name wins." in str(
        Diagram(graphs.scheduler_scores(tie, "a"))
    )
    none_left = {
        "resources": RESOURCES,
        "candidates": ["a", "b"],
        "filters": [
            _filters(h, False, "ServerGroupAntiAffinityFilter", "members on a, b") for h in "ab"
        ],
        "weights": {},
    }
    text = str(Diagram(graphs.scheduler_scores(none_left, "NoValidHost")))
    assert "  a  dropped by ServerGroupAntiAffinityFilter: members on a, b" in text
    assert text.endswith("  No host left: NoValidHost.")
    assert "<< chosen" not in text
    # Placement offered nothing at all: every known host had no room
    empty = graphs.scheduler_scores({"resources": RESOURCES}, "NoValidHost", hosts=["a"])
    assert "  a  not offered by Placement: no room for the flavor" in str(Diagram(empty))


def test_scores_draw_bars_reasons_and_the_winner() -> None:
    figure = draw(graphs.scheduler_scores(DECISION, "worker1", hosts=["w3"]))
    assert isinstance(figure, Figure)
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert "2   \u25c0 chosen" in texts
    assert any(t.startswith("dropped by ComputeFilter") for t in texts)
    assert any(t.startswith("not offered by Placement") for t in texts)
    assert {"RAMWeigher", "CPUWeigher", "DiskWeigher"} <= set(texts)
    none_left = graphs.scheduler_scores({"resources": RESOURCES, "candidates": []}, "NoValidHost")
    assert Diagram(none_left).png().startswith(b"\x89PNG")


# ---- the hosts a lab adds to itself ------------------------------------------------------------


def _sim() -> SimEnv:
    env = load_env(ENVS / "sim.yaml")
    assert isinstance(env, SimEnv)
    return env


def _worker(name: str = "worker2", address: str = "10.64.0.4") -> Host:
    return Host(name=name, address=address, roles=("worker",), cpus=4, ram_gb=8, disk_gb=250)


def test_recorded_hosts_are_merged_and_the_env_file_wins(tmp_path: Path) -> None:
    env = _sim()
    assert with_extra_hosts(env, tmp_path) is env  # nothing recorded: the env as it is
    record_extra_host(tmp_path, _worker())
    record_extra_host(tmp_path, _worker("worker1", "10.64.0.9"))  # the env file has worker1
    merged = with_extra_hosts(env, tmp_path)
    assert [h.name for h in merged.hosts] == ["controller", "worker1", "worker2"]
    assert merged.host("worker1").address == "10.64.0.3"
    assert merged.host("worker2") == _worker()
    assert [h.name for h in merged.workers] == ["controller", "worker1", "worker2"]
    assert (merged.name, merged.path, merged.sim) == (env.name, env.path, env.sim)
    record_extra_host(tmp_path, _worker(address="10.64.0.5"))  # the same name: replaced
    assert [h["address"] for h in read_extra_hosts(tmp_path)] == ["10.64.0.5", "10.64.0.9"]


def test_a_recorded_host_that_clashes_is_refused_naming_the_file(tmp_path: Path) -> None:
    record_extra_host(tmp_path, _worker(address="10.64.0.3"))  # worker1's address
    with pytest.raises(EnvError) as caught:
        with_extra_hosts(_sim(), tmp_path)
    assert str(extra_hosts_path(tmp_path)) in str(caught.value)
    assert "address 10.64.0.3 is used by two hosts" in str(caught.value)
    extra_hosts_path(tmp_path).write_text("hosts: worker2\n")
    with pytest.raises(EnvError, match="must be a list of hosts"):
        read_extra_hosts(tmp_path)


def test_a_cloud_env_has_no_hosts_to_merge(tmp_path: Path) -> None:
    record_extra_host(tmp_path, _worker())
    cloud = load_env(ENVS / "mycloud.yaml")
    assert with_extra_hosts(cloud, tmp_path) is cloud


def test_the_next_address_skips_hosts_router_and_guest_pool() -> None:
    env = _sim()
    assert next_address(env) == "10.64.0.4"
    data = env.model_dump(mode="json")
    data["hosts"][1]["address"] = "10.64.0.99"  # the next one would be the guests' .100
    crowded = SimEnv.model_validate({**data, "path": env.path})
    assert next_address(crowded) == "10.64.0.200"


def test_a_lab_merges_its_recorded_hosts(tmp_path: Path) -> None:
    lab = Lab.from_env(ENVS / "sim.yaml", state_root=tmp_path, sim_port=18003)
    record_extra_host(lab.paths.root, _worker())
    again = Lab.from_env(ENVS / "sim.yaml", state_root=tmp_path, sim_port=18003)
    assert [h.name for h in again.env.hosts] == ["controller", "worker1", "worker2"]
    assert again.backend.env is again.env
    assert "10.64.0.4" in str(again.describe())
    from labkit.sim import process

    config = process.sim_config(lab.backend.env, lab.paths)  # the env without the overlay
    assert [h.name for h in config.hosts] == ["controller", "worker1", "worker2"]


def test_add_worker_says_what_to_do_where_it_cannot_make_a_host(tmp_path: Path) -> None:
    cloud = Lab.from_env(ENVS / "mycloud.yaml", state_root=tmp_path)
    with pytest.raises(LabkitError, match="its operators add compute hosts") as caught:
        cloud.add_worker()
    assert "openstack hypervisor list" in caught.value.hint
    local = Lab.from_env(ENVS / "lab-local.yaml", state_root=tmp_path)
    with pytest.raises(LabkitError, match="not one of lab-local's local lab hosts") as caught:
        local.add_worker("worker2")
    assert "labkit hosts up lab-local` again" in caught.value.hint
    assert "address: 10.64.0.4" in caught.value.hint
    remote = Lab.from_env(ENVS / "lab-2node.yaml", state_root=tmp_path)
    with pytest.raises(LabkitError, match="it does not make them") as caught:
        remote.add_worker("worker2")
    assert "labkit hosts trust lab-2node" in caught.value.hint
    # a worker the env file names is installed as it is (its size is the machine's) ...
    with pytest.raises(LabkitError, match="nova-compute is not installed"):
        remote.add_worker("worker1", cpus=99)
    sim = Lab.from_env(ENVS / "sim.yaml", state_root=tmp_path, sim_port=18004)
    with pytest.raises(LabkitError, match=r"already in this lab, with cpus 8 \(asked 2\)"):
        sim.add_worker("worker1", cpus=2)
    assert not extra_hosts_path(sim.paths.root).exists()


def test_add_worker_before_nova_runs_is_refused_and_records_nothing(tmp_path: Path) -> None:
    lab = Lab.from_env(ENVS / "sim.yaml", state_root=tmp_path, sim_port=18005)
    with pytest.raises(LabkitError, match="nova-compute is not installed") as caught:
        lab.add_worker("worker2")
    assert 'lab.ensure("nova-compute")' in caught.value.hint
    assert not extra_hosts_path(lab.paths.root).exists()
    with pytest.raises(LabkitError, match="is not a host name"):
        lab.scale._new_host("Worker_2", None, None, None, None)


def test_a_reset_forgets_the_added_hosts(tmp_path: Path) -> None:
    from labkit.sim import process

    lab = Lab.from_env(ENVS / "sim.yaml", state_root=tmp_path, sim_port=18006)
    record_extra_host(lab.paths.root, _worker())
    process.reset(lab.paths)  # `labkit sim reset`: no sim runs here, the folder goes
    fresh = Lab.from_env(ENVS / "sim.yaml", state_root=tmp_path, sim_port=18006)
    assert [h.name for h in fresh.env.hosts] == ["controller", "worker1"]
