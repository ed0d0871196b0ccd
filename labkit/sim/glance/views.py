"""How Glance renders images, members and tasks (``ResponseSerializer._format_image`` ...).

Field order is Zed's: extra properties first, then the base attributes, then links. ``stores``
appears only with multiple stores enabled and only once the image has data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from labkit.sim.core.clock import isotime
from labkit.sim.glance import models as m
from labkit.sim.glance.domain import BASE_ATTRIBUTES, Image
from labkit.sim.glance.repo import Member

# Glance keeps these on the image but never shows them.
HIDDEN_PROPERTIES = ("os_glance_stage_host",)
# The image's own attributes, in the order Glance's serializer writes them; id, times and
# tags come later in the body, next to the links, and locations are never shown.
_LATER = ("tags", "id", "created_at", "updated_at", "locations")
_ATTRIBUTES = tuple(a for a in BASE_ATTRIBUTES if a not in _LATER)


def timestamp(seconds: float) -> str:
    return isotime(datetime.fromtimestamp(seconds, UTC))


def _primitive_time(seconds: float | None) -> str | None:
    """oslo.serialization's to_primitive for datetimes: microseconds, no zone."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def image(img: Image, multistore: bool) -> dict[str, Any]:
    view: dict[str, Any] = {k: v for k, v in img.extra.items() if k not in HIDDEN_PROPERTIES}
    for key in _ATTRIBUTES:
        view[key] = getattr(img, key)
    view["id"] = img.id
    view["created_at"] = timestamp(img.created_at)
    view["updated_at"] = timestamp(img.updated_at)
    view["tags"] = list(img.tags)
    view["self"] = f"/v2/images/{img.id}"
    view["file"] = f"/v2/images/{img.id}/file"
    view["schema"] = "/v2/schemas/image"
    if multistore:
        stores = [loc.store for loc in img.locations if loc.store]
        if stores:
            view["stores"] = ",".join(stores)
    return view


def member(mem: Member) -> dict[str, Any]:
    return {
        "member_id": mem.member_id,
        "image_id": mem.image_id,
        "status": mem.status,
        "created_at": timestamp(mem.created_at),
        "updated_at": timestamp(mem.updated_at),
        "schema": "/v2/schemas/member",
    }


def task(row: m.TaskRow) -> dict[str, Any]:
    """A row of ``tasks_get_by_image``, serialised by Glance's default JSON serializer."""
    return {
        "id": row.id,
        "type": row.type,
        "status": row.status,
        "owner": row.owner,
        "expires_at": _primitive_time(row.expires_at),
        "created_at": _primitive_time(row.created_at),
        "updated_at": _primitive_time(row.updated_at),
        "deleted_at": None,
        "deleted": False,
        "image_id": row.image_id,
        "request_id": row.request_id,
        "user_id": row.user_id,
        "input": row.input,
        "result": row.result,
        "message": row.message,
    }
