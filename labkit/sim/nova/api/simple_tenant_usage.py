"""``/os-simple-tenant-usage``: hours, vCPU-, RAM- and disk-hours per project over a window
(``simple_tenant_usage.py`` in Nova), from every cell's servers -- deleted ones too -- by their
``launched_at`` / ``terminated_at`` and flavor, on the sim's clock.

A server counts from when it launched (or the window's start) to when it was deleted (or
the window's end, which is never later than now); one that never launched counts nothing.
Listing every project is admin-only; one project's usage is for its readers and admins.
From 2.40 the servers can be paged with ``limit`` and ``marker`` (next links as Nova's).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.nova import instances
from labkit.sim.nova.api._helpers import (
    MAX_LIMIT,
    microversion_at_least,
    next_link,
    nova,
    owner_or_admin,
    query_int,
    require_admin,
)
from labkit.sim.nova.errors import bad_request

routes = Routes()
_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f")
_TIME = "%Y-%m-%dT%H:%M:%S.%f"


def _now(call: Call) -> datetime:
    return nova(call).runtime.now().astimezone(UTC).replace(tzinfo=None)


def _parse(call: Call, text: str | None) -> datetime:
    if not text:
        return _now(call)
    for fmt in _FORMATS:
        try:
            value = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return value.replace(tzinfo=None)
    raise bad_request("Invalid datetime string: Datetime is in invalid format")


def _stamp(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).replace(tzinfo=None) if text else None


def _window(call: Call) -> tuple[datetime, datetime]:
    # (the query's schema was checked before the handler: api/query.py)
    start = _parse(call, call.query.get("start"))
    stop = _parse(call, call.query.get("end"))
    if not start < stop:
        raise bad_request("Invalid start time. The start time cannot occur after the end time.")
    return start, min(stop, _now(call))


def _hours(inst: dict[str, Any], start: datetime, stop: datetime) -> float:
    launched, ended = _stamp(inst.get("launched_at")), _stamp(inst.get("terminated_at"))
    if launched is None or (ended is not None and ended < start) or launched > stop:
        return 0.0
    span = min(stop, ended) if ended is not None else stop
    return (span - max(launched, start)).total_seconds() / 3600.0


def _active_in(inst: dict[str, Any], start: datetime, stop: datetime) -> bool:
    launched, ended = _stamp(inst.get("launched_at")), _stamp(inst.get("terminated_at"))
    return launched is not None and launched < stop and (ended is None or ended > start)


def _servers(
    call: Call, project_id: str | None, start: datetime, stop: datetime
) -> list[dict[str, Any]]:
    """``get_active_by_window_joined`` across the cells: launched before the window ends,
    not deleted before it starts; sorted by project and uuid; paged from 2.40."""
    found = [
        i
        for i in instances.listing(nova(call).nova_cells, project_id, include_deleted=True)
        if _active_in(i, start, stop)
    ]
    found.sort(key=lambda i: (i["project_id"], i["uuid"]))
    if not microversion_at_least(call, "2.40"):
        return found[:MAX_LIMIT]
    marker = call.query.get("marker")
    if marker is not None:
        ids = [i["uuid"] for i in found]
        if marker not in ids:
            raise bad_request(f"Marker {marker} could not be found.")
        found = found[ids.index(marker) + 1 :]
    return found[: _limit(call)]


def _limit(call: Call) -> int:
    limit = query_int(call, "limit", MAX_LIMIT)
    if limit is None or limit < 0:
        raise bad_request(f"Invalid input for query parameters limit. Value: {limit}.")
    return min(limit or MAX_LIMIT, MAX_LIMIT)


def _usages(
    call: Call, servers: list[dict[str, Any]], start: datetime, stop: datetime, detailed: bool
) -> list[dict[str, Any]]:
    now = _now(call)
    summaries: dict[str, dict[str, Any]] = {}
    for inst in servers:
        flavor = inst["flavor"]
        started, ended = _stamp(inst["launched_at"]), _stamp(inst.get("terminated_at"))
        assert started is not None
        hours = _hours(inst, start, stop)
        info = {
            "hours": hours,
            "flavor": flavor.get("name", ""),
            "instance_id": inst["uuid"],
            "name": inst["display_name"],
            "tenant_id": inst["project_id"],
            "memory_mb": int(flavor["memory_mb"]),
            "local_gb": int(flavor["root_gb"]) + int(flavor.get("ephemeral_gb") or 0),
            "vcpus": int(flavor["vcpus"]),
            "started_at": started.strftime(_TIME),
            "ended_at": ended.strftime(_TIME) if ended else None,
            "state": "terminated" if ended else inst.get("vm_state"),
            "uptime": int(((ended or now) - started).total_seconds()),
        }
        summary = summaries.get(inst["project_id"])
        if summary is None:
            summary = {
                "tenant_id": inst["project_id"],
                **({"server_usages": []} if detailed else {}),
                "total_local_gb_usage": 0,
                "total_vcpus_usage": 0,
                "total_memory_mb_usage": 0,
                "total_hours": 0,
                "start": start.strftime(_TIME),
                "stop": stop.strftime(_TIME),
            }
            summaries[inst["project_id"]] = summary
        summary["total_local_gb_usage"] += info["local_gb"] * hours
        summary["total_vcpus_usage"] += info["vcpus"] * hours
        summary["total_memory_mb_usage"] += info["memory_mb"] * hours
        summary["total_hours"] += hours
        if detailed:
            summary["server_usages"].append(info)
    return list(summaries.values())


def _links(call: Call, servers: list[dict[str, Any]], collection: str) -> list[dict[str, str]]:
    """A ``next`` link when the page is full (``_get_collection_links``)."""
    if not microversion_at_least(call, "2.40") or not servers or len(servers) != _limit(call):
        return []
    params = dict(sorted(call.query.items()))
    params["marker"] = servers[-1]["uuid"]
    return next_link(call, collection, params)


@routes.get("/v2.1/os-simple-tenant-usage")
def list_usage(call: Call) -> Response:
    require_admin(call, "os_compute_api:os-simple-tenant-usage:list")
    start, stop = _window(call)
    detailed = call.query.get("detailed", "0") == "1"
    servers = _servers(call, None, start, stop)
    body: dict[str, Any] = {"tenant_usages": _usages(call, servers, start, stop, detailed)}
    links = _links(call, servers, "os-simple-tenant-usage")
    if links:
        body["tenant_usages_links"] = links
    return json_response(body)


@routes.get("/v2.1/os-simple-tenant-usage/{project_id}")
def show_usage(call: Call, project_id: str) -> Response:
    owner_or_admin(call, project_id, "os_compute_api:os-simple-tenant-usage:show")
    start, stop = _window(call)
    servers = _servers(call, project_id, start, stop)
    usages = _usages(call, servers, start, stop, detailed=True)
    body: dict[str, Any] = {"tenant_usage": usages[0] if usages else {}}
    links = _links(call, servers, f"os-simple-tenant-usage/{project_id}")
    if links:
        body["tenant_usage_links"] = links
    return json_response(body)
