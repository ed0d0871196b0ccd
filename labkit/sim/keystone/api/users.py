"""``/v3/users`` and ``/v3/groups``: users, passwords, group membership."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.keystone import identity, revoke, schemas, views
from labkit.sim.keystone import models as m
from labkit.sim.keystone.api._helpers import filters, ks
from labkit.sim.keystone.errors import Unauthorized, ValidationError
from labkit.sim.keystone.service import body_of, enforce, public
from labkit.sim.keystone.tokens import Token

routes = Routes()


def _user_target(call: Call, user_id: str) -> dict[str, Any]:
    with ks(call).session() as s:
        user = s.get(m.User, user_id)
    if user is None:
        return {"user_id": user_id, "target.user.id": user_id}
    return {"user_id": user.id, "target.user.id": user.id, "target.user.domain_id": user.domain_id}


@routes.get("/v3/users")
def list_users(call: Call) -> Response:
    wanted = filters(call, ("name", "domain_id", "enabled"))
    enforce(
        call,
        "identity:list_users",
        {"target.domain_id": wanted["domain_id"]} if "domain_id" in wanted else {},
    )
    with ks(call).session() as s:
        items = [views.user(u, call.root_url) for u in identity.list_users(s, wanted)]
    return json_response(views.collection("users", items, call.url))


@routes.post("/v3/users")
def create_user(call: Call) -> Response:
    data = body_of(call, "user")
    token: Token = call.auth
    if "domain_id" not in data:
        data["domain_id"] = (
            token.domain or (token.project or {}).get("domain") or {"id": "default"}
        )["id"]
    enforce(call, "identity:create_user", {"target.user.domain_id": data.get("domain_id")})
    schemas.validate(schemas.USER_CREATE, data)
    app = ks(call)
    with app.write() as s:
        user = identity.create_user(
            s,
            app.runtime.ids.hex_id(),
            data,
            rounds=app.hash_rounds,
            now=app.runtime.now().timestamp(),
        )
        out = views.user(user, call.root_url)
    return json_response({"user": out}, 201)


@routes.get("/v3/users/{user_id}")
def get_user(call: Call, user_id: str) -> Response:
    enforce(call, "identity:get_user", _user_target(call, user_id))
    with ks(call).session() as s:
        out = views.user(identity.get_user(s, user_id), call.root_url)
    return json_response({"user": out})


@routes.patch("/v3/users/{user_id}")
def update_user(call: Call, user_id: str) -> Response:
    enforce(call, "identity:update_user", _user_target(call, user_id))
    data = body_of(call, "user")
    schemas.validate(schemas.USER_UPDATE, data)
    app = ks(call)
    with app.write() as s:
        user = identity.get_user(s, user_id)
        was_enabled = user.enabled
        identity.update_user(s, user, data, rounds=app.hash_rounds)
        if "password" in data or (was_enabled and not user.enabled):
            revoke.revoke_user(s, user.id, app.runtime.now())
        out = views.user(user, call.root_url)
    return json_response({"user": out})


@routes.delete("/v3/users/{user_id}")
def delete_user(call: Call, user_id: str) -> Response:
    enforce(call, "identity:delete_user", _user_target(call, user_id))
    app = ks(call)
    with app.write() as s:
        identity.delete_user(s, identity.get_user(s, user_id))
        revoke.revoke_user(s, user_id, app.runtime.now())
    return empty_response()


@routes.post("/v3/users/{user_id}/password")
@public
def change_password(call: Call, user_id: str) -> Response:
    """Self-service, even without a token: the original password is the proof (as in Keystone,
    where this route is unenforced so that users with expired passwords can change them)."""
    data = body_of(call, "user")
    schemas.validate(schemas.PASSWORD_CHANGE, data)
    app = ks(call)
    with app.write() as s:
        user = identity.get_user(s, user_id)
        if not identity.check_password(data["original_password"], user.password_hash):
            raise Unauthorized()
        if not data["password"]:
            raise ValidationError.expecting("password", "user")
        identity.update_user(s, user, {"password": data["password"]}, rounds=app.hash_rounds)
        revoke.revoke_user(s, user.id, app.runtime.now())
    return empty_response()


@routes.get("/v3/users/{user_id}/groups")
def groups_for_user(call: Call, user_id: str) -> Response:
    enforce(call, "identity:list_groups_for_user", _user_target(call, user_id))
    with ks(call).session() as s:
        identity.get_user(s, user_id)
        groups = [s.get(m.Group, g) for g in identity.group_ids_for_user(s, user_id)]
        items = [
            {**views.group(g, call.root_url), "membership_expires_at": None}
            for g in groups
            if g is not None
        ]
    return json_response(views.collection("groups", items, call.url))


# ---- groups ------------------------------------------------------------------------------------


def _group_target(call: Call, group_id: str) -> dict[str, Any]:
    with ks(call).session() as s:
        group = s.get(m.Group, group_id)
    if group is None:
        return {"target.group.id": group_id}
    return {"target.group.id": group.id, "target.group.domain_id": group.domain_id}


@routes.get("/v3/groups")
def list_groups(call: Call) -> Response:
    wanted = filters(call, ("name", "domain_id"))
    enforce(
        call,
        "identity:list_groups",
        {"target.group.domain_id": wanted["domain_id"]} if "domain_id" in wanted else {},
    )
    with ks(call).session() as s:
        items = [views.group(g, call.root_url) for g in identity.list_groups(s, wanted)]
    return json_response(views.collection("groups", items, call.url))


@routes.post("/v3/groups")
def create_group(call: Call) -> Response:
    data = body_of(call, "group")
    token: Token = call.auth
    if "domain_id" not in data:
        data["domain_id"] = (
            token.domain or (token.project or {}).get("domain") or {"id": "default"}
        )["id"]
    enforce(call, "identity:create_group", {"target.group.domain_id": data.get("domain_id")})
    schemas.validate(schemas.GROUP_CREATE, data)
    with ks(call).write() as s:
        group = identity.create_group(s, ks(call).runtime.ids.hex_id(), data)
        out = views.group(group, call.root_url)
    return json_response({"group": out}, 201)


@routes.get("/v3/groups/{group_id}")
def get_group(call: Call, group_id: str) -> Response:
    enforce(call, "identity:get_group", _group_target(call, group_id))
    with ks(call).session() as s:
        out = views.group(identity.get_group(s, group_id), call.root_url)
    return json_response({"group": out})


@routes.patch("/v3/groups/{group_id}")
def update_group(call: Call, group_id: str) -> Response:
    enforce(call, "identity:update_group", _group_target(call, group_id))
    data = body_of(call, "group")
    schemas.validate(schemas.GROUP_UPDATE, data)
    with ks(call).write() as s:
        group = identity.update_group(s, identity.get_group(s, group_id), data)
        out = views.group(group, call.root_url)
    return json_response({"group": out})


@routes.delete("/v3/groups/{group_id}")
def delete_group(call: Call, group_id: str) -> Response:
    enforce(call, "identity:delete_group", _group_target(call, group_id))
    with ks(call).write() as s:
        identity.delete_group(s, identity.get_group(s, group_id))
    return empty_response()


@routes.get("/v3/groups/{group_id}/users")
def users_in_group(call: Call, group_id: str) -> Response:
    enforce(call, "identity:list_users_in_group", _group_target(call, group_id))
    with ks(call).session() as s:
        identity.get_group(s, group_id)
        items = [views.user(u, call.root_url) for u in identity.users_in_group(s, group_id)]
    return json_response(views.collection("users", items, call.url))


@routes.put("/v3/groups/{group_id}/users/{user_id}")
def add_user_to_group(call: Call, group_id: str, user_id: str) -> Response:
    enforce(
        call,
        "identity:add_user_to_group",
        {**_group_target(call, group_id), **_user_target(call, user_id)},
    )
    with ks(call).write() as s:
        identity.add_user_to_group(
            s, identity.get_user(s, user_id), identity.get_group(s, group_id)
        )
    return empty_response()


@routes.head("/v3/groups/{group_id}/users/{user_id}")
@routes.get("/v3/groups/{group_id}/users/{user_id}")
def check_user_in_group(call: Call, group_id: str, user_id: str) -> Response:
    enforce(
        call,
        "identity:check_user_in_group",
        {**_group_target(call, group_id), **_user_target(call, user_id)},
    )
    with ks(call).session() as s:
        group = identity.get_group(s, group_id)
        identity.check_user_in_group(s, identity.get_user(s, user_id), group)
    return empty_response()


@routes.delete("/v3/groups/{group_id}/users/{user_id}")
def remove_user_from_group(call: Call, group_id: str, user_id: str) -> Response:
    enforce(
        call,
        "identity:remove_user_from_group",
        {**_group_target(call, group_id), **_user_target(call, user_id)},
    )
    app = ks(call)
    with app.write() as s:
        group = identity.get_group(s, group_id)
        identity.remove_user_from_group(s, identity.get_user(s, user_id), group)
        revoke.revoke_user(s, user_id, app.runtime.now())
    return empty_response()
