"""``neutron-db-manage`` in the sim: ``upgrade heads`` (or ``head``) and ``current``.

Like the real command it reads the ``--config-file`` arguments it is given for ``[database]
connection`` -- the Install Guide passes neutron.conf and ml2_conf.ini -- so a wrong password
or a missing grant fails here first.
"""

from __future__ import annotations

from typing import Any

from labkit.sim.core.store import Database
from labkit.sim.neutron import models as m

# Zed's heads (neutron/db/migration/alembic_migrations/versions/*_HEAD).
EXPAND_HEAD = "5881373af7f5"
CONTRACT_HEAD = "5c85685d616d"


def add_missing_tables(db: Database) -> list[str]:
    """Create the tables the models gained since this database was made; return their names.

    A real deployment gets them from ``neutron-db-manage upgrade heads`` (its migrations). A
    state folder made by an older labkit already ran it, and its learner will not run it
    again, so ``upgrade`` and the server processes call this: a database that has Neutron's
    schema (``networks``) gets the tables it lacks (``subnetpools`` ...), empty, as a
    migration would add them. An empty database is left to ``upgrade``."""
    from sqlalchemy import inspect

    existing = set(inspect(db.engine).get_table_names())
    if "networks" not in existing:
        return []
    missing = [t for t in db.metadata.sorted_tables if t.name not in existing]
    if missing:
        db.metadata.create_all(db.engine, tables=missing)  # checkfirst: a racing twin is fine
    names = [t.name for t in missing]
    if "networkrbacs" in names:
        _backfill_rbac(db)
    return names


def _backfill_rbac(db: Database) -> None:
    """The RBAC tables are new to this database: its shared and external networks and its
    shared subnet pools get the ``*`` entries Neutron would have made with them."""
    import uuid

    from sqlalchemy import select

    with db.write() as s:
        wanted: list[tuple[Any, str, str, str]] = [
            (m.NetworkRBAC, net.id, net.project_id, action)
            for net in s.scalars(select(m.Network))
            for action, on in (
                ("access_as_shared", net.shared),
                ("access_as_external", net.external),
            )
            if on
        ]
        wanted += [
            (m.SubnetPoolRBAC, pool.id, pool.project_id, "access_as_shared")
            for pool in s.scalars(select(m.SubnetPool).where(m.SubnetPool.shared.is_(True)))
        ]
        for model, object_id, owner, action in wanted:
            s.add(
                model(
                    id=str(uuid.uuid4()),
                    project_id=owner,
                    target_project="*",
                    action=action,
                    object_id=object_id,
                )
            )


def upgrade(db: Database) -> list[str]:
    lines = [
        "INFO  [alembic.runtime.migration] Context impl MySQLImpl.",
        "INFO  [alembic.runtime.migration] Will assume non-transactional DDL.",
        "  Running upgrade for neutron ...",
    ]
    add_missing_tables(db)
    if db.tables_exist():
        return [*lines, "  OK"]
    db.create_all()
    with db.write() as s:
        s.add(m.AlembicVersion(version_num=EXPAND_HEAD, note="expand"))
        s.add(m.AlembicVersion(version_num=CONTRACT_HEAD, note="contract"))
    return [
        *lines,
        "INFO  [alembic.runtime.migration] Running upgrade  -> kilo",
        "INFO  [alembic.runtime.migration] Running upgrade kilo -> 354db87e3225",
        "INFO  [alembic.runtime.migration] Running upgrade ... -> "
        f"{EXPAND_HEAD}, delete SG port bindings on SG deletion",
        f"INFO  [alembic.runtime.migration] Running upgrade ... -> {CONTRACT_HEAD}",
        "  OK",
    ]


def current(db: Database) -> list[str]:
    lines = ["  Running current for neutron ..."]
    if not db.tables_exist():
        return [*lines, "  OK"]
    return [*lines, f"{EXPAND_HEAD} (head)", f"{CONTRACT_HEAD} (head)", "  OK"]
