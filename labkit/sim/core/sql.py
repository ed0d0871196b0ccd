"""Statements compiled once, read outside any session: for the reads every status poll and
every boot step makes.

SQLAlchemy builds a statement, finds it in its compiled cache by a key it computes from the
statement's whole structure, binds the values and runs the result through each column's
type -- per execution; an ORM session around it adds its own making and closing. For the
reads of ``GET /servers/{id}`` (which ``openstack server create --wait`` sends every few
milliseconds) and the lookups each boot step makes, that costs several times what SQLite
takes to answer. A :class:`Prepared` statement is written with SQLAlchemy once, compiled to
SQLite's own SQL on first use, and then run straight through a DBAPI cursor of the calling
thread (:meth:`.store.Database.rows`). Its rows are plain tuples with the values the
columns' types would give: a Boolean's 0 / 1 as False / True, a JSON column decoded (select
it as ``type_coerce(column, Text)`` to get the stored text instead).

It sees what was committed, never a session's uncommitted writes: inside a write
transaction, read through the session.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Integer, String
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Select

from labkit.sim.core.store import Database

# types whose value SQLite gives as SQLAlchemy would (Text is a String, BigInteger an
# Integer); the others are converted below; anything else is refused when a statement is made
_AS_STORED = (String, Integer, Float)
_NAMED = object()  # a parameter the caller names (``bindparam("uuid")``)


def _converter(type_: Any) -> Callable[[Any], Any] | None:
    if isinstance(type_, Boolean):
        return bool
    if isinstance(type_, JSON):
        return json.loads
    if isinstance(type_, Float) and type_.asdecimal:
        raise TypeError("Prepared reads no Decimal columns")
    if isinstance(type_, _AS_STORED):
        return None
    raise TypeError(f"Prepared does not convert {type_!r} columns")


class Prepared:
    """One SELECT with named bind parameters (``bindparam("uuid")``), run by name."""

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self.statement = statement
        converters = [_converter(c.type) for c in statement.selected_columns]
        self._convert = tuple((i, f) for i, f in enumerate(converters) if f is not None)
        # the kind of dialect, its SQL, and each parameter's name with its value (or _NAMED)
        self._compiled: tuple[type[Dialect], str, tuple[tuple[str, Any], ...]] | None = None

    def _sql(self, dialect: Dialect) -> tuple[str, tuple[tuple[str, Any], ...]]:
        # Each Database has an engine and a dialect of its own; every one of them is
        # SQLite's through pysqlite with the same settings, so it compiles to the same SQL:
        # kept once for that kind of dialect, not per engine (the Nova processes each open
        # nova_api, and would take turns compiling again).
        compiled = self._compiled
        if compiled is None or compiled[0] is not type(dialect):
            done = self.statement.compile(dialect=dialect)
            # positional paramstyles (SQLite's "?") list each use of a name in order; a
            # value written into the statement (``column != "deleted"``) is a bound
            # parameter too, with its value
            names = tuple(getattr(done, "positiontup", None) or ())
            binds = done.binds
            params = tuple(
                (n, _NAMED if binds[n].required else binds[n].effective_value) for n in names
            )
            compiled = self._compiled = (type(dialect), str(done), params)
        return compiled[1], compiled[2]

    def all(self, db: Database, **values: Any) -> list[tuple[Any, ...]]:
        """Every row, each value as its column's type reads it."""
        sql, params = self._sql(db.engine.dialect)
        rows = db.rows(sql, tuple(values[n] if v is _NAMED else v for n, v in params))
        if not self._convert:
            return rows
        out = []
        for row in rows:
            converted = list(row)
            for i, convert in self._convert:
                if converted[i] is not None:
                    converted[i] = convert(converted[i])
            out.append(tuple(converted))
        return out

    def one(self, db: Database, **values: Any) -> tuple[Any, ...] | None:
        """The first row, or None."""
        found = self.all(db, **values)
        return found[0] if found else None
