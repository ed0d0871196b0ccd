"""The state one sim process shares between its rooms: config, clock, ids, logs, trace.

Rooms never import each other's models. What one service needs from another goes through a
narrow hook registered here -- Glance asks ``runtime.validate_token`` (which Keystone
registers) the way keystonemiddleware would ask Keystone over HTTP.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Float, Integer, MetaData, String, Text, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from labkit.sim.core.clock import Clock, RealClock, SteadyClock
from labkit.sim.core.config import SimConfig
from labkit.sim.core.ids import IdSource
from labkit.sim.core.store import Database

if TYPE_CHECKING:
    from labkit.sim.core.http import Call
    from labkit.sim.machines.machines import Machines
    from labkit.sim.machines.shell import Shell


class _CoreBase(DeclarativeBase):
    metadata = MetaData()


class Counter(_CoreBase):
    """Persisted counters of the deterministic id source and steady clock."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class TraceEvent(_CoreBase):
    """One hop of a request through the cloud: an HTTP call, an RPC, a status change."""

    __tablename__ = "trace"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float)  # real seconds since the epoch
    sim_time: Mapped[str] = mapped_column(String(40))
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # http | rpc | state | note
    source: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32), default="")
    detail: Mapped[str] = mapped_column(Text, default="{}")


class _SimClockFormatter(logging.Formatter):
    def __init__(self, clock: Clock) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._clock = clock

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return self._clock.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


TokenValidator = Callable[[str], Any]
_CRASH_MARGIN = 100_000


class Runtime:
    """Everything a room may use from the core. Created once per sim process."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.state_dir = config.state_dir
        self.logs_dir = config.state_dir / "logs"
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(config.state_dir / "sim.db", _CoreBase.metadata)
        self.db.create_all()
        counters = self._load_counters()
        self.clock: Clock
        if config.deterministic:
            ids = counters.get("ids", 0)
            if ids and not counters.get("clean", 0):
                # The process died without flushing: ids handed out after the last flush
                # may exist. Jump ahead rather than hand one out twice.
                ids += _CRASH_MARGIN
            self.clock = SteadyClock(counters.get("clock", 0))
            self.ids = IdSource(seed=config.seed, counter=ids)
            self.persist_counters(clean_shutdown=False)  # until a clean shutdown says so
        else:
            self.clock = RealClock()
            self.ids = IdSource()
        self._loggers: dict[str, logging.Logger] = {}
        self._lock = threading.Lock()
        self._trace_buffer: list[dict[str, Any]] = []
        self.internal_errors = 0
        self._token_validator: TokenValidator | None = None
        # Set by labkit.sim.app.build(): the simulated hosts and the shell that runs steps.
        self.machines: Machines
        self.shell: Shell

    # ---- time and ids ---------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock.now()

    def after_mutation(self) -> None:
        """A state-changing request arrived: move the steady clock (persisted by flush)."""
        if self.config.deterministic:
            self.clock.tick()

    def persist_counters(self, clean_shutdown: bool = False) -> None:
        if not self.config.deterministic:
            return
        assert isinstance(self.clock, SteadyClock)
        values = (
            ("clock", self.clock.ticks),
            ("ids", self.ids.counter),
            ("clean", int(clean_shutdown)),
        )
        with self.db.write() as s:
            for name, value in values:
                row = s.get(Counter, name)
                if row is None:
                    s.add(Counter(name=name, value=value))
                else:
                    row.value = value

    def _load_counters(self) -> dict[str, int]:
        with self.db.read() as s:
            return {c.name: c.value for c in s.scalars(select(Counter))}

    # ---- storage ------------------------------------------------------------------------------
    def database(self, name: str, metadata: MetaData) -> Database:
        return Database(self.state_dir / f"{name}.db", metadata)

    def path(self, *parts: str) -> Path:
        return self.state_dir.joinpath(*parts)

    # ---- logs and trace -------------------------------------------------------------------
    def logger(self, name: str) -> logging.Logger:
        with self._lock:
            if name not in self._loggers:
                logger = logging.getLogger(f"labkit.sim.{name}")
                logger.setLevel(logging.INFO)
                logger.propagate = False
                handler = logging.FileHandler(self.logs_dir / f"{name}.log")
                handler.setFormatter(_SimClockFormatter(self.clock))
                logger.addHandler(handler)
                self._loggers[name] = logger
            return self._loggers[name]

    def access_log(
        self, service: str, call: Call, status: int, length: int, seconds: float
    ) -> None:
        client = call.request.client.host if call.request.client else "-"
        query = f"?{call.request.url.query}" if call.request.url.query else ""
        self.logger(service).info(
            '[%s] %s "%s %s%s" status: %d len: %d time: %.4f',
            call.request_id,
            client,
            call.method,
            call.path,
            query,
            status,
            length,
            seconds,
        )
        self.trace(
            call.request_id,
            "http",
            "client",
            service,
            f"{call.method} {call.service.prefix}{call.path}",
            str(status),
        )

    def trace(
        self,
        request_id: str,
        kind: str,
        source: str,
        target: str,
        action: str,
        status: str = "",
        **detail: Any,
    ) -> None:
        """Record one hop. Buffered: a write per request would sit on every request's path;
        :meth:`flush_trace` runs before the trace is read and every half second."""
        row = {
            "at": time.time(),
            "sim_time": self.now().isoformat(),
            "request_id": request_id,
            "kind": kind,
            "source": source,
            "target": target,
            "action": action,
            "status": status,
            "detail": json.dumps(detail),
        }
        with self._lock:
            self._trace_buffer.append(row)

    def flush_trace(self, clean_shutdown: bool = False) -> None:
        """Write buffered trace rows and the deterministic counters (every half second and at
        shutdown, off every request's path)."""
        with self._lock:
            rows, self._trace_buffer = self._trace_buffer, []
        if rows:
            with self.db.write() as s:
                s.execute(insert(TraceEvent), rows)
        self.persist_counters(clean_shutdown)

    def record_internal_error(self, service: str, call: Call, text: str) -> None:
        self.internal_errors += 1
        self.logger(service).error(
            "[%s] unhandled error in %s %s\n%s", call.request_id, call.method, call.path, text
        )
        self.logger("sim").error(
            "unhandled error in %s %s %s\n%s", service, call.method, call.path, text
        )

    # ---- cross-service hooks ----------------------------------------------------------------
    def register_token_validator(self, validator: TokenValidator) -> None:
        self._token_validator = validator

    def validate_token(self, token: str) -> Any:
        """Return Keystone's view of a token (raises the validator's error when invalid)."""
        if self._token_validator is None:
            raise LookupError("identity service is not part of this sim")
        return self._token_validator(token)
