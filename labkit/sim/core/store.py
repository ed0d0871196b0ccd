"""SQLite storage, one database file per service as in a real deployment.

Each room declares its tables on its own SQLAlchemy ``MetaData`` (its own declarative base)
and asks the runtime for a :class:`Database`. Files live in the state folder, so state
survives ``sim down``/``sim up``; ``sim reset`` deletes the folder.

A room that keeps what it read in memory (Keystone's token checks) asks
:meth:`Database.data_version` whether anything was committed since: SQLite's own change
counter, so a commit through any connection -- another ``Database`` on the same file, or
another process -- is seen, not only this object's writes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers proceed while a writer commits; NORMAL sync is durable enough for a lab
    # and keeps a token issue in the low milliseconds.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


class Database:
    """One service's database: ``<state>/<name>.db``."""

    def __init__(self, path: Path, metadata: MetaData) -> None:
        self.path = path
        self.metadata = metadata
        path.parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(
            f"sqlite:///{path}",
            connect_args={"check_same_thread": False, "timeout": 10},
            pool_size=8,
            max_overflow=8,
        )
        event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, info={"database": self})
        # SQLite allows one writer at a time; taking this lock around write transactions
        # turns "database is locked" retries into a plain queue inside the process.
        self.write_lock = threading.RLock()
        self._watch: sqlite3.Connection | None = None
        self._watch_lock = threading.Lock()
        self._watch_openings = 0

    @staticmethod
    def of(session: Session) -> Database:
        """The database a session from :meth:`read` or :meth:`write` belongs to."""
        database = session.info.get("database")
        if not isinstance(database, Database):
            raise TypeError("the session was not made by labkit.sim.core.store.Database")
        return database

    def data_version(self) -> tuple[int, int]:
        """A value that changes whenever a transaction that changed the file commits.

        ``PRAGMA data_version`` on one connection moves when any *other* connection commits;
        the watching connection only ever asks that, so every commit counts. Its numbering
        restarts when the connection is reopened (after :meth:`dispose`), hence the first
        element, which counts the openings. Compare only values from the same object.
        """
        with self._watch_lock:
            if self._watch is None:
                self._watch = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False
                )
                self._watch_openings += 1
            row = self._watch.execute("PRAGMA data_version").fetchone()
            return self._watch_openings, int(row[0])

    def create_all(self) -> None:
        self.metadata.create_all(self.engine)

    def tables_exist(self) -> bool:
        from sqlalchemy import inspect

        existing = set(inspect(self.engine).get_table_names())
        return set(self.metadata.tables) <= existing

    @contextmanager
    def read(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
        finally:
            # A session that never queried holds no connection and no objects; closing it
            # would cost more than making it (callers answering from memory open many).
            if session.in_transaction() or session.identity_map:
                session.close()

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self.write_lock, self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        with self._watch_lock:
            if self._watch is not None:
                self._watch.close()
                self._watch = None
        self.engine.dispose()
