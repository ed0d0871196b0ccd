"""Lab's backend, chosen once per env kind, and what it does without a running cloud:
services over SSH (a fake connection), the CLI's environment, typed not-found errors, the
error hierarchy, and the CLI's flags and imports."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from labkit import cli, images
from labkit.config import StatePaths
from labkit.envs import SshEnv, load_env
from labkit.errors import (
    HostError,
    HostsError,
    LabkitError,
    NotFound,
    RegistryMiss,
    SimNotFound,
    SimNotRunning,
)
from labkit.hostfiles import UnknownService, service_command
from labkit.lab import Lab
from labkit.lab.backends import CloudBackend, SimBackend, SshBackend

REPO = Path(__file__).resolve().parents[2]
ENVS = REPO / "envs"


@pytest.fixture()
def environ() -> Iterator[None]:
    """Put os.environ back as it was, whatever the test (or the code it calls) changed."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


# ---- the backend ----------------------------------------------------------------------------


def test_each_env_kind_gets_its_backend(tmp_path: Path) -> None:
    kinds = {"sim": SimBackend, "lab-local": SshBackend, "mycloud": CloudBackend}
    for name, backend in kinds.items():
        assert type(Lab.from_env(ENVS / f"{name}.yaml", state_root=tmp_path).backend) is backend


def test_a_port_flag_beats_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_SIM_PORT", "18001")
    assert Lab.from_env(ENVS / "sim.yaml", state_root=tmp_path).sim_port == 18001
    lab = Lab.from_env(ENVS / "sim.yaml", state_root=tmp_path, sim_port=18002)
    assert lab.sim_port == 18002
    assert lab.credentials().auth_url == "http://127.0.0.1:18002/identity/v3/"


def test_sim_only_calls_are_refused_elsewhere(tmp_path: Path) -> None:
    cloud = Lab.from_env(ENVS / "mycloud.yaml", state_root=tmp_path)
    assert cloud.sim_port is None
    with pytest.raises(LabkitError, match="is a cloud env, not a sim"):
        cloud.up()
    with pytest.raises(LabkitError, match="does not start or stop its services"):
        cloud.stop_service("keystone")


def test_install_order_lists_each_layer_once_lowest_first() -> None:
    assert Lab.install_order("glance", "keystone") == ["base", "keystone", "glance"]


# ---- services over SSH ---------------------------------------------------------------------


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str = ""


@dataclass
class FakeConnection:
    answer: Result
    commands: list[str] = field(default_factory=list)

    def run(self, command: str, *, check: bool = True, timeout: float = 60.0) -> Result:
        self.commands.append(command)
        return self.answer


def _ssh_lab(tmp_path: Path, answer: Result) -> tuple[Lab, FakeConnection]:
    env = load_env(ENVS / "lab-local.yaml")
    assert isinstance(env, SshEnv)
    conn = FakeConnection(answer)
    backend = SshBackend(env, StatePaths.for_env(env.name, tmp_path), lambda host: conn)
    return Lab(env, tmp_path, backend=backend), conn


def test_ssh_stop_runs_the_init_system_on_the_controller(tmp_path: Path) -> None:
    lab, conn = _ssh_lab(tmp_path, Result(0, "Stopping keystone: keystone.\n"))
    change = lab.stop_service("keystone")
    assert (change.host, change.action, change.state) == ("controller", "stop", "stopped")
    assert str(change) == "keystone on controller: stopped\n  Stopping keystone: keystone."
    assert conn.commands == [service_command("keystone", "stop")]
    assert "systemctl stop -- keystone" in conn.commands[0]
    assert "/etc/init.d/keystone stop" in conn.commands[0]


def test_service_command_is_valid_sh_and_refuses_odd_names() -> None:
    command = service_command("glance-api", "start")
    assert subprocess.run(["sh", "-n", "-c", command]).returncode == 0
    with pytest.raises(ValueError):
        service_command("x; reboot", "stop")


def test_ssh_unknown_service_and_host(tmp_path: Path) -> None:
    lab, conn = _ssh_lab(tmp_path, Result(5, "labkit: no such service\n"))
    with pytest.raises(UnknownService) as caught:
        lab.start_service("nosuch", host="worker1")
    assert caught.value.message == "No service 'nosuch' on worker1."
    assert isinstance(caught.value, NotFound) and isinstance(caught.value, HostsError)
    with pytest.raises(UnknownService, match="letters, digits"):
        lab.stop_service("rm -rf /")
    with pytest.raises(RegistryMiss, match="nohost"):
        lab.stop_service("keystone", host="nohost")
    assert len(conn.commands) == 1  # only the first reached the host


def test_ssh_failing_service_raises_a_host_error(tmp_path: Path) -> None:
    lab, _ = _ssh_lab(tmp_path, Result(1, "", "Job for mariadb.service failed.\n"))
    with pytest.raises(HostError) as caught:
        lab.start_service("mariadb")
    assert (caught.value.host, caught.value.exit_code) == ("controller", 1)
    assert caught.value.command == "service mariadb start"
    assert "Job for mariadb.service failed." in caught.value.stderr_tail


# ---- the openstack CLI in a notebook ---------------------------------------------------------


def test_a_new_lab_puts_the_cli_on_path(tmp_path: Path, environ: None) -> None:
    os.environ["PATH"] = "/nonexistent"
    Lab.from_env(ENVS / "sim.yaml", state_root=tmp_path)
    assert os.environ["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    Lab.from_env(ENVS / "sim.yaml", state_root=tmp_path)
    assert os.environ["PATH"].count(str(Path(sys.executable).parent)) == 1


def test_use_cli_reports_the_full_clouds_yaml_path(
    tmp_path: Path, environ: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.environ["OS_PASSWORD"] = "from-an-old-openrc"
    monkeypatch.chdir(tmp_path)  # a relative state folder still gives an absolute path
    lab = Lab.from_env(ENVS / "sim.yaml", state_root=Path("state"), sim_port=18003)
    said = lab.use_cli("demo")
    clouds = tmp_path / "state" / "sim" / "clouds.yaml"
    assert said == f"openstack CLI -> cloud lab-demo (OS_CLIENT_CONFIG_FILE={clouds})"
    assert os.environ["OS_CLIENT_CONFIG_FILE"] == str(clouds) and clouds.is_file()
    assert "OS_PASSWORD" not in os.environ


def test_lab_connections_keep_keystoneauth_discovery_noise_quiet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lab = Lab.from_env(ENVS / "sim.yaml", state_root=tmp_path, sim_port=18004)
    lab.connect("admin")  # builds the connection; nothing is sent yet
    log = logging.getLogger("keystoneauth.identity.generic.base")
    warning = "Failed to discover available identity versions when contacting %s. Attempting"
    with caplog.at_level(logging.WARNING):
        log.warning(warning, lab.credentials().auth_url)
        log.warning(warning, "https://cloud.example.com:5000/v3/")
    assert [r.args for r in caplog.records] == [("https://cloud.example.com:5000/v3/",)]


# ---- errors ---------------------------------------------------------------------------------


class Reader:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def file(self, host: str, path: str) -> dict[str, object]:
        raise self.error


def test_images_treat_only_not_found_as_absent() -> None:
    missing = Reader(SimNotFound("sim control API GET /hosts/controller/file: 404 ..."))
    stored = images.where_bytes_landed(missing, "abc")
    assert (stored.size, stored.store_listing) == (None, [])
    assert images.sim_staged_bytes(missing)("abc") is None
    down = Reader(SimNotRunning("http://127.0.0.1:1", "/tmp/x"))
    with pytest.raises(SimNotRunning):
        images.where_bytes_landed(down, "abc")
    with pytest.raises(SimNotRunning):
        images.sim_staged_bytes(down)("abc")


def test_host_errors_share_one_hierarchy() -> None:
    from labkit.hosts import errors as hosts_errors

    assert hosts_errors.HostsError is HostsError
    assert issubclass(HostError, HostsError) and issubclass(HostsError, LabkitError)
    assert issubclass(hosts_errors.HostUnreachable, HostsError)


# ---- the CLI --------------------------------------------------------------------------------


def test_cli_says_how_to_repair_a_broken_paramiko(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "paramiko", None)  # `import paramiko` raises ImportError
    for name in ("labkit.hosts.cli", "labkit.hosts.ssh", "labkit.hosts.preflight"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert cli.main(["sim", "status"]) == 1
    err = capsys.readouterr().err
    assert "labkit's SSH support cannot be loaded" in err and "paramiko" in err
    assert "-m pip install -e ." in err


def test_cli_install_on_a_cloud_installs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["install", str(ENVS / "mycloud.yaml")]) == 0
    assert "mycloud is an existing cloud: nothing to install." in capsys.readouterr().out
