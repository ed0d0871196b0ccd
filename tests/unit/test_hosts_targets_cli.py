"""Where labkit logs in to each host, and the `labkit hosts` command line."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

import pytest

from labkit.envs import SshEnv, parse_env
from labkit.errors import EnvError
from labkit.hosts import cli
from labkit.hosts.targets import Endpoint, lab_key_path, parse_jump, resolve


def _env(tmp_path: Path, **extra: object) -> SshEnv:
    data: dict[str, object] = {
        "kind": "ssh",
        "ssh": {"user": "root", "key": "keys/lab"},
        "known_hosts": "kh",
        "hosts": [
            {"name": "controller", "address": "10.64.0.2", "roles": ["controller"]},
            {
                "name": "worker1",
                "address": "10.64.0.3",
                "roles": ["worker"],
                "ssh": {"user": "debian", "port": 2222, "jump": "root@10.64.0.2"},
            },
        ],
    }
    data.update(extra)
    env = parse_env(data, str(tmp_path / "envs" / "lab.yaml"))
    assert isinstance(env, SshEnv)
    return env


def test_host_settings_override_env_defaults(tmp_path: Path) -> None:
    worker = resolve(_env(tmp_path), "worker1")
    assert worker.endpoint == Endpoint("debian", "10.64.0.3", 2222)
    assert worker.jump == Endpoint("root", "10.64.0.2", 22)
    controller = resolve(_env(tmp_path), "controller")
    assert controller.endpoint == Endpoint("root", "10.64.0.2", 22) and controller.jump is None


def test_relative_paths_are_relative_to_the_env_file(tmp_path: Path) -> None:
    target = resolve(_env(tmp_path), "controller")
    assert target.key == (tmp_path / "envs" / "keys" / "lab").resolve()
    assert target.known_hosts == (tmp_path / "envs" / "kh").resolve()


def test_local_envs_default_to_the_state_folder(tmp_path: Path) -> None:
    env = _env(tmp_path, ssh={"user": "root"}, known_hosts=None, local=True)
    target = resolve(env, "controller", state_root=tmp_path / "state")
    assert target.key == lab_key_path(env, tmp_path / "state")
    assert target.key == tmp_path / "state" / "lab" / "ssh" / "lab_ed25519"
    assert target.known_hosts == tmp_path / "state" / "lab" / "known_hosts"


def test_jump_forms() -> None:
    assert parse_jump("10.0.0.1", "root", "x") == Endpoint("root", "10.0.0.1", 22)
    assert parse_jump("ops@10.0.0.1:2200", "root", "x") == Endpoint("ops", "10.0.0.1", 2200)
    with pytest.raises(EnvError, match="bad port"):
        parse_jump("ops@10.0.0.1:ssh", "root", "x")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit")
    parser.add_argument("--state-dir")
    cli.register(parser.add_subparsers(dest="command", required=True))
    return parser


def test_register_adds_the_four_commands() -> None:
    parser = _parser()
    for command in ("up", "down", "status", "trust"):
        args = parser.parse_args(["hosts", command, "lab-local"])
        assert args.env == "lab-local" and callable(args.func)


def test_a_global_state_dir_survives_the_sub_command() -> None:
    args = _parser().parse_args(["--state-dir", "/s", "hosts", "status", "lab-local"])
    assert args.state_dir == "/s"
    args = _parser().parse_args(["hosts", "status", "lab-local", "--state-dir", "/t"])
    assert args.state_dir == "/t"


def test_trust_options() -> None:
    args = _parser().parse_args(["hosts", "trust", "lab", "--replace", "--yes"])
    assert args.replace and args.yes


def test_table_alignment() -> None:
    text = cli.format_table(["a", "bb"], [["xxx", "y"]])
    assert text.splitlines() == ["a    bb", "---  --", "xxx  y"]


def test_check_of_an_unreachable_host_fails(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port that surely refuses: bound, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        env = _env(
            tmp_path,
            management_network={
                "cidr": "127.0.0.0/8",
                "gateway": "127.0.0.1",
                "guest_pool": ["127.0.0.100", "127.0.0.199"],
            },
            hosts=[
                {
                    "name": "controller",
                    "address": "127.0.0.1",
                    "roles": ["controller"],
                    "ssh": {"port": port},
                }
            ],
        )
        lines: list[str] = []
        assert cli.check_ssh_env(env, say=lines.append) == 1
    table = "\n".join(lines).splitlines()
    assert table[2].split()[:3] == ["controller", "reachable", "fail"]
    assert "Connection refused" in table[2]
    assert table[-1].startswith("FAILED: 1 failed")
