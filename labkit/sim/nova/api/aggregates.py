"""``/os-aggregates``: host aggregates, admin only (``nova/api/openstack/compute/
aggregates.py`` with ``compute/api.py`` AggregateAPI).

- create (200, not 201: Nova kept v2's code) takes a name and an optional availability
  zone, both stripped; a name in use is 409 ``Aggregate <name> already exists.``; the
  answer has neither hosts nor metadata;
- show / update / delete / actions take an integer id (``validate_integer``'s 400), an
  unknown one is 404; delete refuses an aggregate with hosts (400, "Host aggregate is not
  empty");
- ``add_host`` needs a host running a nova-compute (404 ``Compute host <h> could not be
  found.``), not already in it (409) and not in another availability zone (409);
  ``remove_host`` of a host it lacks is 404 ``Cannot remove host <h> in aggregate <id>``;
- ``set_metadata`` merges, a null value removes the key; an ``availability_zone`` may not
  be empty nor clash with another aggregate's zone of a member host (400).

From 2.41 aggregates show their uuid. Timestamps are naive, as Nova's view strips the zone.
The sim keeps them in the API database only: Nova also mirrors members into Placement
aggregates and its scheduler and zone listings read the zone -- the sim's do not (yet).
"""

from __future__ import annotations

import re
import uuid as uuidlib
from typing import Any

from sqlalchemy import select
from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.nova import models as m
from labkit.sim.nova.api import body as checks
from labkit.sim.nova.api._helpers import microversion_at_least, nova, require_admin
from labkit.sim.nova.errors import NovaError, bad_request, conflict, not_found

routes = Routes()
_NAME: checks.Schema = {"type": "string", "minLength": 1, "maxLength": 255}
_AZ: checks.Schema = {"oneOf": [_NAME, {"type": "null"}]}
_CREATE: checks.Schema = {
    "type": "object",
    "properties": {
        "aggregate": {
            "type": "object",
            "properties": {"name": _NAME, "availability_zone": _AZ},
            "required": ["name"],
            "additionalProperties": False,
        }
    },
    "required": ["aggregate"],
    "additionalProperties": False,
}
_UPDATE: checks.Schema = {
    "type": "object",
    "properties": {
        "aggregate": {
            "type": "object",
            "properties": {"name": _NAME, "availability_zone": _AZ},
            "additionalProperties": False,
            "anyOf": [{"required": ["name"]}, {"required": ["availability_zone"]}],
        }
    },
    "required": ["aggregate"],
    "additionalProperties": False,
}
_FQDN: checks.Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": "^[a-zA-Z0-9-._]*$",
}


def _host_action(name: str) -> checks.Schema:
    return {
        "type": "object",
        "properties": {
            name: {
                "type": "object",
                "properties": {"host": _FQDN},
                "required": ["host"],
                "additionalProperties": False,
            }
        },
        "required": [name],
        "additionalProperties": False,
    }


_SET_METADATA: checks.Schema = {
    "type": "object",
    "properties": {
        "set_metadata": {
            "type": "object",
            "properties": {
                "metadata": {
                    "type": "object",
                    "patternProperties": {
                        "^[a-zA-Z0-9-_:. ]{1,255}$": {
                            "type": ["string", "null"],
                            "maxLength": 255,
                        }
                    },
                    "additionalProperties": False,
                }
            },
            "required": ["metadata"],
            "additionalProperties": False,
        }
    },
    "required": ["set_metadata"],
    "additionalProperties": False,
}


def _view(call: Call, row: m.Aggregate, full: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "availability_zone": row.metadata_.get("availability_zone"),
        "created_at": row.created_at,
        "deleted": False,
        "deleted_at": None,
        "id": row.id,
        "name": row.name,
        "updated_at": row.updated_at,
    }
    if full:
        out.update(hosts=list(row.hosts), metadata=dict(row.metadata_))
    if microversion_at_least(call, "2.41"):
        out["uuid"] = row.uuid
    return out


def _id(raw: str) -> int:
    """``utils.validate_integer(id, 'id')`` in oslo's words."""
    if not re.fullmatch(r"\s*[+-]?\d+\s*", raw):
        raise bad_request("Invalid input received: id must be an integer")
    return int(raw)


def _load(s: Any, aggregate_id: int) -> m.Aggregate:
    row: m.Aggregate | None = s.get(m.Aggregate, aggregate_id)
    if row is None:
        raise not_found(f"Aggregate {aggregate_id} could not be found.")
    return row


def _now(call: Call) -> str:
    return nova(call).now_iso()


def _name_taken(s: Any, name: str, other_than: int | None = None) -> bool:
    found = s.scalars(select(m.Aggregate).where(m.Aggregate.name == name)).first()
    return found is not None and found.id != other_than


@routes.get("/v2.1/os-aggregates")
def list_aggregates(call: Call) -> Response:
    require_admin(call, "os_compute_api:os-aggregates:index")
    with nova(call).nova_cells.api.read() as s:
        rows = list(s.scalars(select(m.Aggregate).order_by(m.Aggregate.id)))
        return json_response({"aggregates": [_view(call, r) for r in rows]})


@routes.post("/v2.1/os-aggregates")
def create_aggregate(call: Call) -> Response:
    body = call.json()
    checks.check("aggregate", body, _CREATE)
    require_admin(call, "os_compute_api:os-aggregates:create")
    wanted = body["aggregate"]
    name = wanted["name"].strip()
    zone = (wanted.get("availability_zone") or "").strip()
    with nova(call).nova_cells.api.write() as s:
        if _name_taken(s, name):
            raise conflict(f"Aggregate {name} already exists.")
        row = m.Aggregate(
            uuid=str(uuidlib.uuid4()),
            name=name,
            hosts=[],
            metadata_={"availability_zone": zone} if zone else {},
            created_at=_now(call),
        )
        s.add(row)
        s.flush()
        return json_response({"aggregate": _view(call, row, full=False)})


@routes.get("/v2.1/os-aggregates/{aggregate_id}")
def show_aggregate(call: Call, aggregate_id: str) -> Response:
    require_admin(call, "os_compute_api:os-aggregates:show")
    with nova(call).nova_cells.api.read() as s:
        return json_response({"aggregate": _view(call, _load(s, _id(aggregate_id)))})


def _zone_conflict(s: Any, row: m.Aggregate, zone: str | None, hosts: list[str]) -> str | None:
    """``is_safe_to_update_az``'s reason, or None."""
    if zone is None:
        return None
    if not zone:
        return f"Aggregate {row.name} does not support empty named availability zone"
    others = [
        r.metadata_.get("availability_zone")
        for r in s.scalars(select(m.Aggregate).where(m.Aggregate.id != row.id))
        if set(r.hosts) & set(hosts) and r.metadata_.get("availability_zone") not in (None, zone)
    ]
    if others:
        return f"One or more hosts already in availability zone(s) {others}"
    return None


@routes.put("/v2.1/os-aggregates/{aggregate_id}")
def update_aggregate(call: Call, aggregate_id: str) -> Response:
    body = call.json()
    checks.check("aggregate", body, _UPDATE)
    require_admin(call, "os_compute_api:os-aggregates:update")
    ident = _id(aggregate_id)
    wanted = body["aggregate"]
    with nova(call).nova_cells.api.write() as s:
        row = _load(s, ident)
        if "name" in wanted:
            name = wanted["name"].strip()
            if _name_taken(s, name, other_than=row.id):
                raise conflict(f"Aggregate {name} already exists.")
            row.name = name
        if "availability_zone" in wanted:
            zone = wanted["availability_zone"] or ""  # null: "empty named"
            reason = _zone_conflict(s, row, zone, list(row.hosts))
            if reason:
                raise bad_request(f"Cannot update aggregate {row.id}. Reason: {reason}.")
            row.metadata_ = {**row.metadata_, "availability_zone": zone}
        row.updated_at = _now(call)
        s.flush()
        return json_response({"aggregate": _view(call, row)})


@routes.delete("/v2.1/os-aggregates/{aggregate_id}")
def delete_aggregate(call: Call, aggregate_id: str) -> Response:
    require_admin(call, "os_compute_api:os-aggregates:delete")
    ident = _id(aggregate_id)
    with nova(call).nova_cells.api.write() as s:
        row = _load(s, ident)
        if row.hosts:
            raise bad_request(
                f"Cannot remove host from aggregate {ident}. Reason: Host aggregate is not empty."
            )
        s.delete(row)
    return Response(status_code=200)


def _compute_host(call: Call, host: str) -> None:
    """``_get_service_in_cell_by_host``: a host with a nova-compute service, or 404."""
    found = nova(call).nova_cells.cell1()
    service = None
    if found is not None:
        with found[1].read() as s:
            service = s.scalars(
                select(m.Service).where(m.Service.host == host, m.Service.binary == "nova-compute")
            ).first()
    if service is None:
        raise not_found(f"Compute host {host} could not be found.")


def _add_host(call: Call, aggregate_id: str, raw: Any) -> Response:
    checks.check("add_host", raw, _host_action("add_host"))
    require_admin(call, "os_compute_api:os-aggregates:add_host")
    ident = _id(aggregate_id)
    host = raw["add_host"]["host"]
    _compute_host(call, host)
    with nova(call).nova_cells.api.write() as s:
        row = _load(s, ident)
        reason = _zone_conflict(s, row, row.metadata_.get("availability_zone"), [host])
        if reason:
            raise conflict(f"Cannot add host to aggregate {ident}. Reason: {reason}.")
        if host in row.hosts:
            raise conflict(f"Aggregate {ident} already has host {host}.")
        row.hosts = [*row.hosts, host]
        s.flush()
        return json_response({"aggregate": _view(call, row)})


def _remove_host(call: Call, aggregate_id: str, raw: Any) -> Response:
    checks.check("remove_host", raw, _host_action("remove_host"))
    require_admin(call, "os_compute_api:os-aggregates:remove_host")
    ident = _id(aggregate_id)
    host = raw["remove_host"]["host"]
    missing = not_found(f"Cannot remove host {host} in aggregate {ident}")
    try:
        _compute_host(call, host)
    except NovaError:
        raise missing from None
    with nova(call).nova_cells.api.write() as s:
        row = s.get(m.Aggregate, ident)
        if row is None or host not in row.hosts:
            raise missing
        row.hosts = [h for h in row.hosts if h != host]
        s.flush()
        return json_response({"aggregate": _view(call, row)})


def _set_metadata(call: Call, aggregate_id: str, raw: Any) -> Response:
    checks.check("set_metadata", raw, _SET_METADATA)
    require_admin(call, "os_compute_api:os-aggregates:set_metadata")
    ident = _id(aggregate_id)
    wanted = raw["set_metadata"]["metadata"]
    with nova(call).nova_cells.api.write() as s:
        row = _load(s, ident)
        if "availability_zone" in wanted:
            reason = _zone_conflict(s, row, wanted["availability_zone"] or "", list(row.hosts))
            if reason:
                raise bad_request(f"Cannot update metadata of aggregate {ident}. Reason: {reason}.")
        merged = {**row.metadata_, **wanted}
        row.metadata_ = {k: v for k, v in merged.items() if v is not None}
        row.updated_at = _now(call)
        s.flush()
        return json_response({"aggregate": _view(call, row)})


_ACTIONS = {"add_host": _add_host, "remove_host": _remove_host, "set_metadata": _set_metadata}


@routes.post("/v2.1/os-aggregates/{aggregate_id}/action")
def aggregate_action(call: Call, aggregate_id: str) -> Response:
    data = call.json()
    if not isinstance(data, dict) or len(data) != 1:
        raise bad_request("There is no such action: None")
    (name,) = data
    handler = _ACTIONS.get(name)
    if handler is None:
        raise bad_request(f"There is no such action: {name}")
    return handler(call, aggregate_id, data)
