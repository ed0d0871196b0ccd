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
transaction, read through the session -- or, inside a :meth:`.store.Database.transaction`,
through that transaction (``stmt.all(tx)``), which sees its own writes.

A :class:`PreparedWrite` is the same for an INSERT, UPDATE or DELETE (with RETURNING if it
wants rows back): compiled once, its values converted by each column type's own bind
processor (a JSON column's value is stored as SQLAlchemy would store it, ``None`` as
``null``), run in a :meth:`.store.Database.transaction`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import JSON, Boolean, Float, Integer, String
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import CompoundSelect, Delete, Insert, Select, Update


class Source(Protocol):
    """Where a prepared statement runs: a :class:`.store.Database` (a read, outside any
    transaction) or a :class:`.store.Transaction`."""

    @property
    def dialect(self) -> Dialect: ...

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]: ...


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


class _Compiled:
    """A statement compiled once for SQLite, its parameters bound by name on each run."""

    def __init__(self, statement: Any, returned: Any) -> None:
        self.statement = statement
        converters = [_converter(getattr(c, "type", None)) for c in returned]
        self._convert = tuple((i, f) for i, f in enumerate(converters) if f is not None)
        # the kind of dialect, its SQL, and each parameter (see _Param)
        self._compiled: tuple[type[Dialect], str, tuple[_Param, ...], bool] | None = None

    def _sql(self, dialect: Dialect) -> tuple[str, tuple[_Param, ...], bool]:
        # Each Database has an engine and a dialect of its own; every one of them is
        # SQLite's through pysqlite with the same settings, so it compiles to the same SQL:
        # kept once for that kind of dialect, not per engine (the Nova processes each open
        # nova_api, and would take turns compiling again).
        compiled = self._compiled
        if compiled is None or compiled[0] is not type(dialect):
            done = self.statement.compile(dialect=dialect)
            # positional paramstyles (SQLite's "?") list each use of a name in order; a
            # value written into the statement (``column != "deleted"``) is a bound
            # parameter too, with its value, converted here once
            params = []
            for name in tuple(getattr(done, "positiontup", None) or ()):
                bind = done.binds[name]
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if bind.required:
                    params.append((name, _NAMED, process, bind.expanding))
                else:
                    value = bind.effective_value
                    params.append((name, process(value) if process else value, None, False))
            expands = any(p[3] for p in params)
            compiled = self._compiled = (type(dialect), str(done), tuple(params), expands)
        return compiled[1], compiled[2], compiled[3]

    def _run(self, source: Source, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        sql, params, expands = self._sql(source.dialect)
        if not expands:
            bound = tuple(
                v if v is not _NAMED else (process(values[n]) if process else values[n])
                for n, v, process, _ in params
            )
            return _converted(source.rows(sql, bound), self._convert)
        # ``bindparam("uuids", expanding=True)`` (what ``in_()`` of a list becomes): one
        # "?" per item where SQLAlchemy left its placeholder (SQLite takes ``IN ()``)
        flat: list[Any] = []
        for n, v, process, expanding in params:
            if v is not _NAMED:
                flat.append(v)
            elif expanding:
                items = list(values[n])
                flat += [process(i) for i in items] if process else items
                marks = ", ".join("?" * len(items))
                sql = sql.replace(f"__[POSTCOMPILE_{n}]", marks, 1)
            else:
                flat.append(process(values[n]) if process else values[n])
        return _converted(source.rows(sql, tuple(flat)), self._convert)


class Prepared(_Compiled):
    """One SELECT (or UNION) with named bind parameters (``bindparam("uuid")``, and
    ``bindparam("uuids", expanding=True)`` for an ``in_()`` of a list), run by name."""

    def __init__(
        self, statement: Select[*tuple[Any, ...]] | CompoundSelect[*tuple[Any, ...]]
    ) -> None:
        super().__init__(statement, statement.selected_columns)

    def all(self, db: Source, **values: Any) -> list[tuple[Any, ...]]:
        """Every row, each value as its column's type reads it."""
        return self._run(db, values)

    def one(self, db: Source, **values: Any) -> tuple[Any, ...] | None:
        """The first row, or None."""
        found = self._run(db, values)
        return found[0] if found else None


class PreparedWrite(_Compiled):
    """One INSERT, UPDATE or DELETE with named bind parameters (``bindparam("uuid")``, and
    ``.values(column=bindparam("name"))``), run by name in a transaction. With RETURNING,
    :meth:`run` gives its rows as :class:`Prepared` gives a SELECT's."""

    def __init__(self, statement: Insert | Update | Delete) -> None:
        super().__init__(statement, statement._returning)

    def run(self, tx: Source, **values: Any) -> list[tuple[Any, ...]]:
        """Run it with ``values`` for its named parameters; the rows it returns (none
        without RETURNING)."""
        return self._run(tx, values)


def _converted(
    rows: list[tuple[Any, ...]], convert: tuple[tuple[int, Callable[[Any], Any]], ...]
) -> list[tuple[Any, ...]]:
    if not convert:
        return rows
    out = []
    for row in rows:
        converted = list(row)
        for i, f in convert:
            if converted[i] is not None:
                converted[i] = f(converted[i])
        out.append(tuple(converted))
    return out


# a parameter: its name, its value (or _NAMED: the caller's), the bind processor of its type
# for the caller's value, and whether it is an expanding list
_Param = tuple[str, Any, Callable[[Any], Any] | None, bool]
