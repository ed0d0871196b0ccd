"""Revocation events: how a Fernet token, which nothing stores, can still be revoked.

Deleting a token records its audit id; disabling a user, changing their password or removing
their roles records the user. A token matching an event is invalid: for an audit id always,
for a user when the token was issued before the event.

Fernet timestamps have whole seconds. A user event therefore revokes tokens issued in
*earlier* seconds only, so that the new token a client fetches right after changing a
password is not revoked with the old ones (LIMITATIONS: a token issued in the same second
just before the event survives).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from labkit.sim.keystone import models as m
from labkit.sim.keystone.fernet import TokenPayload


def revoke_audit_id(s: Session, audit_id: str, now: datetime) -> None:
    s.add(
        m.RevocationEvent(
            audit_id=audit_id, issued_before=now.timestamp(), revoked_at=now.timestamp()
        )
    )


def revoke_user(s: Session, user_id: str, now: datetime, project_id: str | None = None) -> None:
    s.add(
        m.RevocationEvent(
            user_id=user_id,
            project_id=project_id,
            issued_before=math.floor(now.timestamp()) - 0.001,
            revoked_at=now.timestamp(),
        )
    )


@dataclass(frozen=True)
class Revocations:
    """Every revocation event, arranged for the check each validation makes."""

    audit_ids: frozenset[str] = frozenset()
    # user id -> (issued_before, project_id or None for all projects) of user events
    by_user: dict[str, tuple[tuple[float, str | None], ...]] = field(default_factory=dict)
    # users named by an audit-id event: every token of theirs matches it
    users_always: frozenset[str] = frozenset()

    def is_revoked(self, payload: TokenPayload) -> bool:
        if payload.user_id in self.users_always:
            return True
        if any(audit_id in self.audit_ids for audit_id in payload.audit_ids):
            return True
        issued = payload.issued_at.timestamp() if payload.issued_at else 0.0
        return any(
            issued <= issued_before and project_id in (None, payload.project_id)
            for issued_before, project_id in self.by_user.get(payload.user_id, ())
        )


def events(s: Session) -> Revocations:
    """Read the revocation events (Keystone's ``revocation_event`` table)."""
    audit_ids: set[str] = set()
    users_always: set[str] = set()
    by_user: dict[str, list[tuple[float, str | None]]] = {}
    columns = (
        m.RevocationEvent.audit_id,
        m.RevocationEvent.user_id,
        m.RevocationEvent.project_id,
        m.RevocationEvent.issued_before,
    )
    for audit_id, user_id, project_id, issued_before in s.execute(select(*columns)):
        if audit_id is not None:
            audit_ids.add(audit_id)
            if user_id is not None:
                users_always.add(user_id)
        elif user_id is not None:
            by_user.setdefault(user_id, []).append((issued_before, project_id))
    return Revocations(
        frozenset(audit_ids),
        {user: tuple(found) for user, found in by_user.items()},
        frozenset(users_always),
    )
