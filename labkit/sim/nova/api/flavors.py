"""``/flavors``: list, detail, show, create (integer, UUID or generated id), delete, extra specs.

Private flavors (``os-flavor-access:is_public`` false) are seen by admins and by the projects
given access (:mod:`flavor_access`)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.nova import models as m
from labkit.sim.nova import views
from labkit.sim.nova.api._helpers import (
    MAX_LIMIT,
    body_of,
    caller,
    check_description,
    links,
    next_link,
    nova,
    require_admin,
)
from labkit.sim.nova.errors import bad_request, conflict, not_found

MAX_INT = 0x7FFFFFFF  # nova.db.constants.MAX_INT: the flavor schema's maximum
routes = Routes()
_NAME = re.compile(r"^(?! )[\w. _-]+(?<! )$")


def _visible(call: Call, row: m.Flavor) -> bool:
    who = caller(call)
    return row.is_public or who.is_admin or who.project_id in (row.projects or [])


def _get(call: Call, flavor_id: str) -> m.Flavor:
    with nova(call).nova_cells.api.read() as s:
        row = s.scalars(select(m.Flavor).where(m.Flavor.flavorid == flavor_id)).first()
    if row is None or not _visible(call, row):
        raise not_found(f"Flavor {flavor_id} could not be found.")
    return row


def _is_public_filter(call: Call) -> bool | None:
    """``_parse_is_public``: an admin may ask for public (default), private or ``none`` (all)
    flavors; everyone else gets public ones and those shared with their project."""
    if not caller(call).is_admin:
        return True
    raw = call.query.get("is_public")
    if raw is None:
        return True
    if raw.lower() == "none":
        return None
    parsed = _boolean(raw)
    if parsed is None:
        raise bad_request(f"Invalid is_public filter [{raw}]")
    return parsed


def _boolean(value: Any) -> bool | None:
    """oslo's strict bool_from_string (and real booleans): None when it is neither."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "t", "true", "on", "y", "yes"):
        return True
    if text in ("0", "f", "false", "off", "n", "no"):
        return False
    return None


# The columns a flavor list may be sorted by (Nova's FlavorList.get_all sort keys)
_SORT_KEYS = {
    "created_at": m.Flavor.id,
    "description": m.Flavor.description,
    "disabled": m.Flavor.disabled,
    "ephemeral_gb": m.Flavor.ephemeral_gb,
    "flavorid": m.Flavor.flavorid,
    "id": m.Flavor.id,
    "is_public": m.Flavor.is_public,
    "memory_mb": m.Flavor.memory_mb,
    "name": m.Flavor.name,
    "root_gb": m.Flavor.root_gb,
    "rxtx_factor": m.Flavor.rxtx_factor,
    "swap": m.Flavor.swap,
    "updated_at": m.Flavor.id,
    "vcpu_weight": m.Flavor.id,
    "vcpus": m.Flavor.vcpus,
}


def _listing(call: Call) -> list[m.Flavor]:
    """The flavors the caller may see, filtered, sorted (``flavorid`` ascending unless
    ``sort_key``/``sort_dir`` say otherwise) and paged (``marker``: the flavor id after which
    to start; ``limit``, at most ``[api] max_limit``), as Nova's ``_get_flavors``."""
    who = caller(call)
    column = _SORT_KEYS.get(call.query.get("sort_key") or "flavorid", m.Flavor.flavorid)
    order = column.desc() if call.query.get("sort_dir") == "desc" else column.asc()
    with nova(call).nova_cells.api.read() as s:
        rows = list(s.scalars(select(m.Flavor).order_by(order, m.Flavor.id)))
    if not who.is_admin:
        rows = [r for r in rows if not r.disabled]
    is_public = _is_public_filter(call)
    if is_public is not None:
        # Nova's query: is_public matches, or (asking for public) the project has access
        rows = [
            r
            for r in rows
            if r.is_public == is_public or (is_public and who.project_id in (r.projects or []))
        ]
    for key, attr in (("minRam", "memory_mb"), ("minDisk", "root_gb")):
        if key in call.query:
            try:
                floor = int(call.query[key])
            except ValueError:
                raise bad_request(f"Invalid {key} filter [{call.query[key]}]") from None
            rows = [r for r in rows if getattr(r, attr) >= floor]
    marker = call.query.get("marker")
    if marker is not None:
        after = next((n for n, r in enumerate(rows) if r.flavorid == marker), None)
        if after is None:
            raise bad_request(f"marker [{marker}] not found")
        rows = rows[after + 1 :]
    return rows[: _limit(call)]


def _limit(call: Call) -> int:
    raw = call.query.get("limit")
    if raw is None:
        return MAX_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise bad_request("limit param must be an integer") from None
    if limit < 0:
        raise bad_request("limit param must be positive")
    return min(limit, MAX_LIMIT)


def _paged(call: Call, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """``{key: items}``, and a ``next`` link when a full page came back with a ``limit``
    asked (Nova's ``_get_collection_links``)."""
    out: dict[str, Any] = {key: items}
    if "limit" in call.query and items and len(items) == _limit(call):
        query = {k: v for k, v in call.query.items() if k != "marker"}
        query["marker"] = items[-1]["id"]
        collection = f"{key}/detail" if call.path.endswith("/detail") else key
        out[f"{key}_links"] = next_link(call, collection, query)
    return out


@routes.get("/v2.1/flavors")
def list_flavors(call: Call) -> Response:
    items = [
        {"id": r.flavorid, "name": r.name, "links": links(call, "flavors", r.flavorid)}
        | ({"description": r.description} if call.auth.version.at_least("2.55") else {})
        for r in _listing(call)
    ]
    return json_response(_paged(call, "flavors", items))


@routes.get("/v2.1/flavors/detail")
def list_detail(call: Call) -> Response:
    return json_response(_paged(call, "flavors", [views.flavor(call, r) for r in _listing(call)]))


@routes.get("/v2.1/flavors/{flavor_id}")
def show(call: Call, flavor_id: str) -> Response:
    return json_response({"flavor": views.flavor(call, _get(call, flavor_id))})


def _int(body: dict[str, Any], key: str, minimum: int, required: bool = True) -> int:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise bad_request(
                f"Invalid input for field/attribute {key}. Value: None. '{key}' is a required "
                "property"
            )
        return 0
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # (OverflowError: JSON's Infinity)
        raise bad_request(
            f"Invalid input for field/attribute {key}. Value: {value}. {value!r} is not valid "
            "under any of the given schemas"
        ) from None
    if number < minimum:
        raise bad_request(
            f"Invalid input for field/attribute {key}. Value: {value}. {value} is less than the "
            f"minimum of {minimum}"
        )
    if number > MAX_INT:
        raise bad_request(
            f"Invalid input for field/attribute {key}. Value: {value}. {value} is greater than "
            f"the maximum of {MAX_INT}"
        )
    return number


def _factor(value: Any) -> float:
    """``rxtx_factor``: a number or a string of one, above 0 (Nova's flavor schema)."""
    text = str(value)
    if isinstance(value, bool) or not (
        isinstance(value, int | float)
        or (isinstance(value, str) and re.fullmatch(r"[0-9]+(\.[0-9]+)?", value))
    ):
        raise bad_request(
            f"Invalid input for field/attribute rxtx_factor. Value: {text}. {value!r} is not "
            "valid under any of the given schemas"
        )
    number = float(value)
    if number <= 0 or number > 3.40282e38:
        raise bad_request(
            f"Invalid input for field/attribute rxtx_factor. Value: {text}. {text} is less than "
            "or equal to the minimum of 0"
            if number <= 0
            else f"Invalid input for field/attribute rxtx_factor. Value: {text}. {text} is "
            "greater than the maximum of 3.40282e+38"
        )
    return number


def _public_flag(value: Any) -> bool:
    parsed = _boolean(value)
    if parsed is None:
        raise bad_request(
            f"Invalid input for field/attribute os-flavor-access:is_public. Value: {value}. "
            f"{value!r} is not one of [True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', "
            "'YES', 'Yes', 'yes', False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', "
            "'NO', 'No', 'no']"
        )
    return parsed


@routes.post("/v2.1/flavors")
def create(call: Call) -> Response:
    require_admin(call, "os_compute_api:os-flavor-manage:create")
    body = body_of(call, "flavor")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255 or not _NAME.match(name):
        raise bad_request(f"Invalid input for field/attribute name. Value: {name}.")
    flavor_id = body.get("id")
    api = nova(call)
    if flavor_id in (None, ""):
        flavor_id = api.runtime.ids.dashed_id()
    flavor_id = str(flavor_id)
    if not re.match(r"^(?! )[\w. _-]+(?<! )$", flavor_id):
        raise bad_request(f"Invalid input for field/attribute id. Value: {flavor_id}.")
    row = m.Flavor(
        flavorid=flavor_id,
        name=name,
        vcpus=_int(body, "vcpus", 1),
        memory_mb=_int(body, "ram", 1),
        root_gb=_int(body, "disk", 0),
        ephemeral_gb=_int(body, "OS-FLV-EXT-DATA:ephemeral", 0, required=False),
        swap=_int(body, "swap", 0, required=False),
        rxtx_factor=_factor(body.get("rxtx_factor", 1.0)),
        is_public=_public_flag(body.get("os-flavor-access:is_public", True)),
        description=body.get("description"),
        created_at=api.now_iso(),
    )
    with api.nova_cells.api.write() as s:
        clash = s.scalars(
            select(m.Flavor).where((m.Flavor.name == name) | (m.Flavor.flavorid == flavor_id))
        ).first()
        if clash is not None:
            if clash.name == name:
                raise conflict(f"Flavor with name {name} already exists.")
            raise conflict(f"Flavor with ID {flavor_id} already exists.")
        s.add(row)
    return json_response({"flavor": views.flavor(call, row)})


@routes.delete("/v2.1/flavors/{flavor_id}")
def delete(call: Call, flavor_id: str) -> Response:
    require_admin(call, "os_compute_api:os-flavor-manage:delete")
    with nova(call).nova_cells.api.write() as s:
        row = s.scalars(select(m.Flavor).where(m.Flavor.flavorid == flavor_id)).first()
        if row is None:
            raise not_found(f"Flavor {flavor_id} could not be found.")
        s.delete(row)
    return empty_response(202)


@routes.get("/v2.1/flavors/{flavor_id}/os-extra_specs")
def extra_specs(call: Call, flavor_id: str) -> Response:
    return json_response({"extra_specs": dict(_get(call, flavor_id).extra_specs or {})})


@routes.post("/v2.1/flavors/{flavor_id}/os-extra_specs")
def set_extra_specs(call: Call, flavor_id: str) -> Response:
    require_admin(call, "os_compute_api:os-flavor-extra-specs:create")
    data = call.json()
    specs = data.get("extra_specs") if isinstance(data, dict) else None
    if not isinstance(specs, dict) or not all(
        isinstance(v, str | int | float) for v in specs.values()
    ):
        raise bad_request("Invalid input for field/attribute extra_specs.")
    _get(call, flavor_id)
    with nova(call).nova_cells.api.write() as s:
        row = s.scalars(select(m.Flavor).where(m.Flavor.flavorid == flavor_id)).one()
        row.extra_specs = {**(row.extra_specs or {}), **{str(k): str(v) for k, v in specs.items()}}
        out = dict(row.extra_specs)
    return json_response({"extra_specs": {k: out[k] for k in specs}})


@routes.delete("/v2.1/flavors/{flavor_id}/os-extra_specs/{key}")
def delete_extra_spec(call: Call, flavor_id: str, key: str) -> Response:
    require_admin(call, "os_compute_api:os-flavor-extra-specs:delete")
    _get(call, flavor_id)
    with nova(call).nova_cells.api.write() as s:
        row = s.scalars(select(m.Flavor).where(m.Flavor.flavorid == flavor_id)).one()
        if key not in (row.extra_specs or {}):
            raise not_found(f"Flavor {flavor_id} has no extra specs with key {key}.")
        row.extra_specs = {k: v for k, v in row.extra_specs.items() if k != key}
    return empty_response(200)


_SPEC_KEY = re.compile(r"^[a-zA-Z0-9-_:. ]{1,255}$")


@routes.get("/v2.1/flavors/{flavor_id}/os-extra_specs/{key}")
def show_extra_spec(call: Call, flavor_id: str, key: str) -> Response:
    specs = dict(_get(call, flavor_id).extra_specs or {})
    if key not in specs:
        raise not_found(f"Flavor {flavor_id} has no extra specs with key {key}.")
    return json_response({key: specs[key]})


@routes.put("/v2.1/flavors/{flavor_id}/os-extra_specs/{key}")
def update_extra_spec(call: Call, flavor_id: str, key: str) -> Response:
    """One extra spec set: the body names exactly that key (Nova's update schema: one
    property, key and value as in the create schema), and is answered back as it came."""
    require_admin(call, "os_compute_api:os-flavor-extra-specs:update")
    body = call.json()
    if not isinstance(body, dict):
        raise bad_request(f"{body!r} is not of type 'object'")
    if not body:
        raise bad_request(f"{body!r} does not have enough properties")
    if len(body) > 1:
        raise bad_request(f"{body!r} has too many properties")
    ((name, value),) = body.items()
    if not _SPEC_KEY.match(name):
        raise bad_request(
            f"{name!r} does not match any of the regexes: '^[a-zA-Z0-9-_:. ]{{1,255}}$'"
        )
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise bad_request(
            f"Invalid input for field/attribute {name}. Value: {value}. {value!r} is not of "
            "type 'string', 'number'"
        )
    if len(str(value)) > 255:
        raise bad_request(
            f"Invalid input for field/attribute {name}. Value: {value}. {value!r} is too long"
            if isinstance(value, str)
            else "extra_specs value has more than 255 characters."
        )
    if name != key:
        raise bad_request("Request body and URI mismatch")
    _get(call, flavor_id)
    with nova(call).nova_cells.api.write() as s:
        row = s.scalars(select(m.Flavor).where(m.Flavor.flavorid == flavor_id)).one()
        row.extra_specs = {**(row.extra_specs or {}), name: str(value)}
    return json_response(body)


@routes.put("/v2.1/flavors/{flavor_id}")
def update(call: Call, flavor_id: str) -> Response:
    """2.55: a flavor's description is the one thing that can change after it is made."""
    if not call.auth.version.at_least("2.55"):
        raise not_found("The resource could not be found.")
    require_admin(call, "os_compute_api:os-flavor-manage:update")
    body = body_of(call, "flavor")
    extra = [k for k in body if k != "description"]
    if extra or "description" not in body:
        raise bad_request(
            f"Invalid input for field/attribute flavor. Value: {body}. "
            + (
                f"Additional properties are not allowed ({', '.join(repr(k) for k in extra)} "
                f"{'were' if len(extra) > 1 else 'was'} unexpected)"
                if extra
                else "'description' is a required property"
            )
        )
    description = check_description(body["description"], 65535)
    _get(call, flavor_id)
    with nova(call).nova_cells.api.write() as s:
        row = s.scalars(select(m.Flavor).where(m.Flavor.flavorid == flavor_id)).one()
        row.description = description
    return json_response({"flavor": views.flavor(call, _get(call, flavor_id))})
