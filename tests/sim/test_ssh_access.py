"""The seed's last step, for real: ``ssh ubuntu@ADDRESS`` into a guest of the sim.

Through real clients only: the ``openstack`` CLI for the seed's commands, the system ``ssh``
binary with the ssh_config labkit writes (``-F``) and a key file (``-i``), paramiko through
``lab.ssh``, and ``labkit ssh`` as a learner types it. Security groups decide: without an
ingress tcp/22 rule the connection times out as a filtered port does, and
``lab.why_no_ssh`` names that hop (and a wrong key, and a stopped server).

The tests share one server in a project of their own (its ``default`` group is theirs to
change); each test that breaks something puts it back.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from labkit.errors import GuestAccessError, GuestConnectFailed
from labkit.hosts.keys import new_ed25519, write_pair
from labkit.lab.access import GuestSession, Output
from tests.conftest import REPO, openstack_cli

pytestmark = pytest.mark.slow
SSH = shutil.which("ssh")
SHORT_TIMEOUT = "0.5"  # seconds a filtered connect waits in these tests


@dataclass
class Seed:
    """What the seed's commands made: a project, a key, a server and its address."""

    lab: Any
    login: list[str]  # the CLI options of the project's own user
    cli: Callable[..., Any]
    key: Path
    other_key: Path
    keypair: str
    server: str
    address: str
    rule_id: str  # the tcp/22 rule in the project's default group

    def osc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.cli(shlex.join([*self.login, *args]), cloud="lab-demo", check=check)

    def json(self, *args: str) -> Any:
        return json.loads(self.osc(*args, "-f", "json").stdout)


def _ssh_env() -> dict[str, str]:
    """No ssh-agent (only -i keys count), and a short connect timeout for filtered ports."""
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    env["LABKIT_CONNECT_TIMEOUT"] = SHORT_TIMEOUT
    return env


@pytest.fixture(scope="module")
def seed(nova_lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seed]:
    """The seed's flow with today's CLI, as a member of a project of its own (as admin,
    ``default`` would name every project's default group: the CLI refuses the ambiguity)."""
    admin = nova_lab.connect("admin")
    tag = os.urandom(3).hex()
    project = admin.identity.create_project(name=f"access-{tag}", domain_id="default")
    password = os.urandom(8).hex()
    user = admin.identity.create_user(
        name=f"learner-{tag}", password=password, domain_id="default", default_project_id=project.id
    )
    admin.identity.assign_project_role_to_user(project, user, admin.identity.find_role("member"))
    login = [
        "--os-username",
        user.name,
        "--os-password",
        password,
        "--os-project-name",
        project.name,
    ]
    folder = tmp_path_factory.mktemp("keys")
    key, other = folder / "id_ed25519", folder / "other_ed25519"
    write_pair(new_ed25519("learner@laptop"), key)
    write_pair(new_ed25519("someone@else"), other)
    seed = Seed(nova_lab, login, openstack_cli(nova_lab), key, other, "", "", "", "")
    seed.osc("security", "group", "rule", "create", "--protocol", "icmp", "default")
    rule = seed.json(
        "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "default"
    )
    seed.rule_id = rule["id"]
    seed.keypair = f"mykey-{tag}"
    seed.osc("keypair", "create", "--public-key", f"{key}.pub", seed.keypair)
    seed.server = f"server1-{tag}"
    server = seed.json(
        "server", "create", "--flavor", "m1.medium", "--image", "trusty",
        "--key-name", seed.keypair, "--wait", seed.server,
    )  # fmt: skip
    assert server["status"] == "ACTIVE"
    found = admin.compute.get_server(server["id"])
    seed.address = next(a["addr"] for net in found.addresses.values() for a in net)
    yield seed
    seed.osc("server", "delete", "--wait", seed.server, check=False)


def _ssh(seed: Seed, *args: str, key: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The system ssh, as the learner runs it: -F the lab's config, -i a key file."""
    if SSH is None:
        pytest.skip("no ssh client on this machine")
    command = [SSH, "-F", str(seed.lab.paths.ssh_config), "-o", "BatchMode=yes"]
    command += ["-i", str(key or seed.key), f"ubuntu@{seed.address}", *args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        env=_ssh_env(),
        stdin=subprocess.DEVNULL,
    )


def _labkit(seed: Seed, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "labkit", "--state-dir", str(seed.lab.paths.root.parent)]
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=_ssh_env(),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture()
def no_ssh_rule(seed: Seed) -> Iterator[None]:
    """The seed without its tcp/22 rule (put back afterwards)."""
    seed.osc("security", "group", "rule", "delete", seed.rule_id)
    try:
        yield
    finally:
        rule = seed.json(
            "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22",
            "default",
        )  # fmt: skip
        seed.rule_id = rule["id"]


# ---- the seed's flow -----------------------------------------------------------------------------
def test_the_written_config_sends_guest_addresses_through_the_sim(seed: Seed) -> None:
    config = seed.lab.paths.ssh_config.read_text()
    assert "Host 10.64.0.*" in config
    assert f"-m labkit.sim.nc {seed.lab.paths.root}" in config
    assert f'UserKnownHostsFile "{seed.lab.paths.known_hosts}"' in config
    wire = seed.lab.sim.wire()
    assert wire["gateway"]["router"] == "10.64.0.1"
    assert seed.address in [e["address"] for e in wire["endpoints"]]


def test_labkit_ssh_trusts_the_console_then_ssh_runs_hostname(seed: Seed) -> None:
    known = seed.lab.paths.known_hosts
    if known.exists():  # start from no trust at all for this address
        lines = [ln for ln in known.read_text().splitlines() if not ln.startswith(seed.address)]
        known.write_text("".join(f"{ln}\n" for ln in lines))
    refused = _ssh(seed, "hostname")
    assert refused.returncode == 255
    assert "Host key verification failed" in refused.stderr  # strict: never trust on first use

    result = _labkit(seed, "ssh", seed.server, "-i", str(seed.key), "--", "hostname")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == seed.server
    assert f"+ ssh -F {seed.lab.paths.ssh_config}" in result.stderr  # it says what it runs
    # The keys it recorded are the ones the console shows.
    console = seed.osc("console", "log", "show", seed.server).stdout
    recorded = [ln.split() for ln in known.read_text().splitlines() if ln.startswith(seed.address)]
    assert recorded and all(f"{kind} {blob}" in console for _, kind, blob in recorded)

    plain = _ssh(seed, "hostname")  # the seed's `ssh ubuntu@ADDRESS hostname`, now trusted
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == seed.server
    whoami = _ssh(seed, "whoami")
    assert whoami.stdout.strip() == "ubuntu"


def test_lab_ssh_with_paramiko(seed: Seed) -> None:
    out = seed.lab.ssh(seed.server, key=seed.key, command="hostname")
    assert isinstance(out, Output)
    assert (out.exit_code, out.stdout.strip()) == (0, seed.server)
    session = seed.lab.ssh(seed.server, key=str(seed.key))
    assert isinstance(session, GuestSession)
    with session:
        code, stdout, _ = session.run("whoami")
        assert (code, stdout.strip()) == (0, "ubuntu")
        assert session.run("nproc").stdout.strip() == "2"  # m1.medium
        missing = session.run("no-such-command")
        assert missing.exit_code == 127
    assert not session.connected


def test_a_wrong_key_is_refused_by_every_client(seed: Seed) -> None:
    seed.lab.access.trust_host_keys(seed.lab.access.target(seed.server))
    result = _ssh(seed, "hostname", key=seed.other_key)
    assert result.returncode == 255
    assert "Permission denied (publickey)" in result.stderr
    with pytest.raises(GuestAccessError, match="refused the key"):
        seed.lab.ssh(seed.server, key=seed.other_key, command="hostname")
    report = seed.lab.why_no_ssh(seed.server, key=seed.other_key)
    assert report.failed is not None
    assert report.failed.hop == "the server's keypair is the key you offer"
    assert seed.keypair in report.failed.found


def test_why_no_ssh_passes_every_hop_when_all_is_well(seed: Seed) -> None:
    report = seed.lab.why_no_ssh(seed.server, key=seed.key)
    assert report.ok, str(report)
    assert [c.ok for c in report.checks] == [True] * 6
    assert report.checks[-1].found.startswith("SSH-2.0-")
    assert report.extra[0].ok is True  # the icmp rule is there too
    assert "✓" in str(report)


# ---- security groups decide ---------------------------------------------------------------------
def test_without_a_tcp22_rule_ssh_times_out_and_why_no_ssh_says_so(
    seed: Seed, no_ssh_rule: None
) -> None:
    started = time.monotonic()
    result = _ssh(seed, "hostname")
    assert result.returncode == 255
    assert f"ssh: connect to host {seed.address} port 22: Connection timed out" in result.stderr
    assert time.monotonic() - started >= float(SHORT_TIMEOUT)

    started = time.monotonic()
    with pytest.raises(GuestConnectFailed) as caught:
        seed.lab.ssh(seed.server, key=seed.key, command="hostname", timeout=0.3)
    assert time.monotonic() - started >= 0.3  # a filtered port costs the timeout
    assert caught.value.verdict == "filtered"
    assert f"lab.why_no_ssh({seed.server!r})" in str(caught.value)

    report = seed.lab.why_no_ssh(seed.server, key=seed.key)
    assert report.failed is not None
    assert report.failed.hop == "a security group lets tcp/22 in"
    assert "filtered" in report.failed.found
    assert "--protocol tcp --dst-port 22 default" in report.failed.fix
    assert [c.ok for c in report.checks[:2]] == [True, True]
    assert all(c.ok is None for c in report.checks[3:])  # later hops: not checked


def test_a_stopped_server_is_named_first(seed: Seed) -> None:
    seed.osc("server", "stop", seed.server)
    try:
        deadline = time.monotonic() + 60
        while seed.json("server", "show", seed.server)["status"] != "SHUTOFF":
            assert time.monotonic() < deadline, "the server did not stop"
            time.sleep(0.2)
        report = seed.lab.why_no_ssh(seed.server, key=seed.key)
        assert report.failed is report.checks[0]
        assert "SHUTOFF" in report.failed.found
        assert report.failed.fix == f"Start it: `openstack server start {seed.server}`."
        with pytest.raises(GuestAccessError, match="SHUTOFF"):
            seed.lab.ssh(seed.server, key=seed.key, command="hostname")
    finally:
        seed.osc("server", "start", seed.server)
        deadline = time.monotonic() + 60
        while seed.json("server", "show", seed.server)["status"] != "ACTIVE":
            assert time.monotonic() < deadline, "the server did not start again"
            time.sleep(0.2)
    # ACTIVE again; its guest boots in the background: a refusal means "not yet".
    deadline = time.monotonic() + 30
    while True:
        try:
            out = seed.lab.ssh(seed.server, key=seed.key, command="hostname")
            break
        except GuestConnectFailed as exc:
            assert exc.verdict == "refused" and time.monotonic() < deadline, str(exc)
            time.sleep(0.2)
    assert isinstance(out, Output) and out.stdout.strip() == seed.server
