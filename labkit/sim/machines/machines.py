"""The simulated hosts: their files, packages and services, and the MariaDB/RabbitMQ they run.

Other rooms reach their host through :class:`Machines`: Keystone reads its config with
``path()``, opens the database its ``[database] connection`` names with ``open_database()``,
and only answers while ``is_running("keystone")``.

**Asked on every request, answered from memory.** Every API request asks whether its
database is reachable, every RPC message whether RabbitMQ runs and takes the sender's
password, every token check whether memcached runs -- with 100 hosts that was hundreds of
queries per request. The answers depend only on what ``machines.db`` holds (which services
run, the RabbitMQ accounts, the MariaDB databases and grants) and on MariaDB's config file
on the database's host. So :class:`Machines` keeps them, each with the *stamp* it was worked
out under: the commit counter of ``machines.db`` (:meth:`Database.data_version`, which
moves on any commit this process makes to the file, through any ``Database``) and, for the
database checks, the config files' inode, mtime and size. A learner who stops RabbitMQ,
changes a password or edits ``99-openstack.cnf`` changes the stamp, and the next question
is answered afresh.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import MetaData, select
from sqlalchemy.orm import Session

from labkit.sim.core import ini
from labkit.sim.core.runtime import Runtime
from labkit.sim.core.service import ServiceFailed, ServiceProcess
from labkit.sim.core.store import Database
from labkit.sim.machines import models as mm
from labkit.sim.machines import packages
from labkit.sim.rooms import BASE_SERVICES, ROOMS

__all__ = ["BASE_SERVICES", "Machines"]
AMQP_REFUSED = (
    "(0, 0): (403) ACCESS_REFUSED - Login was refused using authentication mechanism "
    "AMQPLAIN. For details see the broker logfile."
)


# Where MariaDB's bind-address may be set (the install guide's file, then Debian's).
MARIADB_CONF_FILES = (
    "/etc/mysql/mariadb.conf.d/99-openstack.cnf",
    "/etc/mysql/mariadb.conf.d/50-server.cnf",
)


class DatabaseUnreachable(Exception):
    """What oslo.db would report (its message is pymysql's)."""


class Memcached:
    """One host's memcached: keys with a time to live on the sim's clock, gone at a stop."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._items: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        now = self._runtime.now().timestamp()
        with self._lock:
            found = self._items.get(key)
            if found is None or found[0] <= now:
                self._items.pop(key, None)
                return None
            return found[1]

    def set(self, key: str, value: Any, ttl: float) -> None:
        with self._lock:
            self._items[key] = (self._runtime.now().timestamp() + ttl, value)

    def flush(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass(frozen=True)
class _Snapshot:
    """What ``machines.db`` said at one ``data_version``: the services that run, as
    (host, name), and the RabbitMQ accounts, (host, user) -> password."""

    version: tuple[int, tuple[int, int]]
    running: frozenset[tuple[str, str]]
    running_names: frozenset[str]
    rabbit: dict[tuple[str, str], str]


class Machines:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.db = runtime.database("machines", mm.Base.metadata)
        self.db.create_all()
        self.hosts = {h.name: h for h in runtime.config.hosts}
        # /etc/hosts of every machine: a name or an address -> the host (the first wins)
        self._names: dict[str, str] = {}
        for h in runtime.config.hosts:
            self._names.setdefault(h.name, h.name)
            self._names.setdefault(h.address, h.name)
        self._snapshot: _Snapshot | None = None
        # The stamp the kept answers are checked against (see _stamp)
        self._generation = 0  # this object's commits to machines.db
        self._generation_lock = threading.Lock()
        self._database_errors: dict[tuple[str, str], tuple[object, str | None]] = {}
        self._amqp_errors: dict[str, tuple[tuple[int, tuple[int, int]], str | None]] = {}
        self._mariadb_files: dict[str, tuple[str, ...]] = {}  # host -> its config files
        # The emulated OpenStack processes, one per (host, name): rooms add theirs.
        self.daemons: dict[tuple[str, str], ServiceProcess] = {}
        self._memcached = {name: Memcached(runtime) for name in self.hosts}
        self._lock = threading.RLock()

    def add_daemon(self, process: ServiceProcess) -> None:
        self.daemons[(process.host, process.name)] = process

    # ---- hosts and files ----------------------------------------------------------------------
    def check_host(self, host: str) -> None:
        if host not in self.hosts:
            raise KeyError(host)

    def path(self, host: str, abs_path: str) -> Path:
        """Where a host's file lives in the state folder (``/etc/x`` -> hosts/<host>/etc/x)."""
        return self.runtime.state_dir / "hosts" / host / abs_path.lstrip("/")

    def read(self, host: str, abs_path: str) -> str | None:
        target = self.path(host, abs_path)
        return target.read_text() if target.is_file() else None

    def write(self, host: str, abs_path: str, content: str, mode: int = 0o644) -> None:
        target = self.path(host, abs_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        target.chmod(mode)

    def resolve_host(self, name: str) -> str | None:
        """A host name or address as another host would resolve it (/etc/hosts); None for
        an unknown name (and for ``localhost``, which each caller resolves to itself)."""
        return self._names.get(name)

    # ---- packages -----------------------------------------------------------------------------
    def installed(self, host: str) -> dict[str, str]:
        with self.db.read() as s:
            rows = s.scalars(select(mm.InstalledPackage).where(mm.InstalledPackage.host == host))
            return {r.name: r.version for r in rows}

    def install(self, host: str, names: tuple[str, ...]) -> list[str]:
        """apt-get install: dependencies first; files written; services stay stopped."""
        todo = packages.resolve(names)  # KeyError for an unknown package
        have = self.installed(host)
        new = [p for p in todo if p.name not in have]
        if not new:
            return [f"{n} is already the newest version ({have[n]})." for n in names]
        out = [
            "The following NEW packages will be installed:",
            "  " + " ".join(p.name for p in new),
            f"0 upgraded, {len(new)} newly installed, 0 to remove and 0 not upgraded.",
            f"Need to get {sum(p.size_kb for p in new) // 1024 or 1} MB of archives.",
        ]
        now = self.runtime.now().isoformat()
        with self._write() as s:
            for package in new:
                for path, content in package.files.items():
                    if self.read(host, path) is None:
                        self.write(host, path, content)
                for service in package.services:
                    if s.get(mm.ServiceState, (host, service)) is None:
                        s.add(mm.ServiceState(host=host, name=service, state="stopped"))
                s.add(
                    mm.InstalledPackage(
                        host=host, name=package.name, version=package.version, installed_at=now
                    )
                )
                out.append(f"Setting up {package.name} ({package.version}) ...")
                if package.services:
                    out.append("invoke-rc.d: could not determine current runlevel")
        return out

    # ---- services -----------------------------------------------------------------------------
    def services(self, host: str | None = None) -> list[mm.ServiceState]:
        with self.db.read() as s:
            query = select(mm.ServiceState).order_by(mm.ServiceState.host, mm.ServiceState.name)
            if host:
                query = query.where(mm.ServiceState.host == host)
            return list(s.scalars(query))

    def service_state(self, host: str, name: str) -> str:
        with self.db.read() as s:
            row = s.get(mm.ServiceState, (host, name))
            return row.state if row else "not-installed"

    def is_running(self, name: str, host: str | None = None) -> bool:
        """Does ``name`` run on ``host`` (on any host when None)? From the snapshot."""
        state = self._state()
        return (host, name) in state.running if host else name in state.running_names

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A write transaction on ``machines.db``; once it has committed, every answer kept
        from before is stale (:meth:`_stamp`)."""
        try:
            with self.db.write() as s:
                yield s
        finally:
            with self._generation_lock:
                self._generation += 1

    def _stamp(self) -> tuple[int, tuple[int, int]]:
        """What the kept answers are valid for: this object's count of commits -- every
        change the sim makes to its hosts goes through :class:`Machines`, so it counts at
        once, even for a write that failed half-way -- and the file's commit counter, for a
        commit through any other ``Database`` on ``machines.db``. Both are counters in
        memory (no SQL), so the scheduler may ask for each of 100 hosts."""
        return self._generation, self.db.data_version()

    def _state(self) -> _Snapshot:
        """The snapshot of ``machines.db`` as it is now, read again (two queries) only
        after a commit -- a service started or stopped, an account added, a package
        installed."""
        version = self._stamp()
        found = self._snapshot
        if found is not None and found.version == version:
            return found
        # Read after the version: a commit in between leaves a newer state under an older
        # version, which the next call reads again -- never an older state kept.
        with self.db.read() as s:
            running = frozenset(
                (host, name)
                for host, name in s.execute(
                    select(mm.ServiceState.host, mm.ServiceState.name).where(
                        mm.ServiceState.state == "running"
                    )
                )
            )
            rabbit = {
                (host, user): password
                for host, user, password in s.execute(
                    select(mm.RabbitAccount.host, mm.RabbitAccount.user, mm.RabbitAccount.password)
                )
            }
        found = _Snapshot(version, running, frozenset(n for _, n in running), rabbit)
        self._snapshot = found
        return found

    def start(self, host: str, name: str, restart: bool = False) -> list[str]:
        """``service NAME start|restart``. Raises RuntimeError with the failure text."""
        with self._lock:
            state = self.service_state(host, name)
            if state == "not-installed":
                raise RuntimeError(f"{name}: unrecognized service (is its package installed?)")
            if state == "running" and not restart:
                return [f"{name} is already running."]
            daemon = self.daemons.get((host, name))
            try:
                if daemon is None and (elsewhere := self._hosts_of(name)):
                    raise ServiceFailed(f"the sim runs {name} on {', '.join(elsewhere)} only")
                if daemon is not None:
                    if state == "running":
                        daemon.stop()
                    daemon.start()
                self._set(host, name, "running", "")
            except RuntimeError as exc:
                self._set(host, name, "failed", str(exc))
                raise
            verb = "Restarting" if restart else "Starting"
            return [f"{verb} {name}: {name}."]

    def stop(self, host: str, name: str) -> list[str]:
        with self._lock:
            if self.service_state(host, name) == "not-installed":
                raise RuntimeError(f"{name}: unrecognized service (is its package installed?)")
            daemon = self.daemons.get((host, name))
            if daemon is not None and self.service_state(host, name) == "running":
                daemon.stop()
            if name == "memcached":
                self._memcached[host].flush()
            self._set(host, name, "stopped", "")
            return [f"Stopping {name}: {name}."]

    def _hosts_of(self, name: str) -> list[str]:
        return sorted(h for h, n in self.daemons if n == name)

    def _set(self, host: str, name: str, state: str, detail: str) -> None:
        with self._write() as s:
            row = s.get(mm.ServiceState, (host, name))
            if row is None:
                row = mm.ServiceState(host=host, name=name)
                s.add(row)
            row.state, row.detail = state, detail
            row.since = self.runtime.now().isoformat()
            row.started_at = time.time() if state == "running" else 0.0

    def restore(self) -> list[str]:
        """After a sim restart, bring back the daemons that were running before it stopped."""
        problems = []
        # In the order a cloud comes up: base services, then the rooms as the room table
        # lists them (Nova's computes reconcile with Placement and Neutron when they start).
        for row in sorted(self.services(), key=lambda r: (start_rank(r.name), r.host)):
            daemon = self.daemons.get((row.host, row.name))
            if row.state == "running" and daemon is not None:
                try:
                    daemon.start()
                except RuntimeError as exc:
                    self._set(row.host, row.name, "failed", str(exc))
                    problems.append(f"{row.name} on {row.host}: {exc}")
        return problems

    # ---- MariaDB ------------------------------------------------------------------------------
    def databases(self, host: str) -> list[str]:
        with self.db.read() as s:
            return list(s.scalars(select(mm.SqlDatabase.name).where(mm.SqlDatabase.host == host)))

    def has_grant(self, host: str, database: str, user: str, password: str) -> bool:
        with self.db.read() as s:
            rows = s.scalars(
                select(mm.SqlGrant).where(
                    mm.SqlGrant.host == host,
                    mm.SqlGrant.database == database,
                    mm.SqlGrant.user == user,
                )
            )
            origins = {r.origin: r.password for r in rows}
        return origins.get("localhost") == password and origins.get("%") == password

    def create_database(self, host: str, name: str, user: str, password: str) -> list[str]:
        if not self.is_running("mariadb", host):
            raise RuntimeError(
                "ERROR 2002 (HY000): Can't connect to local server through "
                "socket '/run/mysqld/mysqld.sock' (2)"
            )
        out = []
        with self._write() as s:
            if s.get(mm.SqlDatabase, (host, name)) is None:
                s.add(mm.SqlDatabase(host=host, name=name))
                out.append(f"Query OK, 1 row affected -- CREATE DATABASE {name}")
            for origin in ("localhost", "%"):
                row = s.get(mm.SqlGrant, (host, name, user, origin))
                if row is None:
                    s.add(
                        mm.SqlGrant(
                            host=host, database=name, user=user, origin=origin, password=password
                        )
                    )
                else:
                    row.password = password
                out.append(
                    f"Query OK, 0 rows affected -- GRANT ALL PRIVILEGES ON {name}.* TO "
                    f"'{user}'@'{origin}'"
                )
        return out

    def _bind_address(self, host: str) -> str:
        for path in MARIADB_CONF_FILES:
            text = self.read(host, path)
            if text and (value := ini.get(text, "mysqld", "bind-address")):
                return value
        return "127.0.0.1"

    def open_database(self, from_host: str, url: str, metadata: MetaData) -> Database:
        """Open what an oslo.db connection URL points at, failing like pymysql would."""
        return Database(self._database_path(from_host, url), metadata)

    def database_error(self, from_host: str, url: str) -> str | None:
        """Why a service on ``from_host`` cannot reach its database now (pymysql's text).

        Services ask on every request, so the answer is kept while nothing it depends on
        changed: the hosts' state (services, databases, grants -- this database) and
        MariaDB's config files on the host the URL names."""
        stamp = (self._stamp(), self._mariadb_conf_stamp(self._db_host(from_host, url)))
        known = self._database_errors.get((from_host, url))
        if known is not None and known[0] == stamp:
            return known[1]
        try:
            self._database_path(from_host, url)
            error = None
        except DatabaseUnreachable as exc:
            error = str(exc)
        self._database_errors[(from_host, url)] = (stamp, error)
        return error

    def _db_host(self, from_host: str, url: str) -> str | None:
        """The host whose MariaDB a URL reaches (None: SQLite, or a name no host has)."""
        if url.startswith("sqlite:"):
            return None
        target = urlsplit(url).hostname or "localhost"
        if target in ("localhost", "127.0.0.1"):
            return from_host
        return self.resolve_host(target)

    def _mariadb_conf_stamp(self, host: str | None) -> tuple[tuple[int, int, int], ...]:
        """The identity of MariaDB's config files on ``host``: an edit (or a file replaced
        or removed) changes it. Only that host's files matter for where its server binds."""
        if host is None:
            return ()
        files = self._mariadb_files.get(host)
        if files is None:
            files = tuple(str(self.path(host, path)) for path in MARIADB_CONF_FILES)
            self._mariadb_files[host] = files
        stamps = []
        for file in files:
            try:
                st = os.stat(file)
                stamps.append((st.st_ino, st.st_mtime_ns, st.st_size))
            except FileNotFoundError:
                stamps.append((0, 0, -1))
        return tuple(stamps)

    def _database_path(self, from_host: str, url: str) -> Path:
        if url.startswith("sqlite:"):
            return self.path(from_host, url.split("sqlite://", 1)[1])
        parts = urlsplit(url)
        if not parts.scheme.startswith("mysql"):
            raise DatabaseUnreachable(f"the sim emulates MariaDB and SQLite, not {parts.scheme}")
        db_name = parts.path.lstrip("/").split("?")[0]
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        target = parts.hostname or "localhost"
        db_host = self.resolve_host(target) or (
            from_host if target in ("localhost", "127.0.0.1") else None
        )
        refused = (
            f"(pymysql.err.OperationalError) (2003, \"Can't connect to MySQL server on "
            f"'{target}' ([Errno 111] Connection refused)\")"
        )
        if db_host is None:
            raise DatabaseUnreachable(
                f"(pymysql.err.OperationalError) (2003, \"Can't connect to MySQL server on "
                f"'{target}' ([Errno -2] Name or service not known)\")"
            )
        if not self.is_running("mariadb", db_host):
            raise DatabaseUnreachable(refused)
        bind = self._bind_address(db_host)
        if target not in ("localhost", "127.0.0.1") and bind in ("127.0.0.1", "localhost"):
            # MariaDB listens on loopback only (Debian's default): 'controller' is refused.
            raise DatabaseUnreachable(refused)
        if db_name not in self.databases(db_host):
            if not self._user_exists(db_host, user, password):
                raise DatabaseUnreachable(self._denied(user, from_host))
            raise DatabaseUnreachable(
                f"(pymysql.err.OperationalError) (1049, \"Unknown database '{db_name}'\")"
            )
        if not self.has_grant(db_host, db_name, user, password):
            raise DatabaseUnreachable(self._denied(user, from_host))
        return self.runtime.state_dir / "mysql" / db_host / f"{db_name}.db"

    def _user_exists(self, host: str, user: str, password: str) -> bool:
        with self.db.read() as s:
            rows = s.scalars(
                select(mm.SqlGrant).where(mm.SqlGrant.host == host, mm.SqlGrant.user == user)
            )
            return any(r.password == password for r in rows)

    @staticmethod
    def _denied(user: str, from_host: str) -> str:
        return (
            f'(pymysql.err.OperationalError) (1045, "Access denied for user '
            f"'{user}'@'{from_host}' (using password: YES)\")"
        )

    # ---- RabbitMQ -----------------------------------------------------------------------------
    def amqp_error(self, transport_url: str) -> str | None:
        """Can a client with this ``transport_url`` log in to RabbitMQ? None if so, else the
        error oslo.messaging reports (the bus's broker check). Every message sent and
        delivered asks, so the answer is kept per URL until ``machines.db`` changes."""
        state = self._state()
        known = self._amqp_errors.get(transport_url)
        if known is not None and known[0] == state.version:
            return known[1]
        error = self._amqp_login(transport_url, state)
        self._amqp_errors[transport_url] = (state.version, error)
        return error

    def _amqp_login(self, transport_url: str, state: _Snapshot) -> str | None:
        parts = urlsplit(transport_url.split(",")[0])
        if parts.scheme != "rabbit":
            return f"the sim emulates rabbit:// transports, not {parts.scheme or transport_url!r}"
        host = self.resolve_host(parts.hostname or "")
        if host is None or (host, "rabbitmq-server") not in state.running:
            return "[Errno 111] ECONNREFUSED"
        password = state.rabbit.get((host, unquote(parts.username or "guest")))
        if password is None or password != unquote(parts.password or ""):
            return AMQP_REFUSED
        return None

    # ---- memcached ----------------------------------------------------------------------------
    def memcached(self, servers: str) -> Memcached | None:
        """The memcached a ``memcached_servers = controller:11211`` option reaches, while it
        runs (None when it is stopped or unknown)."""
        for server in servers.split(","):
            host = self.resolve_host(server.strip().rsplit(":", 1)[0])
            if host is not None and self.is_running("memcached", host):
                return self._memcached[host]
        return None

    def rabbit_user(self, host: str, user: str) -> mm.RabbitAccount | None:
        with self.db.read() as s:
            return s.get(mm.RabbitAccount, (host, user))

    def add_rabbit_user(self, host: str, user: str, password: str) -> list[str]:
        if not self.is_running("rabbitmq-server", host):
            raise RuntimeError(
                f"Error: unable to perform an operation on node 'rabbit@{host}'. "
                "Please see diagnostics information and suggestions below."
            )
        with self._write() as s:
            row = s.get(mm.RabbitAccount, (host, user))
            if row is None:
                s.add(
                    mm.RabbitAccount(
                        host=host, user=user, password=password, permissions=".* .* .*"
                    )
                )
                return [
                    f'Adding user "{user}" ...',
                    f'Setting permissions for user "{user}" in vhost "/" ...',
                ]
            row.password, row.permissions = password, ".* .* .*"
            return [
                f'Changing password for user "{user}" ...',
                f'Setting permissions for user "{user}" in vhost "/" ...',
            ]


_SAFE = re.compile(r"^[\w./-]+$")


def is_safe_path(path: str) -> bool:
    """Host paths must be absolute and plain (no ``..``): the state folder is not a jail."""
    return path.startswith("/") and ".." not in path.split("/") and bool(_SAFE.match(path))


def database_file(machines: Machines, name: str) -> Path | None:
    """The SQLite file behind a MariaDB database of that name on any host, if it exists."""
    for host in machines.hosts:
        if name in machines.databases(host):
            return machines.runtime.state_dir / "mysql" / host / f"{name}.db"
    return None


def start_rank(service: str) -> int:
    """Where a service comes in a cloud's start order: base services, then by room."""
    if service in BASE_SERVICES:
        return 0
    for index, room in enumerate(ROOMS, start=1):
        if service in room.services:
            return index * 10 + room.services.index(service)
    return 1000
