"""The client end of the sim's gateway: how ``ssh`` and labkit reach a guest's address.

``python -m labkit.sim.nc STATE_DIR HOST PORT`` is an OpenSSH ``ProxyCommand`` (OpenSSH
runs it with ``%h %p`` and talks SSH over its stdin and stdout, as it would with
``nc HOST PORT``). It finds the sim's gateway in ``STATE_DIR/gateway.json``, sends the one
header line ``CONNECT HOST PORT`` (see :mod:`labkit.sim.gateway`), and on ``OK`` copies bytes
both ways until either side closes. On ``ERR`` it prints what ``ssh`` prints for a failed
connect -- ``ssh: connect to host 10.64.0.105 port 22: Connection timed out`` -- and exits
255 as ``ssh`` does. A *filtered* port (no security-group rule lets the SYN through) first
waits out the connect timeout, as a dropped packet makes a real client do:
``LABKIT_CONNECT_TIMEOUT`` seconds (default 10; ``ssh -o ConnectTimeout`` does not reach a
``ProxyCommand``).

It imports nothing but the standard library, so it starts in a few tens of milliseconds
(``ssh`` runs it for every connection).

:func:`write_ssh_config` writes the OpenSSH config that uses it: ``<state dir>/ssh_config``,
one ``Host`` entry for the env's provider range. labkit never edits ``~/.ssh/config``: the
learner passes ``-F`` or adds an ``Include`` line there.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

GATEWAY_FILE = "gateway.json"  # written by the sim's server process, next to sim.json
SSH_CONFIG_FILE = "ssh_config"
KNOWN_HOSTS_FILE = "known_hosts"
CONNECT_TIMEOUT_VARIABLE = "LABKIT_CONNECT_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT = 10.0  # seconds; a real SYN to a dropped port waits ~2 minutes
SSH_FAILURE = 255  # ssh's own exit status when it cannot connect
ANSWER_LIMIT = 512
CHUNK = 65536


class GatewayUnavailable(OSError):
    """No sim gateway answers for this state folder (the sim is not running)."""


class ConnectFailed(OSError):
    """The gateway answered ``ERR <verdict> <text>``: the connection was not established.

    ``verdict`` is ``filtered``, ``refused``, ``unreachable`` or ``bad-request``; ``text`` is
    what a client prints (``Connection timed out``)."""

    def __init__(self, verdict: str, text: str) -> None:
        super().__init__(text)
        self.verdict = verdict
        self.text = text


# ---- the protocol ------------------------------------------------------------------------------
def connect_line(address: str, port: int) -> bytes:
    """The one header line a client sends: ``b"CONNECT 10.64.0.105 22\\n"``."""
    if not address or any(c.isspace() for c in address):
        raise ValueError(f"not an address: {address!r}")
    return f"CONNECT {address} {int(port)}\n".encode("ascii")


def parse_answer(line: bytes) -> tuple[str, str]:
    """``b"OK\\n"`` -> ``("ok", "")``; ``b"ERR filtered Connection timed out\\n"`` ->
    ``("filtered", "Connection timed out")``. Anything else raises ValueError."""
    text = line.decode("ascii", errors="replace").rstrip("\r\n")
    if text == "OK":
        return "ok", ""
    word, _, rest = text.partition(" ")
    if word == "ERR" and rest:
        verdict, _, message = rest.partition(" ")
        return verdict, message or verdict
    raise ValueError(f"not a gateway answer: {text[:80]!r}")


def read_line(sock: socket.socket, limit: int = ANSWER_LIMIT) -> bytes:
    """Up to and including the first newline, one byte at a time (what follows an ``OK``
    is the guest's first bytes, e.g. its SSH banner, and must stay unread)."""
    line = bytearray()
    while len(line) < limit:
        byte = sock.recv(1)
        if not byte:
            break
        line += byte
        if byte == b"\n":
            break
    return bytes(line)


def gateway_address(state_dir: Path) -> tuple[str, int]:
    """Where the sim of ``state_dir`` listens for gateway connections."""
    path = Path(state_dir) / GATEWAY_FILE
    try:
        info = json.loads(path.read_text())
        return str(info["host"]), int(info["port"])
    except (OSError, ValueError, KeyError, TypeError):
        raise GatewayUnavailable(
            f"the lab's sim is not running (no gateway recorded in {path})"
        ) from None


def open_connection(
    gateway: tuple[str, int], address: str, port: int, timeout: float = 10.0
) -> socket.socket:
    """A connected socket to ``address:port`` through the gateway, positioned at the
    guest's first byte. Raises :class:`ConnectFailed` (the gateway's verdict) or
    :class:`GatewayUnavailable`. Does *not* wait on ``filtered``: callers do, with their
    own timeout (see :func:`connect_timeout`)."""
    try:
        sock = socket.create_connection(gateway, timeout=timeout)
    except OSError as exc:
        raise GatewayUnavailable(
            f"the lab's sim gateway at {gateway[0]}:{gateway[1]} does not answer ({exc})"
        ) from None
    try:
        sock.sendall(connect_line(address, port))
        answer = read_line(sock)
        if not answer:
            raise GatewayUnavailable("the sim's gateway closed the connection without answering")
        verdict, text = parse_answer(answer)
    except (OSError, ValueError):
        sock.close()
        raise
    if verdict != "ok":
        sock.close()
        raise ConnectFailed(verdict, text)
    sock.settimeout(None)
    return sock


def connect_timeout() -> float:
    """``$LABKIT_CONNECT_TIMEOUT`` seconds (default 10): how long a filtered connect
    waits before it reports "Connection timed out"."""
    raw = os.environ.get(CONNECT_TIMEOUT_VARIABLE, "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_CONNECT_TIMEOUT
    except ValueError:
        return DEFAULT_CONNECT_TIMEOUT
    return max(0.0, value)


# ---- the ProxyCommand ---------------------------------------------------------------------------
def _copy_stdin(sock: socket.socket) -> None:
    """stdin -> socket until ssh closes our stdin; then half-close towards the guest."""
    try:
        while True:
            data = os.read(0, CHUNK)
            if not data:
                break
            sock.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)


def pump(sock: socket.socket) -> None:
    """Copy bytes both ways; returns when the guest's side closes."""
    threading.Thread(target=_copy_stdin, args=(sock,), name="stdin", daemon=True).start()
    try:
        while True:
            data = sock.recv(CHUNK)
            if not data:
                return
            view = memoryview(data)
            while view:
                written = os.write(1, view)
                view = view[written:]
    except OSError:  # ssh went away (broken pipe) or the connection reset
        return
    finally:
        sock.close()


def _fail(host: str, port: str, text: str) -> int:
    print(f"ssh: connect to host {host} port {port}: {text}", file=sys.stderr)
    return SSH_FAILURE


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or not args[2].isdigit():
        print("usage: python -m labkit.sim.nc STATE_DIR HOST PORT", file=sys.stderr)
        return 2
    state_dir, host, port = Path(args[0]), args[1], args[2]
    try:
        sock = open_connection(gateway_address(state_dir), host, int(port))
    except ConnectFailed as exc:
        if exc.verdict == "filtered":
            time.sleep(connect_timeout())  # what a dropped SYN costs the client
        return _fail(host, port, exc.text)
    except GatewayUnavailable as exc:
        return _fail(host, port, f"{exc} -- start it with `labkit sim up`")
    except (OSError, ValueError) as exc:
        return _fail(host, port, f"the sim's gateway failed: {exc}")
    pump(sock)
    return 0


# ---- the OpenSSH client config --------------------------------------------------------------
def host_patterns(cidr: str) -> list[str]:
    """OpenSSH ``Host`` patterns covering the network ``cidr`` (patterns know only ``*``
    and ``?``): ``10.64.0.0/24`` -> ``["10.64.0.*"]``; a prefix between octets lists the
    network's addresses (up to 1024), or widens to the enclosing octet."""
    import ipaddress

    net = ipaddress.ip_network(cidr, strict=False)
    if net.version == 6:
        return [str(a) for a in net] if net.num_addresses <= 1024 else ["*:*"]
    octets = str(net.network_address).split(".")
    if net.prefixlen % 8 == 0:
        kept = net.prefixlen // 8
        return [".".join([*octets[:kept], "*"])] if kept < 4 else [str(net.network_address)]
    if net.num_addresses <= 1024:
        return [str(a) for a in net.hosts()]
    kept = net.prefixlen // 8
    return [".".join([*octets[:kept], "*"])]


def _config_quote(value: str) -> str:
    """A path as an ssh_config argument: ``%`` doubled (ssh expands %-tokens), quoted."""
    return '"' + value.replace("%", "%%") + '"'


def ssh_config_text(state_dir: Path, cidr: str, env_name: str, python: str | None = None) -> str:
    import shlex

    state = Path(state_dir).absolute()
    interpreter = python or str(Path(sys.executable).absolute())
    command = " ".join(
        shlex.quote(part).replace("%", "%%")
        for part in (interpreter, "-m", "labkit.sim.nc", str(state))
    )
    config_path = state / SSH_CONFIG_FILE
    patterns = " ".join(host_patterns(cidr))
    return (
        f"# OpenSSH client settings for the guests of the lab {env_name!r} (written by labkit\n"
        f"# each time the sim starts: edit a copy, not this file). Use it with\n"
        f"#\n"
        f"#   ssh -F {config_path} -i KEY ubuntu@ADDRESS\n"
        f"#\n"
        f"# or add this line at the top of ~/.ssh/config yourself (labkit never edits it):\n"
        f"#\n"
        f"#   Include {config_path}\n"
        f"#\n"
        f"# The provider network {cidr} exists only inside the sim. ProxyCommand carries each\n"
        f"# connection through the sim's gateway (the router), so the address stays the one\n"
        f"# `openstack server show` prints and nothing is sent to {cidr} on this machine's\n"
        f"# own network. A port no security-group rule opens times out after\n"
        f"# ${CONNECT_TIMEOUT_VARIABLE} seconds (default {DEFAULT_CONNECT_TIMEOUT:.0f}).\n"
        f"# Host keys are trusted only from the guest's console log: `labkit ssh SERVER`\n"
        f"# (or lab.ssh in a notebook) records them in known_hosts first.\n"
        f"Host {patterns}\n"
        f"    ProxyCommand {command} %h %p\n"
        f"    UserKnownHostsFile {_config_quote(str(state / KNOWN_HOSTS_FILE))}\n"
        f"    StrictHostKeyChecking yes\n"
    )


def write_ssh_config(state_dir: Path, cidr: str, env_name: str) -> Path:
    """Write ``<state_dir>/ssh_config`` (atomically) and return its path."""
    path = Path(state_dir) / SSH_CONFIG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{SSH_CONFIG_FILE}.{os.getpid()}.tmp")
    tmp.write_text(ssh_config_text(state_dir, cidr, env_name))
    tmp.replace(path)
    return path


if __name__ == "__main__":
    sys.exit(main())
