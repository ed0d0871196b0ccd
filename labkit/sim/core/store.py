"""SQLite storage, one database file per service as in a real deployment.

Each room declares its tables on its own SQLAlchemy ``MetaData`` (its own declarative base)
and asks the runtime for a :class:`Database`. Files live in the state folder, so state
survives ``sim down``/``sim up``; ``sim reset`` deletes the folder.
"""

from __future__ import annotations

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
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite allows one writer at a time; taking this lock around write transactions
        # turns "database is locked" retries into a plain queue inside the process.
        self.write_lock = threading.RLock()

    def create_all(self) -> None:
        self.metadata.create_all(self.engine)

    def tables_exist(self) -> bool:
        from sqlalchemy import inspect

        existing = set(inspect(self.engine).get_table_names())
        return set(self.metadata.tables) <= existing

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self.write_lock, self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
