"""Transactions over Neutron's tables, shared by the domain modules.

Every change runs inside :meth:`Repo.write`: one SQLite transaction under the database's
write lock. A request that fails part-way raises, the transaction rolls back, and nothing
it did remains -- the database IPAM driver's promise ("a failed request changes nothing").
Work that must only happen once the change is committed -- casting to the agents -- is
queued with :meth:`Tx.after_commit` and runs after the commit, outside the lock.
"""

from __future__ import annotations

import json
from collections import namedtuple
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import JSON, Boolean, Table, delete, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from labkit.sim.core.store import Database
from labkit.sim.neutron import models as m
from labkit.sim.neutron.config import NeutronConf

RandomBytes = Callable[[int], bytes]
NewId = Callable[[], str]


class Tx:
    """One transaction's view of Neutron's tables."""

    def __init__(
        self,
        session: Session,
        now: float,
        new_id: NewId,
        random_bytes: RandomBytes,
        conf: NeutronConf,
        log: Any = None,
    ) -> None:
        self.s = session
        self.log = log
        self.now = now
        self.new_id = new_id
        self.random_bytes = random_bytes
        self.conf = conf
        self._after: list[Callable[[], None]] = []

    def after_commit(self, work: Callable[[], None]) -> None:
        self._after.append(work)

    # ---- standard attributes -----------------------------------------------------------------
    def standard(self, resource_type: str) -> dict[str, Any]:
        """Columns for a new resource: its standardattributes row, revision 0, timestamps."""
        row = m.StandardAttribute(resource_type=resource_type)
        self.s.add(row)
        self.s.flush()
        return {
            "standard_attr_id": row.id,
            "revision_number": 0,
            "created_at": self.now,
            "updated_at": self.now,
        }

    def bump(self, row: Any) -> None:
        """A change to a resource: revision_number + 1, updated_at now."""
        row.revision_number = (row.revision_number or 0) + 1
        row.updated_at = self.now

    def delete_resource(self, row: Any) -> None:
        """Delete a resource with standard attributes: its row, then its standardattributes
        row and tags."""
        standard = row.standard_attr_id
        self.s.delete(row)
        self.s.flush()
        self.forget_standard(standard)

    def forget_standard(self, standard_attr_id: int) -> None:
        self.s.execute(delete(m.Tag).where(m.Tag.standard_attr_id == standard_attr_id))
        self.s.execute(
            delete(m.StandardAttribute).where(m.StandardAttribute.id == standard_attr_id)
        )

    def tags(self, standard_attr_ids: list[int]) -> dict[int, list[str]]:
        return self.grouped(m.Tag.standard_attr_id, m.Tag.tag, standard_attr_ids)

    def grouped(self, key: Any, value: Any, keys: list[Any]) -> dict[Any, list[Any]]:
        """``value`` of every row whose ``key`` is in ``keys``, sorted, grouped by key (each
        key present, with [] when no row has it). Plain columns, not ORM objects: list views
        ask this (tags, a group's addresses) for every page they show."""
        out: dict[Any, list[Any]] = {k: [] for k in keys}
        if keys:
            rows = self.s.execute(select(key, value).where(key.in_(keys)).order_by(value))
            for k, v in rows:
                out[k].append(v)
        return out


class Repo:
    """Neutron's database as one process (neutron-api or neutron-rpc-server) opened it."""

    def __init__(
        self,
        db: Database,
        now: Callable[[], float],
        new_id: NewId,
        random_bytes: RandomBytes,
        conf: NeutronConf,
        log: Any = None,
    ) -> None:
        self.db = db
        self.log = log
        self.now = now
        self.new_id = new_id
        self.random_bytes = random_bytes
        self.conf = conf

    def _tx(self, session: Session) -> Tx:
        return Tx(session, self.now(), self.new_id, self.random_bytes, self.conf, self.log)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self.db.read() as s:
            s.info[PLAIN_READS] = True  # writes nothing: a RowReader may read around it
            yield self._tx(s)

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self.db.write() as s:
            tx = self._tx(s)
            yield tx
        for work in tx._after:
            work()


# ---- plain reads for the hottest lists --------------------------------------------------------


MAX_SHAPES = 512  # compiled query shapes a RowReader keeps
PLAIN_READS = "labkit.plain_reads"  # session.info key of a session Repo.read made


class RowReader:
    """Rows of one table as SQLAlchemy's column types would give them, from the values
    SQLite stores (a Boolean's 0 / 1, a JSON column's text), read through the DBAPI cursor.

    Building a SELECT, finding its compiled form by a key made from its whole structure, and
    running every value through its type costs several times what SQLite takes to answer:
    too much for the port list Nova sends at every status poll. A reader compiles each
    *shape* of a query once (:meth:`rows` with a shape key and a builder) and keeps the SQL.
    Its rows are named tuples with the table's column names, which the views read as they
    read model objects."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.columns = tuple(table.columns)
        self.row_type = namedtuple("Row", [c.name for c in self.columns])  # type: ignore[misc]
        self._convert = tuple(
            (i, bool if isinstance(c.type, Boolean) else json.loads)
            for i, c in enumerate(self.columns)
            if isinstance(c.type, Boolean | JSON)
        )
        self._shapes: dict[Hashable, tuple[Any, str, tuple[str, ...]]] = {}

    def rows(
        self,
        session: Session,
        shape: Hashable,
        build: Callable[[], Select[Any]],
        values: dict[str, Any],
    ) -> list[Any]:
        """Run the query ``build()`` makes (with named ``bindparam``s, the same for every
        call with this ``shape``) with ``values``."""
        plain = session.info.get(PLAIN_READS, False)
        if not plain and (session.new or session.dirty or session.deleted):
            session.flush()  # what this transaction changed is read back, as autoflush would
        db = Database.of(session)
        dialect = db.engine.dialect  # each engine's own; all SQLite's, compiled alike
        known = self._shapes.get(shape)
        if known is None or known[0] is not type(dialect):
            if len(self._shapes) >= MAX_SHAPES:  # clients choose how many values they filter by
                self._shapes.clear()
            compiled = build().compile(dialect=dialect)
            names = tuple(getattr(compiled, "positiontup", None) or ())
            known = (type(dialect), str(compiled), names)
            self._shapes[shape] = known
        _, sql, names = known
        params = tuple(values[n] for n in names)
        # In a read transaction the session's connection adds nothing but its cost: the
        # statement runs on the thread's own (Database.rows), as every SELECT runs in
        # autocommit under pysqlite anyway. A write transaction reads its own changes.
        found = db.rows(sql, params) if plain else session.connection().exec_driver_sql(sql, params)
        out = []
        for raw in found:
            row = list(raw)
            for i, convert in self._convert:
                if row[i] is not None:
                    row[i] = convert(row[i])
            out.append(self.row_type(*row))
        return out

    def select(self) -> Select[Any]:
        return select(*self.columns)
