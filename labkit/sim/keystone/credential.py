"""Credentials (``/v3/credentials``, EC2 key pairs under ``/v3/users/{id}/credentials/OS-EC2``)
and stored policies (``/v3/policies``), as Zed's ``keystone/credential`` and
``keystone/policy`` keep them.

A credential is an opaque ``blob`` string owned by a user (and, for ``ec2``, a project).
An ``ec2`` credential's id is not random: it is the SHA-256 of the blob's ``access`` key, so
that an EC2 signature's access key finds its credential, and the OS-EC2 calls address a
credential by that access key. Keystone neither checks that the user or project exists nor
parses a blob of another type. Deleting a user or a project deletes its credentials
(``identity.delete_user``, ``resource.delete_project``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from labkit.sim.keystone import models as m
from labkit.sim.keystone.errors import Conflict, NotFound, ValidationError

EC2 = "ec2"
_CREDENTIAL_FIELDS = {"id", "user_id", "project_id", "type", "blob"}
_POLICY_FIELDS = {"id", "type", "blob"}


def hash_access_key(access: str) -> str:
    """The id of the ec2 credential whose blob has this ``access`` key."""
    return hashlib.sha256(access.encode("utf8")).hexdigest()


def ec2_blob(blob: Any) -> dict[str, Any]:
    """An ec2 credential's blob as a dict, with Keystone's 400s for one that is not a JSON
    object with an ``access`` key."""
    try:
        parsed = json.loads(blob)
    except (TypeError, ValueError):  # Keystone's own answer to a missing blob is a 500
        raise ValidationError("Invalid blob in credential") from None
    if not parsed or not isinstance(parsed, dict):
        raise ValidationError.expecting("blob", "credential")
    if parsed.get("access") is None:
        raise ValidationError.expecting("access", "credential")
    return parsed


def _as_dict(blob: str) -> dict[str, Any]:
    """A stored blob read as a JSON object ({} when it is not one)."""
    try:
        parsed = json.loads(blob)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def get_credential(s: Session, credential_id: str) -> m.Credential:
    credential = s.get(m.Credential, credential_id)
    if credential is None:
        raise NotFound.of("credential", credential_id)
    return credential


def list_credentials(s: Session, filters: dict[str, Any]) -> list[m.Credential]:
    query = select(m.Credential).order_by(m.Credential.id)
    if "user_id" in filters:
        query = query.where(m.Credential.user_id == filters["user_id"])
    if "type" in filters:
        query = query.where(m.Credential.type == filters["type"])
    return list(s.scalars(query))


def create_credential(s: Session, new_id: str, data: dict[str, Any]) -> m.Credential:
    """Store a credential; ``new_id`` is used unless it is an ec2 one (id from its access key)."""
    credential_id = new_id
    if str(data.get("type", "")).lower() == EC2:
        credential_id = hash_access_key(str(ec2_blob(data.get("blob"))["access"]))
    if s.get(m.Credential, credential_id) is not None:
        raise Conflict.storing("credential", f"Duplicate ID, {credential_id}.")
    credential = m.Credential(
        id=credential_id,
        user_id=data["user_id"],
        project_id=data.get("project_id"),
        type=data["type"],
        blob=data["blob"],
        extra={k: v for k, v in data.items() if k not in _CREDENTIAL_FIELDS},
    )
    s.add(credential)
    return credential


def update_credential(s: Session, credential: m.Credential, data: dict[str, Any]) -> m.Credential:
    """Apply a PATCH: an ec2 blob keeps its access key and scope; a credential made ec2
    needs a project."""
    if "id" in data and data["id"] is not None and data["id"] != credential.id:
        raise ValidationError("Cannot change ID")
    if credential.type.lower() == EC2:
        old = _as_dict(credential.blob)
        new = ec2_blob(data.get("blob"))
        for key in ("trust_id", "app_cred_id", "access_token_id", "access_id"):
            if old.get(key) != new.get(key):
                raise ValidationError(f"{key} can not be updated for credential")
    made_ec2 = str(data.get("type", "")).lower() == EC2
    if made_ec2 and not data.get("project_id") and not credential.project_id:
        raise ValidationError.expecting("project_id", "credential")
    for name in ("user_id", "project_id", "type", "blob"):
        if name in data:
            setattr(credential, name, data[name])
    credential.extra = {
        **credential.extra,
        **{k: v for k, v in data.items() if k not in _CREDENTIAL_FIELDS},
    }
    return credential


def delete_credential(s: Session, credential: m.Credential) -> None:
    s.delete(credential)


def ec2_view(credential: m.Credential) -> dict[str, Any]:
    """An ec2 credential as the OS-EC2 calls show it."""
    blob = _as_dict(credential.blob)
    return {
        "user_id": credential.user_id,
        "tenant_id": credential.project_id,
        "access": blob.get("access"),
        "secret": blob.get("secret"),
        "trust_id": blob.get("trust_id"),
    }


# ---- stored policies (/v3/policies) -------------------------------------------------------


def get_policy(s: Session, policy_id: str) -> m.Policy:
    policy = s.get(m.Policy, policy_id)
    if policy is None:
        raise NotFound.of("policy", policy_id)
    return policy


def list_policies(s: Session, filters: dict[str, Any]) -> list[m.Policy]:
    query = select(m.Policy).order_by(m.Policy.id)
    if "type" in filters:
        query = query.where(m.Policy.type == filters["type"])
    return list(s.scalars(query))


def create_policy(s: Session, policy_id: str, data: dict[str, Any]) -> m.Policy:
    policy = m.Policy(
        id=policy_id,
        type=data["type"],
        blob=data["blob"],
        extra={k: v for k, v in data.items() if k not in _POLICY_FIELDS},
    )
    s.add(policy)
    return policy


def update_policy(s: Session, policy: m.Policy, data: dict[str, Any]) -> m.Policy:
    if "id" in data and data["id"] != policy.id:
        raise ValidationError("Cannot change policy ID")
    for name in ("type", "blob"):
        if name in data:
            setattr(policy, name, data[name])
    policy.extra = {**policy.extra, **{k: v for k, v in data.items() if k not in _POLICY_FIELDS}}
    return policy


def delete_policy(s: Session, policy: m.Policy) -> None:
    s.delete(policy)
