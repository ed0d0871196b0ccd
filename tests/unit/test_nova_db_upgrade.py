"""A state folder made by an older labkit gets the Nova tables added since (``aggregates``,
``quota_classes``) when a service opens its database, as db sync's migrations would add
them; a database that was never synced is left alone for ``nova-manage api_db sync``."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect

from labkit.sim.nova import models as m


def test_a_synced_api_database_gets_the_new_table(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'nova_api.sqlite'}")
    new = {"aggregates", "quota_classes"}
    old = [t for t in m.ApiBase.metadata.sorted_tables if t.name not in new]
    m.ApiBase.metadata.create_all(engine, tables=old)
    assert not new & set(inspect(engine).get_table_names())
    assert sorted(m.add_missing_tables(engine, m.ApiBase.metadata)) == sorted(new)
    assert new <= set(inspect(engine).get_table_names())
    assert m.add_missing_tables(engine, m.ApiBase.metadata) == []  # once only


def test_a_database_never_synced_stays_empty(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'nova_api.sqlite'}")
    assert m.add_missing_tables(engine, m.ApiBase.metadata) == []
    assert inspect(engine).get_table_names() == []
