"""``/servers/{id}/metadata`` and ``/servers/{id}/tags`` (2.26): a server's key/value
properties and its tags (``server_metadata.py``, ``server_tags.py`` in Nova).

Metadata changes need a server that has launched and is active, paused, suspended or
stopped (any task state), count against the ``metadata_items`` quota and are refused on a
locked server; tag changes need the same vm states. Reading works in any state.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.nova.api import _instance as srv
from labkit.sim.nova.api._helpers import microversion_at_least
from labkit.sim.nova.errors import NovaError, bad_request, not_found

routes = Routes()
_CHANGEABLE = ("active", "paused", "suspended", "stopped")
MAX_TAGS, MAX_TAG_LENGTH = 50, 60


# ---- metadata ------------------------------------------------------------------------------


def _body(call: Call, key: str) -> Any:
    data = call.json()
    if not isinstance(data, dict):
        raise bad_request(f"Invalid input for field/attribute body. Value: {data}.")
    extra = [k for k in data if k != key]
    if extra:
        raise bad_request(
            f"Additional properties are not allowed ({', '.join(repr(k) for k in extra)} "
            f"{'were' if len(extra) > 1 else 'was'} unexpected)"
        )
    if key not in data:
        raise bad_request(f"'{key}' is a required property")
    return data[key]


def _update(call: Call, server_id: str, metadata: dict[str, str], replace: bool) -> dict[str, str]:
    """``update_instance_metadata``: merge (or replace), check the quota, save."""
    cell, inst = srv.lookup(call, server_id)
    action = "update metadata"
    srv.check_lock(call, inst)
    srv.check_state(inst, action, _CHANGEABLE, srv.ANY_TASK)
    cell = srv.placed(cell, inst, action)
    merged = dict(metadata) if replace else {**inst["metadata"], **metadata}
    srv.check_metadata_quota(call, inst["project_id"], merged)
    srv.save(call, cell, inst["uuid"], metadata=merged)
    return merged


@routes.get("/v2.1/servers/{server_id}/metadata")
def list_metadata(call: Call, server_id: str) -> Response:
    _, inst = srv.lookup(call, server_id)
    return json_response({"metadata": dict(inst["metadata"])})


@routes.post("/v2.1/servers/{server_id}/metadata")
def add_metadata(call: Call, server_id: str) -> Response:
    metadata = srv.check_metadata("metadata", _body(call, "metadata"))
    return json_response({"metadata": _update(call, server_id, metadata, replace=False)})


@routes.put("/v2.1/servers/{server_id}/metadata")
def replace_metadata(call: Call, server_id: str) -> Response:
    metadata = srv.check_metadata("metadata", _body(call, "metadata"))
    return json_response({"metadata": _update(call, server_id, metadata, replace=True)})


@routes.get("/v2.1/servers/{server_id}/metadata/{key}")
def show_metadata_item(call: Call, server_id: str, key: str) -> Response:
    _, inst = srv.lookup(call, server_id)
    if key not in inst["metadata"]:
        raise not_found("Metadata item was not found")
    return json_response({"meta": {key: inst["metadata"][key]}})


@routes.put("/v2.1/servers/{server_id}/metadata/{key}")
def set_metadata_item(call: Call, server_id: str, key: str) -> Response:
    meta = _body(call, "meta")
    if isinstance(meta, dict) and len(meta) != 1:
        verdict = "does not have enough properties" if not meta else "has too many properties"
        raise bad_request(
            f"Invalid input for field/attribute meta. Value: {meta}. {meta} {verdict}"
        )
    item = srv.check_metadata("meta", meta)
    if key not in item:
        raise bad_request("Request body and URI mismatch")
    _update(call, server_id, item, replace=False)
    return json_response({"meta": item})


@routes.delete("/v2.1/servers/{server_id}/metadata/{key}")
def delete_metadata_item(call: Call, server_id: str, key: str) -> Response:
    cell, inst = srv.lookup(call, server_id)
    if key not in inst["metadata"]:
        raise not_found("Metadata item was not found")
    action = "delete metadata"
    srv.check_lock(call, inst)
    srv.check_state(inst, action, _CHANGEABLE, srv.ANY_TASK)
    cell = srv.placed(cell, inst, action)
    rest = {k: v for k, v in inst["metadata"].items() if k != key}
    srv.save(call, cell, inst["uuid"], metadata=rest)
    return empty_response(204)


# ---- tags (2.26) -----------------------------------------------------------------------------


def _tagged(call: Call, server_id: str) -> tuple[Any, dict[str, Any]]:
    if not microversion_at_least(call, "2.26"):
        raise not_found("The resource could not be found.")
    try:
        return srv.lookup(call, server_id)
    except NovaError as exc:  # the tags API looks for the instance mapping first
        if exc.status == 404:
            raise not_found(f"Instance {server_id} has no mapping to a cell.") from None
        raise


def _changing(call: Call, server_id: str, action: str) -> tuple[Any, dict[str, Any]]:
    cell, inst = _tagged(call, server_id)
    srv.check_state(inst, action, _CHANGEABLE, srv.ANY_TASK, must_have_launched=False)
    return srv.placed(cell, inst, action), inst


def _tag_problem(tag: Any) -> str | None:
    """What ``parameter_types.tag`` says about ``tag``, or None when it is fine."""
    if not isinstance(tag, str):
        return f"{tag!r} is not of type 'string'"
    if not tag:
        return f"{tag!r} is too short"
    if len(tag) > MAX_TAG_LENGTH:
        return f"{tag!r} is too long"
    if "," in tag or "/" in tag:
        return f"{tag!r} does not match '^[^,/]*$'"
    return None


@routes.get("/v2.1/servers/{server_id}/tags")
def list_tags(call: Call, server_id: str) -> Response:
    _, inst = _tagged(call, server_id)
    return json_response({"tags": list(inst.get("tags") or [])})


@routes.put("/v2.1/servers/{server_id}/tags")
def replace_tags(call: Call, server_id: str) -> Response:
    tags = _body(call, "tags")
    if not isinstance(tags, list):
        raise bad_request(
            f"Invalid input for field/attribute tags. Value: {tags}. {tags!r} is not of type "
            "'array'"
        )
    if len(tags) > MAX_TAGS:
        raise bad_request(f"Invalid input for field/attribute tags. Value: {tags}. is too long")
    for index, tag in enumerate(tags):
        problem = _tag_problem(tag)
        if problem:
            raise bad_request(f"Invalid input for field/attribute {index}. Value: {tag}. {problem}")
    cell, inst = _changing(call, server_id, "update tags")
    stored = sorted(set(tags))
    srv.save(call, cell, inst["uuid"], tags=stored)
    return json_response({"tags": stored})


@routes.delete("/v2.1/servers/{server_id}/tags")
def delete_tags(call: Call, server_id: str) -> Response:
    cell, inst = _changing(call, server_id, "delete tags")
    srv.save(call, cell, inst["uuid"], tags=[])
    return empty_response(204)


@routes.get("/v2.1/servers/{server_id}/tags/{tag}")
def check_tag(call: Call, server_id: str, tag: str) -> Response:
    _, inst = _tagged(call, server_id)
    if tag not in (inst.get("tags") or []):
        raise not_found(f"Server {server_id} has no tag '{tag}'")
    return empty_response(204)


@routes.put("/v2.1/servers/{server_id}/tags/{tag}")
def add_tag(call: Call, server_id: str, tag: str) -> Response:
    cell, inst = _changing(call, server_id, "update tag")
    problem = _tag_problem(tag)
    if problem:
        raise bad_request(
            f"Tag '{tag}' is invalid. It must be a non empty string without characters '/' "
            f"and ','. Validation error message: {problem}"
        )
    have = list(inst.get("tags") or [])
    if len(have) >= MAX_TAGS:
        raise bad_request(f"The number of tags exceeded the per-server limit {MAX_TAGS}")
    if tag in have:
        return empty_response(204)
    srv.save(call, cell, inst["uuid"], tags=sorted({*have, tag}))
    # The tag as it is (a unicode tag is a valid tag): the core encodes the header.
    location = f"{call.root_url}/v2.1/servers/{inst['uuid']}/tags/{tag}"
    return empty_response(201, {"Location": location})


@routes.delete("/v2.1/servers/{server_id}/tags/{tag}")
def delete_tag(call: Call, server_id: str, tag: str) -> Response:
    cell, inst = _changing(call, server_id, "delete tag")
    have = list(inst.get("tags") or [])
    if tag not in have:
        raise not_found(f"Instance {inst['uuid']} has no tag '{tag}'")
    srv.save(call, cell, inst["uuid"], tags=[t for t in have if t != tag])
    return empty_response(204)
