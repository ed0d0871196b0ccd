"""Transactions over Neutron's tables, shared by the domain modules.

Every change runs inside :meth:`Repo.write`: one SQLite transaction under the database's
write lock. A request that fails part-way raises, the transaction rolls back, and nothing
it did remains -- the database IPAM driver's promise ("a failed request changes nothing").
Work that must only happen once the change is committed -- casting to the agents -- is
queued with :meth:`Tx.after_commit` and runs after the commit, outside the lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

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

    def forget_standard(self, standard_attr_id: int) -> None:
        self.s.execute(delete(m.Tag).where(m.Tag.standard_attr_id == standard_attr_id))
        self.s.execute(
            delete(m.StandardAttribute).where(m.StandardAttribute.id == standard_attr_id)
        )

    def tags(self, standard_attr_ids: list[int]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {i: [] for i in standard_attr_ids}
        if standard_attr_ids:
            # plain columns, not Tag objects: a list view asks this for every page it shows
            rows = self.s.execute(
                select(m.Tag.standard_attr_id, m.Tag.tag)
                .where(m.Tag.standard_attr_id.in_(standard_attr_ids))
                .order_by(m.Tag.tag)
            )
            for standard_attr_id, tag in rows:
                out[standard_attr_id].append(tag)
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
            yield self._tx(s)

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self.db.write() as s:
            tx = self._tx(s)
            yield tx
        for work in tx._after:
            work()
