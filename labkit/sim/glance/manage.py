"""``glance-manage`` in the sim: ``db_sync`` (also spelt ``db sync``) and ``db version``.

Like the real command it reads ``/etc/glance/glance-api.conf`` for ``[database]
connection``, so a wrong password or a missing grant fails here first, as in the guide.
"""

from __future__ import annotations

from labkit.sim.core.store import Database

HEAD = "wallaby_contract01"  # Zed adds no migrations after Wallaby's


def db_sync(db: Database) -> list[str]:
    if db.tables_exist():
        return ["Database is up to date. No migrations needed."]
    db.create_all()
    return [
        "INFO  [alembic.runtime.migration] Context impl SQLiteImpl.",
        "INFO  [alembic.runtime.migration] Will assume non-transactional DDL.",
        "INFO  [alembic.runtime.migration] Running upgrade  -> liberty, liberty initial",
        "INFO  [alembic.runtime.migration] Running upgrade ... -> wallaby_expand01, "
        "add user_id, image_id and request_id to tasks",
        "Upgraded database to: wallaby_expand01, current revision(s): wallaby_expand01",
        "Database migration is up to date. No migration needed.",
        f"Upgraded database to: {HEAD}, current revision(s): {HEAD}",
        "Database is synced successfully.",
    ]


def db_version(db: Database) -> list[str]:
    if not db.tables_exist():
        return [
            "Database is either not under migration control or under legacy migration "
            'control, please run "glance-manage db sync" to place the database under '
            "alembic migration control."
        ]
    return [HEAD]
