"""``placement-manage db sync | db version`` and ``placement-status upgrade check``.

Both read ``[placement_database] connection`` from /etc/placement/placement.conf, so a wrong
password or a missing grant fails here first, as in the Install Guide. The upgrade check
prints oslo.upgradecheck's table; on a freshly synced database every check says Success.
"""

from __future__ import annotations

import textwrap

from sqlalchemy import func, select

from labkit.sim.core.store import Database
from labkit.sim.placement import classes
from labkit.sim.placement import models as m

# placement/db/sqlalchemy/alembic/versions in Zed (8.0.0), oldest first.
MIGRATIONS = (
    ("b4ed3a175331", "Initial"),
    ("611cd6dffd7b", "Block on null root_provider_id"),
    ("b5c396305c25", "Block on null consumer"),
    ("422ece571366", "Add consumer_types table"),
)
HEAD = MIGRATIONS[-1][0]
_CONTEXT = [
    "INFO  [alembic.runtime.migration] Context impl MySQLImpl.",
    "INFO  [alembic.runtime.migration] Will assume non-transactional DDL.",
]


def db_sync(db: Database, now: float) -> list[str]:
    if db.tables_exist():
        with db.write() as s:
            classes.ensure_standards(s, now)
        return list(_CONTEXT)
    db.create_all()
    with db.write() as s:
        classes.ensure_standards(s, now)
    lines = list(_CONTEXT)
    previous = ""
    for revision, title in MIGRATIONS:
        lines.append(
            f"INFO  [alembic.runtime.migration] Running upgrade {previous} -> {revision}, {title}"
        )
        previous = revision
    return lines


def db_version(db: Database) -> list[str]:
    return [HEAD] if db.tables_exist() else ["None"]


def _table(rows: list[tuple[str, str, str]]) -> list[str]:
    """oslo.upgradecheck's PrettyTable: one left-aligned column, a rule under every row."""
    title = "Upgrade Check Results"
    cells = []
    for name, result, details in rows:
        wrapped = textwrap.wrap(details, 60, subsequent_indent="  ") or ["None"]
        cells.append(
            [f"Check: {name}", f"Result: {result}", f"Details: {wrapped[0]}", *wrapped[1:]]
        )
    width = max(len(title), *(len(line) for cell in cells for line in cell))
    rule = "+" + "-" * (width + 2) + "+"
    out = [rule, f"| {title.ljust(width)} |", rule]
    for cell in cells:
        out += [f"| {line.ljust(width)} |" for line in cell]
        out.append(rule)
    return out


def upgrade_check(db: Database) -> tuple[int, list[str]]:
    """(exit code, output): 0 all Success, 1 a Warning, 255 an error (no tables)."""
    if not db.tables_exist():
        return 255, [
            "Error:",
            "Traceback (most recent call last):",
            '  File "/usr/lib/python3/dist-packages/oslo_upgradecheck/upgradecheck.py", '
            "line 196, in run",
            "    return conf.command.action_fn()",
            "sqlalchemy.exc.ProgrammingError: (pymysql.err.ProgrammingError) (1146, "
            "\"Table 'placement.resource_providers' doesn't exist\")",
        ]
    with db.read() as s:
        missing = s.scalar(
            select(func.count(func.distinct(m.Allocation.consumer_id)))
            .select_from(m.Allocation)
            .outerjoin(m.Consumer, m.Consumer.uuid == m.Allocation.consumer_id)
            .where(m.Consumer.id.is_(None))
        )
    rows = [("Missing Root Provider IDs", "Success", "None")]
    code = 0
    if missing:
        code = 1
        rows.append(
            (
                "Incomplete Consumers",
                "Warning",
                f"There are {missing} incomplete consumers table records for existing "
                'allocations. Run the "placement-manage db online_data_migrations" command.',
            )
        )
    else:
        rows.append(("Incomplete Consumers", "Success", "None"))
    rows.append(("Policy File JSON to YAML Migration", "Success", "None"))
    return code, _table(rows)
