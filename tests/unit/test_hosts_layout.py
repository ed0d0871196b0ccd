"""Names and paths of local lab hosts: short, unique per state folder, stable."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.envs import SshEnv, load_env
from labkit.hosts.layout import IFNAMSIZ, layout, tag_for

REPO = Path(__file__).resolve().parents[2]


def _env() -> SshEnv:
    env = load_env(REPO / "envs" / "lab-local.yaml")
    assert isinstance(env, SshEnv)
    return env


def test_lab_local_env_is_a_local_ssh_env() -> None:
    env = _env()
    assert env.local and env.ssh.user == "root"
    assert [(h.name, h.address, h.roles) for h in env.hosts] == [
        ("controller", "10.64.0.2", ("controller", "worker")),
        ("worker1", "10.64.0.3", ("worker",)),
    ]


def test_every_kernel_name_fits_ifnamsiz(tmp_path: Path) -> None:
    lay = layout(_env(), tmp_path)
    names = [lay.bridge, *(h.veth for h in lay.hosts), *(h.netns for h in lay.hosts)]
    assert all(len(n) <= IFNAMSIZ and n.startswith(lay.prefix) for n in names)
    assert len(set(names)) == len(names)


def test_names_differ_per_state_folder(tmp_path: Path) -> None:
    a = layout(_env(), tmp_path / "a")
    b = layout(_env(), tmp_path / "b")
    assert a.bridge != b.bridge and a.hosts[0].netns != b.hosts[0].netns


def test_names_are_stable(tmp_path: Path) -> None:
    assert layout(_env(), tmp_path).bridge == layout(_env(), tmp_path).bridge
    assert tag_for(tmp_path) == tag_for(tmp_path / "x" / "..")


def test_paths_live_in_the_env_state_folder(tmp_path: Path) -> None:
    lay = layout(_env(), tmp_path, cache_dir=tmp_path / "cache")
    assert lay.hosts[0].root == tmp_path / "lab-local" / "hosts" / "controller" / "root"
    assert lay.apt_cache == tmp_path / "cache" / "apt"
    assert lay.proxy_url == "http://10.64.0.1:3142/"


def test_cache_defaults_under_the_state_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LABKIT_CACHE_DIR", raising=False)
    assert layout(_env(), tmp_path).cache == tmp_path / "cache"
    monkeypatch.setenv("LABKIT_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert layout(_env(), tmp_path).cache == tmp_path / "elsewhere"
