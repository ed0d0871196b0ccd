"""The lab's guest image, booted by qemu under TCG the way Nova's libvirt driver boots it.

Real tier (``make test-real``): needs root (``apt-get download``) and qemu-system-x86, which
the module installs when it is missing (``apt-get install qemu-system-x86``). No KVM: TCG,
as on the lab's hosts.

One boot per datasource:

* **metadata service**: qemu's user-mode network gives the guest DHCP (slirp's network is
  169.254.0.0/16, so 169.254.169.254 is inside it) and ``guestfwd`` hands the guest's
  connections to 169.254.169.254:80 to a relay script that connects to a small HTTP server
  of this test -- the test's stand-in for Nova's metadata API behind Neutron's proxy;
* **config drive**: an iso9660 disk labelled ``config-2`` on the IDE cdrom (what Nova
  attaches on a ``pc`` machine with ``--config-drive true``), and no metadata service.

Each checks what a learner relies on: the console's cloud-init lines and host key blocks,
SSH with paramiko as the default user with the injected key and a host key that must match
the console's fingerprint (RejectPolicy), the user data's effect, and the ACPI power button
(qemu's ``system_powerdown``, what Nova's ``server stop`` sends) ending qemu in seconds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import paramiko
import pytest

from labkit import guestkeys
from labkit.hosts import guest_image
from labkit.hosts.layout import default_cache_dir

pytestmark = pytest.mark.real

QEMU = "qemu-system-x86_64"
BOOT_TIMEOUT = 240.0  # 2 busy cores shared with other work: TCG boots slow down a lot
POWEROFF_TIMEOUT = 30.0
INSTANCE_UUID = "6f0d1c2e-1b5a-4a57-9b61-2f4f0a9c3d11"
CONFIG_DRIVE_UUID = "0c7c1f4e-5a2b-4f4e-8f1e-3b7d5e6a9f20"


def _apt_install(*packages: str) -> None:
    try:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
            check=True,
            capture_output=True,
            timeout=900,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    except (subprocess.CalledProcessError, OSError) as exc:
        pytest.fail(
            f"these tests need {', '.join(packages)}; installing failed ({exc}). Install it "
            f"yourself: `apt-get install --no-install-recommends {' '.join(packages)}`"
        )


@pytest.fixture(scope="module")
def qemu() -> str:
    if shutil.which(QEMU) is None:
        _apt_install("qemu-system-x86")
    path = shutil.which(QEMU)
    assert path, f"qemu-system-x86 installed but {QEMU} is not on PATH"
    return path


@pytest.fixture(scope="module")
def image(real_timings: list[str]) -> guest_image.GuestImage:
    """The image, from the lab's cache (built there when missing: the cold build is timed)."""
    cache = Path(os.environ.get("LABKIT_CACHE_DIR") or default_cache_dir()) / "rootfs"
    started = time.monotonic()
    built, now = guest_image.ensure(cache, say=lambda line: print(line, flush=True))
    took = time.monotonic() - started
    real_timings.append(
        f"guest image {'built (cold)' if now else 'found (warm)'} in {took:.1f} s: "
        f"{built.path.name}, {built.size / (1 << 20):.1f} MiB"
    )
    return built


@pytest.fixture(scope="module")
def user_key(tmp_path_factory: pytest.TempPathFactory) -> paramiko.Ed25519Key:
    folder = tmp_path_factory.mktemp("key")
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tester@lab", "-f",
         str(folder / "id")],
        check=True,
    )  # fmt: skip
    return paramiko.Ed25519Key.from_private_key_file(str(folder / "id"))


def _public_line(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()} tester@lab"


# ---- the test's metadata service ---------------------------------------------------------------


@dataclass
class Metadata:
    """Nova's OpenStack metadata, as the guest reads it (only what it asks for)."""

    documents: dict[str, bytes]
    requests: list[str] = field(default_factory=list)


def _metadata_server(metadata: Metadata) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            metadata.requests.append(self.path)
            body = metadata.documents.get(self.path)
            self.send_response(200 if body is not None else 404)
            data = body if body is not None else b"404 Not Found\n"
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


RELAY = """\
#!{python}
# qemu's guestfwd runs this once per guest connection to 169.254.169.254:80: stdin/stdout
# are the guest's TCP stream; pass it to the test's metadata server and back.
import socket, sys, threading
upstream = socket.create_connection(("127.0.0.1", {port}))
def back():
    while data := upstream.recv(65536):
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    sys.stdout.close()
threading.Thread(target=back).start()
while data := sys.stdin.buffer.read1(65536):
    upstream.sendall(data)
upstream.shutdown(socket.SHUT_WR)
"""


# ---- one boot ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Guest:
    process: subprocess.Popen[bytes]
    console: Path
    monitor: Path
    ssh_port: int
    started: float

    def console_text(self) -> str:
        return self.console.read_text(errors="replace") if self.console.exists() else ""

    def wait_console(self, needle: str, timeout: float = BOOT_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.console_text()
            if needle in text:
                return text
            if self.process.poll() is not None:
                break
            time.sleep(0.5)
        raise AssertionError(
            f"{needle!r} not on the console after {timeout:.0f} s; console tail:\n"
            + "\n".join(self.console_text().splitlines()[-40:])
        )

    def monitor_command(self, command: str) -> None:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(self.monitor))
            sock.sendall(command.encode() + b"\n")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


Boot = Callable[..., Guest]


@pytest.fixture
def boot(qemu: str, image: guest_image.GuestImage, tmp_path: Path) -> Iterator[Boot]:
    """``boot(metadata=..., cdrom=...)`` starts qemu on a copy-on-write overlay of the image
    (as Nova does) and returns a :class:`Guest`; everything is stopped at the end."""
    started: list[Guest] = []
    servers: list[ThreadingHTTPServer] = []

    def start(
        metadata: Metadata | None = None,
        cdrom: Path | None = None,
        again: bool = False,
        refuse_metadata: bool = False,
    ) -> Guest:
        """A new instance's disk, or with ``again`` the last one's (a reboot)."""
        disk = tmp_path / "disk.qcow2"
        if not again:
            subprocess.run(
                ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(image.path),
                 str(disk), "1G"],
                check=True,
            )  # fmt: skip
        netdev = "user,id=net0,net=169.254.0.0/16,host=169.254.0.2,dhcpstart=169.254.0.15"
        ssh_port = _free_port()
        netdev += f",hostfwd=tcp:127.0.0.1:{ssh_port}-:22"
        if metadata is not None or refuse_metadata:
            # refused: the relay connects to a port nothing listens on, and fails at once
            port = _free_port()
            if metadata is not None:
                server = _metadata_server(metadata)
                servers.append(server)
                port = server.server_address[1]
            relay = tmp_path / "relay.py"
            relay.write_text(RELAY.format(python=sys.executable, port=port))
            relay.chmod(0o755)
            netdev += f",guestfwd=tcp:169.254.169.254:80-cmd:{relay}"
        # no way out but the forwards: the guest must not reach this machine's own network
        netdev += ",restrict=on"
        console = tmp_path / f"console-{len(started)}.log"
        monitor = tmp_path / f"monitor-{len(started)}.sock"
        cmd = [
            qemu, "-machine", "pc,accel=tcg", "-m", str(image.min_ram), "-smp", "1",
            "-nodefaults", "-display", "none", "-no-reboot",
            "-serial", f"file:{console}",
            "-monitor", f"unix:{monitor},server=on,wait=off",
            "-drive", f"file={disk},format=qcow2,if=virtio",
            "-netdev", netdev, "-device", "virtio-net-pci,netdev=net0",
        ]  # fmt: skip
        if cdrom is not None:
            cmd += ["-drive", f"file={cdrom},format=raw,if=ide,media=cdrom,readonly=on"]
        process = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=(tmp_path / "qemu.err").open("wb")
        )
        guest = Guest(process, console, monitor, ssh_port, time.monotonic())
        started.append(guest)
        return guest

    yield start
    for guest in started:
        guest.stop()
    for server in servers:
        server.shutdown()
        server.server_close()


def _connect(guest: Guest, user: str, key: paramiko.PKey, timeout: float) -> paramiko.SSHClient:
    """SSH once the guest answers, trusting only the host keys its console vouches for."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        keys = guestkeys.parse_console(guest.console_text()).trusted
        if keys:
            client = paramiko.SSHClient()
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
            host = f"[127.0.0.1]:{guest.ssh_port}"
            for found in keys:
                blob = base64.b64decode(found.blob)
                client.get_host_keys().add(
                    host, found.type, paramiko.PKey.from_type_string(found.type, blob)
                )
            try:
                client.connect(
                    "127.0.0.1", guest.ssh_port, username=user, pkey=key, timeout=10,
                    banner_timeout=20, auth_timeout=20, look_for_keys=False, allow_agent=False,
                )  # fmt: skip
                return client
            except (OSError, paramiko.SSHException) as exc:
                last = exc
                client.close()
        time.sleep(0.5)
    raise AssertionError(f"no SSH as {user} within {timeout:.0f} s: {last!r}")


def _run(client: paramiko.SSHClient, command: str) -> tuple[int, str]:
    _, stdout, stderr = client.exec_command(command, timeout=30)
    out = stdout.read().decode() + stderr.read().decode()
    return stdout.channel.recv_exit_status(), out


def _power_off(guest: Guest) -> float:
    """``system_powerdown`` (the ACPI power button), then the seconds until qemu exits."""
    pressed = time.monotonic()
    guest.monitor_command("system_powerdown")
    try:
        guest.process.wait(POWEROFF_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"qemu still running {POWEROFF_TIMEOUT:.0f} s after system_powerdown; console:\n"
            + "\n".join(guest.console_text().splitlines()[-15:])
        ) from None
    return time.monotonic() - pressed


def _meta_data(uuid: str, key: paramiko.PKey) -> bytes:
    line = _public_line(key)
    return json.dumps(
        {
            "uuid": uuid,
            "name": "server1",
            "hostname": "server1.novalocal",
            "launch_index": 0,
            "availability_zone": "nova",
            "project_id": "d1d2d3",
            "public_keys": {"mykey": line + "\n"},
            "keys": [{"name": "mykey", "type": "ssh", "data": line}],
            "meta": {},
            "devices": [],
        }
    ).encode()


# ---- the tests -----------------------------------------------------------------------------------


def test_image_is_one_small_bootable_disk(
    qemu: str, image: guest_image.GuestImage, real_timings: list[str], tmp_path: Path
) -> None:
    started = time.monotonic()
    again, built = guest_image.ensure(image.path.parent)
    real_timings.append(f"guest image: warm build {time.monotonic() - started:.2f} s")
    assert (again, built) == (image, False)
    assert image.size < 40 << 20, image.size
    assert image.disk_format == "qcow2" and image.container_format == "bare"
    subprocess.run(["qemu-img", "check", "-q", str(image.path)], check=True)
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "--output=json", str(image.path)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    assert info["format"] == "qcow2"
    raw = tmp_path / "disk.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(image.path), str(raw)], check=True)
    with raw.open("rb") as fh:
        sector = fh.read(512)
    assert sector[510:512] == b"\x55\xaa", "no boot signature in sector 0"
    assert b"SYSLINUX" in sector[:16]
    assert image.properties["os_admin_user"] == image.default_user == "cirros"
    sums = guest_image.checksums(image)
    assert sums["md5"] == hashlib.md5(image.path.read_bytes()).hexdigest()
    assert guest_image.mirror_path(image) == f"labkit/{image.path.name}"


def test_boot_from_metadata_service(
    boot: Boot, user_key: paramiko.PKey, real_timings: list[str]
) -> None:
    script = b"#!/bin/sh\necho \"user data ran as $(id -un)\" > /var/tmp/user-data.txt\n" \
        b"echo hello from the user data\n"  # fmt: skip
    metadata = Metadata(
        {
            "/openstack/latest/meta_data.json": _meta_data(INSTANCE_UUID, user_key),
            "/openstack/latest/user_data": script,
        }
    )
    guest = boot(metadata=metadata)
    client = _connect(guest, "cirros", user_key, BOOT_TIMEOUT)
    ssh_ready = time.monotonic() - guest.started
    text = guest.wait_console("Cloud-init v. ")
    text = guest.wait_console(" finished at ", 60)
    real_timings.append(
        f"guest image (metadata service): qemu start -> SSH ready {ssh_ready:.1f} s"
    )

    # the console reads like cloud-init's
    for needle in (
        "Cloud-init v. 23.1 running 'init-local'",
        "Cloud-init v. 23.1 running 'init'",
        "Cloud-init v. 23.1 running 'modules:final'",
        "ci-info: ",
        "Net device info",
        "Datasource DataSourceOpenStackLocal",
        "hello from the user data",
        "Authorized keys from /home/cirros/.ssh/authorized_keys for user cirros",
    ):
        assert needle in text, needle
    assert re.search(r"ci-info: \|\s+eth0\s+\|\s+True\s+\|\s+169\.254\.0\.15\s+\|", text)
    assert "/openstack/latest/meta_data.json" in metadata.requests
    # the keys the console shows are the guest's: paramiko's RejectPolicy accepted one of them
    shown = guestkeys.parse_console(text)
    assert shown.trusted and not shown.unvouched
    offered = client.get_transport().get_remote_server_key()  # type: ignore[union-attr]
    assert shown.vouches_for(offered.get_name(), offered.get_base64())
    assert {f.label for f in shown.fingerprints} >= {"ED25519", "ECDSA"}
    # cloud-init's authorized-keys table names the injected key
    table = guestkeys.authorized_keys(text).of("cirros")
    assert table and table[0].matches(user_key.get_name(), user_key.get_base64())

    status, out = _run(client, "whoami; hostname; cat /var/tmp/user-data.txt")
    assert (status, out.split("\n")[:3]) == (0, ["cirros", "server1", "user data ran as root"])
    # what the notebooks run in a guest, as the default user
    status, out = _run(client, "ping -c 1 -W 5 169.254.0.2 && df -h / && ls /run/boot-disk")
    assert status != 0 and "1 received" in out and "tmpfs" in out, out
    assert "Permission denied" in out  # the kept host keys are root's alone
    status, out = _run(client, "curl -s http://169.254.169.254/openstack/latest/meta_data.json")
    assert status == 0 and INSTANCE_UUID in out
    client.close()
    # root gets the key, but only to be told which user to log in as
    root = _connect(guest, "root", user_key, 30)
    status, out = _run(root, "id")
    assert status == 142 and 'Please login as the user "cirros"' in out
    root.close()

    took = _power_off(guest)
    real_timings.append(f"guest image: system_powerdown -> qemu exited {took:.1f} s")
    assert "ACPI power button pressed" in guest.console_text()

    # booted again (Nova's reboot: same disk): same host keys, the user data not run again
    again = boot(metadata=metadata, again=True)
    client = _connect(again, "cirros", user_key, BOOT_TIMEOUT)
    second = again.wait_console(" finished at ", 60)
    assert set(guestkeys.parse_console(second).trusted) == set(shown.trusted)
    assert "hello from the user data" not in second
    assert _run(client, "whoami")[1] == "cirros\n"
    client.close()
    _power_off(again)


def test_boot_from_config_drive(
    boot: Boot, user_key: paramiko.PKey, tmp_path: Path, real_timings: list[str]
) -> None:
    if shutil.which("genisoimage") is None:
        _apt_install("genisoimage")
    drive = tmp_path / "config-drive"
    latest = drive / "openstack/latest"
    latest.mkdir(parents=True)
    (latest / "meta_data.json").write_bytes(_meta_data(CONFIG_DRIVE_UUID, user_key))
    (latest / "user_data").write_text(
        "#cloud-config\n"
        "write_files:\n"
        "  - path: /etc/motd-lab\n"
        "    content: |\n"
        "      Welcome to server1, booted by the lab.\n"
        "      second line\n"
        "runcmd:\n"
        '  - echo "runcmd ran" > /var/tmp/runcmd.txt\n'
        "packages:\n"
        "  - htop\n"
    )
    iso = tmp_path / "config.iso"
    # what Nova's configdrive module runs: iso9660, Rock Ridge + Joliet, label config-2
    subprocess.run(
        ["genisoimage", "-o", str(iso), "-ldots", "-allow-lowercase", "-allow-multidot",
         "-l", "-quiet", "-J", "-r", "-V", "config-2", str(drive)],
        check=True,
    )  # fmt: skip
    guest = boot(cdrom=iso)
    client = _connect(guest, "cirros", user_key, BOOT_TIMEOUT)
    ssh_ready = time.monotonic() - guest.started
    real_timings.append(f"guest image (config drive): qemu start -> SSH ready {ssh_ready:.1f} s")
    text = guest.wait_console(" finished at ", 60)
    assert "Datasource DataSourceConfigDrive" in text
    assert "cloud-config key 'packages' is not supported by this image" in text
    status, out = _run(client, "cat /etc/motd-lab /var/tmp/runcmd.txt")
    assert status == 0
    assert out == "Welcome to server1, booted by the lab.\nsecond line\nruncmd ran\n"
    client.close()
    _power_off(guest)


def test_boot_without_metadata(boot: Boot, user_key: paramiko.PKey) -> None:
    """No metadata service and no config drive: the guest says so the way cloud-init does
    (what ``lab.why_no_ssh`` reads), still prints its host keys, and lets no key in."""
    guest = boot(refuse_metadata=True)
    guest.wait_console(" finished at ", BOOT_TIMEOUT)
    # cloud-init's warning comes after its final message: wait for that line too (a run on
    # a loaded machine read the console between the two).
    text = guest.wait_console("Used fallback datasource", 30)
    failures = guestkeys.metadata_failures(text)
    assert failures and "Giving up on OpenStack md from" in failures[-1], failures
    assert "Calling 'http://169.254.169.254/openstack' failed [1/30s]" in failures[0]
    assert "no authorized SSH keys fingerprints found for user cirros" in text
    assert "Datasource DataSourceNone" in text and "Used fallback datasource" in text
    assert guestkeys.authorized_keys(text).of("cirros") == ()
    assert guestkeys.parse_console(text).trusted
    with pytest.raises(AssertionError, match="AuthenticationException"):
        _connect(guest, "cirros", user_key, 20)
    _power_off(guest)
