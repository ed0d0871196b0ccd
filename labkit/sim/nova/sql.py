"""Statements compiled once, for the reads every status poll makes.

SQLAlchemy builds a statement, finds it in its compiled cache by a key it computes from the
statement's whole structure, binds the values and runs the result through each column's
type -- per execution. For the two reads of ``GET /servers/{id}`` (which ``openstack server
create --wait`` sends every few milliseconds) that costs several times what SQLite takes to
answer. A :class:`Prepared` statement is written with SQLAlchemy once, compiled to the
database's own SQL on first use, and then run straight through the DBAPI cursor of the
session's connection (in the session's transaction). Its rows carry what SQLite stores: the
caller converts what it needs to (a Boolean is 0 or 1, a JSON column its text).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ClauseElement


class Prepared:
    """One SELECT with named bind parameters (``bindparam("uuid")``), run by name."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: tuple[Any, str, tuple[str, ...]] | None = None  # dialect, SQL, names

    def _sql(self, session: Session) -> tuple[str, tuple[str, ...]]:
        dialect = session.get_bind().dialect
        compiled = self._compiled
        if compiled is None or compiled[0] is not dialect:
            done = self.statement.compile(dialect=dialect)
            # positional paramstyles (SQLite's "?") list each use of a name in order
            names = tuple(getattr(done, "positiontup", None) or ())
            compiled = self._compiled = (dialect, str(done), names)
        return compiled[1], compiled[2]

    def first(self, session: Session, **values: Any) -> tuple[Any, ...] | None:
        """The first row (a plain tuple), or None."""
        sql, names = self._sql(session)
        cursor = session.connection().exec_driver_sql(sql, tuple(values[n] for n in names))
        row = cursor.first()
        return tuple(row) if row is not None else None
