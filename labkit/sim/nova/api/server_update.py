"""``PUT /servers/{id}``: rename a server, give it a description (2.19), access addresses
or a disk config.

Horizon's "Edit Instance" saves the name and the description this way (python-novaclient's
``servers.update``) before it changes the security groups; without the route the workflow
ended in "Unable to modify instance". Nova's update schema allows ``name``,
``description`` (from 2.19), ``accessIPv4``/``accessIPv6`` and ``OS-DCF:diskConfig``
(``hostname`` from 2.90 is not emulated); anything else is an "Additional properties"
400. A lock does not stop it (``API.update_instance`` has no lock check), nor does the
server being still a build request: then the build request's instance is changed, and
the conductor makes the server from it. The answer is the server as ``GET /servers/{id}``
shows it from 2.75; before that, without the attributes that were extensions in v2.0
(:func:`views.server_after_change`).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.nova import models as m
from labkit.sim.nova import views
from labkit.sim.nova.api import _instance as srv
from labkit.sim.nova.api import body as checks
from labkit.sim.nova.api._helpers import body_of, check_description, microversion_at_least, nova
from labkit.sim.nova.errors import bad_request, instance_not_found

routes = Routes()
_NAME = re.compile(r"^\S(.*\S)?$", re.DOTALL)  # no leading or trailing whitespace
_ALWAYS = ("name", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig")


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name or len(name) > 255 or not _NAME.match(name):
        raise bad_request(
            f"Invalid input for field/attribute name. Value: {name}. "
            f"{name!r} does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'"
        )
    return name


@routes.put("/v2.1/servers/{server_id}")
def update(call: Call, server_id: str) -> Response:
    body = body_of(call, "server")
    allowed = _ALWAYS + (("description",) if microversion_at_least(call, "2.19") else ())
    extra = [key for key in body if key not in allowed]
    if extra:
        were = "were" if len(extra) > 1 else "was"
        raise bad_request(
            "Invalid input for field/attribute server. Value: "
            f"{body}. Additional properties are not allowed "
            f"({', '.join(repr(k) for k in extra)} {were} unexpected)"
        )
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["display_name"] = _check_name(body["name"])
    if "description" in body:
        changes["display_description"] = check_description(body["description"], 255)
    changes.update(checks.access_ips(body))
    disk = checks.disk_config(body)
    if disk is not None:
        changes["auto_disk_config"] = disk
    cell, inst = srv.lookup(call, server_id)
    if changes:
        if cell is None and _update_build_request(call, server_id, changes):
            _, inst = srv.lookup(call, server_id)
        else:
            # placed (or placed since the lookup: the conductor took the build request)
            cell, inst = srv.lookup(call, server_id) if cell is None else (cell, inst)
            if cell is None:  # the conductor is between its two writes: Nova's 404
                raise instance_not_found(server_id)
            srv.save(call, cell, inst["uuid"], **changes)
            _, inst = srv.lookup(call, server_id)
    return json_response({"server": views.server_after_change(call, inst, keypair=False)})


def _update_build_request(call: Call, uuid: str, changes: dict[str, Any]) -> bool:
    """``API.update_instance`` for a server not in a cell yet: the changes go into the
    instance its build request holds (the conductor makes the server from it). False when
    the build request is gone -- the conductor placed the server meanwhile."""
    with nova(call).nova_cells.api.write() as s:
        row = s.get(m.BuildRequest, uuid)
        if row is None:
            return False
        row.instance = {**row.instance, **changes}  # a new dict: the JSON column sees it
    return True
