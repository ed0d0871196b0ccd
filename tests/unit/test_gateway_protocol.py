"""The sim's gateway into the guests, on its own: the one-line header protocol, verdicts from
the wire, and the hand-off of the socket to a listener (a fake SSH server here), through the
client end the ``ProxyCommand`` and ``lab.ssh`` use."""

from __future__ import annotations

import logging
import os
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.sim import nc
from labkit.sim.core.wire import Endpoint, PortFilter, Rule, Wire
from labkit.sim.gateway import BadRequest, Gateway, parse_connect, read_header

NET = "net-1"
GUEST = "10.64.0.105"
ROUTER = "10.64.0.1"


class EchoServer:
    """Stands for a guest's SSH server: sends a banner, then echoes what it reads. Records
    the first bytes it saw, to prove the gateway left the client's bytes unread."""

    banner = b"SSH-2.0-FakeGuest\r\n"

    def __init__(self) -> None:
        self.accepted: list[socket.socket] = []
        self.first: list[bytes] = []

    def accept(self, sock: socket.socket) -> None:
        assert sock.gettimeout() is None, "the listener must get a blocking socket"
        self.accepted.append(sock)
        threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        with sock:
            sock.sendall(self.banner)
            first = True
            while data := sock.recv(4096):
                if first:
                    self.first.append(data)
                    first = False
                sock.sendall(data)


@pytest.fixture()
def wire() -> Wire:
    w = Wire()
    # The guest's port, plugged on compute1 with ssh allowed from anywhere, ping not.
    w.firewall("compute1").apply(
        PortFilter(
            "port-guest",
            NET,
            "fa:16:3e:00:00:01",
            (GUEST,),
            (Rule("ingress", protocol="tcp", port_min=22, port_max=22),),
        )
    )
    w.attach(Endpoint(ROUTER, NET))
    return w


@pytest.fixture()
def gateway(wire: Wire, tmp_path: Path) -> Iterator[Gateway]:
    log = logging.getLogger("test.gateway")
    gw = Gateway(wire, ROUTER, "10.64.0.0/24", log)
    gw.start()
    gw.record(tmp_path)
    yield gw
    gw.stop()


def _ask(gw: Gateway, header: bytes) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", gw.port or 0), timeout=5)
    sock.sendall(header)
    return sock, nc.read_line(sock)


# ---- the header and the answer, as text ---------------------------------------------------------
def test_parse_connect_accepts_an_address_and_a_port() -> None:
    assert parse_connect(b"CONNECT 10.64.0.105 22\n").address == "10.64.0.105"
    assert parse_connect(b"CONNECT 10.64.0.105 22\n").port == 22
    assert parse_connect(b"CONNECT fd00::5 2222\r\n").address == "fd00::5"


@pytest.mark.parametrize(
    "line, why",
    [
        (b"CONNECT 10.64.0.105 22", "newline"),
        (b"connect 10.64.0.105 22\n", "CONNECT"),
        (b"CONNECT server1 22\n", "not an IP address"),
        (b"CONNECT 10.64.0.105 0\n", "not a TCP port"),
        (b"CONNECT 10.64.0.105 65536\n", "not a TCP port"),
        (b"CONNECT 10.64.0.105 ssh\n", "not a TCP port"),
        (b"CONNECT 10.64.0.105\n", "CONNECT"),
        (b"CONNECT  10.64.0.105 22\n", "CONNECT"),
        (b"CONNECT \xff 22\n", "ASCII"),
    ],
)
def test_parse_connect_refuses_anything_else(line: bytes, why: str) -> None:
    with pytest.raises(BadRequest, match=why):
        parse_connect(line)


def test_the_client_line_and_answers_round_trip() -> None:
    line = nc.connect_line(GUEST, 22)
    assert line == b"CONNECT 10.64.0.105 22\n"
    assert parse_connect(line).port == 22
    assert nc.parse_answer(b"OK\n") == ("ok", "")
    assert nc.parse_answer(b"ERR filtered Connection timed out\n") == (
        "filtered",
        "Connection timed out",
    )
    with pytest.raises(ValueError):
        nc.parse_answer(b"SSH-2.0-OpenSSH\r\n")
    with pytest.raises(ValueError):
        nc.connect_line("10.64.0.105 22", 22)


def test_read_header_stops_at_the_newline() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"CONNECT 10.64.0.105 22\nSSH-2.0-client\r\n")
        assert read_header(right) == b"CONNECT 10.64.0.105 22\n"
        assert right.recv(100) == b"SSH-2.0-client\r\n"  # the protocol's bytes stayed
        left.sendall(b"x" * 300)
        with pytest.raises(BadRequest, match="no newline"):
            read_header(right)


# ---- verdicts over a real socket ----------------------------------------------------------------
def test_open_hands_the_socket_over_with_the_clients_bytes_unread(
    gateway: Gateway, wire: Wire
) -> None:
    server = EchoServer()
    wire.attach(Endpoint(GUEST, NET, "compute1", "port-guest", listeners={("tcp", 22): server}))
    sock = nc.open_connection(("127.0.0.1", gateway.port or 0), GUEST, 22, timeout=5)
    with sock:
        sock.settimeout(5)
        sock.sendall(b"SSH-2.0-client\r\n")
        received = b""
        while len(received) < len(EchoServer.banner) + 16:
            received += sock.recv(4096)
    assert received == EchoServer.banner + b"SSH-2.0-client\r\n"
    assert server.first == [b"SSH-2.0-client\r\n"]


def test_no_rule_for_the_port_is_filtered(gateway: Gateway, wire: Wire) -> None:
    wire.attach(
        Endpoint(GUEST, NET, "compute1", "port-guest", listeners={("tcp", 2222): EchoServer()})
    )
    with pytest.raises(nc.ConnectFailed) as caught:
        nc.open_connection(("127.0.0.1", gateway.port or 0), GUEST, 2222)
    assert (caught.value.verdict, caught.value.text) == ("filtered", "Connection timed out")


def test_allowed_but_nothing_listening_is_refused(gateway: Gateway, wire: Wire) -> None:
    wire.attach(Endpoint(GUEST, NET, "compute1", "port-guest"))
    sock, answer = _ask(gateway, b"CONNECT 10.64.0.105 22\n")
    sock.close()
    assert answer == b"ERR refused Connection refused\n"


def test_an_unplugged_port_is_filtered(gateway: Gateway, wire: Wire) -> None:
    # The endpoint exists but no agent programmed a filter on its host: nothing passes.
    wire.attach(Endpoint("10.64.0.106", NET, "compute2", "port-other", {("tcp", 22): 1}))
    sock, answer = _ask(gateway, b"CONNECT 10.64.0.106 22\n")
    sock.close()
    assert answer == b"ERR filtered Connection timed out\n"


@pytest.mark.parametrize("address", ["10.64.0.150", "192.168.1.5", "169.254.169.254"])
def test_nobody_there_or_off_the_network_is_unreachable(gateway: Gateway, address: str) -> None:
    sock, answer = _ask(gateway, f"CONNECT {address} 22\n".encode())
    sock.close()
    assert answer == b"ERR unreachable No route to host\n"


def test_a_bad_header_gets_bad_request_and_the_gateway_keeps_serving(gateway: Gateway) -> None:
    sock, answer = _ask(gateway, b"HELLO\n")
    sock.close()
    assert answer.startswith(b"ERR bad-request ")
    sock, answer = _ask(gateway, b"CONNECT 10.64.0.150 22\n")
    sock.close()
    assert answer.startswith(b"ERR unreachable")
    assert gateway.connections == 2


def test_gateway_json_and_stop(gateway: Gateway, tmp_path: Path) -> None:
    host, port = nc.gateway_address(tmp_path)
    assert (host, port) == ("127.0.0.1", gateway.port)
    gateway.stop()
    with pytest.raises(nc.GatewayUnavailable):
        nc.open_connection((host, port), GUEST, 22, timeout=2)
    with pytest.raises(nc.GatewayUnavailable, match="not running"):
        nc.gateway_address(tmp_path / "elsewhere")


# ---- the ProxyCommand process ------------------------------------------------------------------
def _proxy(
    state: Path, address: str, port: int, timeout: str = "0.3", data: bytes = b""
) -> tuple[subprocess.CompletedProcess[bytes], float]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "labkit.sim.nc", str(state), address, str(port)],
        input=data,
        capture_output=True,
        timeout=30,
        env={**os.environ, nc.CONNECT_TIMEOUT_VARIABLE: timeout},
    )
    return result, time.monotonic() - started


def test_proxy_command_pumps_bytes_both_ways(gateway: Gateway, wire: Wire, tmp_path: Path) -> None:
    wire.attach(
        Endpoint(GUEST, NET, "compute1", "port-guest", listeners={("tcp", 22): EchoServer()})
    )
    payload = b"SSH-2.0-client\r\n" + bytes(range(256)) * 64
    result, _ = _proxy(tmp_path, GUEST, 22, data=payload)
    assert result.returncode == 0, result.stderr
    assert result.stdout == EchoServer.banner + payload


def test_proxy_command_waits_the_timeout_on_a_filtered_port(
    gateway: Gateway, wire: Wire, tmp_path: Path
) -> None:
    wire.attach(Endpoint(GUEST, NET, "compute1", "port-guest"))
    result, took = _proxy(tmp_path, GUEST, 80, timeout="0.6")
    assert result.returncode == 255
    assert result.stderr.decode().strip() == (
        "ssh: connect to host 10.64.0.105 port 80: Connection timed out"
    )
    assert took >= 0.6


def test_proxy_command_says_when_the_sim_is_down(tmp_path: Path) -> None:
    result, _ = _proxy(tmp_path, GUEST, 22)
    assert result.returncode == 255
    assert "the lab's sim is not running" in result.stderr.decode()
    assert "labkit sim up" in result.stderr.decode()


# ---- the OpenSSH config --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cidr, patterns",
    [
        ("10.64.0.0/24", ["10.64.0.*"]),
        ("10.64.0.0/16", ["10.64.*"]),
        ("10.64.0.7/32", ["10.64.0.7"]),
        ("10.64.0.0/30", ["10.64.0.1", "10.64.0.2"]),
        ("10.0.0.0/12", ["10.*"]),
    ],
)
def test_host_patterns_cover_the_provider_network(cidr: str, patterns: list[str]) -> None:
    assert nc.host_patterns(cidr) == patterns


def test_ssh_config_names_the_proxy_and_the_known_hosts(tmp_path: Path) -> None:
    state = tmp_path / "with space" / "sim"
    path = nc.write_ssh_config(state, "10.64.0.0/24", "sim")
    text = path.read_text()
    lines = [line.strip() for line in text.splitlines() if not line.startswith("#")]
    assert lines[0] == "Host 10.64.0.*"
    python = shlex.quote(str(Path(sys.executable).absolute()))
    assert lines[1] == f"ProxyCommand {python} -m labkit.sim.nc '{state}' %h %p"
    assert lines[2] == f'UserKnownHostsFile "{state}/known_hosts"'
    assert lines[3] == "StrictHostKeyChecking yes"
    assert f"Include {state}/ssh_config" in text
    # ssh itself accepts the file and resolves the entry for a guest address
    result = subprocess.run(
        ["ssh", "-G", "-F", str(path), "ubuntu@10.64.0.105"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    if result.returncode == 127 or "not found" in result.stderr:
        pytest.skip("no ssh client on this machine")
    assert result.returncode == 0, result.stderr
    settings = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert "labkit.sim.nc" in settings["proxycommand"]
    assert settings["stricthostkeychecking"] in ("true", "yes")
    assert settings["userknownhostsfile"].startswith(str(state))
