"""`labkit hosts up/down` refuse clearly when they cannot work here."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.envs import SshEnv, load_env
from labkit.hosts import local
from labkit.hosts.errors import LocalHostsError, NeedsRoot

REPO = Path(__file__).resolve().parents[2]


def test_not_root_is_refused_with_the_command_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local.os, "geteuid", lambda: 1000)
    with pytest.raises(NeedsRoot) as caught:
        local.require_root("up")
    assert "needs root" in caught.value.message
    assert "sudo .venv/bin/labkit hosts up ENV" in caught.value.hint


def test_an_env_of_real_machines_is_not_made_locally() -> None:
    env = load_env(REPO / "envs" / "lab-2node.yaml")
    assert isinstance(env, SshEnv) and not env.local
    with pytest.raises(LocalHostsError, match="local: false"):
        local.up(env)


def test_ssh_command_matches_what_labkit_does(tmp_path: Path) -> None:
    env = load_env(REPO / "envs" / "lab-local.yaml")
    assert isinstance(env, SshEnv)
    line = local.ssh_command(env, "worker1", tmp_path)
    assert line == (
        f"ssh -i {tmp_path}/lab-local/ssh/lab_ed25519 "
        f"-o UserKnownHostsFile={tmp_path}/lab-local/known_hosts "
        "-o StrictHostKeyChecking=yes -p 22 root@10.64.0.3"
    )
