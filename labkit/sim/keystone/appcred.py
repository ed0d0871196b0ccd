"""Application credentials, as Zed's ``keystone/application_credential`` keeps them.

A user, logged in on a project, makes an application credential: a name, a secret (theirs
or a generated one, shown once and kept only as a bcrypt hash), an optional expiry and a
subset of the roles their token carries. An application then logs in with the
``application_credential`` auth method (its id and secret, or its name, its user and the
secret) and gets a token scoped to that project carrying those roles -- those the user
still holds there (``tokens._scoped``). Unless made ``unrestricted``, such a token may not
manage application credentials itself. Deleting it invalidates its tokens; deleting the
user deletes their credentials. Access rules are not emulated.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from labkit.sim.keystone import assignment, identity, resource
from labkit.sim.keystone import models as m
from labkit.sim.keystone.errors import (
    Conflict,
    KeystoneError,
    NotFound,
    Unauthorized,
    ValidationError,
)

_CLIENT_IN_ERROR = (
    " The server could not comply with the request since it is either malformed or otherwise "
    "incorrect. The client is assumed to be in error."
)


def invalid(detail: str) -> ValidationError:
    """Keystone's ApplicationCredentialValidationError."""
    return ValidationError(f"Invalid application credential: {detail}")


def new_secret() -> str:
    """64 random bytes, URL-safe base64 without padding (Keystone's generated secret)."""
    return base64.urlsafe_b64encode(os.urandom(64)).rstrip(b"=").decode()


def parse_expiry(text: str, now: datetime) -> str:
    """``expires_at`` as stored: naive UTC ISO text. Keystone appends a 'Z' unless there is
    one, so an offset is malformed; a time already past is refused."""
    try:
        when = datetime.fromisoformat(text if text.endswith("Z") else text + "Z")
    except ValueError:
        raise ValidationError(f"Timestamp not in expected format.{_CLIENT_IN_ERROR}") from None
    when = when.astimezone(UTC)
    if when <= now:
        raise ValidationError(f"The 'expires_at' must not be before now.{_CLIENT_IN_ERROR}")
    return when.replace(tzinfo=None).isoformat()


def expiry(app_cred: m.ApplicationCredential) -> datetime | None:
    if app_cred.expires_at is None:
        return None
    return datetime.fromisoformat(app_cred.expires_at).replace(tzinfo=UTC)


def get(s: Session, app_cred_id: str) -> m.ApplicationCredential:
    found = s.get(m.ApplicationCredential, app_cred_id)
    if found is None:
        raise NotFound(f"Could not find Application Credential: {app_cred_id}.")
    return found


def list_for_user(
    s: Session, user_id: str, name: str | None = None
) -> list[m.ApplicationCredential]:
    query = select(m.ApplicationCredential).where(m.ApplicationCredential.user_id == user_id)
    if name is not None:
        query = query.where(m.ApplicationCredential.name == name)
    return list(s.scalars(query.order_by(m.ApplicationCredential.id)))


def _requested_roles(s: Session, wanted: Iterable[dict[str, Any]]) -> list[str]:
    """Role ids of the request's ``roles`` (each ``{"id": ...}`` or ``{"name": ...}``; a
    name is a global role's)."""
    ids: list[str] = []
    for ref in wanted:
        if ref.get("id"):
            ids.append(str(ref["id"]))
            continue
        found = s.scalars(
            select(m.Role).where(m.Role.name == ref["name"], m.Role.domain_id == m.NULL_DOMAIN)
        ).first()
        if found is None:
            raise NotFound.of("role", str(ref["name"]))
        ids.append(found.id)
    return ids


def create(
    s: Session,
    *,
    new_id: str,
    user_id: str,
    project_id: str | None,
    token_role_ids: list[str],
    data: dict[str, Any],
    rounds: int,
    now: datetime,
) -> tuple[m.ApplicationCredential, str]:
    """Store a validated request's credential; returns it and its secret in clear."""
    if data.get("roles"):
        role_ids = _requested_roles(s, data["roles"])
        if any(rid not in token_role_ids for rid in role_ids):
            raise invalid("Cannot create an application credential with unassigned role")
    else:
        role_ids = list(token_role_ids)
    held = assignment.effective_role_ids(s, user_id, project_id=project_id)
    for rid in role_ids:
        if rid not in held:
            raise invalid(
                f"Could not find role assignment with role: {rid}, user or group: {user_id}, "
                f"project, domain, or system: {project_id}."
            )
    for rid in role_ids:
        if s.get(m.Role, rid) is None:
            raise NotFound.of("role", rid)
    secret = data.get("secret") or new_secret()
    expires = data.get("expires_at")
    if list_for_user(s, user_id, str(data["name"])):
        raise Conflict.storing("application_credential", "Duplicate entry")
    row = m.ApplicationCredential(
        id=new_id,
        name=data["name"],
        secret_hash=identity.hash_password(str(secret), rounds),
        description=data.get("description"),
        user_id=user_id,
        project_id=project_id,
        expires_at=parse_expiry(str(expires), now) if expires else None,
        unrestricted=bool(data.get("unrestricted")),
        roles=role_ids,
    )
    s.add(row)
    return row, str(secret)


def authenticate(s: Session, info: dict[str, Any], now: datetime) -> m.ApplicationCredential:
    """The credential an ``application_credential`` auth method names, its secret checked
    (401 for a wrong secret, an expired or unknown credential)."""
    if info.get("id"):
        found = s.get(m.ApplicationCredential, str(info["id"]))
        if found is None:
            raise NotFound(f"Could not find Application Credential: {info['id']}.")
    else:
        found = _by_name(s, info)
    if not identity.check_password(str(info.get("secret", "")), found.secret_hash):
        raise Unauthorized()
    ends = expiry(found)
    if ends is not None and now >= ends:
        raise Unauthorized()
    return found


def _by_name(s: Session, info: dict[str, Any]) -> m.ApplicationCredential:
    name = info.get("name")
    if not name:
        raise ValidationError.expecting("name or ID", "application credential")
    user = info.get("user")
    if not user or not isinstance(user, dict):
        raise ValidationError.expecting("user", "application credential")
    user_id = user.get("id")
    if not user_id:
        if "domain" not in user:
            raise ValidationError.expecting("domain", "user")
        domain = user["domain"] if isinstance(user["domain"], dict) else {}
        try:
            if domain.get("id"):
                domain_id = resource.get_domain(s, str(domain["id"])).id
            else:
                domain_id = resource.get_domain_by_name(s, str(domain.get("name", ""))).id
            user_id = identity.get_user_by_name(s, str(user.get("name", "")), domain_id).id
        except NotFound:
            raise Unauthorized() from None
    found = list_for_user(s, str(user_id), str(name))
    if len(found) != 1:
        raise KeystoneError(f"Could not find application credential: {name}", status=401)
    return found[0]


def view(s: Session, row: m.ApplicationCredential, root: str, *, listed: bool) -> dict[str, Any]:
    """How Keystone shows a credential: its own GET adds ``user_id`` and ``system``; a
    listing or a create shows only the public fields."""
    roles = []
    for rid in row.roles:
        role = s.get(m.Role, rid)
        if role is not None:
            roles.append(
                {
                    "id": role.id,
                    "name": role.name,
                    "domain_id": None if role.domain_id == m.NULL_DOMAIN else role.domain_id,
                    "description": role.description,
                    "options": role.options,
                }
            )
    out: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "expires_at": row.expires_at,
        "project_id": row.project_id,
        "unrestricted": row.unrestricted,
        "roles": roles,
    }
    if not listed:
        out |= {"user_id": row.user_id, "system": None}
    out["links"] = {"self": f"{root}/v3/users/{row.user_id}/application_credentials/{row.id}"}
    return out
