"""``/limits``, ``/os-quota-sets`` (show, detail, defaults, update) and keypairs' quota."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.nova import models as m
from labkit.sim.nova import quota
from labkit.sim.nova.api._helpers import (
    body_of,
    caller,
    microversion_at_least,
    nova,
    owner_or_admin,
    require_admin,
)
from labkit.sim.nova.errors import bad_request

MAX_INT = 0x7FFFFFFF  # nova.db.constants.MAX_INT: the quota schema's maximum
routes = Routes()
# os-quota-sets keys after 2.57 (network quotas went at 2.36, injected files at 2.57)
_KEYS_257 = (
    "instances",
    "cores",
    "ram",
    "metadata_items",
    "key_pairs",
    "server_groups",
    "server_group_members",
)
_KEYS_236 = (
    *_KEYS_257,
    "injected_files",
    "injected_file_content_bytes",
    "injected_file_path_bytes",
)
_KEYS_21 = (*_KEYS_236, "fixed_ips", "floating_ips", "security_groups", "security_group_rules")


def _keys(call: Call) -> tuple[str, ...]:
    if microversion_at_least(call, "2.57"):
        return _KEYS_257
    return _KEYS_236 if microversion_at_least(call, "2.36") else _KEYS_21


@routes.get("/v2.1/limits")
def limits(call: Call) -> Response:
    who = caller(call)
    project = str(call.query.get("tenant_id") or who.project_id) if who.is_admin else who.project_id
    cells = nova(call).nova_cells
    have = quota.limits(cells, project)
    used = quota.usage(cells, project)
    absolute: dict[str, Any] = {
        "maxTotalInstances": have["instances"],
        "maxTotalCores": have["cores"],
        "maxTotalRAMSize": have["ram"],
        "maxServerMeta": have["metadata_items"],
        "maxImageMeta": have["metadata_items"],
        "maxPersonality": have["injected_files"],
        "maxPersonalitySize": have["injected_file_content_bytes"],
        "maxTotalKeypairs": have["key_pairs"],
        "maxServerGroups": have["server_groups"],
        "maxServerGroupMembers": have["server_group_members"],
        "totalRAMUsed": used["ram"],
        "totalCoresUsed": used["cores"],
        "totalInstancesUsed": used["instances"],
        "totalServerGroupsUsed": used["server_groups"],
    }
    if not microversion_at_least(call, "2.36"):
        absolute.update(
            {
                "maxTotalFloatingIps": -1,
                "maxSecurityGroups": -1,
                "maxSecurityGroupRules": -1,
                "totalFloatingIpsUsed": 0,
                "totalSecurityGroupsUsed": 0,
            }
        )
    if microversion_at_least(call, "2.57"):
        for key in ("maxPersonality", "maxPersonalitySize"):
            absolute.pop(key)
    return json_response({"limits": {"rate": [], "absolute": absolute}})


def _quota_set(call: Call, project_id: str, detail: bool) -> dict[str, Any]:
    cells = nova(call).nova_cells
    have = quota.limits(cells, project_id)
    used = quota.usage(cells, project_id)
    out: dict[str, Any] = {"id": project_id}
    for key in _keys(call):
        out[key] = (
            {"limit": have[key], "in_use": used.get(key, 0), "reserved": 0} if detail else have[key]
        )
    return out


@routes.get("/v2.1/os-quota-sets/{project_id}")
def show(call: Call, project_id: str) -> Response:
    owner_or_admin(call, project_id, "os_compute_api:os-quota-sets:show")
    return json_response({"quota_set": _quota_set(call, project_id, detail=False)})


@routes.get("/v2.1/os-quota-sets/{project_id}/detail")
def detail(call: Call, project_id: str) -> Response:
    owner_or_admin(call, project_id, "os_compute_api:os-quota-sets:detail")
    return json_response({"quota_set": _quota_set(call, project_id, detail=True)})


@routes.get("/v2.1/os-quota-sets/{project_id}/defaults")
def defaults(call: Call, project_id: str) -> Response:
    out: dict[str, Any] = {"id": project_id}
    have = quota.defaults(nova(call).nova_cells)
    out.update({k: have[k] for k in _keys(call)})
    return json_response({"quota_set": out})


def _checked(body: dict[str, Any], allowed: set[str], field: str) -> dict[str, int]:
    """The limits of a quota set or class body, checked with Nova's quota_resources schema
    and words: known keys only, an integer or a string of digits, -1 to MAX_INT."""
    values: dict[str, int] = {}
    for key, value in body.items():
        if key not in allowed:
            raise bad_request(
                f"Invalid input for field/attribute {field}. Value: {body}. Additional "
                f"properties are not allowed ('{key}' was unexpected)"
            )
        try:
            # Nova's schema: an integer, or a string of digits ('^-?[0-9]+$'); never a
            # bool or a float (which int() would take).
            if isinstance(value, bool | float) or (
                isinstance(value, str) and not re.fullmatch(r"-?[0-9]+", value)
            ):
                raise ValueError(value)
            number = int(value)
        except (TypeError, ValueError):
            raise bad_request(
                f"Invalid input for field/attribute {key}. Value: {value}. {value!r} is not valid "
                "under any of the given schemas"
            ) from None
        if number > MAX_INT:
            raise bad_request(
                f"Invalid input for field/attribute {key}. Value: {value}. {value} is greater "
                f"than the maximum of {MAX_INT}"
            )
        if number < -1:
            raise bad_request(
                f"Invalid input for field/attribute {key}. Value: {value}. {value} is less than "
                "the minimum of -1"
            )
        values[key] = number
    return values


@routes.put("/v2.1/os-quota-sets/{project_id}")
def update(call: Call, project_id: str) -> Response:
    require_admin(call, "os_compute_api:os-quota-sets:update")
    body = body_of(call, "quota_set")
    force = bool(body.pop("force", False))
    values = _checked(body, set(_keys(call)), "quota_set")
    cells = nova(call).nova_cells
    if not force:
        used = quota.usage(cells, project_id)
        for key, number in values.items():
            if number != -1 and used.get(key, 0) > number:
                raise bad_request(
                    f"Quota limit {number} for {key} must be greater than or equal to already "
                    f"used and reserved {used[key]}."
                )
    with cells.api.write() as s:
        for key, number in values.items():
            row = s.get(m.Quota, (project_id, key))
            if row is None:
                s.add(m.Quota(project_id=project_id, resource=key, hard_limit=number))
            else:
                row.hard_limit = number
    out = _quota_set(call, project_id, detail=False)
    out.pop("id")
    return json_response({"quota_set": out})


@routes.delete("/v2.1/os-quota-sets/{project_id}")
def reset(call: Call, project_id: str) -> Response:
    require_admin(call, "os_compute_api:os-quota-sets:delete")
    with nova(call).nova_cells.api.write() as s:
        for row in s.scalars(select(m.Quota).where(m.Quota.project_id == project_id)):
            s.delete(row)
    return empty_response(202)


# ---- quota classes --------------------------------------------------------------------------


def _class_keys(call: Call) -> tuple[str, ...]:
    """A class shows no server group quotas before 2.50, no nova-network ones from 2.50 and
    no injected files from 2.57 (``quota_classes.py``)."""
    if microversion_at_least(call, "2.50"):
        return _keys(call) if microversion_at_least(call, "2.57") else _KEYS_236
    return tuple(k for k in _KEYS_21 if k not in ("server_groups", "server_group_members"))


def _class_view(call: Call, name: str) -> dict[str, int]:
    have = quota.class_limits(nova(call).nova_cells, name)
    return {k: have[k] for k in _class_keys(call)}


@routes.get("/v2.1/os-quota-class-sets/{class_name}")
def show_class(call: Call, class_name: str) -> Response:
    require_admin(call, "os_compute_api:os-quota-class-sets:show")
    return json_response({"quota_class_set": {"id": class_name, **_class_view(call, class_name)}})


@routes.put("/v2.1/os-quota-class-sets/{class_name}")
def update_class(call: Call, class_name: str) -> Response:
    """Set a class's limits (the ``default`` class: every project's defaults)."""
    body = body_of(call, "quota_class_set")
    values = _checked(body, set(_class_keys(call)), "quota_class_set")
    require_admin(call, "os_compute_api:os-quota-class-sets:update")
    if len(class_name) > 255:
        raise bad_request("quota_class_name has more than 255 characters.")
    with nova(call).nova_cells.api.write() as s:
        for key, number in values.items():
            row = s.get(m.QuotaClass, (class_name, key))
            if row is None:
                s.add(m.QuotaClass(class_name=class_name, resource=key, hard_limit=number))
            else:
                row.hard_limit = number
    return json_response({"quota_class_set": _class_view(call, class_name)})
