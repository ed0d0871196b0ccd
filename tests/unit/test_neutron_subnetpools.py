"""Subnet pools' prefix arithmetic, and the tables an older state folder gains."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from labkit.sim.core.store import Database
from labkit.sim.neutron import manage
from labkit.sim.neutron import models as m
from labkit.sim.neutron.subnetpools import compact


def test_overlapping_and_adjacent_prefixes_are_merged() -> None:
    assert compact(["10.0.0.0/24", "10.0.0.0/16"]) == ["10.0.0.0/16"]
    assert compact(["10.0.1.0/24", "10.0.0.0/24"]) == ["10.0.0.0/23"]
    assert compact(["10.0.0.0/24", "10.0.2.0/24"]) == ["10.0.0.0/24", "10.0.2.0/24"]


def test_a_database_from_before_subnet_pools_gains_their_tables(tmp_path: Path) -> None:
    db = Database(tmp_path / "neutron.sqlite", m.Base.metadata)
    try:
        old = [t for t in m.Base.metadata.sorted_tables if not t.name.startswith("subnetpool")]
        m.Base.metadata.create_all(db.engine, tables=old)
        assert not db.tables_exist()
        assert sorted(manage.add_missing_tables(db)) == [
            "subnetpoolprefixes",
            "subnetpoolrbacs",
            "subnetpools",
        ]
        assert db.tables_exist()
        assert manage.add_missing_tables(db) == []
    finally:
        db.dispose()


def test_an_empty_database_is_left_to_neutron_db_manage(tmp_path: Path) -> None:
    db = Database(tmp_path / "neutron.sqlite", m.Base.metadata)
    try:
        assert manage.add_missing_tables(db) == []
        assert inspect(db.engine).get_table_names() == []
    finally:
        db.dispose()


def test_a_database_from_before_rbac_gets_the_shared_entries(tmp_path: Path) -> None:
    """Shared and external networks and shared pools of an older state folder get the '*'
    entries Neutron made with them, so they stay visible and counted."""
    db = Database(tmp_path / "neutron.sqlite", m.Base.metadata)
    new = {"networkrbacs", "subnetpoolrbacs", "securitygrouprbacs"}
    try:
        m.Base.metadata.create_all(
            db.engine, tables=[t for t in m.Base.metadata.sorted_tables if t.name not in new]
        )
        with db.write() as s:
            for net_id, shared, external in (
                ("n1", True, False),
                ("n2", False, True),
                ("n3", False, False),
            ):
                s.add(
                    m.Network(
                        id=net_id,
                        project_id="p",
                        shared=shared,
                        external=external,
                        standard_attr_id=0,
                        created_at=0.0,
                        updated_at=0.0,
                    )
                )
        assert sorted(manage.add_missing_tables(db)) == sorted(new)
        with db.read() as s:
            entries = sorted(
                (r.object_id, r.action, r.target_project, r.project_id)
                for r in s.query(m.NetworkRBAC)
            )
        assert entries == [
            ("n1", "access_as_shared", "*", "p"),
            ("n2", "access_as_external", "*", "p"),
        ]
    finally:
        db.dispose()
