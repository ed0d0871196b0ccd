"""The hypervisor calls of microversions 2.1-2.52/2.87 that python-novaclient's defaults
still make, and Horizon's Admin -> Hypervisors pages with them:

- ``GET /os-hypervisors/statistics`` (up to 2.87): the cloud's totals in one object, drawn
  as the page's three pie charts (vCPU, RAM, local disk). Nova removed it in 2.88 ("ask
  Placement"), so from 2.88 on it is a 404, as any route a microversion lacks.
- ``GET /os-hypervisors/{id}/uptime`` (up to 2.87): the hypervisor with what ``uptime``
  prints on its host (from 2.88 the detail view has it);
- ``GET /os-hypervisors/{pattern}/search`` and ``.../{pattern}/servers`` (up to 2.52):
  the hypervisors whose hostname *contains* the pattern (SQL ``LIKE %pattern%``), the
  second with the servers on each -- a hypervisor's own page lists them. From 2.53 on the
  same questions are ``?hypervisor_hostname_pattern=`` and ``with_servers=true``.

These routes must come before ``/os-hypervisors/{hypervisor_id}`` in the route table, which
would take "statistics" for a hypervisor id.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.nova import instances
from labkit.sim.nova.api import admin
from labkit.sim.nova.api._helpers import is_uuid, microversion_at_least, nova, require_admin
from labkit.sim.nova.errors import bad_request, not_found

routes = Routes()

FIELDS = (
    "vcpus",
    "memory_mb",
    "local_gb",
    "vcpus_used",
    "memory_mb_used",
    "local_gb_used",
    "free_ram_mb",
    "free_disk_gb",
    "current_workload",
    "running_vms",
    "disk_available_least",
)


def _gone_from(call: Call, version: str) -> None:
    if microversion_at_least(call, version):
        raise not_found("The resource could not be found.")


@routes.get("/v2.1/os-hypervisors/statistics")
def statistics(call: Call) -> Response:
    _gone_from(call, "2.88")
    require_admin(call, "os_compute_api:os-hypervisors:statistics")
    totals = dict.fromkeys(FIELDS, 0)
    count = 0
    for node, service, up in admin._nodes(call):
        if service is None or service.disabled:
            continue  # Nova sums the compute nodes of enabled services only
        count += 1
        # The same numbers the hypervisor's own detail shows at this microversion.
        shown = admin._hypervisor(call, node, service, up, detail=True)
        for field in FIELDS:
            totals[field] += int(shown.get(field) or 0)
    return json_response({"hypervisor_statistics": {"count": count, **totals}})


def _matching(call: Call, pattern: str) -> list[tuple[Any, Any, bool]]:
    found = [row for row in admin._nodes(call) if pattern in row[0].hypervisor_hostname]
    if not found:
        raise not_found(f"No hypervisor matching '{pattern}' could be found.")
    return found


@routes.get("/v2.1/os-hypervisors/{pattern}/search")
def search(call: Call, pattern: str) -> Response:
    _gone_from(call, "2.53")
    require_admin(call, "os_compute_api:os-hypervisors:search")
    shown = [
        admin._hypervisor(call, node, service, up, detail=False)
        for node, service, up in _matching(call, pattern)
    ]
    return json_response({"hypervisors": shown})


@routes.get("/v2.1/os-hypervisors/{pattern}/servers")
def servers(call: Call, pattern: str) -> Response:
    _gone_from(call, "2.53")
    require_admin(call, "os_compute_api:os-hypervisors:servers")
    rows = _matching(call, pattern)
    everything = instances.listing(nova(call).nova_cells, None)
    out = []
    for node, service, up in rows:
        shown = admin._hypervisor(call, node, service, up, detail=False)
        on_host = [i for i in everything if i.get("host") == node.host]
        if on_host:  # Nova leaves the key out for a hypervisor without servers
            shown["servers"] = [
                {"name": f"instance-{int(i.get('id') or 0):08x}", "uuid": i["uuid"]}
                for i in on_host
            ]
        out.append(shown)
    return json_response({"hypervisors": out})


@routes.get("/v2.1/os-hypervisors/{hypervisor_id}/uptime")
def uptime(call: Call, hypervisor_id: str) -> Response:
    """``hypervisors.py uptime``: the id checked as ``show`` checks it (a uuid from 2.53, an
    integer before: else 404), the node and its compute service found (404), then the
    uptime asked of the host's compute -- which must be up (``_assert_host_exists``):
    ComputeServiceUnavailable is a 400."""
    _gone_from(call, "2.88")
    require_admin(call, "os_compute_api:os-hypervisors:uptime")
    new = microversion_at_least(call, "2.53")
    missing = not_found(f"Hypervisor with ID '{hypervisor_id}' could not be found.")
    if new and not is_uuid(hypervisor_id):
        raise bad_request(f"Invalid uuid {hypervisor_id}")
    try:
        wanted = hypervisor_id.lower() if new else str(int(hypervisor_id))
    except ValueError:
        raise missing from None
    for node, service, up in admin._nodes(call):
        if wanted != (node.uuid if new else str(node.id)):
            continue
        if service is None:
            raise missing
        if not up:
            raise bad_request(f"Compute service of {node.host} is unavailable at this time.")
        shown = admin._hypervisor(call, node, service, up, detail=False)
        shown["uptime"] = admin.host_uptime(call, node)
        return json_response({"hypervisor": shown})
    raise missing
