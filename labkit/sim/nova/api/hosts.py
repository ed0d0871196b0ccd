"""``/os-hosts`` (microversions 2.1-2.42; a 404 from 2.43, where os-services and
os-hypervisors took over): the hosts of the enabled services with their topic and zone, a
host's resources, and the host actions the libvirt driver never implemented
(``nova/api/openstack/compute/hosts.py``).

- the list leaves out disabled services and the API services; ``?zone=`` keeps one zone
  (an empty zone is no filter);
- ``GET /os-hosts/{host}``: the compute node's totals ``(total)``, what it reports used
  ``(used_now)``, the sum of its servers' flavors ``(used_max)`` and one line per project;
- ``PUT /os-hosts/{host}`` (status / maintenance_mode) and ``GET .../startup``,
  ``.../shutdown``, ``.../reboot``: after the checks (schema, admin, the host mapped to a
  cell and running a nova-compute), 501 -- the libvirt driver raises NotImplementedError
  for ``set_host_enabled``, ``host_maintenance_mode`` and ``host_power_action``.

The sim answers the 501 itself: Nova asks the compute over RPC first (a compute that is
down is a 500 after the RPC timeout there).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.nova import models as m
from labkit.sim.nova.api._helpers import microversion_at_least, nova, require_admin
from labkit.sim.nova.api.admin import INTERNAL
from labkit.sim.nova.errors import NovaError, bad_request, not_found

routes = Routes()
_ENABLE = ("enable", "disable", "Enable", "Disable", "ENABLE", "DISABLE")
NOT_SUPPORTED = "The requested functionality is not supported."


def _until_242(call: Call) -> None:
    if microversion_at_least(call, "2.43"):
        raise not_found("The resource could not be found.")


def _cell_db(call: Call, host: str) -> Any:
    """The database of the host's cell (``target_host_cell``), or 404."""
    cells = nova(call).nova_cells
    with cells.api.read() as s:
        mapping = s.get(m.HostMapping, host)
    found = cells.cell1()
    if mapping is None or found is None:
        raise not_found(f"Host '{host}' is not mapped to any cell")
    return found[1]


def _compute_service(call: Call, host: str) -> None:
    """``_assert_host_exists``: the host runs a nova-compute (else 404)."""
    with _cell_db(call, host).read() as s:
        service = s.scalars(
            select(m.Service).where(m.Service.host == host, m.Service.binary == "nova-compute")
        ).first()
    if service is None:
        raise not_found(f"Host {host} could not be found.")


@routes.get("/v2.1/os-hosts")
def list_hosts(call: Call) -> Response:
    _until_242(call)
    require_admin(call, "os_compute_api:os-hosts:list")
    api = nova(call)
    found = api.nova_cells.cell1()
    rows: list[m.Service] = []
    if found is not None:
        with found[1].read() as s:
            rows = list(s.scalars(select(m.Service).order_by(m.Service.id)))
    zone_wanted = call.query.get("zone")
    hosts = []
    for row in rows:
        if row.disabled or row.binary in ("nova-osapi_compute", "nova-metadata"):
            continue
        zone = "internal" if row.binary in INTERNAL else api.nova_conf.default_availability_zone
        if zone_wanted and zone != zone_wanted:
            continue
        hosts.append({"host_name": row.host, "service": row.topic, "zone": zone})
    return json_response({"hosts": hosts})


def _resource(host: str, project: str, cpu: int, memory_mb: int, disk_gb: int) -> dict[str, Any]:
    return {
        "resource": {
            "host": host,
            "project": project,
            "cpu": cpu,
            "memory_mb": memory_mb,
            "disk_gb": disk_gb,
        }
    }


@routes.get("/v2.1/os-hosts/{host}")
def show_host(call: Call, host: str) -> Response:
    _until_242(call)
    require_admin(call, "os_compute_api:os-hosts:show")
    with _cell_db(call, host).read() as s:
        node = s.scalars(
            select(m.ComputeNode).where(m.ComputeNode.host == host).order_by(m.ComputeNode.id)
        ).first()
        if node is None:
            raise not_found(f"Compute host {host} could not be found.")
        alive = m.Instance.deleted.is_(False)
        servers = list(s.scalars(select(m.Instance).where(m.Instance.host == host, alive)))
    used = nova(call).nova_conf.reserved_host_memory_mb + node.memory_mb_used  # counted used
    lines = [
        _resource(host, "(total)", node.vcpus, node.memory_mb, node.local_gb),
        _resource(host, "(used_now)", node.vcpus_used, used, node.local_gb_used),
    ]
    totals = {"(used_max)": [0, 0, 0]}
    for inst in servers:
        flavor = inst.flavor
        disk = int(flavor.get("root_gb") or 0) + int(flavor.get("ephemeral_gb") or 0)
        for key in ("(used_max)", inst.project_id):
            sums = totals.setdefault(key, [0, 0, 0])
            sums[0] += int(flavor.get("vcpus") or 0)
            sums[1] += int(flavor.get("memory_mb") or 0)
            sums[2] += disk
    lines += [_resource(host, key, *sums) for key, sums in totals.items()]
    return json_response({"host": lines})


def _not_supported() -> NovaError:
    return NovaError(NOT_SUPPORTED, status=501)


@routes.put("/v2.1/os-hosts/{host}")
def update_host(call: Call, host: str) -> Response:
    """Nova's schema first (status and maintenance_mode: 'enable' or 'disable' in three
    spellings, nothing else), then policy, then the host."""
    _until_242(call)
    body = call.json()
    if not isinstance(body, dict):
        raise bad_request(f"{body!r} is not of type 'object'")  # at the root: no field
    for key, value in body.items():
        if key not in ("status", "maintenance_mode"):
            raise bad_request(f"Additional properties are not allowed ('{key}' was unexpected)")
        if not isinstance(value, str):
            raise bad_request(
                f"Invalid input for field/attribute {key}. Value: {value}. {value!r} is not of "
                "type 'string'"
            )
        if value not in _ENABLE:
            raise bad_request(
                f"Invalid input for field/attribute {key}. Value: {value}. {value!r} is not one "
                f"of {list(_ENABLE)}"
            )
    require_admin(call, "os_compute_api:os-hosts:update")
    if "status" not in body and "maintenance_mode" not in body:
        return json_response({"host": host})
    _compute_service(call, host)
    raise _not_supported()


def _power_action(call: Call, host: str, rule: str) -> Response:
    _until_242(call)
    require_admin(call, f"os_compute_api:os-hosts:{rule}")
    _compute_service(call, host)
    raise _not_supported()


@routes.get("/v2.1/os-hosts/{host}/startup")
def startup(call: Call, host: str) -> Response:
    return _power_action(call, host, "start")


@routes.get("/v2.1/os-hosts/{host}/shutdown")
def shutdown(call: Call, host: str) -> Response:
    return _power_action(call, host, "shutdown")


@routes.get("/v2.1/os-hosts/{host}/reboot")
def reboot(call: Call, host: str) -> Response:
    return _power_action(call, host, "reboot")
