"""Users, passwords and groups (Keystone's "identity" backend): rules, no HTTP.

Passwords are hashed with bcrypt as Keystone does (``[identity] password_hash_algorithm =
bcrypt``); the cost is keystone.conf's ``[identity] password_hash_rounds``. Keystone's
default is 12 -- about 250 ms a login on a lab machine, which is most of a real token's
cost. The sim's install plan sets 4 so tokens cost milliseconds; notebook 02 shows the line.
"""

from __future__ import annotations

from typing import Any

import bcrypt
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from labkit.sim.keystone import models as m
from labkit.sim.keystone.errors import Conflict, ForbiddenNotSecurity, NotFound, ValidationError

MAX_PASSWORD_LENGTH = 4096
_BCRYPT_MAX_BYTES = 72  # bcrypt only reads this many bytes; passlib truncates silently too

_USER_FIELDS = {
    "id",
    "name",
    "domain_id",
    "enabled",
    "password",
    "default_project_id",
    "options",
    "federated",
}
_GROUP_FIELDS = {"id", "name", "domain_id", "description"}


def hash_password(password: str, rounds: int) -> str:
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ForbiddenNotSecurity(
            f"The password length must be less than or equal to {MAX_PASSWORD_LENGTH}. The "
            "server could not comply with the request because the password is invalid."
        )
    secret = password.encode()[:_BCRYPT_MAX_BYTES]
    return bcrypt.hashpw(secret, bcrypt.gensalt(rounds)).decode()


def check_password(password: str, hashed: str | None) -> bool:
    if not hashed or len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return bcrypt.checkpw(password.encode()[:_BCRYPT_MAX_BYTES], hashed.encode())
    except ValueError:
        return False


def _ensure_name_free(s: Session, model: type[m.User | m.Group], name: str, domain_id: str) -> None:
    """Names are unique per domain; Keystone's SQL backend reports a clash like this."""
    if s.scalars(select(model).where(model.name == name, model.domain_id == domain_id)).first():
        kind = "user" if model is m.User else "group"
        raise Conflict.storing(
            kind, f"Duplicate entry found with name {name} at domain ID {domain_id}"
        )


def get_user(s: Session, user_id: str) -> m.User:
    user = s.get(m.User, user_id)
    if user is None:
        raise NotFound.of("user", user_id)
    return user


def get_user_by_name(s: Session, name: str, domain_id: str) -> m.User:
    user = s.scalars(
        select(m.User).where(m.User.name == name, m.User.domain_id == domain_id)
    ).first()
    if user is None:
        raise NotFound.of("user", name)
    return user


def list_users(s: Session, filters: dict[str, Any]) -> list[m.User]:
    query = select(m.User).order_by(m.User.id)
    for key in ("name", "domain_id", "enabled"):
        if key in filters:
            query = query.where(getattr(m.User, key) == filters[key])
    return list(s.scalars(query))


def create_user(
    s: Session, user_id: str, data: dict[str, Any], *, rounds: int, now: float
) -> m.User:
    domain_id = data.get("domain_id") or "default"
    if s.get(m.Domain, domain_id) is None:
        raise NotFound.of("domain", domain_id)
    _ensure_name_free(s, m.User, data["name"], domain_id)
    password = data.get("password")
    user = m.User(
        id=user_id,
        name=data["name"],
        domain_id=domain_id,
        enabled=data.get("enabled", True) is not False,
        password_hash=hash_password(password, rounds) if password else None,
        default_project_id=data.get("default_project_id"),
        created_at=now,
        options=dict(data.get("options") or {}),
        extra={k: v for k, v in data.items() if k not in _USER_FIELDS},
    )
    s.add(user)
    return user


def update_user(s: Session, user: m.User, data: dict[str, Any], *, rounds: int) -> m.User:
    if "id" in data and data["id"] != user.id:
        raise ValidationError("Cannot change user ID")
    if "domain_id" in data and data["domain_id"] != user.domain_id:
        raise ValidationError("Cannot change Domain ID")
    if "name" in data and data["name"] != user.name:
        _ensure_name_free(s, m.User, data["name"], user.domain_id)
        user.name = data["name"]
    if "enabled" in data and data["enabled"] is not None:
        user.enabled = bool(data["enabled"])
    if "password" in data:
        user.password_hash = hash_password(data["password"], rounds) if data["password"] else None
    if "default_project_id" in data:
        user.default_project_id = data["default_project_id"]
    if "options" in data:
        user.options = {**user.options, **(data["options"] or {})}
    extra = {k: v for k, v in data.items() if k not in _USER_FIELDS}
    if extra:
        user.extra = {**user.extra, **extra}
    return user


def delete_user(s: Session, user: m.User) -> None:
    s.execute(delete(m.Assignment).where(m.Assignment.actor_id == user.id))
    s.execute(delete(m.Membership).where(m.Membership.user_id == user.id))
    s.execute(delete(m.Credential).where(m.Credential.user_id == user.id))
    s.execute(delete(m.ApplicationCredential).where(m.ApplicationCredential.user_id == user.id))
    s.delete(user)


def get_group(s: Session, group_id: str) -> m.Group:
    group = s.get(m.Group, group_id)
    if group is None:
        raise NotFound.of("group", group_id)
    return group


def list_groups(s: Session, filters: dict[str, Any]) -> list[m.Group]:
    query = select(m.Group).order_by(m.Group.id)
    for key in ("name", "domain_id"):
        if key in filters:
            query = query.where(getattr(m.Group, key) == filters[key])
    return list(s.scalars(query))


def create_group(s: Session, group_id: str, data: dict[str, Any]) -> m.Group:
    domain_id = data.get("domain_id") or "default"
    if s.get(m.Domain, domain_id) is None:
        raise NotFound.of("domain", domain_id)
    _ensure_name_free(s, m.Group, data["name"], domain_id)
    group = m.Group(
        id=group_id,
        name=data["name"],
        domain_id=domain_id,
        description=data.get("description") or "",
        extra={k: v for k, v in data.items() if k not in _GROUP_FIELDS},
    )
    s.add(group)
    return group


def update_group(s: Session, group: m.Group, data: dict[str, Any]) -> m.Group:
    if "domain_id" in data and data["domain_id"] != group.domain_id:
        raise ValidationError("Cannot change Domain ID")
    if "name" in data and data["name"] != group.name:
        _ensure_name_free(s, m.Group, data["name"], group.domain_id)
        group.name = data["name"]
    if "description" in data:
        group.description = data["description"] or ""
    return group


def delete_group(s: Session, group: m.Group) -> None:
    s.execute(delete(m.Assignment).where(m.Assignment.actor_id == group.id))
    s.execute(delete(m.Membership).where(m.Membership.group_id == group.id))
    s.delete(group)


def group_ids_for_user(s: Session, user_id: str) -> list[str]:
    return list(s.scalars(select(m.Membership.group_id).where(m.Membership.user_id == user_id)))


def users_in_group(s: Session, group_id: str) -> list[m.User]:
    return list(
        s.scalars(
            select(m.User)
            .join(m.Membership, m.Membership.user_id == m.User.id)
            .where(m.Membership.group_id == group_id)
            .order_by(m.User.id)
        )
    )


def add_user_to_group(s: Session, user: m.User, group: m.Group) -> None:
    if s.get(m.Membership, (user.id, group.id)) is None:
        s.add(m.Membership(user_id=user.id, group_id=group.id))


def check_user_in_group(s: Session, user: m.User, group: m.Group) -> m.Membership:
    row = s.get(m.Membership, (user.id, group.id))
    if row is None:
        raise NotFound(f"User '{user.id}' not found in group '{group.id}'")
    return row


def remove_user_from_group(s: Session, user: m.User, group: m.Group) -> None:
    s.delete(check_user_in_group(s, user, group))
