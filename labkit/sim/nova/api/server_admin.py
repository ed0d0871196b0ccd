"""Server actions for admins and for deleted servers: ``os-resetState``,
``injectNetworkInfo`` (``admin_actions.py``) and ``restore`` (``deferred_delete.py``; its
``forceDelete`` is the delete in :mod:`servers`), and the server password
(``server_password.py``).

- ``os-resetState`` (admin): the server's vm_state becomes ``active`` or ``error`` and its
  task state is cleared, in the database only -- nothing is asked of the compute, so a
  server stuck in a task can be acted on again. A ``resetState`` instance action records it.
- ``injectNetworkInfo`` (admin, not on a locked server for others): Nova casts it to the
  server's compute, whose libvirt driver does nothing with it (``ComputeDriver``'s no-op);
  the sim answers the same 202 and does nothing either.
- ``restore`` undoes a soft delete, which only happens with ``[DEFAULT]
  reclaim_instance_interval`` > 0. The lab keeps Zed's 0: a delete is final, no server is
  ever SOFT_DELETED, and a restore is the state check's 409.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response
from labkit.sim.nova import models as m
from labkit.sim.nova.api import _instance as srv
from labkit.sim.nova.api import body as checks
from labkit.sim.nova.api._helpers import owner_or_admin, require_admin

routes = Routes()

_RESET_STATE: checks.Schema = {
    "type": "object",
    "properties": {"state": {"type": "string", "enum": ["active", "error"]}},
    "required": ["state"],
    "additionalProperties": False,
}


def reset_state(call: Call, cell: m.CellMapping | None, inst: dict[str, Any], raw: Any) -> Response:
    checks.check("os-resetState", raw, _RESET_STATE)
    require_admin(call, "os_compute_api:os-admin-actions:reset_state")
    # Nova saves the instance in its cell; one still in its build request has none (the
    # sim answers as the other actions on such a server do: 409)
    cell = srv.placed(cell, inst, "os-resetState")
    srv.record_action(call, cell, inst, "resetState")
    srv.save(call, cell, inst["uuid"], vm_state=raw["state"], task_state=None)
    return empty_response(202)


def inject_network_info(
    call: Call, cell: m.CellMapping | None, inst: dict[str, Any], raw: Any
) -> Response:
    require_admin(call, "os_compute_api:os-admin-actions:inject_network_info")
    srv.check_lock(call, inst)
    return empty_response(202)


def restore(call: Call, cell: m.CellMapping | None, inst: dict[str, Any], raw: Any) -> Response:
    owner_or_admin(call, inst["project_id"], "os_compute_api:os-deferred-delete:restore")
    srv.check_lock(call, inst)
    srv.check_state(inst, "restore", ("soft-delete",))
    raise AssertionError("no server is soft-deleted with reclaim_instance_interval = 0")


ACTIONS: dict[str, Any] = {
    "os-resetState": reset_state,
    "injectNetworkInfo": inject_network_info,
    "restore": restore,
}
