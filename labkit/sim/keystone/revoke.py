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
from datetime import datetime

from sqlalchemy import or_, select
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


def is_revoked(s: Session, payload: TokenPayload) -> bool:
    issued = payload.issued_at.timestamp() if payload.issued_at else 0.0
    query = select(m.RevocationEvent).where(
        or_(
            m.RevocationEvent.audit_id.in_(payload.audit_ids),
            m.RevocationEvent.user_id == payload.user_id,
        )
    )
    for event in s.scalars(query):
        if event.audit_id is not None:
            return True
        if issued <= event.issued_before and event.project_id in (None, payload.project_id):
            return True
    return False
