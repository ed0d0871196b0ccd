"""``/v2/images/{id}/members``: sharing an image with other projects.

Only ``shared`` images have members. The owner adds a project (status ``pending``); the
member project accepts or rejects it; an accepted image shows up in the member's image list
(pending and rejected ones are visible by id, and listed with ``member_status``).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.glance import views
from labkit.sim.glance.api._helpers import app, body, ctx, no_content
from labkit.sim.glance.domain import MEMBER_STATUSES, Image
from labkit.sim.glance.errors import (
    CountLimitExceeded,
    Duplicate,
    Forbidden,
    NotFound,
    bad_request,
    conflict,
    forbidden,
    not_found,
    too_large,
)
from labkit.sim.glance.policy import Context
from labkit.sim.glance.repo import Tx

routes = Routes()


def _image(tx: Tx, caller: Context, image_id: str) -> Image:
    try:
        return tx.get(image_id, caller)
    except NotFound:
        raise not_found(f"Image {image_id} not found.") from None


def _check(caller: Context, image: Image, ownership: str | None = None) -> None:
    """_check_visibility_and_ownership (the legacy, non-secure-RBAC checks)."""
    if image.visibility != "shared":
        raise Forbidden("Only shared images have members.")
    if caller.is_admin:
        return
    if ownership == "create" and (image.owner is None or image.owner != caller.owner):
        raise Forbidden("You are not permitted to create image members for the image.")
    if ownership == "update" and caller.owner == image.owner:
        raise Forbidden("You are not permitted to modify 'status' on this image member.")
    if ownership == "delete" and caller.owner != image.owner:
        raise Forbidden("You cannot delete image member.")


def _lookup(tx: Tx, image: Image, member_id: str) -> Any:
    for member in tx.members(image.id):
        if member.member_id == member_id:
            return member
    raise not_found(f"{member_id} not found in the member list of the image {image.id}.")


@routes.post("/v2/images/{image_id}/members")
def create(call: Call, image_id: str) -> Response:
    data = body(call)
    try:
        member_id = data["member"]
        if not member_id:
            raise bad_request("Member can't be empty")
    except KeyError:
        raise bad_request("Member to be added not specified") from None
    except TypeError:
        raise bad_request('Expected a member in the form: {"member": "image_id"}') from None
    caller = ctx(call)
    conf = app(call).config
    try:
        with app(call).images.write() as tx:
            image = _image(tx, caller, image_id)
            _check(caller, image, "create")
            if len(tx.members(image_id)) >= conf.image_member_quota:
                raise CountLimitExceeded(
                    "image members for this image",
                    len(tx.members(image_id)) + 1,
                    conf.image_member_quota,
                )
            member = tx.add_member(image_id, str(member_id))
    except Forbidden:
        raise forbidden(f"Not allowed to create members for image {image_id}.") from None
    except Duplicate:
        raise conflict(f"Member {member_id} is duplicated for image {image_id}") from None
    except CountLimitExceeded as exc:
        raise too_large(f"Image member limit exceeded for image {image_id}: {exc.msg}:") from None
    return json_response(views.member(member))


@routes.get("/v2/images/{image_id}/members")
def index(call: Call, image_id: str) -> Response:
    caller = ctx(call)
    with app(call).images.read() as tx:
        image = _image(tx, caller, image_id)
        try:
            _check(caller, image)
        except Forbidden as exc:
            raise forbidden(
                f"Not allowed to list members for image {image_id}: {exc.msg}"
            ) from None
        members = tx.members(image_id)
    if not caller.is_admin and caller.owner != image.owner:
        # A member sees its own membership only (get_member: owner or that member).
        members = [m for m in members if m.member_id == caller.owner]
    return json_response(
        {"members": [views.member(m) for m in members], "schema": "/v2/schemas/members"}
    )


@routes.get("/v2/images/{image_id}/members/{member_id}")
def show(call: Call, image_id: str, member_id: str) -> Response:
    caller = ctx(call)
    with app(call).images.read() as tx:
        image = _image(tx, caller, image_id)
        try:
            _check(caller, image)
        except Forbidden as exc:
            # Glance answers 404 here rather than reveal anything.
            raise not_found(exc.msg) from None
        if not caller.is_admin and caller.owner not in (image.owner, member_id):
            raise not_found(
                f"You are not authorized to lookup the members of the image {image_id}."
            )
        member = _lookup(tx, image, member_id)
    return json_response(views.member(member))


@routes.put("/v2/images/{image_id}/members/{member_id}")
def update(call: Call, image_id: str, member_id: str) -> Response:
    data = body(call)
    try:
        status = data["status"]
    except KeyError:
        raise bad_request("Status not specified") from None
    except TypeError:
        raise bad_request('Expected a status in the form: {"status": "status"}') from None
    caller = ctx(call)
    try:
        with app(call).images.write() as tx:
            image = _image(tx, caller, image_id)
            _check(caller, image, "update")
            _lookup(tx, image, member_id)
            if not caller.is_admin and caller.owner != member_id:
                raise Forbidden("only the member itself changes its status")
            if status not in MEMBER_STATUSES:
                raise bad_request(
                    'Incorrect request: Status must be "pending", "accepted" or "rejected".'
                )
            member = tx.set_member_status(image_id, member_id, status)
    except Forbidden:
        raise forbidden(f"Not allowed to update members for image {image_id}.") from None
    return json_response(views.member(member))


@routes.delete("/v2/images/{image_id}/members/{member_id}")
def delete(call: Call, image_id: str, member_id: str) -> Response:
    caller = ctx(call)
    try:
        with app(call).images.write() as tx:
            image = _image(tx, caller, image_id)
            _check(caller, image, "delete")
            _lookup(tx, image, member_id)
            tx.remove_member(image_id, member_id)
    except Forbidden:
        raise forbidden(f"Not allowed to delete members for image {image_id}.") from None
    return no_content()
