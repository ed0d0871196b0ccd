"""Nova's services in the sim: nova-api, nova-conductor, nova-scheduler and one nova-compute
per host, each a process on its host reading that host's nova.conf.

They share nothing but the databases and the message bus, as real Nova's do: nova-api casts
to the conductor, the conductor calls the scheduler and casts to a compute, each over the
bus with Nova's RPC method names, and each calls Placement, Neutron and Glance over HTTP.

:class:`NovaCells` is what every Nova service finds through its config: the API database
(``[api_database] connection``) and the cells registered in it by ``nova-manage cell_v2``.
:class:`ServiceGroup` answers "is this service up?" the way Nova's database servicegroup
driver does: a service is up while its heartbeat is younger than ``service_down_time``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from labkit.sim.core.bus import RpcClient
from labkit.sim.core.service import RoomContext, ServiceFailed, ServiceProcess
from labkit.sim.core.sql import Prepared
from labkit.sim.core.store import Database
from labkit.sim.nova import models as m
from labkit.sim.nova.clients import NeutronClient, PlacementClient
from labkit.sim.nova.config import COMPUTE_CONF_PATH, CONF_PATH, NovaConf

if TYPE_CHECKING:
    from labkit.sim.core.http import HttpError

CELL0 = "00000000-0000-0000-0000-000000000000"
_CELL_MAPPINGS = cast(Table, m.CellMapping.__table__)
# read outside any session, compiled once (core/sql.py)
_READ_CELL_MAPPINGS = Prepared(select(*_CELL_MAPPINGS.c).order_by(_CELL_MAPPINGS.c.id))


class NovaCells:
    """The API database and the cell databases, opened as one host's nova.conf names them.

    Every step of a boot asks "which cells are there?" (the compute writes each task state
    into cell1). The cell mappings change only through ``nova-manage cell_v2``, so the list
    read last is kept with the API database's change counter
    (:meth:`~labkit.sim.core.store.Database.data_version`) at the time: any commit to
    ``nova_api`` -- a ``cell_v2 create_cell`` or ``delete_cell`` among them -- makes the next
    call read it again. (Real Nova caches its cell mappings for the life of the process and
    needs a SIGHUP after ``create_cell``; the sim does not make the learner restart.)"""

    def __init__(self, process: NovaProcess, api_url: str) -> None:
        self.process = process
        self.api_url = api_url
        self._cells: dict[str, Database] = {}
        self._lock = threading.Lock()
        self._mappings: tuple[Database, tuple[int, int], list[m.CellMapping]] | None = None
        self._rows: tuple[Database, list[Any]] | None = None  # what they were made from

    @property
    def api(self) -> Database:
        return self.process.open_db(self.api_url, m.ApiBase.metadata)

    def mappings(self) -> list[m.CellMapping]:
        api = self.api
        version = api.data_version()
        known = self._mappings
        if known is not None and known[0] is api and known[1] == version:
            return list(known[2])
        # nova_api changes with every server created (its build request, request spec and
        # instance mapping), cell mappings almost never: the rows are read again as plain
        # columns, and the mapping objects made again only when those differ.
        rows = _READ_CELL_MAPPINGS.all(api)
        kept = self._rows
        if kept is not None and kept[0] is api and kept[1] == rows and known is not None:
            found = known[2]
        else:
            keys = _CELL_MAPPINGS.c.keys()
            found = [m.CellMapping(**dict(zip(keys, row, strict=True))) for row in rows]
            self._rows = (api, rows)
        # Kept under the version read *before* the query: a commit in between only makes
        # the next call read again. The objects are transient copies nobody changes.
        self._mappings = (api, version, found)
        return list(found)

    def cell(self, mapping: m.CellMapping) -> Database:
        return self.process.open_db(mapping.database_connection, m.CellBase.metadata)

    def cell1(self) -> tuple[m.CellMapping, Database] | None:
        """The first cell that is not cell0 (the lab has one)."""
        for mapping in self.mappings():
            if mapping.uuid != CELL0:
                return mapping, self.cell(mapping)
        return None

    def cell0(self) -> tuple[m.CellMapping, Database] | None:
        for mapping in self.mappings():
            if mapping.uuid == CELL0:
                return mapping, self.cell(mapping)
        return None

    def all(self) -> list[tuple[m.CellMapping, Database]]:
        return [(mapping, self.cell(mapping)) for mapping in self.mappings()]


class ServiceGroup:
    """Nova's DB servicegroup driver: up = a heartbeat within ``service_down_time``.

    A running service reports every ``report_interval`` seconds; the sim does not write those
    heartbeats one by one but knows that a process that runs and reaches RabbitMQ has just
    reported, so "last seen" is now for it, and the time it stopped (or lost RabbitMQ) for
    one that does not."""

    def __init__(self, room: NovaRoom) -> None:
        self.room = room

    def reporting(self, host: str, binary: str) -> bool:
        process = self.room.processes.get((host, binary))
        if process is None or not process.running:
            return False
        return process.conf is not None and process.broker_ok()

    def last_seen(self, service: m.Service, now: float) -> float:
        if self.reporting(service.host, service.binary):
            return now
        return service.last_seen_up

    def is_up(
        self, service: m.Service, now: float, down_time: int, reporting: bool | None = None
    ) -> bool:
        """``reporting``: what :meth:`reporting` answered for the service, if the caller
        asked already (the scheduler asks once per request for each host it weighs)."""
        if service.forced_down:
            return False
        if reporting is None:
            return now - self.last_seen(service, now) <= down_time
        return now - (now if reporting else service.last_seen_up) <= down_time


class NovaRoom:
    """What Nova's processes in one sim share: each other's registry and the servicegroup."""

    def __init__(self, ctx: RoomContext) -> None:
        self.ctx = ctx
        self.processes: dict[tuple[str, str], NovaProcess] = {}
        self.servicegroup = ServiceGroup(self)
        self.pace = ctx.runtime.config.pace  # seconds between a boot's steps; 0 = instant


class NovaProcess(ServiceProcess):
    """One Nova service on one host. Subclasses set ``name`` (the binary) and ``topic``."""

    conf_path = CONF_PATH
    topic: ClassVar[str | None] = None
    needs_api_db: ClassVar[bool] = True
    conf: NovaConf | None = None
    cells: NovaCells | None = None

    def __init__(self, ctx: RoomContext, host: str, room: NovaRoom) -> None:
        super().__init__(ctx, host)
        self.room = room
        self._dbs: dict[str, Database] = {}
        self._db_lock = threading.Lock()
        room.processes[(host, self.name)] = self
        if self.topic:
            self.rpc.append(ctx.bus.server(self.name, host, self.topic, self, self.transport_url))

    # ---- config and lifecycle ----------------------------------------------------------
    def read_conf(self, conf_file: Path) -> NovaConf:
        compute = self.host_path(COMPUTE_CONF_PATH) if self.name == "nova-compute" else None
        try:
            return NovaConf.read(conf_file, compute)
        except ValueError as exc:
            raise ServiceFailed(str(exc)) from None

    def configure(self, conf_file: Path) -> None:
        conf = self.read_conf(conf_file)
        if self.needs_api_db:
            if not conf.api_database:
                raise ServiceFailed(
                    "oslo_config.cfg.RequiredOptError: value required for option connection "
                    "in group [api_database]"
                )
            self.cells = NovaCells(self, conf.api_database)
            try:
                if not self.cells.api.tables_exist():
                    raise ServiceFailed(
                        "the nova_api database has no tables: run `nova-manage api_db sync` first"
                    )
            except ServiceFailed:
                raise
            except Exception as exc:
                raise ServiceFailed(f"oslo_db.exception.DBConnectionError: {exc}") from None
        self.conf = conf
        self.http_client = self.ctx.http_client(self.name, self.host)
        self.placement = PlacementClient(self.http_client, conf.placement)
        self.neutron = NeutronClient(self.http_client, conf.neutron)
        self.after_configure()

    def after_configure(self) -> None:
        """Register the service, start periodic work... (subclasses)."""

    def release(self) -> None:
        self.before_release()
        with self._db_lock:
            for db in self._dbs.values():
                db.dispose()
            self._dbs.clear()
        self.conf = self.cells = None

    def before_release(self) -> None:
        """Record the last heartbeat... (subclasses)."""

    def open_db(self, url: str, metadata: Any) -> Database:
        with self._db_lock:
            db = self._dbs.get(url)
            if db is None:
                db = self.ctx.hosts.open_database(self.host, url, metadata)
                # a state folder from an older labkit: the tables and columns added since
                m.add_missing_tables(db.engine, metadata)
                m.add_missing_columns(db.engine, metadata)
                self._dbs[url] = db
            return db

    # ---- the bus ----------------------------------------------------------------------
    def transport_url(self) -> str:
        return self.conf.transport_url if self.conf is not None else ""

    def broker_ok(self) -> bool:
        return self.ctx.bus.broker_error(self.transport_url()) is None

    def rpc_client(self, topic: str, server: str | None = None) -> RpcClient:
        timeout = self.conf.rpc_response_timeout if self.conf is not None else 60
        return self.ctx.bus.client(
            self.name, self.host, topic, self.transport_url, server, float(timeout)
        )

    # ---- helpers ------------------------------------------------------------------------
    @property
    def nova_conf(self) -> NovaConf:
        if self.conf is None:
            raise ServiceFailed(f"{self.name} is not running on {self.host}")
        return self.conf

    @property
    def nova_cells(self) -> NovaCells:
        if self.cells is None:
            raise ServiceFailed(f"{self.name} on {self.host} has no API database")
        return self.cells

    def now_iso(self) -> str:
        """The sim's time as Nova's records show it (``%Y-%m-%dT%H:%M:%S.%f``), written
        without strftime: a boot asks a dozen times."""
        t = self.runtime.now()
        return (
            f"{t.year}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
            f".{t.microsecond:06d}"
        )

    def service_host(self) -> str:
        """``[DEFAULT] host`` or the host's own name: what the service registers as."""
        conf = self.conf
        return conf.host if conf is not None and conf.host else self.host

    @contextmanager
    def main_cell(self) -> Iterator[Session]:
        """A write session on the cell this service registers in (cell1)."""
        found = self.nova_cells.cell1()
        if found is None:
            raise ServiceFailed(
                "No cell mapping found for cell1: run nova-manage cell_v2 create_cell"
            )
        with found[1].write() as s:
            yield s

    def register_service(self) -> None:
        """Create or refresh this service's row in cell1 (``nova.service.Service.start``)."""
        found = self.nova_cells.cell1()
        if found is None:
            self.log.warning(
                "[-] No cell mapping found: the service %s on %s is not registered yet",
                self.name,
                self.service_host(),
            )
            return
        now = self.runtime.now().timestamp()
        with found[1].write() as s:
            row = s.scalars(
                select(m.Service).where(
                    m.Service.host == self.service_host(), m.Service.binary == self.name
                )
            ).first()
            if row is None:
                row = m.Service(
                    uuid=self.runtime.ids.dashed_id(),
                    host=self.service_host(),
                    binary=self.name,
                    topic=self.topic or "",
                    created_at=self.now_iso(),
                )
                s.add(row)
            row.last_seen_up = now
            row.updated_at = self.now_iso()
        self.log.info("[-] Starting %s node (version 26.0.0)", self.name.removeprefix("nova-"))

    def record_stop(self) -> None:
        """The last heartbeat before the process went away."""
        found = self.nova_cells.cell1() if self.cells is not None else None
        if found is None:
            return
        with found[1].write() as s:
            row = s.scalars(
                select(m.Service).where(
                    m.Service.host == self.service_host(), m.Service.binary == self.name
                )
            ).first()
            if row is not None and self.broker_ok():
                row.last_seen_up = self.runtime.now().timestamp()
                row.updated_at = self.now_iso()

    def service_is_up(self, service: m.Service) -> bool:
        """Nova's servicegroup check, with this process's clock and service_down_time."""
        return self.room.servicegroup.is_up(
            service, self.runtime.now().timestamp(), self.nova_conf.service_down_time
        )

    def glance_url(self) -> str:
        """``[glance] api_servers`` (the Install Guide sets it), else the sim's own."""
        conf = self.nova_conf
        if conf.glance_api_servers:
            return conf.glance_api_servers.split(",")[0].strip()
        sim = self.runtime.config
        return f"http://{sim.bind}:{sim.port}/image"

    def unavailable(self) -> HttpError | None:
        from labkit.sim.nova.errors import NovaError

        return NovaError(
            f"nova-api is not running on {self.host} (sim). Install and start it: "
            "`labkit install sim nova-controller`.",
            status=503,
        )
