"""What the server modules share: finding a server, Nova's state and lock checks, saving
fields and instance actions, the image checks of create/rebuild/resize, metadata rules.

The checks are ``nova/compute/api.py``'s decorators as the API reports them:
``check_instance_lock`` (409 "Instance X is locked" unless admin), then
``check_instance_state`` (vm_state, then task_state, then "has it ever launched"), each a
409 "Cannot '<action>' instance X while it is in <attr> <state>".
"""

from __future__ import annotations

import base64
import re
from typing import Any

from sqlalchemy import select

from labkit.sim.core.http import Call
from labkit.sim.nova import instances, quota
from labkit.sim.nova import models as m
from labkit.sim.nova.api._helpers import caller, is_uuid, nova
from labkit.sim.nova.clients import glance_image
from labkit.sim.nova.errors import (
    NovaError,
    bad_request,
    conflict,
    forbidden,
    instance_not_found,
    invalid_state,
)

GIB = 1 << 30
_META_KEY = re.compile(r"^[a-zA-Z0-9-_:. ]{1,255}$")
ANY_TASK = ("*",)  # check_instance_state(task_state=None): any task state will do


def lookup(call: Call, server_id: str) -> tuple[m.CellMapping | None, dict[str, Any]]:
    """(cell, instance) of a server the caller may see; the cell is None for a server that
    is still a build request. 404 otherwise."""
    found = instances.find(nova(call).nova_cells, server_id) if is_uuid(server_id) else None
    if found is None:
        raise instance_not_found(server_id)
    cell, inst = found
    who = caller(call)
    if not (who.is_admin or who.project_id == inst["project_id"]):
        # Nova's database API reads instances project_only for non-admins: another
        # project's server is simply not found (404), never a policy error.
        raise instance_not_found(server_id)
    return cell, inst


def check_lock(call: Call, inst: dict[str, Any]) -> None:
    if inst.get("locked") and not caller(call).is_admin:
        raise conflict(f"Instance {inst['uuid']} is locked")


def check_state(
    inst: dict[str, Any],
    action: str,
    vm_states: tuple[str, ...],
    task_states: tuple[str | None, ...] = (None,),
    must_have_launched: bool = True,
) -> None:
    vm, task = inst.get("vm_state"), inst.get("task_state")
    if vm not in vm_states:
        raise invalid_state(inst["uuid"], "vm_state", vm, action)
    if task_states != ANY_TASK and task not in task_states:
        raise invalid_state(inst["uuid"], "task_state", task, action)
    if must_have_launched and not inst.get("launched_at"):
        raise invalid_state(inst["uuid"], "launched_at", None, action)


def placed(cell: m.CellMapping | None, inst: dict[str, Any], action: str) -> m.CellMapping:
    """The server's cell, for a server that is out of its build request (else 409)."""
    if cell is None:
        raise invalid_state(inst["uuid"], "vm_state", inst.get("vm_state"), action)
    return cell


def save(call: Call, cell: m.CellMapping, uuid: str, **values: Any) -> None:
    """Write instance fields (``metadata`` goes to its column) and bump ``updated_at``."""
    api = nova(call)
    with api.nova_cells.cell(cell).write() as s:
        row = s.scalars(select(m.Instance).where(m.Instance.uuid == uuid)).one()
        for key, value in values.items():
            setattr(row, "metadata_" if key == "metadata" else key, value)
        row.updated_at = api.now_iso()


def record_action(call: Call, cell: m.CellMapping, inst: dict[str, Any], action: str) -> None:
    """``InstanceAction.action_start`` with the API's request id."""
    api = nova(call)
    now = api.now_iso()
    with api.nova_cells.cell(cell).write() as s:
        s.add(
            m.InstanceAction(
                instance_uuid=inst["uuid"],
                action=action,
                request_id=call.request_id,
                user_id=caller(call).user_id,
                project_id=caller(call).project_id,
                start_time=now,
                updated_at=now,
            )
        )


def admin_password(call: Call, given: str | None) -> str:
    """The ``adminPass`` a create or rebuild answers (``[api] enable_instance_password``,
    True by default): the one the request gave, else one made up (12 characters, as
    ``nova.utils.generate_password``'s default length)."""
    if given is not None:
        return given
    return base64.b32encode(nova(call).runtime.ids.bytes(10)).decode()[:12]


def compute_up(call: Call, host: str) -> bool:
    """The servicegroup's verdict on ``nova-compute`` on ``host``."""
    api = nova(call)
    found = api.nova_cells.cell1()
    if found is None:
        return False
    with found[1].read() as s:
        service = s.scalars(
            select(m.Service).where(m.Service.host == host, m.Service.binary == "nova-compute")
        ).first()
    if service is None:
        return False
    return api.service_is_up(service)


# ---- images and flavors --------------------------------------------------------------------


def fetch_image(call: Call, image_id: str) -> dict[str, Any] | None:
    """Glance's image with the caller's token; None when Glance says 404."""
    api = nova(call)
    try:
        answer = glance_image(api.http_client, api.glance_url(), caller(call).token, image_id)
    except Exception as exc:
        raise NovaError(f"Image service unavailable: {exc}", status=503) from None
    if answer.status_code != 200:
        return None
    return dict(answer.json())


def check_flavor_image(flavor: dict[str, Any], image: dict[str, Any]) -> None:
    """``API._validate_flavor_image_nostatus`` for a server with a local root disk."""
    if int(flavor["memory_mb"]) < int(image.get("min_ram") or 0):
        raise bad_request("Flavor's memory is too small for requested image.")
    disk = int(flavor["root_gb"]) * GIB
    size = int(image.get("size") or 0)
    min_disk = int(image.get("min_disk") or 0) * GIB
    if disk and size > disk:
        raise bad_request(
            "Flavor's disk is too small for requested image. Flavor disk is "
            f"{disk} bytes, image is {size} bytes."
        )
    if disk and min_disk > disk:
        raise bad_request(
            "Flavor's disk is smaller than the minimum size specified in image metadata. "
            f"Flavor disk is {disk} bytes, minimum size is {min_disk} bytes."
        )


def visible_flavor(call: Call, row: m.Flavor | None) -> bool:
    """Nova's flavor query for a non-admin: public flavors and those shared with the
    caller's project (flavor access)."""
    if row is None:
        return False
    who = caller(call)
    return row.is_public or who.is_admin or who.project_id in (row.projects or [])


# ---- metadata ------------------------------------------------------------------------------


def check_metadata(field: str, value: Any) -> dict[str, str]:
    """``parameter_types.metadata``: an object of 1..255-character keys of
    ``[a-zA-Z0-9-_:. ]`` with string values of at most 255 characters."""
    if not isinstance(value, dict):
        raise bad_request(
            f"Invalid input for field/attribute {field}. Value: {value}. {value!r} is not of "
            "type 'object'"
        )
    odd = [k for k in value if not _META_KEY.match(k)]
    if odd:
        unexpected = ", ".join(repr(k) for k in odd)
        verb = "were" if len(odd) > 1 else "was"
        raise bad_request(
            f"Invalid input for field/attribute {field}. Value: {value}. Additional "
            f"properties are not allowed ({unexpected} {verb} unexpected)"
        )
    for key, item in value.items():
        if not isinstance(item, str):
            raise bad_request(
                f"Invalid input for field/attribute {key}. Value: {item}. {item!r} is not of "
                "type 'string'"
            )
        if len(item) > 255:
            raise bad_request(
                f"Invalid input for field/attribute {key}. Value: {item}. {item!r} is too long"
            )
    return {str(k): str(v) for k, v in value.items()}


def check_metadata_quota(call: Call, project_id: str, metadata: dict[str, str]) -> None:
    """``_check_metadata_properties_quota``: MetadataLimitExceeded is an OverQuota (403)."""
    allowed = quota.limits(nova(call).nova_cells, project_id)["metadata_items"]
    if 0 <= allowed < len(metadata):
        raise forbidden(f"Maximum number of metadata items exceeds {allowed}")
