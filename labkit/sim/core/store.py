"""SQLite storage, one database file per service as in a real deployment.

Each room declares its tables on its own SQLAlchemy ``MetaData`` (its own declarative base)
and asks the runtime for a :class:`Database`. Files live in the state folder, so state
survives ``sim down``/``sim up``; ``sim reset`` deletes the folder.

A room that keeps what it read in memory (Keystone's token checks, Nova's cell mappings)
asks :meth:`Database.data_version` whether anything was committed since. That is a counter
this process keeps per database *file*, moved after every commit through any ``Database``
on that file (several objects may open one file: ``keystone-manage`` and the ``keystone``
process). It costs a lock and two reads; SQLite's own ``PRAGMA data_version`` costs a
statement on a connection of its own -- a call that lets go of the GIL, measured at up to
0.18 ms on a busy request path, asked dozens of times per Nova boot.

The counter does not see a write from another process, or through a raw ``sqlite3``
connection. None happens while the sim runs: the sim's server process alone opens the
state folder's databases (``labkit.sim.process`` starts at most one per folder, and the
CLI, the notebooks and the tests reach it over HTTP); other processes only touch the files
while it is stopped (``sim reset``, the test templates' copies), and a new process starts
with empty caches. The simulated ``mysql`` checks read the files with ``sqlite3`` but never
write.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError
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


class _Commits:
    """How many transactions this process has committed to one database file."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def bump(self) -> None:
        with self._lock:
            self.count += 1


_COMMITS: dict[str, _Commits] = {}
_COMMITS_LOCK = threading.Lock()


def _commits_of(path: Path) -> _Commits:
    """The one counter of the file at ``path``, however the path is spelled."""
    key = os.path.realpath(path)
    with _COMMITS_LOCK:
        found = _COMMITS.get(key)
        if found is None:
            found = _COMMITS[key] = _Commits()
        return found


def _count_commits(engine: Engine, commits: _Commits) -> None:
    """Move ``commits`` once each commit of ``engine`` has landed.

    After, not before: SQLAlchemy's ``commit`` event fires *before* the DBAPI commit, and a
    reader that saw the new number then could read the old rows and keep them under it.
    Every commit -- ORM sessions, Core connections, DDL -- ends in the dialect's
    ``do_commit`` (each engine has its own dialect object), so that is where it counts."""
    dialect = engine.dialect
    commit = dialect.do_commit

    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        finally:  # a commit that failed half-way may still have changed the file
            commits.bump()

    setattr(dialect, "do_commit", do_commit)  # noqa: B010 -- this engine's dialect only


def _run(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.Error as exc:  # raised as SQLAlchemy raises it (no such table ...)
        raise DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc


class Transaction:
    """A write transaction of :meth:`Database.transaction`: statements in SQLite's own SQL
    (``?`` parameters), run in order; rows come back as SQLite stores them."""

    def __init__(self, conn: sqlite3.Connection, dialect: Dialect) -> None:
        self.conn = conn
        self.dialect = dialect  # what :class:`.sql.PreparedWrite` compiles for

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """The rows of one statement (a SELECT, or a write with RETURNING; none else)."""
        return _run(self.conn, sql, params)


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
        self._commits = _commits_of(path)
        _count_commits(self.engine, self._commits)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, info={"database": self})
        # SQLite allows one writer at a time; taking this lock around write transactions
        # turns "database is locked" retries into a plain queue inside the process.
        self.write_lock = threading.RLock()
        self._openings = 1  # moved by dispose(): a reopened engine starts a new series
        self._plain = threading.local()  # each thread's connection for rows()

    @staticmethod
    def of(session: Session) -> Database:
        """The database a session from :meth:`read` or :meth:`write` belongs to."""
        database = session.info.get("database")
        if not isinstance(database, Database):
            raise TypeError("the session was not made by labkit.sim.core.store.Database")
        return database

    def data_version(self) -> tuple[int, int]:
        """A value that changes whenever a transaction commits to the file in this process.

        ``(openings, commits)``: how many times this object has been opened (a
        :meth:`dispose` starts a new series, so whatever was kept from before is dropped
        too), and the commits this process has made to the file through any ``Database``
        (see the module's docstring for why no other writer exists). A commit counts once
        it has landed, so a value read before reading rows is never newer than the rows.
        It only grows; compare only values from the same object."""
        return self._openings, self._commits.count

    @property
    def dialect(self) -> Dialect:
        return self.engine.dialect

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """The rows of one SELECT (SQLite's own SQL, ``?`` parameters), as SQLite stores
        them: the caller converts what SQLAlchemy's column types would (see
        :class:`.sql.Prepared`).

        For the reads every status poll makes, a session costs far more than SQLite takes
        to answer (making it, checking a connection out of the pool and back in, closing
        it). This runs the statement on a connection the calling thread keeps for itself,
        in autocommit mode: the SELECT sees what was committed when it starts -- what it
        sees in a session too, where pysqlite opens no transaction for a SELECT. Nothing
        here sees a session's uncommitted writes: read inside a write through the session."""
        return _run(self._connection(), sql, params)

    def _connection(self) -> sqlite3.Connection:
        """The calling thread's own connection, in autocommit mode."""
        plain = self._plain
        conn: sqlite3.Connection | None = getattr(plain, "conn", None)
        if conn is None or plain.opening != self._openings:  # first use, or a dispose()
            if conn is not None:
                conn.close()
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            _sqlite_pragmas(conn, None)
            plain.conn, plain.opening = conn, self._openings
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction on the calling thread's own connection (the one
        :meth:`rows` reads with), for statements compiled once (:class:`.sql.PreparedWrite`):
        a boot writes its instance's state a dozen times, and a session around each write
        costs several times what SQLite takes to make it.

        ``BEGIN IMMEDIATE`` under :attr:`write_lock` (the queue a session's write waits in
        too), ``COMMIT`` at the end -- ``ROLLBACK`` if the block raises -- and the commit
        counted for :meth:`data_version` as a session's is. Reads made through the
        transaction see its own writes; a session opened meanwhile does not."""
        with self.write_lock:
            conn = self._connection()
            _run(conn, "BEGIN IMMEDIATE")
            try:
                yield Transaction(conn, self.engine.dialect)
            except BaseException:
                conn.rollback()
                raise
            try:
                _run(conn, "COMMIT")
            except BaseException:
                conn.rollback()
                raise
            finally:
                self._commits.bump()  # a commit that failed half-way may have changed the file

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
        self._openings += 1
        self.engine.dispose()
