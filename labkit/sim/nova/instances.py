"""Finding servers where Nova keeps them: a build request, cell0, or cell1.

A server nova-api has accepted but the conductor has not placed lives as a BuildRequest in
the API database; afterwards its InstanceMapping points at the cell that holds it. Lookups
and listings read all three, as Nova's API does.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import JSON, Integer, Text, bindparam, func, select, type_coerce

from labkit.sim.core.sql import Prepared
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
    "access_ip_v4",
    "access_ip_v6",
    "auto_disk_config",
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
    """(cell, instance) for a server that exists (not deleted), else None.

    Every ``server show`` (and ``--wait``'s polling) asks, so it reads plain columns: the
    mapping and its build request in one query, the instance as :func:`listing` reads a
    row (plus the console log), each shaped as :func:`as_dict` shapes it."""
    api = cells.api
    found = _FIND_MAPPING.one(api, uuid=uuid)
    if found is None:
        return None
    cell_id, build = found
    if build is not None:
        return None, _decode(build)
    if cell_id is None:
        # The conductor placed the server between the two reads: it drops the build
        # request and sets the mapping's cell in one commit, so the mapping read again
        # names the cell (Nova's API looks it up again in this case too).
        again = _FIND_CELL.one(api, uuid=uuid)
        cell_id = again[0] if again is not None else None
        if cell_id is None:  # and deleted since (or still without a cell)
            return None
    cell = next((c for c in cells.mappings() if c.id == cell_id), None)
    if cell is None:
        return None
    row = _FIND_INSTANCE.one(cells.cell(cell), uuid=uuid)
    if row is None or row[_DELETED_AT]:
        return None
    instance = _listed(row[:-1])
    instance["console"] = _decode(row[-1])
    return cell, instance


# ---- listing -------------------------------------------------------------------------------
# A listing of 1,000 servers (``server list``, and every quota check) must not build 1,000
# ORM objects nor run SQLAlchemy's JSON processor 7,000 times: it selects plain columns, the
# JSON ones as their stored text, and decodes that text itself. It leaves out the console
# log, which only ``os-getConsoleOutput`` reads (through :func:`find`).

_LIST_FIELDS = tuple(name for name in _FIELDS if name != "console")
_UUID_AT = _LIST_FIELDS.index("uuid")
_DELETED_AT = _LIST_FIELDS.index("deleted")
_JSON_FIELDS = frozenset(
    name
    for name in (*_LIST_FIELDS, "metadata_")
    if isinstance(getattr(m.Instance, name).type, JSON)
)
_JSON_LIST_FIELDS = tuple(name for name in _LIST_FIELDS if name in _JSON_FIELDS)
_LIST_COLUMNS = tuple(
    type_coerce(getattr(m.Instance, name), Text)
    if name in _JSON_FIELDS
    else getattr(m.Instance, name)
    for name in (*_LIST_FIELDS, "metadata_", "id")
)
# find()'s reads, compiled once and run outside any session (see core/sql.py): the mapping
# with its build request, if any (and the mapping alone, read again); the instance in its
# cell, with its console log
_FIND_MAPPING = Prepared(
    select(m.InstanceMapping.cell_id, type_coerce(m.BuildRequest.instance, Text))
    .outerjoin(m.BuildRequest, m.BuildRequest.instance_uuid == bindparam("uuid"))
    .where(m.InstanceMapping.instance_uuid == bindparam("uuid"))
)
_FIND_CELL = Prepared(
    select(m.InstanceMapping.cell_id).where(m.InstanceMapping.instance_uuid == bindparam("uuid"))
)
_FIND_INSTANCE = Prepared(
    select(*_LIST_COLUMNS, type_coerce(m.Instance.console, Text)).where(
        m.Instance.uuid == bindparam("uuid")
    )
)
_EMPTY_JSON: dict[str, Any] = {"[]": list, "{}": dict, "null": lambda: None}


def _decode(text: str | None) -> Any:
    """What SQLAlchemy's JSON type would give for the stored text; a fresh object each time
    (callers may change it), the empty ones made without the parser."""
    if text is None:
        return None
    empty = _EMPTY_JSON.get(text)
    return empty() if empty is not None else json.loads(text)


def _listed(row: Any) -> dict[str, Any]:
    """One selected row, shaped as :func:`as_dict` shapes an Instance (without ``console``)."""
    data = dict(zip(_LIST_FIELDS, row, strict=False))
    for name in _JSON_LIST_FIELDS:
        data[name] = _decode(data[name])
    data["metadata"] = _decode(row[-2]) or {}
    data["id"] = row[-1]
    return data


def listing(
    cells: NovaCells, project_id: str | None, include_deleted: bool = False
) -> list[dict[str, Any]]:
    """Every server of a project (or of all projects), newest first, as Nova sorts them.
    Each is shaped as :func:`as_dict` shapes it, without the console log.

    The build requests are read first, then each cell. The conductor writes a server into
    its cell *before* it drops the build request, and may do both between those reads, so
    one server can be found twice: each uuid is listed once, the first copy found kept --
    the build request's, as ``compute/api.py get_all``'s unique filter keeps it (both
    copies say BUILD; the next listing has only the cell's)."""
    found: list[dict[str, Any]] = []
    scope = {"project": project_id} if project_id else {}
    building = _BUILDING_OF if project_id else _BUILDING
    found += [instance for (instance,) in building.all(cells.api, **scope)]
    seen = {instance["uuid"] for instance in found}
    placed = _PLACED[(bool(project_id), include_deleted)]
    for _, db in cells.all():
        for row in placed.all(db, **scope):
            if row[_UUID_AT] not in seen:
                seen.add(row[_UUID_AT])
                found.append(_listed(row))
    found.sort(key=lambda i: (i.get("created_at") or "", i["uuid"]), reverse=True)
    return found


# listing()'s reads, compiled once (core/sql.py): the build requests (of a project, or all)
# and each cell's servers (of a project or all, deleted ones too or not)
_BUILDING = Prepared(select(m.BuildRequest.instance))
_BUILDING_OF = Prepared(
    select(m.BuildRequest.instance).where(m.BuildRequest.project_id == bindparam("project"))
)


def _placed(of_project: bool, include_deleted: bool) -> Prepared:
    query = select(*_LIST_COLUMNS)
    if of_project:
        query = query.where(m.Instance.project_id == bindparam("project"))
    if not include_deleted:
        query = query.where(m.Instance.deleted.is_(False))
    return Prepared(query)


_PLACED = {
    (mine, deleted): _placed(mine, deleted) for mine in (True, False) for deleted in (True, False)
}


def count_usage(cells: NovaCells, project_id: str) -> dict[str, int]:
    """instances, cores and ram in use by a project (Nova counts from the cells): the
    project's build requests and its servers not deleted, reading only the fields the
    count needs (every create asks, so it must not load whole servers). A server the
    conductor is moving into its cell between the reads is counted once (see
    :func:`listing`)."""
    usage = {"instances": 0, "cores": 0, "ram": 0}
    # SQLite's json_extract reads the two numbers out of the stored flavor, so no server's
    # JSON is decoded in Python.
    flavors: dict[str, tuple[Any, Any]] = {}
    for uuid, vm_state, vcpus, ram in _BUILDING_FLAVORS.all(cells.api, project=project_id):
        if vm_state != "deleted":
            flavors[uuid] = (vcpus, ram)
    for _, db in cells.all():
        for uuid, vcpus, ram in _PLACED_FLAVORS.all(db, project=project_id):
            flavors.setdefault(uuid, (vcpus, ram))
    for vcpus, ram in flavors.values():
        usage["instances"] += 1
        usage["cores"] += int(vcpus)
        usage["ram"] += int(ram)
    return usage


# count_usage's reads (compiled once, core/sql.py): SQLite's json_extract reads the two
# numbers out of the stored flavor, so no server's JSON is decoded in Python
_BUILDING_FLAVORS = Prepared(
    select(
        m.BuildRequest.instance_uuid,
        func.json_extract(m.BuildRequest.instance, "$.vm_state", type_=Text),
        func.json_extract(m.BuildRequest.instance, "$.flavor.vcpus", type_=Integer),
        func.json_extract(m.BuildRequest.instance, "$.flavor.memory_mb", type_=Integer),
    ).where(m.BuildRequest.project_id == bindparam("project"))
)
_PLACED_FLAVORS = Prepared(
    select(
        m.Instance.uuid,
        func.json_extract(m.Instance.flavor, "$.vcpus", type_=Integer),
        func.json_extract(m.Instance.flavor, "$.memory_mb", type_=Integer),
    ).where(
        m.Instance.project_id == bindparam("project"),
        m.Instance.deleted.is_(False),
        m.Instance.vm_state != "deleted",
    )
)


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
