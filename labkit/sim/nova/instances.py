"""Finding servers where Nova keeps them: a build request, cell0, or cell1.

A server nova-api has accepted but the conductor has not placed lives as a BuildRequest in
the API database; afterwards its InstanceMapping points at the cell that holds it. Lookups
and listings read all three, as Nova's API does.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from labkit.sim.nova import models as m
from labkit.sim.nova.service import NovaCells

_FIELDS = (
    "uuid",
    "display_name",
    "display_description",
    "project_id",
    "user_id",
    "image_ref",
    "flavor",
    "vm_state",
    "task_state",
    "power_state",
    "host",
    "node",
    "availability_zone",
    "key_name",
    "key_data",
    "user_data",
    "config_drive",
    "hostname",
    "launch_index",
    "reservation_id",
    "tags",
    "network_info",
    "security_groups",
    "locked",
    "locked_reason",
    "progress",
    "created_at",
    "updated_at",
    "launched_at",
    "terminated_at",
    "deleted",
    "console",
    "fault",
)


def as_dict(row: m.Instance) -> dict[str, Any]:
    data = {name: getattr(row, name) for name in _FIELDS}
    data["metadata"] = dict(row.metadata_ or {})
    data["id"] = row.id
    return data


def find(cells: NovaCells, uuid: str) -> tuple[m.CellMapping | None, dict[str, Any]] | None:
    """(cell, instance) for a server that exists (not deleted), else None."""
    with cells.api.read() as s:
        mapping = s.get(m.InstanceMapping, uuid)
        if mapping is None:
            return None
        build = s.get(m.BuildRequest, uuid)
        if build is not None:
            return None, dict(build.instance)
        cell = s.get(m.CellMapping, mapping.cell_id) if mapping.cell_id is not None else None
    if cell is None:
        return None
    with cells.cell(cell).read() as s:
        row = s.scalars(select(m.Instance).where(m.Instance.uuid == uuid)).first()
        if row is None or row.deleted:
            return None
        return cell, as_dict(row)


def listing(
    cells: NovaCells, project_id: str | None, include_deleted: bool = False
) -> list[dict[str, Any]]:
    """Every server of a project (or of all projects), newest first, as Nova sorts them."""
    found: list[dict[str, Any]] = []
    with cells.api.read() as s:
        query = select(m.BuildRequest)
        if project_id:
            query = query.where(m.BuildRequest.project_id == project_id)
        found += [dict(b.instance) for b in s.scalars(query)]
    for _, db in cells.all():
        with db.read() as s:
            query2 = select(m.Instance)
            if project_id:
                query2 = query2.where(m.Instance.project_id == project_id)
            if not include_deleted:
                query2 = query2.where(m.Instance.deleted.is_(False))
            found += [as_dict(r) for r in s.scalars(query2)]
    found.sort(key=lambda i: (i.get("created_at") or "", i["uuid"]), reverse=True)
    return found


def count_usage(cells: NovaCells, project_id: str) -> dict[str, int]:
    """instances, cores and ram in use by a project (Nova counts from the cells)."""
    usage = {"instances": 0, "cores": 0, "ram": 0}
    for inst in listing(cells, project_id):
        if inst.get("vm_state") == "deleted":
            continue
        usage["instances"] += 1
        usage["cores"] += int(inst["flavor"]["vcpus"])
        usage["ram"] += int(inst["flavor"]["memory_mb"])
    return usage


# ---- hostnames -----------------------------------------------------------------------------


def sanitize_hostname(name: str, default: str | None = None) -> str:
    """The hostname Nova derives from a display name (``nova/utils.py sanitize_hostname``):
    Latin-1 only, at most 63 characters (dnsmasq's limit), spaces, underscores and dots
    made dashes, anything else but letters, digits and dashes dropped, lowercase, no
    leading or trailing dots or dashes; ``default`` (Nova's ``Server-<uuid>``, taken as it
    is) when nothing is left."""
    text = name.encode("latin-1", "ignore").decode("latin-1")[:63]
    text = re.sub(r"[ _.]", "-", text)
    text = re.sub(r"[^\w.-]+", "", text).lower().strip(".-")
    if not text and default is not None:
        return default[:63]
    return text
