"""Nova's services keep the cell mappings they read (every boot step asks for cell1), and
see at once what ``nova-manage cell_v2`` changes -- it writes through its own connection to
the API database, as the real command does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import delete, update

from labkit.sim.core.store import Database
from labkit.sim.nova import models as m
from labkit.sim.nova.service import CELL0, NovaCells, NovaProcess


class _Process:
    """What NovaCells needs of a Nova process: ``open_db`` (one Database per URL)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.opened: dict[str, Database] = {}

    def open_db(self, url: str, metadata: Any) -> Database:
        if url not in self.opened:
            self.opened[url] = Database(self.folder / f"{url}.db", metadata)
        return self.opened[url]


@pytest.fixture()
def cells(tmp_path: Path) -> Iterator[tuple[NovaCells, Database]]:
    process = _Process(tmp_path)
    found = NovaCells(cast(NovaProcess, process), "nova_api")
    found.api.create_all()
    manage = Database(tmp_path / "nova_api.db", m.ApiBase.metadata)  # nova-manage's own
    yield found, manage
    manage.dispose()
    for db in process.opened.values():
        db.dispose()


def _add(db: Database, uuid: str, name: str) -> None:
    with db.write() as s:
        s.add(
            m.CellMapping(uuid=uuid, name=name, transport_url="rabbit://", database_connection=name)
        )


def test_new_cells_are_seen_at_once(cells: tuple[NovaCells, Database]) -> None:
    found, manage = cells
    assert found.mappings() == []
    assert found.cell1() is None
    _add(manage, CELL0, "cell0")  # cell_v2 map_cell0
    assert [c.name for c in found.mappings()] == ["cell0"]
    assert found.cell1() is None
    _add(manage, "c1", "cell1")  # cell_v2 create_cell
    cell1 = found.cell1()
    assert cell1 is not None and cell1[0].name == "cell1"
    assert [c.name for c, _ in found.all()] == ["cell0", "cell1"]


def test_renamed_and_deleted_cells_are_seen_at_once(cells: tuple[NovaCells, Database]) -> None:
    found, manage = cells
    _add(manage, CELL0, "cell0")
    _add(manage, "c1", "cell1")
    assert found.cell1() is not None
    with manage.write() as s:  # cell_v2 update_cell --name
        s.execute(update(m.CellMapping).where(m.CellMapping.uuid == "c1").values(name="renamed"))
    cell1 = found.cell1()
    assert cell1 is not None and cell1[0].name == "renamed"
    with manage.write() as s:  # cell_v2 delete_cell
        s.execute(delete(m.CellMapping).where(m.CellMapping.uuid == "c1"))
    assert found.cell1() is None
    assert [c.name for c in found.mappings()] == ["cell0"]


def test_callers_cannot_change_the_kept_list(cells: tuple[NovaCells, Database]) -> None:
    found, manage = cells
    _add(manage, CELL0, "cell0")
    found.mappings().clear()
    assert len(found.mappings()) == 1


def test_an_unrelated_commit_rereads_the_rows_but_keeps_the_mappings(
    cells: tuple[NovaCells, Database],
) -> None:
    """Every server created commits to nova_api: the cell rows are compared, not remade."""
    found, manage = cells
    _add(manage, CELL0, "cell0")
    before = found.mappings()
    with manage.write() as s:  # a build request, as nova-api writes one per server
        s.add(m.BuildRequest(instance_uuid="i1", project_id="p", instance={}))
    after = found.mappings()
    assert [id(c) for c in after] == [id(c) for c in before]
    with manage.write() as s:  # cell_v2 update_cell --transport-url
        s.execute(
            update(m.CellMapping)
            .where(m.CellMapping.uuid == CELL0)
            .values(transport_url="rabbit://new")
        )
    assert [c.transport_url for c in found.mappings()] == ["rabbit://new"]
