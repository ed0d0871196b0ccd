"""``GET /os-hypervisors/statistics``: the cloud's compute totals in one object.

Horizon's Admin -> Hypervisors page opens with three pie charts (vCPU, RAM, local disk
usage) drawn from this call, made by python-novaclient's ``hypervisor_stats.statistics()``
at the client's default microversion. Nova removed it in 2.88 ("use Placement's
inventories and usages instead"), so from 2.88 on it is a 404, as for any route a
microversion does not have.

Its route must come before ``/os-hypervisors/{hypervisor_id}`` in the route table: that one
would take "statistics" for a hypervisor id.
"""

from __future__ import annotations

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.nova.api import admin
from labkit.sim.nova.api._helpers import microversion_at_least, require_admin
from labkit.sim.nova.errors import not_found

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


@routes.get("/v2.1/os-hypervisors/statistics")
def statistics(call: Call) -> Response:
    if microversion_at_least(call, "2.88"):
        raise not_found("The resource could not be found.")
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
