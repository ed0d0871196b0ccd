"""The Database wrapper: read sessions give their connection back, and data_version is what
in-memory readers (Keystone's token checks) compare to know that nothing was committed
since they read: a counter per file, moved once each commit in this process has landed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Integer, MetaData, event, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from labkit.sim.core.store import Database


class _Base(DeclarativeBase):
    metadata = MetaData()


class Row(_Base):
    __tablename__ = "row"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)


@pytest.fixture()
def db(tmp_path: Path):
    database = Database(tmp_path / "t.db", _Base.metadata)
    database.create_all()
    yield database
    database.dispose()


def test_reads_leave_the_version_alone(db: Database) -> None:
    before = db.data_version()
    with db.read() as s:
        list(s.scalars(select(Row)))
    assert db.data_version() == before


def test_a_write_through_the_same_database_changes_it(db: Database) -> None:
    before = db.data_version()
    with db.write() as s:
        s.add(Row(id=1))
    assert db.data_version() != before


def test_a_commit_through_another_database_object_changes_it(db: Database, tmp_path) -> None:
    before = db.data_version()
    other = Database(tmp_path / "t.db", _Base.metadata)
    with other.write() as s:
        s.execute(insert(Row).values(id=2))
    other.dispose()
    assert db.data_version() != before


def test_a_commit_through_another_spelling_of_the_path_changes_it(
    db: Database, tmp_path: Path
) -> None:
    before = db.data_version()
    (tmp_path / "sub").mkdir()
    other = Database(tmp_path / "sub" / ".." / "t.db", _Base.metadata)
    with other.write() as s:
        s.add(Row(id=5))
    other.dispose()
    assert db.data_version() != before


def test_a_core_commit_changes_it(db: Database) -> None:
    before = db.data_version()
    with db.engine.begin() as conn:
        conn.execute(insert(Row).values(id=3))
    assert db.data_version() != before


def test_it_moves_only_once_the_commit_has_landed(db: Database) -> None:
    """SQLAlchemy's commit event fires before the DBAPI commit: a reader asking then must
    still see the old version, or it could keep old rows under the new one."""
    seen: list[tuple[int, int]] = []

    def on_commit(_conn: object) -> None:
        seen.append(db.data_version())

    before = db.data_version()
    event.listen(db.engine, "commit", on_commit)
    try:
        with db.write() as s:
            s.add(Row(id=6))
    finally:
        event.remove(db.engine, "commit", on_commit)
    assert seen == [before]
    assert db.data_version() != before


def test_a_rolled_back_write_leaves_it_alone(db: Database) -> None:
    before = db.data_version()
    with pytest.raises(RuntimeError), db.write() as s:
        s.add(Row(id=4))
        s.flush()
        raise RuntimeError("abandon the transaction")
    assert db.data_version() == before


def test_versions_stay_distinct_across_dispose(db: Database) -> None:
    seen = db.data_version()
    db.dispose()
    assert db.data_version() != seen  # the watching connection was reopened


def test_a_session_knows_its_database(db: Database) -> None:
    with db.read() as s:
        assert Database.of(s) is db


def test_a_read_session_that_queried_gives_its_connection_back(db: Database) -> None:
    with db.read() as s:
        list(s.scalars(select(Row)))
        assert db.engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_read_session_that_never_queried_takes_no_connection(db: Database) -> None:
    with db.read():
        pass
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
