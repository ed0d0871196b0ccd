"""The tests' forked ``openstack`` (tests/osc_fork.py) answers exactly as the script does:
same output, same errors, same exit status -- through :func:`run` and through the shim a
notebook's ``!openstack`` finds first on PATH."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests import osc_fork

pytestmark = pytest.mark.skipif(not osc_fork.enabled(), reason="the CLI is not forked here")

COMMANDS = [
    ["--os-cloud", "no-such-cloud", "project", "list"],  # fails before any request
    ["no-such-command"],
    ["help", "token", "issue"],  # usage lines name the program as imports saw it
]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = os.devnull
    return env


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: " ".join(argv))
def test_a_forked_command_answers_as_the_script_does(argv: list[str]) -> None:
    forked = osc_fork.run(argv, _env(), timeout=60)
    script = subprocess.run(
        [osc_fork.CLI, *argv], env=_env(), capture_output=True, text=True, timeout=60
    )
    assert (forked.returncode, forked.stdout, forked.stderr) == (
        script.returncode,
        script.stdout,
        script.stderr,
    )
    assert forked.args == [osc_fork.CLI, *argv]


def test_the_shim_on_path_passes_arguments_status_and_streams() -> None:
    shim = osc_fork.shim_dir()
    assert shim is not None
    env = {
        **_env(),
        "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}",
        osc_fork.SOCKET_VAR: osc_fork.socket_path(),
    }
    command = "openstack --os-cloud no-such-cloud project list; echo status=$?"
    via_shim = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True)
    direct = subprocess.run(
        ["sh", "-c", command.replace("openstack", osc_fork.CLI, 1)],
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert via_shim.stdout == direct.stdout and "status=1" in via_shim.stdout
    assert via_shim.stderr == direct.stderr and "no-such-cloud" in via_shim.stderr


def test_without_a_zygote_the_shim_runs_the_script() -> None:
    shim = osc_fork.shim_dir()
    assert shim is not None
    env = {**_env(), osc_fork.SOCKET_VAR: "/nonexistent/zygote.sock"}
    result = subprocess.run(
        [str(shim / "openstack"), "--version"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.startswith("openstack ")
