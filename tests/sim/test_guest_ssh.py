"""Guests through real clients: openstacksdk boots them, paramiko logs in through the sim's
gateway (as ``ssh`` with labkit's ProxyCommand does), trusting only the host keys the
console published.

Two servers in a project of their own: ``web`` (trusty, m1.medium, a keypair, ``#cloud-config``
user data, the metadata service) and ``drive`` (cirros, a config drive, a security group
with no egress at all). The last test powers ``web`` off and on and deletes it.
"""

from __future__ import annotations

import base64
import io
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openstack
import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from labkit import guestkeys
from labkit.sim import nc

pytestmark = pytest.mark.slow
WAIT = {"interval": 0.1, "wait": 60}


@dataclass(frozen=True)
class Key:
    private: paramiko.PKey
    public: str


def _key(comment: str) -> Key:
    private = ed25519.Ed25519PrivateKey.generate()
    text = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return Key(
        paramiko.Ed25519Key.from_private_key(io.StringIO(text)), f"{public.decode()} {comment}"
    )


@dataclass
class Guests:
    lab: Any
    conn: Any
    key: Key
    alice: Key
    web: Any
    drive: Any

    def address(self, server: Any) -> str:
        found = self.conn.compute.get_server(server.id)
        return str(next(a["addr"] for net in found.addresses.values() for a in net))

    def console(self, server: Any) -> str:
        return str(self.conn.compute.get_server_console_output(server)["output"])

    def dial(self, address: str, port: int = 22) -> socket.socket:
        return nc.open_connection(nc.gateway_address(self.lab.paths.root), address, port, 5)

    def login(
        self, server: Any, user: str = "ubuntu", key: Key | None = None, **extra: Any
    ) -> paramiko.SSHClient:
        """paramiko, strict: only the host keys the console vouches for are accepted."""
        address = self.address(server)
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        for host_key in guestkeys.parse_console(self.console(server)).trusted:
            client.get_host_keys().add(
                address,
                host_key.type,
                paramiko.PKey.from_type_string(host_key.type, base64.b64decode(host_key.blob)),
            )
        credentials: dict[str, Any] = (
            {"pkey": (key or self.key).private} if "password" not in extra else {}
        )
        client.connect(
            address,
            username=user,
            sock=self.dial(address),
            allow_agent=False,
            look_for_keys=False,
            timeout=10,
            **credentials,
            **extra,
        )
        return client


def run(client: paramiko.SSHClient, command: str) -> tuple[int, str, str]:
    _, out, err = client.exec_command(command, timeout=30)
    status = out.channel.recv_exit_status()
    return status, out.read().decode(), err.read().decode()


def _wait_for_keys(guests: Guests, server: Any) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = guests.console(server)
        if guestkeys.KEYS_END in text:
            return text
        time.sleep(0.1)
    raise AssertionError(f"no host keys on the console of {server.name}:\n{text}")


USER_DATA = """#cloud-config
users:
  - default
  - name: alice
    sudo: ALL=(ALL) NOPASSWD:ALL
    ssh_authorized_keys: ["{alice}"]
write_files:
  - path: /etc/lab/motd
    content: |
      written by cloud-init
runcmd:
  - echo "runcmd ran as $USER" > /var/tmp/runcmd.out
packages: [nginx]
"""


@pytest.fixture(scope="module")
def guests(nova_lab: Any) -> Iterator[Guests]:
    admin = nova_lab.connect("admin")
    tag = os.urandom(3).hex()
    project = admin.identity.create_project(name=f"guests-{tag}", domain_id="default")
    admin.identity.assign_project_role_to_user(
        project, admin.identity.find_user("admin"), admin.identity.find_role("admin")
    )
    creds = nova_lab.credentials("admin")
    conn = openstack.connect(
        auth_url=creds.auth_url,
        username=creds.username,
        password=creds.password,
        user_domain_name=creds.user_domain,
        project_id=project.id,
        region_name=creds.region,
    )
    key, alice = _key("learner@laptop"), _key("alice@laptop")
    conn.compute.create_keypair(name=f"k-{tag}", public_key=key.public)
    default = conn.network.find_security_group("default", project_id=project.id)
    rules = [{"protocol": "icmp"}, {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22}]
    for rule in rules:
        conn.network.create_security_group_rule(
            security_group_id=default.id, direction="ingress", remote_ip_prefix="0.0.0.0/0", **rule
        )
    closed = conn.network.create_security_group(name=f"no-egress-{tag}", description="")
    for rule in list(conn.network.security_group_rules(security_group_id=closed.id)):
        conn.network.delete_security_group_rule(rule)
    conn.network.create_security_group_rule(
        security_group_id=closed.id, direction="ingress", protocol="tcp",
        port_range_min=22, port_range_max=22, remote_ip_prefix="0.0.0.0/0",
    )  # fmt: skip
    web = conn.compute.create_server(
        name="Web Server_1",
        flavor_id=conn.compute.find_flavor("m1.medium").id,
        image_id=conn.image.find_image("trusty").id,
        networks="auto",
        key_name=f"k-{tag}",
        user_data=base64.b64encode(USER_DATA.format(alice=alice.public).encode()).decode(),
    )
    drive = conn.compute.create_server(
        name="drive",
        flavor_id=conn.compute.find_flavor("m1.tiny").id,
        image_id=conn.image.find_image("cirros").id,
        networks="auto",
        key_name=f"k-{tag}",
        config_drive=True,
        security_groups=[{"name": closed.id}],
    )
    guests = Guests(nova_lab, conn, key, alice, web, drive)
    for server in (web, drive):
        conn.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], **WAIT)
        _wait_for_keys(guests, server)
    yield guests
    for server in (web, drive):
        conn.compute.delete_server(server, ignore_missing=True)


def test_the_injected_key_logs_in_to_an_m1_medium_guest(guests: Guests) -> None:
    with guests.login(guests.web) as client:  # strict: the console's keys, or no login
        assert run(client, "hostname") == (0, "web-server-1\n", "")  # Nova's sanitised name
        assert run(client, "nproc")[1] == "2\n"
        total = int(run(client, "free -m")[1].splitlines()[1].split()[1])
        assert 3800 < total < 4096  # 4 GiB less what the kernel keeps
        root = [line for line in run(client, "df -h")[1].splitlines() if line.endswith(" /")]
        assert root[0].split()[1] == "39G"  # m1.medium's 40 GB disk
        assert run(client, "whoami")[1] == "ubuntu\n"
        assert run(client, "frobnicate") == (127, "", "-bash: frobnicate: command not found\n")
        presented = client.get_transport().get_remote_server_key()  # type: ignore[union-attr]
    published = guestkeys.parse_console(guests.console(guests.web))
    digest = "SHA256:" + base64.b64encode(
        __import__("hashlib").sha256(presented.asbytes()).digest()
    ).decode().rstrip("=")
    assert digest in {f.digest for f in published.fingerprints}


def test_other_keys_passwords_and_root_are_refused(guests: Guests) -> None:
    with pytest.raises(paramiko.AuthenticationException):
        guests.login(guests.web, key=guests.alice)  # a key the server was not given
    with pytest.raises(paramiko.BadAuthenticationType) as refused:
        guests.login(guests.web, password="ubuntu")
    assert refused.value.allowed_types == ["publickey"]
    with guests.login(guests.web, user="root") as client:  # cloud-init's disable_root
        status, out, _ = run(client, "id")
    assert status == 142
    assert 'Please login as the user "ubuntu" rather than the user "root".' in out


def test_cloud_config_user_data_was_applied(guests: Guests) -> None:
    with guests.login(guests.web) as client:
        assert run(client, "cat /etc/lab/motd")[1] == "written by cloud-init\n"
        assert run(client, "cat /var/tmp/runcmd.out")[1] == "runcmd ran as root\n"
        assert run(client, "dpkg -l nginx")[0] == 0
        assert "alice" in run(client, "cat /etc/passwd")[1]
    with guests.login(guests.web, user="alice", key=guests.alice) as client:
        assert run(client, "whoami")[1] == "alice\n"
        assert run(client, "sudo whoami")[1] == "root\n"
    log = guests.console(guests.web)
    assert "Authorized keys from /home/alice/.ssh/authorized_keys for user alice" in log
    assert "Datasource DataSourceOpenStack [net,ver=2]" in log


def test_the_guest_reaches_the_metadata_service_and_the_router(guests: Guests) -> None:
    with guests.login(guests.web) as client:
        status, out, _ = run(
            client, "curl -s http://169.254.169.254/openstack/latest/meta_data.json"
        )
        assert status == 0 and f'"uuid": "{guests.web.id}"' in out
        status, out, _ = run(client, "ping -c 2 10.64.0.1")
    assert status == 0 and "2 received, 0% packet loss" in out


def test_a_config_drive_guest_needs_no_metadata_service(guests: Guests) -> None:
    console = guests.console(guests.drive)
    assert "Datasource DataSourceConfigDrive [net,ver=2][source=/dev/sr0]" in console
    with guests.login(guests.drive, user="cirros") as client:
        assert run(client, "nproc")[1] == "1\n"
        status, _, err = run(client, "curl http://169.254.169.254/openstack")
        assert status == 7 and "Connection timed out" in err  # no egress rule at all
        assert "100% packet loss" in run(client, "ping -c 1 10.64.0.1")[1]


def _read_until(channel: paramiko.Channel, marker: str) -> str:
    seen = b""
    while marker.encode() not in seen:
        chunk = channel.recv(4096)  # the channel's timeout fails a guest that never answers
        if not chunk:
            break
        seen += chunk
    return seen.decode()


def test_an_interactive_shell_with_a_terminal(guests: Guests) -> None:
    prompt = "ubuntu@web-server-1:~$ "
    with guests.login(guests.web) as client:
        channel = client.invoke_shell(term="xterm")
        channel.settimeout(10)
        welcome = _read_until(channel, prompt)
        channel.sendall(b"hostname\r")
        answer = _read_until(channel, prompt)
        channel.sendall(b"exit\r")
        farewell = _read_until(channel, "logout\r\n")
        status = channel.recv_exit_status()
    assert welcome.startswith("Welcome to Ubuntu 14.04.6 LTS")
    assert answer == f"hostname\r\nweb-server-1\r\n{prompt}"  # the echo, the answer, a prompt
    assert farewell == "exit\r\nlogout\r\n" and status == 0


def test_a_nova_compute_restart_leaves_the_guest_running(guests: Guests) -> None:
    host = guests.conn.compute.get_server(guests.web.id).compute_host
    boots = guests.console(guests.web).count("running 'init' at")
    with guests.login(guests.web) as client:
        guests.lab.stop_service("nova-compute", host)
        try:
            assert run(client, "whoami")[1] == "ubuntu\n"  # the session lives on
        finally:
            guests.lab.start_service("nova-compute", host)
        assert run(client, "uptime")[0] == 0
    assert guests.console(guests.web).count("running 'init' at") == boots  # no reboot


def _verdict(guests: Guests, address: str) -> str:
    try:
        guests.dial(address).close()
    except nc.ConnectFailed as exc:
        return exc.verdict
    return "ok"


def _until_up(guests: Guests, address: str) -> None:
    deadline = time.monotonic() + 30
    while _verdict(guests, address) != "ok":
        assert time.monotonic() < deadline, f"{address} never came back"
        time.sleep(0.05)


def test_stop_start_reboot_and_delete_take_the_guest_down_and_up(guests: Guests) -> None:
    conn, web = guests.conn, guests.web
    address = guests.address(web)
    with guests.login(web) as client:
        before = client.get_transport().get_remote_server_key()  # type: ignore[union-attr]
    conn.compute.stop_server(web)
    conn.compute.wait_for_server(web, status="SHUTOFF", **WAIT)
    assert _verdict(guests, address) == "unreachable"  # its tap is gone: No route to host
    assert guests.console(web).rstrip().endswith("reboot: Power down")
    conn.compute.start_server(web)
    conn.compute.wait_for_server(web, status="ACTIVE", **WAIT)
    _until_up(guests, address)
    conn.compute.reboot_server(web, "SOFT")
    conn.compute.wait_for_server(web, status="ACTIVE", **WAIT)
    _until_up(guests, address)
    with guests.login(web) as client:  # same disk: same host keys, keys still installed
        assert client.get_transport().get_remote_server_key() == before  # type: ignore[union-attr]
        assert run(client, "cat /var/tmp/runcmd.out")[1] == "runcmd ran as root\n"
    console = guests.console(web)
    assert console.count("running 'init' at") == 3  # three boots...
    assert console.count(guestkeys.FINGERPRINTS_BEGIN) == 1  # ...one first boot
    conn.compute.delete_server(web)
    conn.compute.wait_for_delete(web, **WAIT)
    assert _verdict(guests, address) == "unreachable"
