"""The state one sim process shares between its rooms: config, clock, ids, logs, trace.

The runtime is the bottom of the sim: it imports nothing above :mod:`labkit.sim.core`.
Rooms never import each other; what one service needs from another goes over HTTP (the
in-process client of :mod:`.inproc`) or over the message bus (:mod:`.bus`), as it would in a
real cloud. :class:`labkit.sim.sim.Sim` builds the runtime first and everything else on it.
"""

from __future__ import annotations

import gc
import logging
import logging.handlers
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from sqlalchemy import Integer, MetaData, String, select
from sqlalchemy.orm import Mapped, mapped_column

from labkit.sim.core.clock import Clock, RealClock, SteadyClock
from labkit.sim.core.config import SimConfig
from labkit.sim.core.context import RequestContext
from labkit.sim.core.coredb import CoreBase
from labkit.sim.core.ids import IdSource, random_uuid4
from labkit.sim.core.store import Database
from labkit.sim.core.trace import Tracer


class Counter(CoreBase):
    """Persisted counters of the deterministic id source and steady clock."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class _SimTime(logging.Filter):
    """Stamps each record with the sim's time when it is logged (lines are written later)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self._clock = clock

    def filter(self, record: logging.LogRecord) -> bool:
        record.sim_time = self._clock.now()
        return True


class _Buffered(logging.handlers.MemoryHandler):
    """A MemoryHandler that outlives ``logging.config.dictConfig``: uvicorn configures
    logging after the sim has made its loggers, and dictConfig closes every existing handler
    (a plain MemoryHandler then drops its target, and every line after it). Closing here
    only writes out what is buffered; the file handler reopens its file on the next line.
    :meth:`Runtime.close` closes the files for good."""

    def close(self) -> None:
        self.flush()

    def flush(self) -> None:
        """Write what is buffered to the file in one write, instead of MemoryHandler's
        ``target.handle()`` per record -- which writes and flushes the file once per line,
        a system call for each of a busy second's thousand access-log lines. The same
        lines: the file handler's filters, level, format and line ending."""
        target = self.target
        if not isinstance(target, logging.FileHandler):
            super().flush()
            return
        with self.lock:  # type: ignore[union-attr]  # (made by createLock)
            records, self.buffer = self.buffer, []
            lines = []
            for record in records:
                if record.levelno < target.level or not target.filter(record):
                    continue
                try:
                    lines.append(target.format(record) + target.terminator)
                except Exception:
                    target.handleError(record)
            if not lines:
                return
            with target.lock:  # type: ignore[union-attr]
                try:
                    if target.stream is None:  # closed by dictConfig: reopen, as emit() does
                        target.stream = target._open()
                    target.stream.write("".join(lines))
                    target.stream.flush()
                except Exception:
                    target.handleError(records[-1])


class _SimClockFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """``2030-01-01 09:00:00.123``: strftime's ``%Y-%m-%d %H:%M:%S.%f`` less its last
        three digits, formatted without strftime (one per log line)."""
        m: datetime = record.__dict__["sim_time"]
        if m.year < 1000:  # strftime's %Y does not pad short years on every platform
            return m.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        return (
            f"{m.year}-{m.month:02d}-{m.day:02d} "
            f"{m.hour:02d}:{m.minute:02d}:{m.second:02d}.{m.microsecond // 1000:03d}"
        )


_CRASH_MARGIN = 100_000

# Allocations of container objects between two young-generation collections (CPython: 700).
GC_YOUNG_THRESHOLD = 20_000


def settle_garbage_collector() -> None:
    """Tune CPython's cyclic garbage collector for a long-running sim process.

    Once the sim is built, most of the objects it will ever hold already exist -- imported
    modules, SQLAlchemy's mappers, every room and its routes -- some 250,000 of them. The
    collector's full (generation 2) pass walks them all, and a request that builds many
    objects (``server list`` of 1,000 servers makes some 30,000 dicts and lists) set off
    several passes: measured, a third of that request's time. So, once:

    * ``gc.freeze()`` moves what exists now into a permanent generation the collector no
      longer walks (reference counting still frees what is dropped);
    * the young generation is collected every :data:`GC_YOUNG_THRESHOLD` allocations instead
      of 700, so a request's short-lived objects are mostly freed by reference counting
      before the collector looks at them at all.

    Garbage with reference cycles is still collected, a little later; the sim's memory is
    unchanged for practical purposes (the benchmarks print its peak RSS)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


class Runtime:
    """Everything a room may use from the core. Created once per sim process."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.state_dir = config.state_dir
        self.logs_dir = config.state_dir / "logs"
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(config.state_dir / "sim.db", CoreBase.metadata)
        self.db.create_all()
        counters = self._load_counters()
        self.clock: Clock
        self._roots = counters.get("spans", 0)
        if config.deterministic:
            ids = counters.get("ids", 0)
            if ids and not counters.get("clean", 0):
                # The process died without flushing: ids handed out after the last flush
                # may exist. Jump ahead rather than hand one out twice.
                ids += _CRASH_MARGIN
                self._roots += _CRASH_MARGIN
            self.clock = SteadyClock(counters.get("clock", 0))
            self.ids = IdSource(seed=config.seed, counter=ids)
        else:
            self.clock = RealClock()
            self.ids = IdSource()
        self._loggers: dict[str, logging.Logger] = {}
        self._lock = threading.Lock()
        self.tracer = Tracer(self.db, self.now)
        # The threads request handlers run on (their threads start on first use).
        self.executor = ThreadPoolExecutor(max_workers=40, thread_name_prefix="sim-request")
        self.internal_errors = 0
        self._persisted: list[tuple[str, int]] = []
        self._gc_settled = False
        self.persist_counters(clean_shutdown=False)  # until a clean shutdown says so

    # ---- time and ids ---------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock.now()

    def after_mutation(self) -> None:
        """A state-changing request arrived, or a message was delivered: move the steady
        clock (persisted by flush)."""
        if self.config.deterministic:
            self.clock.tick()

    def wait(self, seconds: float, until: threading.Event | None = None) -> bool:
        """Let ``seconds`` pass for a caller that waits (an RPC call timing out, a service
        down for ``service_down_time``). Real time really passes; the steady clock of
        deterministic mode jumps instead, so a notebook does not sit through it. Returns
        whether ``until`` was set meanwhile."""
        if isinstance(self.clock, SteadyClock):
            self.clock.advance(int(seconds))
            return until.is_set() if until is not None else False
        if until is None:
            threading.Event().wait(seconds)
            return False
        return until.wait(seconds)

    def root_context(self, component: str, host: str = "", request_id: str = "") -> RequestContext:
        """A context for work that no request started (a periodic task, a client request)."""
        with self._lock:
            self._roots += 1
            number = self._roots
        span = f"r{number}" if self.config.deterministic else f"r{os.urandom(4).hex()}"
        return RequestContext(
            request_id=request_id or self.new_request_id(),
            span=span,
            component=component,
            host=host,
        )

    def new_request_id(self) -> str:
        """``req-<uuid>``. Random even in deterministic mode (see :mod:`.ids`)."""
        return f"req-{random_uuid4()}"

    def persist_counters(self, clean_shutdown: bool = False) -> None:
        values = [("spans", self._roots)]
        if isinstance(self.clock, SteadyClock):
            values += [
                ("clock", self.clock.ticks),
                ("ids", self.ids.counter),
                ("clean", int(clean_shutdown)),
            ]
        # Called every half second: a write transaction only when a counter moved.
        if values == self._persisted:
            return
        self._persisted = values
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
                # Not logging.getLogger(): several sims may share a process (tests), each
                # with its own files, so each runtime owns its loggers.
                logger = logging.Logger(f"labkit.sim.{name}", logging.INFO)
                logger.propagate = False
                logger.addFilter(_SimTime(self.clock))
                target = logging.FileHandler(self.logs_dir / f"{name}.log")
                target.setFormatter(_SimClockFormatter())
                # Lines are written with the trace, every half second (an error at once),
                # not one write per request on the request's path.
                # The sim's own log is rare and read when something went wrong: unbuffered.
                flush_level = logging.INFO if name == "sim" else logging.ERROR
                logger.addHandler(_Buffered(10_000, flush_level, target))
                self._loggers[name] = logger
            return self._loggers[name]

    def flush(self, clean_shutdown: bool = False) -> None:
        """Write buffered trace rows and the deterministic counters (every half second and at
        shutdown, off every request's path). The first periodic flush also settles the
        process's garbage collector (:func:`settle_garbage_collector`): the sim is built and
        serving by then."""
        if not clean_shutdown and not self._gc_settled:
            self._gc_settled = True
            settle_garbage_collector()
        self.tracer.flush()
        self.flush_logs()
        self.persist_counters(clean_shutdown)

    def flush_logs(self) -> None:
        """Write the log lines buffered since the last flush (before a log is read)."""
        with self._lock:
            loggers = list(self._loggers.values())
        for logger in loggers:
            for handler in logger.handlers:
                handler.flush()

    def record_internal_error(self, service: str, what: str, request_id: str, text: str) -> None:
        """A bug in the sim (never a client's fault): counted, and logged loudly."""
        with self._lock:
            self.internal_errors += 1
        self.logger(service).error("[%s] unhandled error in %s\n%s", request_id, what, text)
        self.logger("sim").error("unhandled error in %s %s\n%s", service, what, text)

    def close(self) -> None:
        """Close the log files and the request threads (several sims can live in one test
        process)."""
        self.executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            for logger in self._loggers.values():
                for handler in list(logger.handlers):
                    handler.flush()
                    if isinstance(handler, logging.handlers.MemoryHandler) and handler.target:
                        handler.target.close()
                    logging.Handler.close(handler)
                    logger.removeHandler(handler)
            self._loggers.clear()
