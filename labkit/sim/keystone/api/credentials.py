"""``/v3/credentials``, ``/v3/users/{user_id}/credentials/OS-EC2`` and ``/v3/policies``."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.keystone import credential, extensions, identity, policy, resource, schemas, views
from labkit.sim.keystone import models as m
from labkit.sim.keystone.api._helpers import SystemResource, add_system_resource, filters, ks
from labkit.sim.keystone.errors import NotFound, Unauthorized
from labkit.sim.keystone.service import body_of, enforce

routes = Routes()


def _target(c: m.Credential | None, **extra: Any) -> dict[str, Any]:
    """A policy target naming a credential's owner (empty when there is no such credential:
    Keystone defers the 404 until after the check, as here)."""
    target = dict(extra)
    if c is not None:
        target["target.credential.user_id"] = c.user_id
    return target


@routes.get("/v3/credentials")
def list_credentials(call: Call) -> Response:
    token = call.auth
    owner = None if token.credentials().system else token.user_id
    enforce(call, "identity:list_credentials", {"target.credential.user_id": owner})
    with ks(call).session() as s:
        found = credential.list_credentials(s, filters(call, ("user_id", "type"), ()))
        # Each one is checked again: a project admin sees all, anyone else only their own.
        creds = token.credentials()
        items = [
            views.credential(c, call.root_url)
            for c in found
            if policy.enforce("identity:get_credential", creds, _target(c))
        ]
    return json_response(views.collection("credentials", items, call.url))


@routes.post("/v3/credentials")
def create_credential(call: Call) -> Response:
    data = body_of(call, "credential")
    enforce(call, "identity:create_credential", {"target.credential.user_id": data.get("user_id")})
    schemas.validate(schemas.CREDENTIAL_CREATE, data)
    with ks(call).write() as s:
        made = credential.create_credential(s, ks(call).runtime.ids.hex_id(), data)
        out = views.credential(made, call.root_url)
    return json_response({"credential": out}, 201)


@routes.get("/v3/credentials/{credential_id}")
def get_credential(call: Call, credential_id: str) -> Response:
    with ks(call).session() as s:
        enforce(call, "identity:get_credential", _target(s.get(m.Credential, credential_id)))
        out = views.credential(credential.get_credential(s, credential_id), call.root_url)
    return json_response({"credential": out})


@routes.patch("/v3/credentials/{credential_id}")
def update_credential(call: Call, credential_id: str) -> Response:
    with ks(call).write() as s:
        enforce(call, "identity:update_credential", _target(s.get(m.Credential, credential_id)))
        current = credential.get_credential(s, credential_id)
        data = body_of(call, "credential")
        schemas.validate(schemas.CREDENTIAL_UPDATE, data)
        # the owner after the change must also pass (no handing a credential to another user)
        after = data.get("user_id", current.user_id)
        enforce(call, "identity:update_credential", {"target.credential.user_id": after})
        out = views.credential(credential.update_credential(s, current, data), call.root_url)
    return json_response({"credential": out})


@routes.delete("/v3/credentials/{credential_id}")
def delete_credential(call: Call, credential_id: str) -> Response:
    with ks(call).write() as s:
        enforce(call, "identity:delete_credential", _target(s.get(m.Credential, credential_id)))
        credential.delete_credential(s, credential.get_credential(s, credential_id))
    return empty_response()


# ---- OS-EC2 ------------------------------------------------------------------------------


@routes.get("/v3/users/{user_id}/credentials/OS-EC2")
def list_ec2(call: Call, user_id: str) -> Response:
    enforce(call, "identity:ec2_list_credentials", {"user_id": user_id})
    with ks(call).session() as s:
        identity.get_user(s, user_id)
        found = credential.list_credentials(s, {"user_id": user_id, "type": credential.EC2})
        items = [views.ec2_credential(credential.ec2_view(c), call.root_url) for c in found]
    return json_response(views.collection("credentials", items, call.url))


@routes.post("/v3/users/{user_id}/credentials/OS-EC2")
def create_ec2(call: Call, user_id: str) -> Response:
    enforce(
        call,
        "identity:ec2_create_credential",
        {"user_id": user_id, "target.credential.user_id": user_id},
    )
    body = call.json()
    tenant_id = body.get("tenant_id") if isinstance(body, dict) else None
    ids = ks(call).runtime.ids
    with ks(call).write() as s:
        identity.get_user(s, user_id)
        if not isinstance(tenant_id, str):
            raise NotFound.of("project", str(tenant_id))
        resource.get_project(s, tenant_id)
        blob = {"access": ids.hex_id(), "secret": ids.hex_id(), "trust_id": None}
        made = credential.create_credential(
            s,
            "",
            {
                "user_id": user_id,
                "project_id": tenant_id,
                "type": credential.EC2,
                "blob": json.dumps(blob),
            },
        )
        out = views.ec2_credential(credential.ec2_view(made), call.root_url)
    return json_response({"credential": out}, 201)


def _ec2(call: Call, s: Any, rule: str, user_id: str, access: str) -> m.Credential:
    """The ec2 credential of ``access``, as Keystone finds it: its 404 before the policy
    check (which needs the owner), then the user's 404, and 401 for a credential of another
    type (Keystone's "EC2 access key not found.", hidden as every 401 is)."""
    found = credential.get_credential(s, credential.hash_access_key(access))
    enforce(call, rule, _target(found, user_id=user_id))
    identity.get_user(s, user_id)
    if found.type != credential.EC2:
        raise Unauthorized()
    return found


@routes.get("/v3/users/{user_id}/credentials/OS-EC2/{access}")
def get_ec2(call: Call, user_id: str, access: str) -> Response:
    with ks(call).session() as s:
        found = _ec2(call, s, "identity:ec2_get_credential", user_id, access)
        out = views.ec2_credential(credential.ec2_view(found), call.root_url)
    return json_response({"credential": out})


@routes.delete("/v3/users/{user_id}/credentials/OS-EC2/{access}")
def delete_ec2(call: Call, user_id: str, access: str) -> Response:
    with ks(call).write() as s:
        found = _ec2(call, s, "identity:ec2_delete_credential", user_id, access)
        credential.delete_credential(s, found)
    return empty_response()


add_system_resource(
    routes,
    SystemResource(
        "policy",
        credential,
        views.policy_blob,
        schemas.POLICY_CREATE,
        schemas.POLICY_UPDATE,
        ("type",),
        plural="policies",
    ),
)

add_system_resource(
    routes,
    SystemResource(
        "consumer",
        extensions,
        views.consumer,
        schemas.CONSUMER_CREATE,
        schemas.CONSUMER_UPDATE,
        (),
        path="/v3/OS-OAUTH1/consumers",
        created_view=views.new_consumer,
    ),
)
