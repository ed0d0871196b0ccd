"""The causal trace: every hop of every request, with its parent, so labkit can draw it.

Each event is one hop -- an HTTP call (from a client or from another service), an RPC cast or
call on the bus, a state change, a database access worth showing -- with its span and parent
span (see :mod:`.context`), the component and host on each side, and its timing in real
milliseconds. ``labkit`` reads events back through ``GET /_sim/trace`` and rebuilds the tree.

Events are buffered: writing one per hop would sit on every request's path. The sim flushes
the buffer every half second, at shutdown, and before the trace is read.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Integer, String, Text, inspect, select
from sqlalchemy.orm import Mapped, mapped_column

from labkit.sim.core.context import RequestContext
from labkit.sim.core.coredb import CoreBase
from labkit.sim.core.store import Database

KINDS = ("http", "rpc-cast", "rpc-call", "state", "db", "note")


class TraceEvent(CoreBase):
    """One hop of a request through the cloud."""

    __tablename__ = "trace"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float)  # real seconds since the epoch, at the start
    sim_time: Mapped[str] = mapped_column(String(40))
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    global_request_id: Mapped[str] = mapped_column(String(64), index=True, default="")
    span: Mapped[str] = mapped_column(String(255), default="")
    parent: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(16))  # one of KINDS
    source: Mapped[str] = mapped_column(String(64))
    source_host: Mapped[str] = mapped_column(String(64), default="")
    target: Mapped[str] = mapped_column(String(64))
    target_host: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32), default="")
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    detail: Mapped[str] = mapped_column(Text, default="{}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "sim_time": self.sim_time,
            "request_id": self.request_id,
            "global_request_id": self.global_request_id,
            "span": self.span,
            "parent": self.parent,
            "kind": self.kind,
            "source": self.source,
            "source_host": self.source_host,
            "target": self.target,
            "target_host": self.target_host,
            "action": self.action,
            "status": self.status,
            "duration_ms": self.duration_ms,
            "detail": json.loads(self.detail or "{}"),
        }


# The columns a recorded row fills (all but the id), and the INSERT the flush runs with them.
_COLUMNS = (
    "at",
    "sim_time",
    "request_id",
    "global_request_id",
    "span",
    "parent",
    "kind",
    "source",
    "source_host",
    "target",
    "target_host",
    "action",
    "status",
    "duration_ms",
    "detail",
)
_INSERT = (
    f"INSERT INTO {TraceEvent.__tablename__} ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)})"
)


@dataclass(frozen=True)
class Hop:
    """What a caller knows about a hop before it happens: who calls whom, as which span."""

    request_id: str
    span: str
    parent: str
    kind: str
    source: str
    target: str
    action: str
    global_request_id: str = ""
    source_host: str = ""
    target_host: str = ""


class Tracer:
    """Records hops into a buffer and writes them to the sim's core database."""

    def __init__(self, db: Database, now: Callable[[], datetime]) -> None:
        self._db = db
        self._now = now
        self._lock = threading.Lock()
        # Held across a flush's swap *and* its write: a reader's flush (events()) must not
        # find the buffer empty while the background flush still holds its rows uncommitted.
        self._flushing = threading.Lock()
        self._buffer: list[dict[str, Any]] = []
        _upgrade(db)

    def record(
        self,
        hop: Hop,
        status: str = "",
        started: float | None = None,
        **detail: Any,
    ) -> None:
        """Record a hop that has finished (``started`` = its ``time.perf_counter()`` start)."""
        duration = (time.perf_counter() - started) * 1000 if started is not None else 0.0
        row = {  # sim_time and detail are turned into text at flush, off the request's path
            "at": time.time() - duration / 1000,
            "sim_time": self._now(),
            "request_id": hop.request_id,
            "global_request_id": hop.global_request_id,
            "span": hop.span,
            "parent": hop.parent,
            "kind": hop.kind,
            "source": hop.source,
            "source_host": hop.source_host,
            "target": hop.target,
            "target_host": hop.target_host,
            "action": hop.action,
            "status": status,
            "duration_ms": round(duration, 3),
            "detail": detail,
        }
        with self._lock:
            self._buffer.append(row)

    def note(
        self, ctx: RequestContext, kind: str, action: str, status: str = "", **detail: Any
    ) -> None:
        """Record something that happened inside ``ctx``'s work (a state change, a decision)
        as a child of its span."""
        self.record(
            Hop(
                request_id=ctx.request_id,
                span=ctx.child_span(),
                parent=ctx.span,
                kind=kind,
                source=ctx.component,
                source_host=ctx.host,
                target=ctx.component,
                target_host=ctx.host,
                action=action,
                global_request_id=ctx.root_request_id,
            ),
            status,
            **detail,
        )

    def flush(self) -> None:
        with self._flushing:
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            rows, self._buffer = self._buffer, []
        for row in rows:
            row["sim_time"] = row["sim_time"].isoformat()
            row["detail"] = json.dumps(row["detail"], default=str)
        if rows:  # one executemany of the table's INSERT, straight to the driver: even
            # SQLAlchemy Core's executemany builds each row's parameters again, at ~15 us a row
            values = [tuple(row[c] for c in _COLUMNS) for row in rows]
            with self._db.write() as s:
                s.connection().exec_driver_sql(_INSERT, values)

    def events(
        self,
        *,
        after: int = 0,
        limit: int = 500,
        request_id: str | None = None,
        global_request_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Recorded events in order. ``global_request_id`` selects a whole user action: the
        events whose global id, or own id, is that id."""
        self.flush()
        query = select(TraceEvent).where(TraceEvent.id > after).order_by(TraceEvent.id)
        if request_id:
            query = query.where(TraceEvent.request_id == request_id)
        if global_request_id:
            query = query.where(
                (TraceEvent.global_request_id == global_request_id)
                | (TraceEvent.request_id == global_request_id)
            )
        with self._db.read() as s:
            return [r.as_dict() for r in s.scalars(query.limit(limit))]


def _upgrade(db: Database) -> None:
    """A state folder from before causal traces has a narrower trace table: it is only a
    trace, so it is dropped and made anew rather than migrated."""
    with db.engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("trace")}
    if columns and "span" not in columns:
        TraceEvent.__table__.drop(db.engine)  # type: ignore[attr-defined]
        TraceEvent.__table__.create(db.engine)  # type: ignore[attr-defined]
