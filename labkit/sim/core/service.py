"""Services as processes on hosts: what every emulated OpenStack daemon has in common.

A real ``glance-api`` is a process on the controller: started by its init script, it reads
``/etc/glance/glance-api.conf``, opens the database that file names, and from then on answers
HTTP; ``nova-compute`` is one such process per worker, with no HTTP at all but a queue on the
message bus. :class:`ServiceProcess` is that shape for the sim:

- a **lifecycle**: :meth:`~ServiceProcess.start` reads the config file on the process's host
  (failing the way the real daemon fails, with the line it would log) and calls the room's
  :meth:`~ServiceProcess.configure`; :meth:`~ServiceProcess.stop` releases what it opened;
- an optional **HTTP face** (:attr:`~ServiceProcess.http`, a :class:`~.http.ServiceApp`) that
  answers 503 while the process is not running;
- an optional **RPC face**: the :class:`~.bus.RpcServer` objects it consumes with, started and
  stopped with it;
- its **dependencies** (database, message queue, memcached) checked while it runs, so a
  stopped MariaDB makes Keystone fail the way it really does (see :meth:`dependency_error`).

The simulated hosts keep one process per ``(host, name)``: ``nova-compute`` can run on every
worker and be stopped on one of them.

A room's ``build(ctx)`` receives a :class:`RoomContext` -- the runtime, the hosts, the bus, the
in-process HTTP client and the wire -- and returns a :class:`Room`. ``labkit/sim/ROOMS.md``
describes the whole pattern.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

import httpx
from sqlalchemy import MetaData

from labkit.sim.core.authtoken import Cache
from labkit.sim.core.bus import Bus, RpcServer
from labkit.sim.core.http import HttpError, ServiceApp
from labkit.sim.core.hypervisor import Hypervisors
from labkit.sim.core.runtime import Runtime
from labkit.sim.core.store import Database
from labkit.sim.core.wire import Wire

if TYPE_CHECKING:
    import logging


class ServiceFailed(RuntimeError):
    """The service did not start; the message is the line the real daemon would log."""


class DependencyDown(Exception):
    """A backing service (database, message queue, cache) cannot be reached right now."""


class Hosts(Protocol):
    """What a service sees of the simulated hosts (:class:`labkit.sim.machines.Machines`)."""

    def path(self, host: str, abs_path: str) -> Path: ...

    def open_database(self, from_host: str, url: str, metadata: MetaData) -> Database: ...

    def database_error(self, from_host: str, url: str) -> str | None: ...

    def is_running(self, name: str, host: str | None = None) -> bool: ...

    def resolve_host(self, name: str) -> str | None: ...

    def memcached(self, servers: str) -> Cache | None: ...


HttpClientFactory = Callable[[str, str], httpx.Client]  # (component, host) -> client


@dataclass(frozen=True)
class RoomContext:
    """Everything a room is built with. Rooms never reach around it for the others."""

    runtime: Runtime
    hosts: Hosts
    bus: Bus
    http_client: HttpClientFactory  # in-process HTTP to the other services (see .inproc)
    wire: Wire  # the networks as packets see them: endpoints, each host's firewall
    hypervisors: Hypervisors  # every compute host's hypervisor: the guests (labkit.sim.guests)


# ``handler(host, argv, user) -> (exit code, output lines)``: a command a room installs on
# its hosts (``keystone-manage``), run by install steps through the simulated shell.
CommandHandler = Callable[[str, list[str], str], tuple[int, list[str]]]
CheckHandler = Callable[[str], bool]


@dataclass(frozen=True)
class Command:
    name: str
    package: str  # the Debian package that ships it: without it, "command not found"
    run: CommandHandler


@dataclass
class Room:
    """What a room's ``build(ctx)`` returns: its processes, commands and install checks."""

    name: str
    processes: list[ServiceProcess] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    checks: dict[str, CheckHandler] = field(default_factory=dict)

    @property
    def faces(self) -> list[ServiceApp]:
        return [p.http for p in self.processes if p.http is not None]


class ServiceProcess:
    """One daemon on one host. Subclasses set :attr:`name`, :attr:`conf_path`, and implement
    :meth:`configure` and (if they hold resources) :meth:`release`."""

    name: ClassVar[str] = "service"  # the init script's name, and the log file's
    conf_path: ClassVar[str] = ""

    def __init__(self, ctx: RoomContext, host: str) -> None:
        self.ctx = ctx
        self.runtime = ctx.runtime
        self.host = host
        self.http: ServiceApp | None = None
        self.rpc: list[RpcServer] = []
        self._lock = threading.RLock()
        self._running = False
        self._database_url = ""
        self._down: str | None = None  # the dependency error last logged

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """What ``/etc/init.d/NAME start`` does. Raises :class:`ServiceFailed`."""
        with self._lock:
            conf = self.conf_file()
            if self.conf_path and not conf.is_file():
                raise ServiceFailed(f"Config file not found: {self.conf_path}")
            if self._running:
                self._release_quietly()
            try:
                self.configure(conf)
            except DependencyDown as exc:
                raise ServiceFailed(str(exc)) from None
            self._running = True
            self._down = None
        for server in self.rpc:
            server.start()

    def stop(self) -> None:
        for server in self.rpc:
            server.stop()
        with self._lock:
            if self._running:
                self._release_quietly()
            self._running = False

    @property
    def running(self) -> bool:
        return self._running

    def configure(self, conf_file: Path) -> None:
        """Read the config, open what it names; raise ServiceFailed with the daemon's log
        line when it cannot start. Called with the process lock held."""

    def release(self) -> None:
        """Close what :meth:`configure` opened."""

    def _release_quietly(self) -> None:
        self.release()

    # ---- where things are ------------------------------------------------------------------
    def conf_file(self) -> Path:
        return self.ctx.hosts.path(self.host, self.conf_path or "/nonexistent")

    def host_path(self, abs_path: str) -> Path:
        return self.ctx.hosts.path(self.host, abs_path)

    def open_database(self, url: str, metadata: MetaData) -> Database:
        """Open the database ``[database] connection`` names; remembered for the checks."""
        self._database_url = url
        return self.ctx.hosts.open_database(self.host, url, metadata)

    @property
    def log(self) -> logging.Logger:
        return self.runtime.logger(self.name)

    # ---- dependencies ------------------------------------------------------------------------
    def dependency_error(self) -> str | None:
        """Why this service cannot do its work right now (its database is unreachable ...),
        logged once per outage as the real service logs it; None when all is well."""
        error = None
        if self._database_url:
            found = self.ctx.hosts.database_error(self.host, self._database_url)
            if found:
                error = f"oslo_db.exception.DBConnectionError: {found}"
        if error != self._down:
            if error:
                self.log.error("[-] %s", error)
            elif self._down:
                self.log.info("[-] Database connection re-established")
            self._down = error
        return error

    def unavailable(self) -> HttpError | None:
        """The error the HTTP face answers while the process is not running (a 503 saying
        how to install it); rooms shape it."""
        return None
