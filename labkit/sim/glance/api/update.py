"""``PATCH /v2/images/{id}``: JSON-patch updates, both media types Glance accepts.

``application/openstack-images-v2.1-json-patch`` is JSON-patch draft 10 (``{"op": "replace",
"path": "/name", "value": ...}``); ``...-v2.0-json-patch`` is draft 4 (``{"replace": "/name",
"value": ...}``). Every refusal below carries the status and text Zed sends, including where
a text is WebOb's *explanation* and where its *detail*.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.glance import policy, schemas, views
from labkit.sim.glance.api._helpers import app, body, ctx
from labkit.sim.glance.api.images import check_counts
from labkit.sim.glance.domain import Image
from labkit.sim.glance.errors import (
    CountLimitExceeded,
    Forbidden,
    Invalid,
    NotFound,
    bad_request,
    conflict,
    forbidden,
    not_found,
    too_large,
    unsupported_media_type,
)
from labkit.sim.glance.policy import Context

routes = Routes()

MEDIA_TYPES = {
    "application/openstack-images-v2.0-json-patch": 4,
    "application/openstack-images-v2.1-json-patch": 10,
}
OPERATIONS = ("add", "remove", "replace")
READONLY = (
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "size",
    "virtual_size",
    "direct_url",
    "self",
    "file",
    "schema",
    "id",
    "os_hash_algo",
    "os_hash_value",
)
RESERVED = ("location", "deleted", "deleted_at")
ARRAY_PROPERTIES = ("tags", "locations")


@dataclass(frozen=True)
class Change:
    op: str
    path: list[str]
    value: Any = None
    draft: int = 10


def _pointer(pointer: Any) -> list[str]:
    """Glance's limited JSON pointers, with its messages."""
    if not isinstance(pointer, str):
        # Zed calls str methods on it and fails with an AttributeError (a bare 500, an
        # upstream bug); the sim refuses it as a pointer that does not start with "/".
        raise bad_request(f'Pointer `{pointer}` does not start with "/".')
    if not pointer.startswith("/"):
        raise bad_request(f'Pointer `{pointer}` does not start with "/".')
    if re.search(r"/\s*?/", pointer[1:]):
        raise bad_request(f'Pointer `{pointer}` contains adjacent "/".')
    if len(pointer) > 1 and pointer.endswith("/"):
        raise bad_request(f'Pointer `{pointer}` end with "/".')
    if pointer[1:].strip() == "/":
        raise bad_request(f"Pointer `{pointer}` does not contains valid token.")
    if re.search("~[^01]", pointer) or pointer.endswith("~"):
        raise bad_request(
            f'Pointer `{pointer}` contains "~" not part of a recognized escape sequence.'
        )
    return [
        part.replace("~1", "/").replace("~0", "~").strip()
        for part in pointer.lstrip("/").split("/")
    ]


def _operation(raw: dict[str, Any], draft: int) -> tuple[str, Any]:
    if draft == 10:
        op = raw.get("op")
        available = ", ".join(OPERATIONS)
        if op is None:
            raise bad_request(
                "Unable to find `op` in JSON Schema change. It must be one of the "
                f"following: {available}."
            )
        if op not in OPERATIONS:
            raise bad_request(
                f"Invalid operation: `{op}`. It must be one of the following: {available}."
            )
        if "path" not in raw:
            raise bad_request("Unable to find 'path' in JSON Schema change")
        return str(op), raw["path"]
    present = [key for key in OPERATIONS if key in raw]
    if len(present) > 1:
        raise bad_request(
            'Operation objects must contain only one member named "add", "remove", or "replace".'
        )
    if not present:
        raise bad_request(
            'Operation objects must contain exactly one member named "add", "remove", or "replace".'
        )
    return present[0], raw[present[0]]


def parse(call: Call, image_schema: dict[str, Any]) -> list[Change]:
    """RequestDeserializer.update."""
    media = call.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in MEDIA_TYPES:
        raise unsupported_media_type({"Accept-Patch": ", ".join(sorted(MEDIA_TYPES))})
    draft = MEDIA_TYPES[media]
    data = body(call)
    if not isinstance(data, list):
        raise bad_request("Request body must be a JSON array of operation objects.")
    changes = []
    for raw in data:
        if not isinstance(raw, dict):
            raise bad_request("Operations must be JSON objects.")
        op, pointer = _operation(raw, draft)
        path = _pointer(pointer)
        root = path[0]
        depth = 2 if root == "locations" and op in ("add", "remove") else 1
        if len(path) != depth:
            raise bad_request(f"Invalid JSON pointer for this resource: '/{'/'.join(path)}'")
        value = None
        if op != "remove":
            if "value" not in raw:
                raise bad_request(f'Operation "{op}" requires a member named "value".')
            value = raw["value"]
        _validate(op, path, value, image_schema)
        changes.append(Change(op, path, value, draft))
    return changes


def _validate(op: str, path: list[str], value: Any, image_schema: dict[str, Any]) -> None:
    root = path[0]
    if root in READONLY:
        raise forbidden(f"Attribute '{root}' is read-only.")
    if root in RESERVED or root.startswith("os_glance"):
        raise forbidden(f"Attribute '{root}' is reserved.")
    if op == "remove":
        return
    partial = (
        {root: value} if len(path) == 1 else ({root: [value]} if root in ARRAY_PROPERTIES else None)
    )
    if partial is not None:
        try:
            schemas.validate(image_schema, "image", partial)
        except Invalid as exc:
            raise bad_request(exc.msg) from None


def apply(caller: Context, image: Image, change: Change) -> None:
    """The controller's _do_add / _do_remove / _do_replace."""
    root = change.path[0]
    if root == "locations":
        verb = {"replace": "update", "add": "add", "remove": "remove"}[change.op]
        if change.op == "replace" and not change.value:
            raise forbidden(detail="Cannot set locations to empty list.")
        if change.op == "remove":
            policy.check_mutable(caller, image)
        # show_multiple_locations is off (Zed's default): locations cannot be touched.
        raise forbidden(f"It's not allowed to {verb} locations if locations are invisible.")
    if change.op == "replace" and root == "owner" and not caller.is_admin:
        raise forbidden(detail="Owner can't be updated by non admin.")
    if root == "visibility":
        try:
            policy.enforce_visibility(caller, change.value)
        except Forbidden as exc:
            raise forbidden(exc.msg) from None
    policy.check_mutable(caller, image)
    if change.op == "remove":
        if Image.has_attribute(root):
            raise forbidden(detail=f"Property {root} may not be removed.")
        if root not in image.extra:
            raise conflict(detail=f"Property {root} does not exist.")
        del image.extra[root]
        return
    exists = Image.has_attribute(root) or root in image.extra
    if change.op == "add" and change.draft == 4 and exists:
        raise conflict(detail=f"Property {root} already present.")
    if change.op == "replace" and not exists:
        raise conflict(detail=f"Property {root} does not exist.")
    if Image.has_attribute(root):
        image.set_attribute(root, change.value)
    else:
        image.extra[root] = change.value


@routes.patch("/v2/images/{image_id}")
def update(call: Call, image_id: str) -> Response:
    glance = app(call)
    conf = glance.config
    changes = parse(call, schemas.image_schema(conf.disk_formats, conf.container_formats))
    caller = ctx(call)
    try:
        with glance.images.write() as tx:
            image = tx.get(image_id, caller)
            for change in changes:
                apply(caller, image, change)
            if changes:
                check_counts(conf, image)
                tx.save(image)
    except NotFound as exc:
        raise not_found(exc.msg) from None
    except Invalid as exc:
        raise bad_request(exc.msg) from None
    except Forbidden as exc:
        raise forbidden(exc.msg) from None
    except CountLimitExceeded as exc:
        raise too_large(exc.msg) from None
    return json_response(views.image(image, conf.multistore))
