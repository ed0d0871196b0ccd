"""Env files: the shipped ones load; bad ones are refused naming file, field and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from labkit.envs import CloudEnv, SimEnv, SshEnv, load_env, parse_env
from labkit.errors import EnvError

REPO = Path(__file__).resolve().parents[2]


def test_shipped_envs_load() -> None:
    sim = load_env(REPO / "envs" / "sim.yaml")
    assert isinstance(sim, SimEnv)
    assert sim.controller.name == "controller" and sim.controller.address == "10.64.0.2"
    assert [h.name for h in sim.workers] == ["controller", "worker1"]
    assert sim.management_network.cidr == "10.64.0.0/24"
    assert isinstance(load_env(REPO / "envs" / "lab-2node.yaml"), SshEnv)
    cloud = load_env(REPO / "envs" / "mycloud.yaml")
    assert isinstance(cloud, CloudEnv) and cloud.cloud == "mycloud"


def test_env_found_by_name_from_a_subfolder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO / "notebooks")
    assert load_env("sim").name == "sim"


def _data() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((REPO / "envs" / "sim.yaml").read_text())


def _problems(data: object) -> list[str]:
    with pytest.raises(EnvError) as caught:
        parse_env(data, "envs/broken.yaml")
    assert "envs/broken.yaml" in str(caught.value)
    return caught.value.problems


def test_wrong_kind_names_what_is_allowed() -> None:
    problems = _problems({**_data(), "kind": "vagrant"})
    assert problems == ["field kind: 'vagrant' is not allowed; allowed: sim, ssh, cloud"]


def test_wrong_role_names_the_field_and_the_allowed_roles() -> None:
    data = _data()
    data["hosts"][1]["roles"] = ["compute"]
    (problem,) = _problems(data)
    assert problem.startswith("field hosts[1].roles[0]: 'compute' is not allowed")
    assert "'controller'" in problem and "'worker'" in problem


def test_unknown_field_lists_the_allowed_ones() -> None:
    data = _data()
    data["hosts"][0]["ram"] = 8
    (problem,) = _problems(data)
    assert problem.startswith("field hosts[0].ram: unknown field; allowed here:")
    assert "ram_gb" in problem


def test_hosts_must_sit_on_the_management_network() -> None:
    data = _data()
    data["hosts"][1]["address"] = "192.168.1.5"
    (problem,) = _problems(data)
    assert "192.168.1.5 is outside 10.64.0.0/24" in problem


def test_exactly_one_controller() -> None:
    data = _data()
    data["hosts"][1]["roles"] = ["controller"]
    (problem,) = _problems(data)
    assert "exactly one host must have role 'controller' (found 2)" in problem


def test_missing_file_lists_known_envs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    with pytest.raises(EnvError) as caught:
        load_env("nosuch")
    assert "sim" in caught.value.hint and "lab-2node" in caught.value.hint


def test_not_yaml_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: sim\nhosts: [\n")
    with pytest.raises(EnvError) as caught:
        load_env(bad)
    assert "not valid YAML" in caught.value.problems[0]
