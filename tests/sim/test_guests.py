"""The guests without a sim: the shell with the flavor's figures, cloud-init against a
metadata service that answers (or does not), the host keys it prints, and one guest of
:class:`~labkit.sim.guests.Guests` on a wire of its own, logged in to with paramiko.

The metadata service and the network here are small fakes that answer as the wire does
(a response, or a WireError with its verdict); everything else is the guests' own code.
What the console shows is read back with labkit's own console parser
(:mod:`labkit.guestkeys`), as ``lab.ssh`` and ``why_no_ssh`` read it.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from labkit import guestkeys
from labkit.sim.core.config import SimConfig
from labkit.sim.core.hypervisor import GuestNic, GuestNotFound, GuestSpec
from labkit.sim.core.runtime import Runtime
from labkit.sim.core.wire import (
    METADATA_ADDRESS,
    Endpoint,
    PortFilter,
    Rule,
    Verdict,
    Wire,
    WireError,
    WireResponse,
)
from labkit.sim.guests import Guests
from labkit.sim.guests.boot import BootClock, ConsoleLog
from labkit.sim.guests.cloudinit import CloudInit, ConfigDrive, MetadataService
from labkit.sim.guests.keys import make_host_keys
from labkit.sim.guests.profiles import profile_for
from labkit.sim.guests.shell import GuestContext, Shell
from labkit.sim.guests.system import GuestSystem
from labkit.sim.nova.instances import sanitize_hostname

UUID = "6a1f7a4e-5c2b-4d7e-9a43-0f4b8e2c1d90"
NIC = GuestNic("port-1", "net-1", "fa:16:3e:12:34:56", "10.64.0.105", "10.64.0.0/24", "10.64.0.1")
BOOTED = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


def _public_key(comment: str = "learner@laptop") -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    blob = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{blob.decode()} {comment}"


@dataclass
class FakeNet:
    """The wire as the guest sees it: verdicts per destination, one HTTP answer."""

    verdicts: dict[str, Verdict] = field(default_factory=dict)
    answer: WireResponse | None = None
    sent: list[tuple[str, int, str]] = field(default_factory=list)

    def http(self, method: str, host: str, port: int, path: str) -> WireResponse:
        self.sent.append((host, port, path))
        if self.answer is None:
            raise WireError(self.verdicts.get(host, Verdict.FILTERED))
        return self.answer

    def ping(self, destination: str) -> Verdict:
        return self.verdicts.get(destination, Verdict.UNREACHABLE)


def _system(image: str = "trusty", vcpus: int = 2, ram: int = 4096, disk: int = 40) -> GuestSystem:
    profile, user = profile_for(image, {})
    system = GuestSystem.fresh(profile, user)
    system.vcpus, system.memory_mb, system.disk_gb = vcpus, ram, disk
    return system


def _shell(system: GuestSystem, user: str = "ubuntu", net: FakeNet | None = None) -> Shell:
    if user not in system.users:
        system.add_user(user, list(system.profile.groups), sudo=True)
    context = GuestContext(system, (NIC,), net or FakeNet(), lambda: BOOTED, BOOTED)
    return Shell(context, user)


# ---- the shell --------------------------------------------------------------------------------


def test_an_m1_medium_guest_shows_the_flavors_figures() -> None:
    sh = _shell(_system(vcpus=2, ram=4096, disk=40))
    assert sh.run("nproc").out == "2\n"
    mem = sh.run("free -m").out.splitlines()[1].split()
    assert mem[0] == "Mem:" and 3800 < int(mem[1]) < 4096  # the kernel keeps its share
    root = next(line for line in sh.run("df -h").out.splitlines() if line.endswith(" /"))
    assert root.split()[:2] == ["/dev/vda1", "39G"]  # 40 GiB less ext4's overhead
    only_root = sh.run("df -h /home/ubuntu").out.splitlines()
    assert len(only_root) == 2 and only_root[1].startswith("/dev/vda1")  # the path's own fs
    assert "inet 10.64.0.105/24 brd 10.64.0.255 scope global eth0" in sh.run("ip addr").out
    assert "default via 10.64.0.1 dev eth0" in sh.run("ip route").out


def test_a_tiny_cirros_guest_is_smaller_and_busybox_like() -> None:
    sh = _shell(_system("cirros", vcpus=1, ram=512, disk=1), user="cirros")
    assert sh.run("nproc").out == "1\n"
    assert int(sh.run("free -m").out.splitlines()[1].split()[1]) < 512
    unknown = sh.run("frobnicate")
    assert (unknown.code, unknown.err) == (127, "-sh: frobnicate: not found\n")


def test_unknown_commands_answer_as_bash_does() -> None:
    sh = _shell(_system())
    result = sh.run("frobnicate --now")
    assert (result.code, result.err) == (127, "-bash: frobnicate: command not found\n")
    assert sh.run("echo $?").out == "127\n"


def test_identity_commands() -> None:
    system = _system()
    system.hostname = "server1"
    sh = _shell(system)
    assert sh.run("hostname").out == "server1\n"
    assert sh.run("whoami").out == "ubuntu\n"
    assert sh.run("id").out.startswith(
        "uid=1000(ubuntu) gid=1000(ubuntu) groups=1000(ubuntu),4(adm)"
    )
    assert sh.run("uname -a").out.startswith("Linux server1 3.13.0-170-generic ")
    assert "up 0 min" in sh.run("uptime").out


def test_files_obey_their_owners_and_modes() -> None:
    system = _system()
    sh = _shell(system)
    system.add_user("alice")
    system.add_authorized_keys("alice", [_public_key()])
    denied = sh.run("cat /home/alice/.ssh/authorized_keys")
    assert (denied.code, denied.err) == (
        1,
        "cat: /home/alice/.ssh/authorized_keys: Permission denied\n",
    )
    assert sh.run("sudo cat /home/alice/.ssh/authorized_keys").out.startswith("ssh-ed25519 ")
    system.write("/var/log/cloud-init-output.log", "done\n", group="adm", mode=0o640)
    assert sh.run("cat /var/log/cloud-init-output.log").out == "done\n"  # ubuntu is in adm
    assert "ID=ubuntu" in sh.run("cat /etc/os-release").out
    missing = sh.run("cat /nope")
    assert missing.err == "cat: /nope: No such file or directory\n"
    alice = _shell(system, "alice")
    alice.ctx.system.users["alice"].sudo = False
    assert "not in the sudoers file" in alice.run("sudo id").err


def test_redirections_chains_and_pipes() -> None:
    sh = _shell(_system())
    assert sh.run("echo one > ~/notes && echo two >> ~/notes").code == 0
    assert sh.run("cat notes").out == "one\ntwo\n"
    assert sh.run("cat notes | grep tw | wc -l").out == "1\n"
    assert sh.run("false || echo rescued; echo after").out == "rescued\nafter\n"
    assert sh.run("false && echo never").out == ""
    denied = sh.run("echo x > /etc/motd")
    assert denied.code == 1 and "Permission denied" in denied.err
    assert sh.run("sudo sh -c 'echo x > /etc/motd'").code == 0


def test_curl_goes_through_the_guests_network() -> None:
    body = json.dumps({"uuid": UUID}).encode()
    net = FakeNet(answer=WireResponse(200, body, {"Content-Type": "application/json"}))
    sh = _shell(_system(), net=net)
    result = sh.run("curl -s http://169.254.169.254/openstack/latest/meta_data.json")
    assert (result.code, json.loads(result.out)) == (0, {"uuid": UUID})
    assert net.sent == [("169.254.169.254", 80, "/openstack/latest/meta_data.json")]
    assert sh.run("curl -i http://169.254.169.254/").out.startswith("HTTP/1.1 200 OK\r\n")


@pytest.mark.parametrize(
    ("verdict", "text"),
    [
        (Verdict.FILTERED, "Connection timed out"),
        (Verdict.REFUSED, "Connection refused"),
        (Verdict.UNREACHABLE, "No route to host"),
    ],
)
def test_curl_reports_a_failed_connect_as_curl_does(verdict: Verdict, text: str) -> None:
    sh = _shell(_system(), net=FakeNet(verdicts={"169.254.169.254": verdict}))
    result = sh.run("curl http://169.254.169.254/openstack")
    assert result.code == 7
    assert result.err == f"curl: (7) Failed to connect to 169.254.169.254 port 80: {text}\n"
    assert sh.run("curl http://metadata/").err == "curl: (6) Could not resolve host: metadata\n"


def test_ping_answers_as_iputils_does() -> None:
    net = FakeNet(verdicts={"10.64.0.1": Verdict.OPEN, "10.64.0.120": Verdict.FILTERED})
    sh = _shell(_system(), net=net)
    ok = sh.run("ping -c 3 10.64.0.1")
    assert ok.code == 0 and ok.out.count("64 bytes from 10.64.0.1: icmp_seq=") == 3
    assert "3 packets transmitted, 3 received, 0% packet loss" in ok.out
    dropped = sh.run("ping -c 2 10.64.0.120")
    assert (
        dropped.code == 1 and "2 packets transmitted, 0 received, 100% packet loss" in dropped.out
    )
    nobody = sh.run("ping -c 2 10.64.0.150")
    assert nobody.code == 1
    assert "From 10.64.0.105 icmp_seq=1 Destination Host Unreachable" in nobody.out
    assert "+2 errors, 100% packet loss" in nobody.out


def test_exit_ends_the_shell() -> None:
    sh = _shell(_system())
    assert sh.run("exit 3").exit and sh.status == 3


# ---- cloud-init -------------------------------------------------------------------------------


class FakeMetadata:
    """nova-api-metadata behind the proxy: paths -> bodies; others 404; or unreachable."""

    def __init__(self, files: dict[str, bytes] | None, verdict: Verdict = Verdict.FILTERED):
        self.files = files
        self.verdict = verdict
        self.paths: list[str] = []

    def __call__(self, path: str) -> WireResponse:
        self.paths.append(path)
        if self.files is None:
            raise WireError(self.verdict)
        if path == "/openstack":
            return WireResponse(200, b"2018-08-27\nlatest")
        body = self.files.get(path.removeprefix("/openstack/latest/"))
        return WireResponse(200, body) if body is not None else WireResponse(404, b"Not Found")


def _documents(key: str, user_data: str | None = None) -> dict[str, bytes]:
    meta = {"uuid": UUID, "hostname": "web-1.novalocal", "name": "web_1", "public_keys": {"k": key}}
    files = {"meta_data.json": json.dumps(meta).encode(), "vendor_data2.json": b"{}"}
    if user_data is not None:
        files["user_data"] = user_data.encode()
    return files


def _cloud_init(system: GuestSystem, source: object, generation: int = 1) -> CloudInit:
    def run_script(path: str, script: str) -> tuple[int, str]:
        context = GuestContext(system, (NIC,), FakeNet(), lambda: BOOTED, BOOTED)
        sh = Shell(context, "root", cwd="/", script=path)
        out = ""
        for number, line in enumerate(script.splitlines(), start=1):
            if not line.startswith("#!"):
                result = sh.run(line, number)
                out += result.out + result.err
        return sh.status, out

    return CloudInit(
        system=system,
        uuid=UUID,
        nics=(NIC,),
        clock=BootClock(BOOTED, f"{UUID}/{generation}"),
        console=ConsoleLog(),
        source=source,  # type: ignore[arg-type]
        run_script=run_script,
        key_seed="2015/test",
    )


def _boot(ci: CloudInit) -> str:
    ci.init_local()
    ci.init()
    ci.modules_config()
    ci.modules_final()
    return "\n".join(ci.console.lines())


USER_DATA = """#cloud-config
users:
  - default
  - name: alice
    groups: [adm]
    sudo: ALL=(ALL) NOPASSWD:ALL
    ssh_authorized_keys: [{alice}]
write_files:
  - path: /etc/lab/hello.txt
    content: hello from cloud-init
  - path: /etc/lab/encoded
    encoding: b64
    content: {encoded}
    permissions: '0600'
runcmd:
  - echo ran >> /root/runs
  - [touch, /tmp/from-a-list]
  - frobnicate
packages: [nginx]
"""


def test_first_boot_applies_metadata_and_cloud_config() -> None:
    key, alice = _public_key(), _public_key("alice@laptop")
    user_data = USER_DATA.format(alice=alice, encoded=base64.b64encode(b"secret").decode())
    system = _system()
    metadata = FakeMetadata(_documents(key, user_data))
    console = _boot(_cloud_init(system, MetadataService(metadata, UUID)))
    assert metadata.paths[0] == "/openstack"
    assert "/openstack/latest/meta_data.json" in metadata.paths
    assert (system.hostname, system.fqdn) == ("web-1", "web-1.novalocal")
    assert system.read_as("root", "/etc/hostname") == "web-1\n"
    assert system.authorized_keys("ubuntu") == [key]
    assert system.authorized_keys("alice") == [alice]
    assert "Please login as the user" in system.authorized_keys("root")[0]
    assert system.read_as("root", "/etc/lab/hello.txt") == "hello from cloud-init"
    assert system.read_as("root", "/etc/lab/encoded") == "secret"
    assert not system.may("ubuntu", "/etc/lab/encoded", 4)  # 0600 root
    assert system.read_as("root", "/root/runs") == "ran\n"
    assert "/tmp/from-a-list" in system.files
    assert system.packages == ["nginx"]
    assert "scripts/runcmd: 4: frobnicate: not found" in console  # line 1 is #!/bin/sh
    assert "Failed to run module scripts-user" in console
    assert "Cloud-init v. 23.1 running 'init' at Tue, 01 Jan 2030 09:00:0" in console
    assert "Datasource DataSourceOpenStack [net,ver=2].  Up " in console
    log = system.read_as("root", "/var/log/cloud-init-output.log")
    assert "Cloud-init v. 23.1 finished at" in log and "ci-info:" in log


def test_the_console_publishes_the_host_keys_labkit_trusts() -> None:
    key = _public_key()
    system = _system()
    ci = _cloud_init(system, MetadataService(FakeMetadata(_documents(key)), UUID))
    console = _boot(ci)
    parsed = guestkeys.parse_console(console)
    assert len(parsed.fingerprints) == 2 and not parsed.unvouched
    published = {(k.type, k.blob) for k in parsed.trusted}
    on_disk = {tuple(system.read_as("root", f"{k.path}.pub").split()[:2]) for k in ci.host_keys}
    assert published == on_disk
    assert [k.sha256 for k in parsed.trusted] == [k.fingerprint() for k in ci.host_keys]
    table = guestkeys.authorized_keys(console).of("ubuntu")
    assert table is not None and table[0].matches(*key.split()[:2])
    assert guestkeys.metadata_failures(console) == []


@pytest.mark.parametrize("verdict", [Verdict.FILTERED, Verdict.REFUSED, Verdict.UNREACHABLE])
def test_without_metadata_nobody_can_log_in(verdict: Verdict) -> None:
    system = _system()
    console = _boot(_cloud_init(system, MetadataService(FakeMetadata(None, verdict), UUID)))
    assert "url_helper.py[WARNING]: Calling 'http://169.254.169.254/openstack' failed" in console
    assert guestkeys.metadata_failures(console)
    assert "Datasource DataSourceNone." in console
    assert "cc_final_message.py[WARNING]: Used fallback datasource" in console
    assert "ubuntu" in system.users and system.authorized_keys("ubuntu") == []
    assert guestkeys.authorized_keys(console).of("ubuntu") == ()  # "no authorized keys"
    assert guestkeys.parse_console(console).trusted  # sshd still has host keys


def test_a_forbidden_metadata_answer_is_a_broken_datasource() -> None:
    class Forbidden(FakeMetadata):
        def __call__(self, path: str) -> WireResponse:
            if path.endswith("meta_data.json"):
                return WireResponse(403, b"Forbidden")
            return super().__call__(path)

    system = _system()
    console = _boot(
        _cloud_init(system, MetadataService(Forbidden(_documents(_public_key())), UUID))
    )
    assert "403 Client Error: Forbidden" in console
    assert system.authorized_keys("ubuntu") == []


def test_a_reboot_runs_only_the_per_boot_work() -> None:
    key = _public_key()
    user_data = (
        "#cloud-config\nbootcmd:\n  - echo boot >> /root/boots\n"
        "runcmd:\n  - echo run >> /root/runs\n"
    )
    system = _system()
    first = _cloud_init(system, MetadataService(FakeMetadata(_documents(key, user_data)), UUID))
    _boot(first)
    metadata = FakeMetadata(_documents(_public_key()))  # a key added since is not applied
    second = _cloud_init(system, MetadataService(metadata, UUID), generation=2)
    console = _boot(second)
    assert metadata.paths == []  # the cache names this instance: no crawl
    assert "BEGIN SSH HOST KEY" not in console and second.host_keys == []
    assert system.read_as("root", "/root/runs") == "run\n"
    assert system.read_as("root", "/root/boots") == "boot\nboot\n"
    assert system.authorized_keys("ubuntu") == [key]


def test_a_config_drive_needs_no_network() -> None:
    key = _public_key()
    drive = {f"openstack/latest/{k}": v for k, v in _documents(key).items()}
    system = _system()
    console = _boot(_cloud_init(system, ConfigDrive(drive)))
    assert system.authorized_keys("ubuntu") == [key]
    assert "Datasource DataSourceConfigDrive [net,ver=2][source=/dev/sr0]." in console


def test_bad_yaml_in_user_data_is_logged_and_ignored() -> None:
    system = _system()
    docs = _documents(_public_key(), "#cloud-config\nruncmd: [\n")
    console = _boot(_cloud_init(system, MetadataService(FakeMetadata(docs), UUID)))
    assert "util.py[WARNING]: Failed loading yaml blob. Invalid format at line" in console
    assert system.authorized_keys("ubuntu")  # the metadata's key still counts


def test_deterministic_host_keys_follow_their_seed() -> None:
    same = [k.public_line() for k in make_host_keys("h", "2015/a")]
    assert same == [k.public_line() for k in make_host_keys("h", "2015/a")]
    assert same != [k.public_line() for k in make_host_keys("h", "2015/b")]
    assert make_host_keys("h", None)[0].seed != make_host_keys("h", None)[0].seed


@pytest.mark.parametrize(
    ("name", "hostname"),
    [
        ("server1", "server1"),
        ("My Server_2.example", "my-server-2-example"),
        ("--web!!--", "web"),
        ("日本", f"Server-{UUID}"),
    ],
)
def test_the_hostname_is_novas_sanitised_display_name(name: str, hostname: str) -> None:
    assert sanitize_hostname(name, f"Server-{UUID}") == hostname


# ---- the hypervisor, in-process ----------------------------------------------------------------


def test_a_guest_boots_answers_ssh_and_keeps_its_disk(tmp_path: Path) -> None:
    """Guests on a wire of their own: a metadata endpoint, a plugged port, paramiko on a
    socket pair handed to the guest's listener as the gateway hands one over."""
    private = ed25519.Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    metadata = FakeMetadata(_documents(public.decode()))
    wire = Wire()
    wire.attach(Endpoint(METADATA_ADDRESS, NIC.network_id, http={80: lambda r: metadata(r.path)}))
    rules = (Rule("egress", "IPv4"), Rule("ingress", "IPv4", "tcp", 22, 22))
    wire.firewall("worker1").apply(
        PortFilter(NIC.port_id, NIC.network_id, NIC.mac, (NIC.address,), rules)
    )
    runtime = Runtime(SimConfig(state_dir=tmp_path, port=1, deterministic=True))
    spec = GuestSpec(UUID, "web_1", "web-1", "worker1", "p", "trusty", 2, 4096, 40, (NIC,))
    key = paramiko.Ed25519Key.from_private_key(
        io.StringIO(
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            ).decode()
        )
    )

    def login(guests: Guests) -> tuple[paramiko.SSHClient, str]:
        deadline = time.monotonic() + 10
        while (found := wire.endpoint(NIC.address, NIC.network_id)) is None or (
            "tcp",
            22,
        ) not in found.listeners:
            assert time.monotonic() < deadline, "\n".join(guests.console(UUID))
            time.sleep(0.01)
        ours, theirs = socket.socketpair()
        found.listeners[("tcp", 22)].accept(theirs)
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        client.connect(
            NIC.address,
            username="ubuntu",
            pkey=key,
            sock=ours,
            look_for_keys=False,
            allow_agent=False,
        )
        host_key = client.get_transport().get_remote_server_key().get_base64()  # type: ignore[union-attr]
        return client, host_key

    guests = Guests(runtime, wire)
    try:
        guests.spawn(spec)
        client, first_key = login(guests)
        _, out, _ = client.exec_command("hostname; nproc")
        assert out.read().decode() == "web-1\n2\n"
        guests.power_off(UUID)
        assert wire.endpoint(NIC.address, NIC.network_id) is None  # off the wire
        # The guest's sshd is gone with it; the client's reader thread notices the closed
        # socket on its own schedule, so give it until a deadline (it must notice).
        deadline = time.monotonic() + 10
        while (transport := client.get_transport()) is not None and transport.is_active():
            assert time.monotonic() < deadline, "the SSH session outlived the guest"
            time.sleep(0.01)
        console = guests.console(UUID)
        assert console[-1].endswith("reboot: Power down")
    finally:
        guests.close()  # the sim stops: the disk and console are saved
    again = Guests(runtime, wire)
    try:
        assert again.console(UUID) == console and not again.running(UUID)
        again.power_on(UUID)
        client, second_key = login(again)
        assert second_key == first_key  # the same disk: the same host keys
        assert metadata.paths.count("/openstack") == 1  # cloud-init's cache: no second crawl
        again.destroy(UUID)
        with pytest.raises(GuestNotFound):
            again.console(UUID)
    finally:
        again.close()
        runtime.close()
