"""Roles, implied roles, grants and role assignments (Keystone's "assignment" backend).

A grant gives a role to an *actor* (user or group) on a *target* (project, domain or the
system). What a user can do on a project -- the roles in their token -- is the *effective*
set: their own grants, their groups' grants, grants inherited from the domain or parent
projects (``OS-INHERIT``), and every role those roles imply (``admin`` implies ``member``
implies ``reader`` after ``keystone-manage bootstrap``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from labkit.sim.keystone import models as m
from labkit.sim.keystone.errors import Conflict, ForbiddenNotSecurity, NotFound, ValidationError
from labkit.sim.keystone.models import (
    GROUP_DOMAIN,
    GROUP_PROJECT,
    GROUP_SYSTEM,
    USER_DOMAIN,
    USER_PROJECT,
    USER_SYSTEM,
)

_ROLE_FIELDS = {"id", "name", "domain_id", "description", "options"}


# ---- roles -------------------------------------------------------------------------------------


def get_role(s: Session, role_id: str) -> m.Role:
    role = s.get(m.Role, role_id)
    if role is None:
        raise NotFound.of("role", role_id)
    return role


def list_roles(s: Session, filters: dict[str, Any]) -> list[m.Role]:
    query = select(m.Role).order_by(m.Role.id)
    if "name" in filters:
        query = query.where(m.Role.name == filters["name"])
    query = query.where(m.Role.domain_id == (filters.get("domain_id") or m.NULL_DOMAIN))
    return list(s.scalars(query))


def create_role(s: Session, role_id: str, data: dict[str, Any]) -> m.Role:
    domain_id = data.get("domain_id") or m.NULL_DOMAIN
    clash = s.scalars(
        select(m.Role).where(m.Role.name == data["name"], m.Role.domain_id == domain_id)
    ).first()
    if clash is not None:
        where = "" if domain_id == m.NULL_DOMAIN else f" at domain ID {domain_id}"
        raise Conflict.storing("role", f"Duplicate entry found with name {data['name']}{where}")
    role = m.Role(
        id=role_id,
        name=data["name"],
        domain_id=domain_id,
        description=data.get("description"),
        options=dict(data.get("options") or {}),
        extra={k: v for k, v in data.items() if k not in _ROLE_FIELDS},
    )
    s.add(role)
    return role


def update_role(s: Session, role: m.Role, data: dict[str, Any]) -> m.Role:
    if role.options.get("immutable") and not (
        set(data) == {"options"} or data.get("options", {}).get("immutable") is False
    ):
        raise ForbiddenNotSecurity(
            f"Unable to update immutable role resource: `{role.id}. Set resource option "
            '"immutable" to false first.'
        )
    if "name" in data and data["name"] != role.name:
        clash = s.scalars(
            select(m.Role).where(m.Role.name == data["name"], m.Role.domain_id == role.domain_id)
        ).first()
        if clash is not None:
            raise Conflict.storing("role", f"Duplicate entry found with name {data['name']}")
        role.name = data["name"]
    if "description" in data:
        role.description = data["description"]
    if "options" in data:
        role.options = {**role.options, **(data["options"] or {})}
    return role


def delete_role(s: Session, role: m.Role) -> None:
    if role.options.get("immutable"):
        raise ForbiddenNotSecurity(
            f"Unable to delete immutable role resource: `{role.id}. Set resource option "
            '"immutable" to false first.'
        )
    s.execute(delete(m.Assignment).where(m.Assignment.role_id == role.id))
    s.execute(
        delete(m.ImpliedRole).where(
            (m.ImpliedRole.prior_role_id == role.id) | (m.ImpliedRole.implied_role_id == role.id)
        )
    )
    s.delete(role)


def role_domain(role: m.Role) -> str | None:
    return None if role.domain_id == m.NULL_DOMAIN else role.domain_id


# ---- implied roles -------------------------------------------------------------------------


def create_implied_role(s: Session, prior: m.Role, implied: m.Role) -> None:
    if implied.name == "admin":  # keystone.conf [assignment] prohibited_implied_role
        raise ForbiddenNotSecurity(f"{implied.id} cannot be an implied roles.")
    if prior.domain_id == m.NULL_DOMAIN and implied.domain_id != m.NULL_DOMAIN:
        # A global role cannot imply a domain-specific one (Keystone's InvalidImpliedRole: a
        # security error, so its own explanation stays in the log, not in the answer).
        raise ForbiddenNotSecurity(f"{implied.id} cannot be an implied roles.")
    if s.get(m.ImpliedRole, (prior.id, implied.id)) is None:
        s.add(m.ImpliedRole(prior_role_id=prior.id, implied_role_id=implied.id))


def get_implied_role(s: Session, prior: m.Role, implied: m.Role) -> m.ImpliedRole:
    row = s.get(m.ImpliedRole, (prior.id, implied.id))
    if row is None:
        raise NotFound(f"{prior.id} does not imply {implied.id}.")
    return row


def implied_by(s: Session, prior_id: str) -> list[str]:
    return list(
        s.scalars(
            select(m.ImpliedRole.implied_role_id).where(m.ImpliedRole.prior_role_id == prior_id)
        )
    )


def list_inferences(s: Session) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for row in s.scalars(select(m.ImpliedRole)):
        out.setdefault(row.prior_role_id, []).append(row.implied_role_id)
    return out


def _domain_specific(s: Session, role_ids: list[str]) -> set[str]:
    """Which of ``role_ids`` are domain-specific roles. Those only ever imply other roles:
    effective assignments and tokens leave them out (Keystone's ``_strip_domain_roles``)."""
    if not role_ids:
        return set()
    return set(
        s.scalars(
            select(m.Role.id).where(m.Role.id.in_(role_ids), m.Role.domain_id != m.NULL_DOMAIN)
        )
    )


def _expand_implied(s: Session, role_ids: list[str]) -> list[tuple[str, str | None]]:
    """Each role plus everything it implies, transitively: (role_id, implied-by role_id)."""
    inferences = list_inferences(s)
    seen: dict[str, str | None] = {}
    queue: list[tuple[str, str | None]] = [(r, None) for r in role_ids]
    while queue:
        role_id, prior = queue.pop(0)
        if role_id in seen:
            continue
        seen[role_id] = prior
        queue.extend((implied, role_id) for implied in inferences.get(role_id, []))
    return list(seen.items())


# ---- grants ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    kind: str  # "project" | "domain" | "system"
    id: str


@dataclass(frozen=True)
class Actor:
    kind: str  # "user" | "group"
    id: str


def _type(actor: Actor, target: Target) -> str:
    return {"user": "User", "group": "Group"}[actor.kind] + target.kind.capitalize()


def _row(actor: Actor, target: Target, role_id: str, inherited: bool) -> tuple[str, ...]:
    return (_type(actor, target), actor.id, target.id, role_id, inherited)  # type: ignore[return-value]


def create_grant(
    s: Session, role: m.Role, actor: Actor, target: Target, inherited: bool = False
) -> None:
    key = _row(actor, target, role.id, inherited)
    if s.get(m.Assignment, key) is None:  # Keystone is silent about an existing grant
        s.add(
            m.Assignment(
                type=key[0],
                actor_id=actor.id,
                target_id=target.id,
                role_id=role.id,
                inherited=inherited,
            )
        )


def check_grant(
    s: Session, role: m.Role, actor: Actor, target: Target, inherited: bool = False
) -> m.Assignment:
    row = s.get(m.Assignment, _row(actor, target, role.id, inherited))
    if row is None:
        raise NotFound(
            f"Could not find role assignment with role: {role.id}, user or group: {actor.id}, "
            f"project, domain, or system: {target.id}."
        )
    return row


def delete_grant(
    s: Session, role: m.Role, actor: Actor, target: Target, inherited: bool = False
) -> None:
    s.delete(check_grant(s, role, actor, target, inherited))


def list_grants(s: Session, actor: Actor, target: Target, inherited: bool = False) -> list[m.Role]:
    role_ids = s.scalars(
        select(m.Assignment.role_id).where(
            m.Assignment.type == _type(actor, target),
            m.Assignment.actor_id == actor.id,
            m.Assignment.target_id == target.id,
            m.Assignment.inherited == inherited,
        )
    )
    return [r for r in (s.get(m.Role, i) for i in role_ids) if r is not None]


# ---- assignments as the API lists them -----------------------------------------------------


@dataclass
class AssignmentRef:
    """One role assignment, direct or derived (then ``indirect`` says from what)."""

    role_id: str
    user_id: str | None = None
    group_id: str | None = None
    project_id: str | None = None
    domain_id: str | None = None
    system: str | None = None
    inherited_to_projects: bool = False
    indirect: dict[str, str] = field(default_factory=dict)


def _direct(s: Session) -> list[AssignmentRef]:
    refs = []
    for row in s.scalars(select(m.Assignment)):
        ref = AssignmentRef(role_id=row.role_id, inherited_to_projects=row.inherited)
        if row.type.startswith("User"):
            ref.user_id = row.actor_id
        else:
            ref.group_id = row.actor_id
        if row.type.endswith("Project"):
            ref.project_id = row.target_id
        elif row.type.endswith("Domain"):
            ref.domain_id = row.target_id
        else:
            ref.system = "all"
        refs.append(ref)
    return refs


def _projects_under(s: Session, parent_id: str) -> list[str]:
    out: list[str] = []
    queue = [parent_id]
    while queue:
        current = queue.pop()
        for child in s.scalars(
            select(m.Project.id).where(m.Project.parent_id == current, m.Project.id != current)
        ):
            out.append(child)
            queue.append(child)
    return out


@dataclass(frozen=True)
class _Place:
    """Where an expanded assignment applies, and what it was derived from."""

    project_id: str | None = None
    domain_id: str | None = None
    system: str | None = None
    indirect: tuple[tuple[str, str], ...] = ()


def _effective(s: Session, refs: list[AssignmentRef]) -> list[AssignmentRef]:
    """Expand groups into their users, inheritance into projects, roles into implied roles."""
    expanded: list[AssignmentRef] = []
    for ref in refs:
        actors: list[tuple[str, dict[str, str]]]
        if ref.group_id:
            members = s.scalars(
                select(m.Membership.user_id).where(m.Membership.group_id == ref.group_id)
            )
            actors = [(uid, {"group_id": ref.group_id}) for uid in members]
        else:
            actors = [(ref.user_id or "", {})]
        if ref.inherited_to_projects:
            source = ref.domain_id or ref.project_id or ""
            key = "domain_id" if ref.domain_id else "project_id"
            places = [
                _Place(project_id=p, indirect=((key, source),)) for p in _projects_under(s, source)
            ]
        else:
            places = [_Place(ref.project_id, ref.domain_id, ref.system)]
        for user_id, via_group in actors:
            for place in places:
                for role_id, prior in _expand_implied(s, [ref.role_id]):
                    indirect = {**via_group, **dict(place.indirect)}
                    if prior:
                        indirect["role_id"] = prior
                    expanded.append(
                        AssignmentRef(
                            role_id=role_id,
                            user_id=user_id,
                            project_id=place.project_id,
                            domain_id=place.domain_id,
                            system=place.system,
                            indirect=indirect,
                        )
                    )
    domain_roles = _domain_specific(s, list({r.role_id for r in expanded}))
    return [r for r in expanded if r.role_id not in domain_roles]


def list_assignments(
    s: Session,
    *,
    role_id: str | None = None,
    user_id: str | None = None,
    group_id: str | None = None,
    project_id: str | None = None,
    domain_id: str | None = None,
    system: str | None = None,
    inherited: bool | None = None,
    effective: bool = False,
) -> list[AssignmentRef]:
    refs = _direct(s)
    if effective:
        if user_id:  # keep only what can reach this user before expanding
            groups = set(
                s.scalars(select(m.Membership.group_id).where(m.Membership.user_id == user_id))
            )
            refs = [r for r in refs if r.user_id == user_id or r.group_id in groups]
        refs = _effective(s, refs)
    elif inherited is not None:
        refs = [r for r in refs if r.inherited_to_projects == inherited]

    def keep(r: AssignmentRef) -> bool:
        return all(
            (
                role_id is None or r.role_id == role_id,
                user_id is None or r.user_id == user_id,
                group_id is None or r.group_id == group_id,
                project_id is None or r.project_id == project_id,
                domain_id is None or r.domain_id == domain_id,
                system is None or r.system == system,
            )
        )

    return [r for r in refs if keep(r)]


def effective_role_ids(
    s: Session,
    user_id: str,
    *,
    project_id: str | None = None,
    domain_id: str | None = None,
    system: bool = False,
) -> list[str]:
    """The roles a token scoped to this target carries, implied ones included.

    This runs on every token issue and validation, so it asks only for the assignments that
    can reach this user on this target: their own and their groups', on the target itself,
    plus inherited ones on the project's domain and parent projects.
    """
    actors = [
        user_id,
        *s.scalars(select(m.Membership.group_id).where(m.Membership.user_id == user_id)),
    ]
    where: ColumnElement[bool]
    kinds: tuple[str, ...]
    if project_id:
        project = s.get(m.Project, project_id)
        if project is None:
            return []
        ancestors = []
        current = project
        while current.parent_id and current.parent_id != current.id:
            ancestors.append(current.parent_id)
            parent = s.get(m.Project, current.parent_id)
            if parent is None:
                break
            current = parent
        direct = (m.Assignment.target_id == project_id) & m.Assignment.inherited.is_(False)
        inherited = m.Assignment.target_id.in_(ancestors) & m.Assignment.inherited.is_(True)
        where = direct | inherited
        kinds = (USER_PROJECT, GROUP_PROJECT, USER_DOMAIN, GROUP_DOMAIN)
    elif domain_id:
        where = (m.Assignment.target_id == domain_id) & m.Assignment.inherited.is_(False)
        kinds = (USER_DOMAIN, GROUP_DOMAIN)
    elif system:
        where = m.Assignment.target_id == m.SYSTEM_TARGET
        kinds = (USER_SYSTEM, GROUP_SYSTEM)
    else:
        return []
    role_ids = list(
        dict.fromkeys(
            s.scalars(
                select(m.Assignment.role_id)
                .where(m.Assignment.actor_id.in_(actors), m.Assignment.type.in_(kinds), where)
                .order_by(m.Assignment.role_id)
            )
        )
    )
    expanded = [role_id for role_id, _prior in _expand_implied(s, role_ids)]
    domain_roles = _domain_specific(s, expanded)
    return [role_id for role_id in expanded if role_id not in domain_roles]


def ensure_not_both(params: dict[str, str]) -> None:
    """The role_assignments API's guards against filters that contradict each other."""
    if params.get("scope.domain.id") and params.get("scope.project.id"):
        raise ValidationError("Specify a domain or project, not both")
    if params.get("scope.domain.id") and params.get("scope.system"):
        raise ValidationError("Specify system or domain, not both")
    if params.get("scope.project.id") and params.get("scope.system"):
        raise ValidationError("Specify system or project, not both")
    if params.get("user.id") and params.get("group.id"):
        raise ValidationError("Specify a user or group, not both")
