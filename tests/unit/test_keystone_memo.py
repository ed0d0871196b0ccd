"""Keystone's memo of database answers: kept for one database version, never longer."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Integer, MetaData, insert
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from labkit.sim.core.store import Database
from labkit.sim.keystone.memo import Memos


class _Base(DeclarativeBase):
    metadata = MetaData()


class Row(_Base):
    __tablename__ = "row"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)


@pytest.fixture()
def db(tmp_path: Path):
    database = Database(tmp_path / "memo.db", _Base.metadata)
    database.create_all()
    yield database
    database.dispose()


def _commit(db: Database, row_id: int) -> None:
    with db.write() as s:
        s.execute(insert(Row).values(id=row_id))


def _counting() -> tuple[list[int], object]:
    calls: list[int] = []

    def work_out(_session: object) -> int:
        calls.append(1)
        return len(calls)

    return calls, work_out


def test_an_answer_is_worked_out_once_per_version(db: Database) -> None:
    memos = Memos()
    calls, work_out = _counting()
    with db.read() as s:
        assert memos.current(s).get("k", work_out) == 1
        assert memos.current(s).get("k", work_out) == 1
    assert len(calls) == 1


def test_a_commit_makes_the_next_request_work_it_out_again(db: Database) -> None:
    memos = Memos()
    calls, work_out = _counting()
    with db.read() as s:
        memos.current(s).get("k", work_out)
    _commit(db, 1)
    with db.read() as s:
        assert memos.current(s).get("k", work_out) == 2
    assert len(calls) == 2


def test_a_failure_is_not_kept(db: Database) -> None:
    memos = Memos()
    attempts: list[int] = []

    def flaky(_session: object) -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise LookupError("not there yet")
        return "found"

    with db.read() as s:
        with pytest.raises(LookupError):
            memos.current(s).get("k", flaky)
        assert memos.current(s).get("k", flaky) == "found"
    assert len(attempts) == 2


def test_a_request_that_read_an_older_version_does_not_replace_the_newer_memo(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    memos = Memos()
    with db.read() as s:
        newer = memos.current(s)
        older = (newer.version[0], newer.version[1] - 1)
        # A request that read the version just before a commit, and comes in after it.
        monkeypatch.setattr(db, "data_version", lambda: older)
        late = memos.current(s)
        monkeypatch.undo()
        assert late is not newer and late.version == older
        assert memos.current(s) is newer
