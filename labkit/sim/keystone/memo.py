"""What token requests read from Keystone's database, kept until the database changes.

Every token issue and validation reads the same facts: the user and their domain, the
project and its domain, the user's effective roles there, the catalog, the revocation
events. Read through the ORM that is a dozen queries -- most of a request's time. Here each
answer is worked out once per *database version* (:meth:`Database.data_version`, the
process's count of commits to the file) and reused until any transaction commits: a
revocation, a disabled user, a removed grant, a deleted project, a changed password or
endpoint. The first request after that commit reads the database again, so what Keystone
answers never differs from reading it every time.

Only successful answers are kept (a failure is worked out again on every request), and
they are read with a session of their own, never the caller's, so that a write session's
uncommitted rows cannot end up in memory. Values handed out are shared between requests:
callers must not modify them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from labkit.sim.core.store import Database

T = TypeVar("T")

# A lab has a handful of users and projects; the bound only stops requests with ever
# different keys (scopes spelled with junk fields) from growing memory without end.
MAX_ENTRIES = 10_000


class Memo:
    """Answers worked out at one version of one database."""

    def __init__(self, db: Database, version: tuple[int, int]) -> None:
        self.db = db
        self.version = version
        self._answers: dict[Hashable, Any] = {}

    def get(self, key: Hashable, work_out: Callable[[Session], T]) -> T:
        """The answer for ``key``; ``work_out(session)`` computes it on the first request.
        Exceptions from ``work_out`` propagate and nothing is kept."""
        try:
            return self._answers[key]  # type: ignore[no-any-return]
        except KeyError:
            pass
        with self.db.read() as s:
            value = work_out(s)
        if len(self._answers) >= MAX_ENTRIES:
            self._answers.clear()
        self._answers[key] = value
        return value


class Memos:
    """The :class:`Memo` of the database's current version, replaced after every commit."""

    def __init__(self) -> None:
        self._current: Memo | None = None
        self._lock = threading.Lock()

    def current(self, source: Database | Session) -> Memo:
        """The memo for the database (or the database behind a session), as of now.

        The version is read before anything is worked out, so an answer read while a commit
        lands is filed under the older version and dropped with it. Requests answered from
        memory pass the :class:`Database` itself: a session they would never query costs
        more to make and close than the whole lookup.
        """
        db = source if isinstance(source, Database) else Database.of(source)
        version = db.data_version()
        memo = self._current
        if memo is not None and memo.db is db and memo.version == version:
            return memo
        with self._lock:
            memo = self._current
            if memo is not None and memo.db is db and memo.version >= version:
                # Same version, or a newer one installed by a request that started later:
                # a request this late may not file answers under the newer version.
                return memo if memo.version == version else Memo(db, version)
            memo = Memo(db, version)
            self._current = memo
            return memo
