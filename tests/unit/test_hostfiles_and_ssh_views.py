"""The notebook views on an ssh env, over a fake connection: files and folders read the way
the sim answers, services from pgrep, the Fernet key repository, and no secrets shown.

The fake host is a folder: commands run locally with ``sh`` after its absolute paths are
moved under the folder, so the real shell snippets labkit sends are what is tested."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from labkit import hostfiles
from labkit.config import StatePaths
from labkit.envs import SshEnv, load_env
from labkit.lab import Lab
from labkit.lab.backends import SshBackend

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


class FakeHost:
    """Runs commands with sh, rooted in ``root``; answers the services probe from a table."""

    def __init__(self, root: Path, services: str = "") -> None:
        self.root, self.services, self.commands = root, services, []  # type: ignore[var-annotated]
        self.closed = False

    def run(self, command: str, *, check: bool = True, timeout: float = 60.0) -> Result:
        self.commands.append(command)
        if "pgrep" in command:
            return Result(0, self.services, "")
        local = command.replace(" /etc/", f" {self.root}/etc/").replace(
            " /var/", f" {self.root}/var/"
        )
        local = local.replace("'/etc/", f"'{self.root}/etc/").replace(
            "'/var/", f"'{self.root}/var/"
        )
        done = subprocess.run(["sh", "-c", local], capture_output=True, timeout=timeout)
        # As HostConnection does: bytes that are not UTF-8 (an image's header) are replaced.
        out, err = (b.decode(errors="replace") for b in (done.stdout, done.stderr))
        return Result(done.returncode, out, err)

    def close(self) -> None:
        self.closed = True


@pytest.fixture()
def host(tmp_path: Path) -> FakeHost:
    keys = tmp_path / "etc/keystone/fernet-keys"
    keys.mkdir(parents=True)
    for n in (0, 1):
        (keys / str(n)).write_bytes(Fernet.generate_key() + b"\n")
    store = tmp_path / "var/lib/glance/images"
    store.mkdir(parents=True)
    (store / "abc").write_bytes(b"QFI\xfb" + b"\0" * 60)
    (tmp_path / "etc/mysql").mkdir(parents=True)
    (tmp_path / "etc/mysql/99-openstack.cnf").write_text("[mysqld]\nbind-address = 10.64.0.2\n")
    return FakeHost(tmp_path, "0 running 42\n5 running 5\ngarbage\n--\nchrony\nkeystone\nrsync\n")


@pytest.fixture()
def lab(tmp_path: Path, host: FakeHost) -> Lab:
    env = load_env(REPO / "envs" / "lab-local.yaml")
    assert isinstance(env, SshEnv)
    state_root = tmp_path / "state"
    backend = SshBackend(env, StatePaths.for_env(env.name, state_root), lambda name: host)
    return Lab(env, state_root, backend=backend)


def test_file_answers_like_the_sim(lab: Lab) -> None:
    files = lab.host_files()
    folder = files.file("controller", "/var/lib/glance/images")
    assert folder == {"path": "/var/lib/glance/images", "kind": "dir", "entries": ["abc"]}
    info = files.file("controller", "/var/lib/glance/images/abc")
    assert (info["kind"], info["size"], info["mode"][:2]) == ("file", 64, "0o")
    assert "bind-address = 10.64.0.2" in lab.read_file("controller", "/etc/mysql/99-openstack.cnf")


def test_a_missing_file_says_where_to_look(lab: Lab) -> None:
    with pytest.raises(hostfiles.HostFileMissing) as caught:
        lab.host_files().file("controller", "/var/lib/glance/images/nope")
    assert "controller:/var/lib/glance/images/nope" in str(caught.value)


def test_unknown_host_lists_the_valid_ones(lab: Lab) -> None:
    with pytest.raises(Exception, match="worker1"):
        lab.host_files().file("nohost", "/etc")


def test_fernet_keys_and_keys_table_over_ssh(lab: Lab) -> None:
    keys = lab.fernet_keys()
    assert sorted(keys) == [0, 1] and all(len(k) == 44 for k in keys.values())
    table = str(lab.keys_table())
    assert "/etc/keystone/fernet-keys/1  primary" in table
    assert keys[1].decode() not in table  # key material never shown


def test_token_opens_with_the_keys_read_over_ssh(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    from labkit.display import Aliases

    keys = lab.fernet_keys()
    from cryptography.fernet import MultiFernet

    from labkit.sim.keystone import fernet as kf

    token = kf.encode(
        kf.TokenPayload(
            user_id="a" * 32,
            methods=("password",),
            project_id="b" * 32,
            expires_at=datetime(2030, 1, 1, 11, tzinfo=UTC),
            audit_ids=("AAAAAAAAAAAAAAAAAAAAAA",),
        ),
        MultiFernet([Fernet(keys[1])]),
        datetime.now(UTC),
    )
    monkeypatch.setattr(lab.identity, "aliases", lambda: Aliases())
    view = str(lab.token_anatomy(token))
    assert "decrypted with key file 1" in view
    assert "controller:/etc/keystone/fernet-keys" in view


def test_services_from_pgrep(lab: Lab) -> None:
    from labkit.install import profiles

    processes = profiles.DEBIAN_12_ZED.processes
    assert list(processes)[5] == "glance-api"
    rows = lab.host_files().services("controller", processes)
    assert [(r["name"], r["state"]) for r in rows] == [
        ("chrony", "running"),
        ("glance-api", "running"),
        ("keystone", "stopped"),
    ]
    assert rows[2]["since"] is None
    table = str(lab.services_table())
    assert "controller  glance-api  running  5 s ago" in table


def test_services_command_never_matches_itself() -> None:
    command = hostfiles.services_command(
        {"mariadb": "mariadbd", "rabbitmq-server": "beam.smp.*rabbit"}
    )
    assert "'[m]ariadbd'" in command and "'[b]eam.smp.*rabbit'" in command
    assert "mariadb" not in command.replace("[m]ariadbd", "")
    # the snippet is valid sh
    assert subprocess.run(["sh", "-n", "-c", command]).returncode == 0


def test_folder_answer_parsing() -> None:
    text = "==> 0\nAAA=\n\n==> 1\nBBB=\n"
    assert hostfiles.parse_folder_answer(text) == {"0": "AAA=", "1": "BBB="}


def test_openrc_on_ssh_shows_placeholders(lab: Lab) -> None:
    shown = str(lab.show_openrc("demo"))
    assert "OS_PASSWORD=DEMO_PASS" in shown
    assert lab.secrets["DEMO_PASS"] not in shown


def test_where_bytes_landed_over_ssh(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    from labkit import images

    stored = images.where_bytes_landed(lab.host_files(), "abc", "controller")
    assert (stored.size, stored.store_listing) == (64, ["abc"])


def test_image_source_per_env_kind(tmp_path: Path) -> None:
    from labkit import image_sources

    sim = Lab.from_env(REPO / "envs" / "sim.yaml", state_root=tmp_path, sim_port=18999)
    source = sim.image_source("cirros", rate="8M")
    assert source.url == (
        "http://127.0.0.1:18999/mirror/cirros/0.6.2/cirros-0.6.2-x86_64-disk.img?rate=8M"
    )
    assert source.sums["sha512"].endswith("/mirror/cirros/0.6.2/SHA512SUMS")
    upstream = image_sources.from_upstream("trusty")
    assert upstream.url == (
        "https://cloud-images.ubuntu.com/trusty/current/trusty-server-cloudimg-amd64-disk1.img"
    )
    assert upstream.sums == {"md5": "https://cloud-images.ubuntu.com/trusty/current/MD5SUMS"}
    with pytest.raises(Exception, match="cirros"):
        image_sources.mirror_path("fedora")


def test_glance_plan_allows_the_mirror_port_where_the_lab_has_a_mirror() -> None:
    from labkit.install import glance
    from labkit.install.context import PlanContext

    local = load_env(REPO / "envs" / "lab-local.yaml")
    remote = load_env(REPO / "envs" / "lab-2node.yaml")

    def ports(env: Any) -> list[str]:
        return [
            v
            for s in glance.plan(PlanContext.for_env(env))
            if s.kind == "ini-set"
            for _, k, v in s.settings
            if k == "allowed_ports"
        ]  # type: ignore[attr-defined]

    assert ports(local) == ["[80,443,3143]"]
    assert ports(remote) == []
