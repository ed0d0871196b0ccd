"""The lab's door into the guests: a TCP port on this machine that stands for the router.

In the seed's picture the learner's laptop sits behind the router at ``10.64.0.1`` and
reaches a guest at ``10.64.0.105`` over the provider network; security-group rules on the
guest's compute host decide whether the SYN gets through. The sim's guests have no real
addresses, so no packet may ever go to ``10.64.0.0/24`` on this machine's own network.
Instead the sim process listens on ``127.0.0.1:<free port>`` and speaks one line of
protocol before the real one:

    client:  CONNECT 10.64.0.105 22\\n
    gateway: OK\\n                              (then the bytes are the guest's SSH server's)
    gateway: ERR filtered Connection timed out\\n   (then it closes)

The gateway asks the wire (:meth:`labkit.sim.core.wire.Wire.connect`) as the router would --
source address the env's management gateway, on the network of the destination -- and on
``open`` hands the socket to whatever listens at that endpoint (a guest's SSH server, via
``listener.accept(sock)``). Verdicts other than ``open``: ``refused`` (the guest is up,
nothing listens: a TCP reset), ``filtered`` (a firewall dropped the SYN: the *client* waits
its connect timeout before saying "Connection timed out", so a learner sees what a real
dropped packet looks like), ``unreachable`` (nobody has the address: "No route to host").
A header that is not ``CONNECT <IP address> <port>`` gets ``ERR bad-request <why>``.

The client side -- ``python -m labkit.sim.nc`` as an OpenSSH ``ProxyCommand``, and labkit's
own ``lab.ssh`` -- lives in :mod:`labkit.sim.nc`. The sim's server process
(:mod:`labkit.sim.server`) starts the gateway and records its port in ``gateway.json`` next
to ``sim.json`` in the state folder (and in ``GET /_sim/wire``); a :class:`~labkit.sim.sim.Sim`
built in a test opens no socket.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from labkit.sim.core.wire import Verdict, Wire
from labkit.sim.nc import GATEWAY_FILE

HEADER_LIMIT = 256  # bytes: "CONNECT " + an IPv6 address + a port fits many times over
HEADER_TIMEOUT = 10.0  # seconds a client has to send its header line
ACCEPT_POLL = 0.25  # the accept loop checks for stop this often


class Listener(Protocol):
    """What listens at an endpoint's TCP port (contract: ``Endpoint.listeners``): takes an
    already-connected blocking socket, serves it in the background, returns at once."""

    def accept(self, sock: socket.socket) -> None: ...


class BadRequest(ValueError):
    """A header line that is not ``CONNECT <address> <port>``."""


@dataclass(frozen=True)
class ConnectRequest:
    address: str
    port: int


def parse_connect(line: bytes) -> ConnectRequest:
    """``b"CONNECT 10.64.0.105 22\\n"`` -> ``ConnectRequest("10.64.0.105", 22)``.

    The address must be an IP address (the config's ``Host 10.64.0.*`` pattern only ever
    hands addresses through; names are resolved by the client, not the router)."""
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        raise BadRequest("the header line is not ASCII") from None
    if not text.endswith("\n"):
        raise BadRequest("the header line must end with a newline")
    parts = text.rstrip("\r\n").split(" ")
    if len(parts) != 3 or parts[0] != "CONNECT":
        raise BadRequest("expected 'CONNECT <address> <port>'")
    try:
        address = str(ipaddress.ip_address(parts[1]))
    except ValueError:
        raise BadRequest(f"{parts[1]!r} is not an IP address") from None
    if not parts[2].isdigit() or not 1 <= int(parts[2]) <= 65535:
        raise BadRequest(f"{parts[2]!r} is not a TCP port (1-65535)")
    return ConnectRequest(address, int(parts[2]))


def read_header(sock: socket.socket, limit: int = HEADER_LIMIT) -> bytes:
    """Read up to and including the first newline, one byte at a time: whatever the client
    sends after it belongs to the guest's protocol and must stay in the socket."""
    line = bytearray()
    while len(line) < limit:
        byte = sock.recv(1)
        if not byte:
            raise BadRequest("the connection closed before the header line ended")
        line += byte
        if byte == b"\n":
            return bytes(line)
    raise BadRequest(f"no newline within {limit} bytes")


class Gateway:
    """The router's side of the learner's connections into the provider network."""

    def __init__(
        self,
        wire: Wire,
        router: str,
        network_cidr: str,
        log: logging.Logger,
        bind: str = "127.0.0.1",
    ) -> None:
        self.wire = wire
        self.router = router
        self.network = ipaddress.ip_network(network_cidr, strict=False)
        self.log = log
        self.bind = bind
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.connections = 0  # how many clients asked (for /_sim/wire)
        self._count_lock = threading.Lock()

    # ---- lifecycle ---------------------------------------------------------------------------
    @property
    def port(self) -> int | None:
        return self._listener.getsockname()[1] if self._listener is not None else None

    def start(self) -> int:
        """Listen on a free loopback port and accept in a background thread; the port."""
        if self._listener is not None:
            return int(self._listener.getsockname()[1])
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((self.bind, 0))
        listener.listen(128)
        listener.settimeout(ACCEPT_POLL)
        self._listener = listener
        self._stopping.clear()
        self._thread = threading.Thread(target=self._accept_loop, name="gateway", daemon=True)
        self._thread.start()
        port = int(listener.getsockname()[1])
        self.log.info("gateway listening on %s:%d as router %s", self.bind, port, self.router)
        return port

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:  # wakes a blocked accept() at once where it can
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=2 * ACCEPT_POLL + 1)
        if self._listener is not None:
            self._listener.close()
        self._listener = self._thread = None

    def record(self, state_dir: Path) -> Path:
        """Write ``gateway.json`` (host, port, router, pid) where clients look for it."""
        path = state_dir / GATEWAY_FILE
        info = {
            "host": self.bind,
            "port": self.port,
            "router": self.router,
            "network": str(self.network),
            "pid": os.getpid(),
        }
        tmp = path.with_name(f".{GATEWAY_FILE}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(info))
        tmp.replace(path)
        return path

    def describe(self) -> dict[str, object]:
        return {
            "host": self.bind,
            "port": self.port,
            "router": self.router,
            "network": str(self.network),
            "connections": self.connections,
        }

    # ---- connections -------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopping.is_set():
            try:
                sock, peer = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                continue
            threading.Thread(
                target=self.serve, args=(sock, peer), name="gateway-conn", daemon=True
            ).start()

    def serve(self, sock: socket.socket, peer: object = None) -> None:
        """Read one header, answer it, and hand the socket on or close it."""
        with self._count_lock:
            self.connections += 1
        try:
            sock.settimeout(HEADER_TIMEOUT)
            request = parse_connect(read_header(sock))
        except BadRequest as exc:
            self._refuse(sock, f"bad-request {exc}")
            self.log.info("gateway: bad request from %s: %s", peer, exc)
            return
        except OSError as exc:
            sock.close()
            self.log.info("gateway: client %s went away before its header: %s", peer, exc)
            return
        verdict, listener = self.verdict(request)
        self.log.info(
            "gateway: %s -> %s:%d tcp: %s",
            self.router,
            request.address,
            request.port,
            verdict.value,
        )
        if verdict is not Verdict.OPEN or listener is None:
            self._refuse(sock, f"{verdict.value} {verdict.error}")
            return
        try:
            sock.sendall(b"OK\n")
            sock.settimeout(None)  # the listener gets a blocking socket
            listener.accept(sock)
        except Exception:  # the guest's side failed: the client sees the connection close
            self.log.exception(
                "gateway: the listener at %s:%d failed", request.address, request.port
            )
            with contextlib.suppress(OSError):
                sock.close()

    def verdict(self, request: ConnectRequest) -> tuple[Verdict, Listener | None]:
        """What the router's connection attempt meets, and who takes the socket if open."""
        address = ipaddress.ip_address(request.address)
        if address.version != self.network.version or address not in self.network:
            return Verdict.UNREACHABLE, None  # the router has no route there
        found = self.wire.endpoint(request.address)
        if found is None:
            return Verdict.UNREACHABLE, None
        verdict, endpoint = self.wire.connect(
            self.router, request.address, "tcp", request.port, found.network_id
        )
        if verdict is not Verdict.OPEN or endpoint is None:
            return verdict, None
        listener: Any = endpoint.listeners.get(("tcp", request.port))
        # Only an in-process HTTP handler there (or nothing that takes sockets): refused.
        if listener is None or not callable(getattr(listener, "accept", None)):
            return Verdict.REFUSED, None
        return Verdict.OPEN, listener

    @staticmethod
    def _refuse(sock: socket.socket, answer: str) -> None:
        with contextlib.suppress(OSError):
            sock.sendall(f"ERR {answer}\n".encode())
        with contextlib.suppress(OSError):
            sock.close()
