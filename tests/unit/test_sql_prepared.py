"""core/sql.py's Prepared statements read what a session reads: the same rows in the same
order, each value as the column's type gives it, the same errors -- on a connection of the
calling thread, outside any session, seeing every commit and never a session's uncommitted
writes. Its PreparedWrite statements store what a session stores, in a
Database.transaction() that commits (and counts the commit) or leaves nothing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    func,
    insert,
    select,
    type_coerce,
    update,
)
from sqlalchemy.exc import OperationalError

from labkit.sim.core.sql import Prepared, PreparedWrite
from labkit.sim.core.store import Database

_META = MetaData()
_THINGS = Table(
    "things",
    _META,
    Column("id", Integer, primary_key=True),
    Column("name", String(20)),
    Column("ratio", Float),
    Column("on", Boolean),
    Column("data", JSON),
)
_BY_NAME = Prepared(
    select(*_THINGS.c).where(_THINGS.c.name == bindparam("name")).order_by(_THINGS.c.id)
)
_ALL = Prepared(select(*_THINGS.c).order_by(_THINGS.c.id))


@pytest.fixture()
def db(tmp_path: Path):
    database = Database(tmp_path / "t.db", _META)
    database.create_all()
    with database.write() as s:
        s.execute(
            insert(_THINGS),
            [
                {"name": "a", "ratio": 1.5, "on": True, "data": {"k": [1, 2]}},
                {"name": "b", "ratio": 2, "on": False, "data": None},
                {"name": "a", "ratio": None, "on": None, "data": []},
            ],
        )
    yield database
    database.dispose()


def _session_rows(db: Database, statement: Any, **values: Any) -> list[tuple[Any, ...]]:
    with db.read() as s:
        return [tuple(row) for row in s.execute(statement, values)]


def test_rows_equal_what_a_session_reads(db: Database) -> None:
    assert _ALL.all(db) == _session_rows(db, _ALL.statement)
    assert _BY_NAME.all(db, name="a") == _session_rows(db, _BY_NAME.statement, name="a")
    assert [type(v) for v in _ALL.all(db)[0]] == [int, str, float, bool, dict]
    assert _BY_NAME.one(db, name="zzz") is None


def test_values_written_into_the_statement_are_parameters_too(db: Database) -> None:
    statement = select(_THINGS.c.id, func.json_extract(_THINGS.c.data, "$.k", type_=Text)).where(
        _THINGS.c.name != "b", _THINGS.c.id > bindparam("after")
    )
    prepared = Prepared(statement)
    assert prepared.all(db, after=0) == _session_rows(db, statement, after=0)
    # the stored text of a JSON column, when asked for as text
    as_text = Prepared(select(type_coerce(_THINGS.c.data, Text)).order_by(_THINGS.c.id))
    assert as_text.all(db) == [('{"k": [1, 2]}',), ("null",), ("[]",)]


def test_commits_from_other_threads_and_objects_are_seen(db: Database, tmp_path: Path) -> None:
    assert len(_ALL.all(db)) == 3
    other = Database(tmp_path / "t.db", _META)

    def write() -> None:
        with other.write() as s:
            s.execute(insert(_THINGS), [{"name": "c"}])

    thread = threading.Thread(target=write)
    thread.start()
    thread.join()
    assert [row[1] for row in _ALL.all(db)] == ["a", "b", "a", "c"]
    other.dispose()


def test_uncommitted_writes_are_not_seen(db: Database) -> None:
    with db.write() as s:
        s.execute(insert(_THINGS), [{"name": "d"}])
        assert _BY_NAME.all(db, name="d") == []  # the session reads it; Prepared does not
    assert len(_BY_NAME.all(db, name="d")) == 1


def test_a_dispose_opens_the_file_again(tmp_path: Path, db: Database) -> None:
    assert len(_ALL.all(db)) == 3
    db.dispose()
    (tmp_path / "t.db").unlink()
    for leftover in tmp_path.glob("t.db-*"):
        leftover.unlink()
    db.create_all()
    assert _ALL.all(db) == []


def test_errors_are_sqlalchemys(tmp_path: Path) -> None:
    empty = Database(tmp_path / "empty.db", _META)
    with pytest.raises(OperationalError) as raised:
        _ALL.all(empty)
    with pytest.raises(OperationalError) as from_session, empty.read() as s:
        s.execute(_ALL.statement)
    assert str(raised.value) == str(from_session.value)
    empty.dispose()


def test_columns_it_cannot_convert_are_refused() -> None:
    stamps = Table("stamps", MetaData(), Column("at", DateTime))
    with pytest.raises(TypeError):
        Prepared(select(stamps.c.at))


# ---- PreparedWrite and Database.transaction ---------------------------------------------------

_ADD = PreparedWrite(
    insert(_THINGS)
    .values(name=bindparam("name"), on=bindparam("on"), data=bindparam("data"))
    .returning(_THINGS.c.id, _THINGS.c.data)
)
_RENAME = PreparedWrite(
    update(_THINGS)
    .where(_THINGS.c.name.in_(bindparam("names", expanding=True)))
    .values(name=bindparam("new"))
    .returning(_THINGS.c.id)
)
_NAMED_ANY = Prepared(
    select(_THINGS.c.id).where(_THINGS.c.name.in_(bindparam("names", expanding=True)))
)


def test_a_prepared_write_stores_what_a_session_stores(db: Database, tmp_path: Path) -> None:
    other = Database(tmp_path / "other.db", _META)
    other.create_all()
    rows = [{"name": "e", "on": True, "data": {"k": 1}}, {"name": "f", "on": False, "data": None}]
    with db.transaction() as tx:
        made = [_ADD.run(tx, **row) for row in rows]
    with other.write() as s:
        for row in rows:
            s.execute(insert(_THINGS).values(**row))
    stored = "SELECT name, ratio, \"on\", data, typeof(data) FROM things WHERE name IN ('e', 'f')"
    assert db.rows(stored) == other.rows(stored)  # JSON None stored as 'null', as SQLAlchemy
    assert made == [[(4, {"k": 1})], [(5, None)]]  # RETURNING rows, converted as a read's
    other.dispose()


def test_a_transaction_commits_once_and_counts_the_commit(db: Database) -> None:
    before = db.data_version()
    with db.transaction() as tx:
        assert _RENAME.run(tx, names=["a", "b"], new="z") == [(1,), (2,), (3,)]
        assert _NAMED_ANY.all(tx, names=["z"]) == [(1,), (2,), (3,)]  # its own writes
    assert db.data_version() != before
    assert _NAMED_ANY.all(db, names=["z", "nothing"]) == [(1,), (2,), (3,)]
    assert _NAMED_ANY.all(db, names=[]) == []


def test_a_transaction_that_raises_leaves_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as tx:
        _RENAME.run(tx, names=["a"], new="y")
        raise RuntimeError("stop")
    assert _NAMED_ANY.all(db, names=["y"]) == []
    with db.transaction() as tx:  # the connection is usable again
        assert _RENAME.run(tx, names=["b"], new="y") == [(2,)]
