"""What admins look at: ``os-services``, ``os-hypervisors``, availability zones."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import delete, select
from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.nova import instances
from labkit.sim.nova import models as m
from labkit.sim.nova.api._helpers import is_uuid, microversion_at_least, nova, require_admin
from labkit.sim.nova.errors import bad_request, conflict, not_found

routes = Routes()
INTERNAL = ("nova-conductor", "nova-scheduler")


def _services(call: Call) -> list[tuple[m.Service, bool]]:
    api = nova(call)
    found = api.nova_cells.cell1()
    if found is None:
        return []
    with found[1].read() as s:
        rows = list(s.scalars(select(m.Service).order_by(m.Service.id)))
    return [(r, api.service_is_up(r)) for r in rows]


def _service_view(call: Call, row: m.Service, up: bool) -> dict[str, Any]:
    api = nova(call)
    seen = api.room.servicegroup.last_seen(row, api.runtime.now().timestamp())
    from datetime import UTC, datetime

    updated = (
        datetime.fromtimestamp(seen, UTC).strftime("%Y-%m-%dT%H:%M:%S.000000") if seen else None
    )
    out: dict[str, Any] = {
        "id": row.uuid if microversion_at_least(call, "2.53") else row.id,
        "binary": row.binary,
        "host": row.host,
        "zone": "internal" if row.binary in INTERNAL else api.nova_conf.default_availability_zone,
        "status": "disabled" if row.disabled else "enabled",
        "state": "up" if up else "down",
        "updated_at": updated,
        "disabled_reason": row.disabled_reason,
    }
    if microversion_at_least(call, "2.11"):
        out["forced_down"] = row.forced_down
    return out


@routes.get("/v2.1/os-services")
def list_services(call: Call) -> Response:
    require_admin(call, "os_compute_api:os-services:list")
    rows = _services(call)
    if "binary" in call.query:
        rows = [(r, up) for r, up in rows if r.binary == call.query["binary"]]
    if "host" in call.query:
        rows = [(r, up) for r, up in rows if r.host == call.query["host"]]
    return json_response({"services": [_service_view(call, r, up) for r, up in rows]})


@routes.put("/v2.1/os-services/{service_id}")
def update_service(call: Call, service_id: str) -> Response:
    require_admin(call, "os_compute_api:os-services:update")
    if not microversion_at_least(call, "2.53"):
        raise not_found("The resource could not be found.")
    data = call.json()
    if not isinstance(data, dict) or not data:
        raise bad_request("Invalid input for field/attribute status.")
    status = data.get("status")
    if status not in (None, "enabled", "disabled"):
        raise bad_request(
            f"Invalid input for field/attribute status. Value: {status}. {status!r} is not one of "
            "['enabled', 'disabled']"
        )
    api = nova(call)
    found = api.nova_cells.cell1()
    if found is None or not is_uuid(service_id):
        raise not_found(f"Service {service_id} could not be found.")
    with found[1].write() as s:
        row = s.scalars(select(m.Service).where(m.Service.uuid == service_id)).first()
        if row is None:
            raise not_found(f"Service {service_id} could not be found.")
        if status is not None:
            row.disabled = status == "disabled"
            row.disabled_reason = data.get("disabled_reason") if row.disabled else None
        if "forced_down" in data:
            row.forced_down = bool(data["forced_down"])
    up = dict((r.uuid, u) for r, u in _services(call)).get(service_id, False)
    with found[1].read() as s:
        row = s.scalars(select(m.Service).where(m.Service.uuid == service_id)).one()
    return json_response({"service": _service_view(call, row, up)})


@routes.delete("/v2.1/os-services/{service_id}")
def delete_service(call: Call, service_id: str) -> Response:
    """Delete a service record, as an operator does for a host that leaves the cloud.

    A compute service is refused while servers live on its host (they would be orphaned in
    Placement); otherwise Nova deletes its compute nodes, their resource providers in
    Placement and the host's cell mapping with it. A nova-compute still running on that
    host registers itself again when it next starts: stop it first."""
    require_admin(call, "os_compute_api:os-services:delete")
    if microversion_at_least(call, "2.53"):
        if not is_uuid(service_id):
            raise bad_request(f"Invalid uuid {service_id}")
    elif not re.fullmatch(r"\s*[+-]?\d+\s*", service_id):  # oslo's int(str(value))
        raise bad_request("Invalid input received: id must be an integer")
    api = nova(call)
    found = api.nova_cells.cell1()
    if found is None:
        raise not_found(f"Service {service_id} not found.")
    cell_db = found[1]
    with cell_db.read() as s:
        column = m.Service.uuid if is_uuid(service_id) else m.Service.id
        key: Any = service_id if is_uuid(service_id) else _int_or(service_id)
        row = s.scalars(select(m.Service).where(column == key)).first()
        if row is None:
            raise not_found(f"Service {service_id} not found.")
        host, binary, row_id = row.host, row.binary, row.id
        nodes: list[str] = []
        if binary == "nova-compute":
            hosting = s.scalars(
                select(m.Instance.id).where(m.Instance.host == host, m.Instance.deleted.is_(False))
            ).first()
            if hosting is not None:
                raise conflict(
                    "Unable to delete compute service that is hosting instances. Migrate or "
                    "delete the instances first."
                )
            nodes = list(s.scalars(select(m.ComputeNode.uuid).where(m.ComputeNode.host == host)))
    if binary == "nova-compute":
        for uuid in nodes:  # Nova logs a failure here and deletes the service anyway
            api.placement.request("DELETE", f"/resource_providers/{uuid}")
        with api.nova_cells.api.write() as s:
            s.execute(delete(m.HostMapping).where(m.HostMapping.host == host))
        with cell_db.write() as s:
            s.execute(delete(m.ComputeNode).where(m.ComputeNode.host == host))
    with cell_db.write() as s:
        s.execute(delete(m.Service).where(m.Service.id == row_id))
    return empty_response(204)


def _int_or(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return -1


# ---- hypervisors --------------------------------------------------------------------------------


def _nodes(call: Call) -> list[tuple[m.ComputeNode, m.Service | None, bool]]:
    api = nova(call)
    found = api.nova_cells.cell1()
    if found is None:
        return []
    with found[1].read() as s:
        nodes = list(s.scalars(select(m.ComputeNode).order_by(m.ComputeNode.id)))
        services = {r.id: r for r in s.scalars(select(m.Service))}
    out = []
    for node in nodes:
        service = services.get(node.service_id)
        up = service is not None and api.service_is_up(service)
        out.append((node, service, up))
    return out


def _hypervisor(
    call: Call, node: m.ComputeNode, service: m.Service | None, up: bool, detail: bool
) -> dict[str, Any]:
    new = microversion_at_least(call, "2.53")
    out: dict[str, Any] = {
        "id": node.uuid if new else node.id,
        "hypervisor_hostname": node.hypervisor_hostname,
        "state": "up" if up else "down",
        "status": "disabled" if service is not None and service.disabled else "enabled",
    }
    if not detail:
        return out
    out.update(
        {
            "hypervisor_type": node.hypervisor_type,
            "hypervisor_version": node.hypervisor_version,
            "host_ip": node.host_ip,
            "service": {
                "id": (service.uuid if new else service.id) if service else None,
                "host": node.host,
                "disabled_reason": service.disabled_reason if service else None,
            },
        }
    )
    if microversion_at_least(call, "2.88"):
        out["uptime"] = host_uptime(call, node) if up else None  # a down host: None
        return out
    free_ram = node.memory_mb - node.memory_mb_used - 512
    out.update(
        {
            "vcpus": node.vcpus,
            "memory_mb": node.memory_mb,
            "local_gb": node.local_gb,
            "vcpus_used": node.vcpus_used,
            "memory_mb_used": node.memory_mb_used + 512,
            "local_gb_used": node.local_gb_used,
            "free_ram_mb": free_ram,
            "free_disk_gb": node.local_gb - node.local_gb_used,
            "current_workload": 0,
            "running_vms": node.running_vms,
            "disk_available_least": node.local_gb - node.local_gb_used,
            "cpu_info": _cpu_info(call, node.cpu_info or {}),
        }
    )
    return out


def host_uptime(call: Call, node: m.ComputeNode) -> str:
    """What ``uptime`` prints on the node's host (the compute's ``get_host_uptime``): the
    minutes since its nova-compute first started, in the sim's clock."""
    minutes = int((nova(call).runtime.now().timestamp() - node.started_at) // 60)
    return f" 09:00:00 up {minutes} min,  0 users,  load average: 0.10, 0.05, 0.01\n"


def _cpu_info(call: Call, info: dict[str, Any]) -> dict[str, Any] | str:
    """The hypervisor's CPU as the compute node record keeps it: a JSON text before 2.28
    (Nova handed on the column as it is), an object from 2.28."""
    if microversion_at_least(call, "2.28"):
        return dict(info)
    return json.dumps(info)


def _hypervisor_list(call: Call, detail: bool) -> list[dict[str, Any]]:
    require_admin(call, "os_compute_api:os-hypervisors:list")
    rows = _nodes(call)
    pattern = call.query.get("hypervisor_hostname_pattern")
    if pattern:
        rows = [r for r in rows if pattern in r[0].hypervisor_hostname]
    return [_hypervisor(call, *r, detail=detail) for r in rows]


@routes.get("/v2.1/os-hypervisors")
def hypervisors(call: Call) -> Response:
    return json_response({"hypervisors": _hypervisor_list(call, detail=False)})


@routes.get("/v2.1/os-hypervisors/detail")
def hypervisors_detail(call: Call) -> Response:
    return json_response({"hypervisors": _hypervisor_list(call, detail=True)})


@routes.get("/v2.1/os-hypervisors/{hypervisor_id}")
def hypervisor(call: Call, hypervisor_id: str) -> Response:
    require_admin(call, "os_compute_api:os-hypervisors:show")
    for node, service, up in _nodes(call):
        if hypervisor_id in (node.uuid, str(node.id)) and (
            is_uuid(hypervisor_id) == microversion_at_least(call, "2.53")
        ):
            return json_response({"hypervisor": _hypervisor(call, node, service, up, detail=True)})
    if microversion_at_least(call, "2.53") and not is_uuid(hypervisor_id):
        raise bad_request(f"Invalid uuid {hypervisor_id}")
    raise not_found(f"Hypervisor with ID {hypervisor_id} could not be found.")


# ---- zones and aggregates ---------------------------------------------------------------------


@routes.get("/v2.1/os-availability-zone")
def zones(call: Call) -> Response:
    zone = nova(call).nova_conf.default_availability_zone
    up = any(upness for _, s, upness in _nodes(call))
    return json_response(
        {
            "availabilityZoneInfo": [
                {"zoneName": zone, "zoneState": {"available": up}, "hosts": None}
            ]
        }
    )


@routes.get("/v2.1/os-availability-zone/detail")
def zones_detail(call: Call) -> Response:
    require_admin(call, "os_compute_api:os-availability-zone:detail")
    api = nova(call)
    zone = api.nova_conf.default_availability_zone
    internal: dict[str, Any] = {}
    computes: dict[str, Any] = {}
    for row, up in _services(call):
        target = internal if row.binary in INTERNAL else computes
        target.setdefault(row.host, {})[row.binary] = {
            "available": up,
            "active": not row.disabled,
            "updated_at": row.updated_at or None,
        }
    info = [{"zoneName": "internal", "zoneState": {"available": True}, "hosts": internal}]
    if computes:
        info.append({"zoneName": zone, "zoneState": {"available": True}, "hosts": computes})
    return json_response({"availabilityZoneInfo": info})


# ---- server external events (Neutron's network-vif-plugged) -----------------------------


@routes.post("/v2.1/os-server-external-events")
def external_events(call: Call) -> Response:
    """Neutron tells Nova a port went up (``network-vif-plugged``); Nova answers per event.
    The sim's compute does not wait for these, so they are acknowledged and recorded."""
    require_admin(call, "os_compute_api:os-server-external-events:create")
    data = call.json()
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list) or not events:
        raise bad_request("Invalid input for field/attribute events.")
    cells = nova(call).nova_cells
    out = []
    for event in events:
        if not isinstance(event, dict) or "name" not in event or "server_uuid" not in event:
            raise bad_request("Invalid input for field/attribute events.")
        uuid = str(event["server_uuid"])
        found = instances.find(cells, uuid) if is_uuid(uuid) else None
        known = found is not None and found[1].get("host")
        out.append(
            {**event, "status": "completed" if known else "failed", "code": 200 if known else 404}
        )
    status = 200 if any(e["code"] == 200 for e in out) else 404
    return json_response({"events": out}, status)
