"""The sim as a process: state that survives restarts, reset, sims side by side,
determinism, the simulated hosts, and Keystone's key rotation on the controller."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from labkit.install import steps as st
from labkit.install.runner import apply_plan
from labkit.lab import Lab
from labkit.sim import process
from tests.conftest import REPO, free_port

LABKIT = str(Path(sys.executable).parent / "labkit")


def _fresh_lab(root: Path) -> Lab:
    return Lab.from_env(REPO / "envs" / "sim.yaml", state_root=root, sim_port=free_port())


def _labkit(root: Path, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LABKIT_STATE_DIR=str(root), LABKIT_SIM_PORT=str(port))
    return subprocess.run([LABKIT, *args], env=env, capture_output=True, text=True, timeout=120)


def _identity(lab: Lab) -> httpx.Response:
    """GET /identity/v3 on the lab's sim, as any HTTP client would."""
    return httpx.get(f"{lab.sim.base_url}/identity/v3", timeout=10)


@pytest.fixture()
def bare(tmp_path: Path) -> Iterator[Lab]:
    lab = _fresh_lab(tmp_path)
    lab.up()
    yield lab
    process.stop(lab.paths)


def test_keystone_answers_503_until_it_is_installed(bare: Lab) -> None:
    response = _identity(bare)
    assert response.status_code == 503
    message = response.json()["error"]["message"]
    assert "Keystone is not running on controller" in message
    assert "labkit install sim keystone" in message


def test_hosts_and_base_services_can_be_listed(bare: Lab) -> None:
    hosts = {h["name"]: h for h in bare.sim.hosts()["hosts"]}
    assert set(hosts) == {"controller", "worker1"}
    assert hosts["controller"]["address"] == "10.64.0.2" and hosts["controller"]["services"] == []
    bare.install("base", show=False)
    hosts = {h["name"]: h for h in bare.sim.hosts()["hosts"]}
    running = {s["name"] for s in hosts["controller"]["services"] if s["state"] == "running"}
    assert running == {"chrony", "mariadb", "rabbitmq-server", "memcached"}
    assert "mariadb-server" in hosts["controller"]["packages"]
    conf = bare.sim.file("controller", "/etc/mysql/mariadb.conf.d/99-openstack.cnf")
    assert "bind-address = 10.64.0.2" in conf["content"]


def test_a_second_install_changes_nothing(sim_lab: Lab) -> None:
    for layer in ("base", "keystone"):
        results = sim_lab.install(layer, show=False)
        assert [r.step.title for r in results if r.status == "changed"] == []


def test_state_survives_down_and_up_and_reset_wipes_it(tmp_path: Path) -> None:
    lab = _fresh_lab(tmp_path)
    lab.ensure("keystone")
    project = lab.connect("admin").identity.create_project(name="survivor", domain_id="default")
    assert process.stop(lab.paths)
    lab.up()
    again = Lab(lab.env, tmp_path, sim_port=lab.sim_port)  # a new kernel, a new connection
    assert again.connect("admin").identity.get_project(project.id).name == "survivor"
    process.reset(lab.paths)
    assert not lab.paths.root.exists()
    lab.up()
    assert _identity(lab).status_code == 503
    process.stop(lab.paths)


def test_two_sims_side_by_side_are_independent(tmp_path: Path) -> None:
    one, two = _fresh_lab(tmp_path / "one"), _fresh_lab(tmp_path / "two")
    try:
        one.ensure("keystone")
        two.up()
        assert one.sim.base_url != two.sim.base_url
        assert _identity(two).status_code == 503
        assert _identity(one).status_code == 200
    finally:
        process.stop(one.paths)
        process.stop(two.paths)


def test_deterministic_sims_hand_out_the_same_ids(tmp_path: Path) -> None:
    ids = []
    for name in ("a", "b"):
        lab = _fresh_lab(tmp_path / name)
        try:
            lab.ensure("keystone")
            conn = lab.connect("admin")
            ids.append(sorted(p.id for p in conn.identity.projects()))
        finally:
            process.stop(lab.paths)
    assert ids[0] == ids[1] and len(ids[0]) == 3


def test_fernet_rotation_keeps_recent_tokens_and_drops_old_ones(tmp_path: Path) -> None:
    lab = _fresh_lab(tmp_path)
    try:
        lab.ensure("keystone")
        admin = lab.connect("admin")
        url = lab.credentials().auth_url + "auth/tokens"
        old = lab.credentials("demo").connect().session.get_token()
        rotate = st.Command(
            title="rotate",
            host="controller",
            command="keystone-manage fernet_rotate --keystone-user keystone "
            "--keystone-group keystone",
        )
        apply_plan([rotate], lab.runner())
        keys = lab.sim.file("controller", "/etc/keystone/fernet-keys")["entries"]
        assert keys == ["0", "1", "2"]
        assert admin.session.get(url, headers={"X-Subject-Token": old}).status_code == 200
        apply_plan([rotate, rotate], lab.runner())  # key 1, which made `old`, is purged now
        gone = admin.session.get(url, headers={"X-Subject-Token": old}, raise_exc=False)
        assert gone.status_code == 404
        assert gone.json()["error"]["message"] == "Could not recognize Fernet token"
    finally:
        process.stop(lab.paths)


def test_cli_status_logs_and_openrc(sim_lab: Lab) -> None:
    port = int(sim_lab.sim.base_url.rsplit(":", 1)[1])
    root = sim_lab.paths.root.parent
    status = _labkit(root, port, "sim", "status")
    assert status.returncode == 0 and "controller/keystone" in status.stdout
    logs = _labkit(root, port, "sim", "logs", "keystone", "-n", "100000")
    assert logs.returncode == 0 and '"POST /v3/auth/tokens"' in logs.stdout
    openrc = _labkit(root, port, "openrc", "demo")
    assert "export OS_USERNAME=demo" in openrc.stdout
    assert f"export OS_AUTH_URL=http://127.0.0.1:{port}/identity/v3/" in openrc.stdout
    missing = _labkit(root, port, "sim", "logs", "nosuch")
    assert missing.returncode == 1 and "labkit sim logs" in missing.stderr


def test_a_bad_env_file_is_refused_by_the_cli(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: sim\nhosts: []\n")
    result = _labkit(tmp_path, free_port(), "sim", "up", "--env", str(bad))
    assert result.returncode == 1
    assert f"{bad} is not a valid lab env" in result.stderr and "field hosts" in result.stderr


def test_cli_flags_reach_the_lab_and_a_clean_stop_leaves_a_readable_log(tmp_path: Path) -> None:
    """--state-dir and --port work without the LABKIT_* variables; later commands (and
    Labs) find the sim on the port it was started with; after `sim down`, the process log
    (empty on a clean run) points at the run's own log and shows it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABKIT_")}
    port = free_port()

    def labkit(*args: str) -> subprocess.CompletedProcess[str]:
        command = [LABKIT, "--state-dir", str(tmp_path), *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)

    up = labkit("sim", "up", "--port", str(port))
    try:
        assert up.returncode == 0, up.stderr
        assert f"http://127.0.0.1:{port}" in up.stdout
        assert f"clouds.yaml: {tmp_path / 'sim' / 'clouds.yaml'}" in up.stdout
        assert Lab(_fresh_lab(tmp_path).env, tmp_path).sim_port == port
        installed = labkit("install", "sim", "keystone")
        assert installed.returncode == 0, installed.stderr
        check = labkit("check", "sim")
        assert check.returncode == 0, check.stdout + check.stderr
        assert "ok   token issued by Keystone" in check.stdout
    finally:
        down = labkit("sim", "down")
    assert down.returncode == 0 and "sim stopped" in down.stdout
    logs = labkit("sim", "logs", "sim-process", "-n", "100000")
    assert logs.returncode == 0, logs.stderr
    assert "sim-process.log is empty" in logs.stdout
    assert str(tmp_path / "sim" / "logs" / "sim.log") in logs.stdout
    assert f"listening on http://127.0.0.1:{port}" in logs.stdout


def test_keystone_manage_with_a_value_oslo_config_refuses_fails_as_the_command_does(
    tmp_path: Path,
) -> None:
    """A bad integer in keystone.conf: keystone-manage dies with oslo.config's error (exit
    1), never an internal error of the sim."""
    lab = _fresh_lab(tmp_path)
    try:
        lab.ensure("keystone")
        edit = st.IniSet(
            title="break",
            host="controller",
            path="/etc/keystone/keystone.conf",
            settings=(("token", "expiration", "one hour"),),
        )
        apply_plan([edit], lab.runner())
        rotate = st.Command(
            title="rotate", host="controller", command="keystone-manage fernet_rotate"
        )
        answer = lab.sim.step("controller", rotate.to_dict(), "apply", {}, set())
        assert answer["exit_code"] == 1, answer
        assert "ConfigFileValueError" in "\n".join(answer["output"]), answer
        assert lab.sim.health()["internal_errors"] == 0
    finally:
        process.stop(lab.paths)
