"""``/os-keypairs`` (enough for ``server create --key-name``; notebooks/05 goes further) and
``/os-server-groups``."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.nova import models as m
from labkit.sim.nova import quota
from labkit.sim.nova.api._helpers import body_of, caller, is_uuid, microversion_at_least, nova
from labkit.sim.nova.errors import bad_request, conflict, forbidden, not_found

routes = Routes()
_KEY_NAME = re.compile(r"^[a-zA-Z0-9 _@.-]+$")


def fingerprint(public_key: str) -> str:
    """Nova's fingerprint of an OpenSSH public key: md5 of the key blob, colon-separated."""
    parts = public_key.strip().split()
    if len(parts) < 2:
        raise ValueError("not an OpenSSH public key")
    blob = base64.b64decode(parts[1], validate=True)
    serialization.load_ssh_public_key(public_key.strip().encode())
    digest = hashlib.md5(blob).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


def _view(row: m.KeyPair, call: Call, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": row.name,
        "public_key": row.public_key,
        "fingerprint": row.fingerprint,
    }
    if microversion_at_least(call, "2.2"):
        out["type"] = row.type
    if full:
        out.update(
            {
                "user_id": row.user_id,
                "created_at": row.created_at,
                "deleted": False,
                "deleted_at": None,
                "updated_at": None,
                "id": row.id,
            }
        )
    return out


def _user(call: Call) -> str:
    who = caller(call)
    wanted = call.query.get("user_id")
    if wanted and microversion_at_least(call, "2.10"):
        if not who.is_admin:
            raise forbidden(
                "Policy doesn't allow os_compute_api:os-keypairs:index to be performed."
            )
        return wanted
    return who.user_id


@routes.get("/v2.1/os-keypairs")
def list_keypairs(call: Call) -> Response:
    with nova(call).nova_cells.api.read() as s:
        rows = list(
            s.scalars(
                select(m.KeyPair).where(m.KeyPair.user_id == _user(call)).order_by(m.KeyPair.name)
            )
        )
    return json_response({"keypairs": [{"keypair": _view(r, call, full=False)} for r in rows]})


@routes.get("/v2.1/os-keypairs/{name}")
def show_keypair(call: Call, name: str) -> Response:
    with nova(call).nova_cells.api.read() as s:
        row = s.scalars(
            select(m.KeyPair).where(m.KeyPair.user_id == _user(call), m.KeyPair.name == name)
        ).first()
    if row is None:
        raise not_found(f"Keypair {name} not found for user {_user(call)}")
    return json_response({"keypair": _view(row, call, full=True)})


@routes.post("/v2.1/os-keypairs")
def create_keypair(call: Call) -> Response:
    body = body_of(call, "keypair")
    name = body.get("name")
    if not isinstance(name, str) or not name or len(name) > 255 or not _KEY_NAME.match(name):
        raise bad_request(f"Invalid input for field/attribute name. Value: {name}.")
    kind = body.get("type", "ssh")
    if kind not in ("ssh", "x509"):
        raise bad_request(
            f"Invalid input for field/attribute type. Value: {kind}. {kind!r} is not one of "
            "['ssh', 'x509']"
        )
    user = caller(call).user_id
    if body.get("user_id") and microversion_at_least(call, "2.10"):
        if not caller(call).is_admin:
            raise forbidden(
                "Policy doesn't allow os_compute_api:os-keypairs:create to be performed."
            )
        user = str(body["user_id"])
    public = body.get("public_key")
    private: str | None = None
    if public is None:
        if microversion_at_least(call, "2.92"):
            raise bad_request(
                "Invalid input for field/attribute keypair. Value: ... 'public_key' is a required "
                "property"
            )
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()
        public = (
            key.public_key()
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            .decode()
            + " Generated-by-Nova"
        )
    try:
        print_ = fingerprint(str(public))
    except (ValueError, TypeError):
        raise bad_request("Keypair data is invalid: failed to generate fingerprint") from None
    api = nova(call)
    with api.nova_cells.api.write() as s:
        count = len(list(s.scalars(select(m.KeyPair).where(m.KeyPair.user_id == user))))
        limit = quota.limits(api.nova_cells, caller(call).project_id)["key_pairs"]
        if limit >= 0 and count >= limit:
            raise forbidden("Quota exceeded, too many key pairs.")
        if s.scalars(
            select(m.KeyPair).where(m.KeyPair.user_id == user, m.KeyPair.name == name)
        ).first():
            raise conflict(f"Key pair '{name}' already exists.")
        row = m.KeyPair(
            user_id=user,
            name=name,
            fingerprint=print_,
            public_key=str(public).strip(),
            type=kind,
            created_at=api.now_iso(),
        )
        s.add(row)
    out = _view(row, call, full=False)
    out["user_id"] = user
    if private is not None:
        out["private_key"] = private
    return json_response({"keypair": out}, 201 if microversion_at_least(call, "2.2") else 200)


@routes.delete("/v2.1/os-keypairs/{name}")
def delete_keypair(call: Call, name: str) -> Response:
    with nova(call).nova_cells.api.write() as s:
        row = s.scalars(
            select(m.KeyPair).where(m.KeyPair.user_id == _user(call), m.KeyPair.name == name)
        ).first()
        if row is None:
            raise not_found(f"Keypair {name} not found for user {_user(call)}")
        s.delete(row)
    return empty_response(202 if not microversion_at_least(call, "2.2") else 204)


# ---- server groups ------------------------------------------------------------------------------

_POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


def _group_view(call: Call, row: m.InstanceGroup) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.uuid,
        "name": row.name,
        "members": list(row.members),
        "metadata": {},
    }
    if microversion_at_least(call, "2.64"):
        out.pop("metadata")
        out.update(
            {
                "policy": row.policy,
                "rules": dict(row.rules or {}),
                "project_id": row.project_id,
                "user_id": row.user_id,
            }
        )
    else:
        out["policies"] = [row.policy]
        if microversion_at_least(call, "2.13"):
            out.update({"project_id": row.project_id, "user_id": row.user_id})
    return out


@routes.get("/v2.1/os-server-groups")
def list_groups(call: Call) -> Response:
    who = caller(call)
    with nova(call).nova_cells.api.read() as s:
        query = select(m.InstanceGroup)
        if not (who.is_admin and "all_projects" in call.query):
            query = query.where(m.InstanceGroup.project_id == who.project_id)
        rows = list(s.scalars(query.order_by(m.InstanceGroup.id)))
    return json_response({"server_groups": [_group_view(call, r) for r in rows]})


@routes.post("/v2.1/os-server-groups")
def create_group(call: Call) -> Response:
    body = body_of(call, "server_group")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request(f"Invalid input for field/attribute name. Value: {name}.")
    policy = (
        body.get("policy")
        if microversion_at_least(call, "2.64")
        else (body.get("policies") or [None])[0]
    )
    if policy not in _POLICIES:
        raise bad_request(
            f"Invalid input for field/attribute policy. Value: {policy}. {policy!r} is not one of "
            f"{list(_POLICIES)}"
        )
    api = nova(call)
    who = caller(call)
    if (
        quota.usage(api.nova_cells, who.project_id)["server_groups"]
        >= quota.limits(api.nova_cells, who.project_id)["server_groups"]
    ):
        raise forbidden("Quota exceeded, too many server groups.")
    row = m.InstanceGroup(
        uuid=api.runtime.ids.dashed_id(),
        name=name,
        project_id=who.project_id,
        user_id=who.user_id,
        policy=str(policy),
        rules=body.get("rules") or {},
        members=[],
    )
    with api.nova_cells.api.write() as s:
        s.add(row)
    return json_response({"server_group": _group_view(call, row)})


def _group(call: Call, group_id: str) -> m.InstanceGroup:
    with nova(call).nova_cells.api.read() as s:
        row = (
            s.scalars(select(m.InstanceGroup).where(m.InstanceGroup.uuid == group_id)).first()
            if is_uuid(group_id)
            else None
        )
    if row is None or (row.project_id != caller(call).project_id and not caller(call).is_admin):
        raise not_found(f"Instance group {group_id} could not be found.")
    return row


@routes.get("/v2.1/os-server-groups/{group_id}")
def show_group(call: Call, group_id: str) -> Response:
    return json_response({"server_group": _group_view(call, _group(call, group_id))})


@routes.delete("/v2.1/os-server-groups/{group_id}")
def delete_group(call: Call, group_id: str) -> Response:
    row = _group(call, group_id)
    with nova(call).nova_cells.api.write() as s:
        found = s.get(m.InstanceGroup, row.id)
        if found is not None:
            s.delete(found)
    return empty_response(204)
