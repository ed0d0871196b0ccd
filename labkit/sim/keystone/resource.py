"""Domains and projects (Keystone's "resource" backend): rules, no HTTP."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from labkit.sim.keystone import models as m
from labkit.sim.keystone.errors import Conflict, ForbiddenNotSecurity, NotFound, ValidationError

DEFAULT_DOMAIN_ID = "default"

_PROJECT_FIELDS = {
    "name",
    "description",
    "enabled",
    "tags",
    "options",
    "domain_id",
    "parent_id",
    "is_domain",
    "id",
}
_DOMAIN_FIELDS = {"name", "description", "enabled", "tags", "options", "id"}


def _ensure_domain_name_free(s: Session, name: str) -> None:
    """Domains are projects acting as domains in Keystone, hence its wording."""
    if s.scalars(select(m.Domain).where(m.Domain.name == name)).first() is not None:
        raise Conflict.storing(
            "project",
            "it is not permitted to have two projects acting as domains with the same name: "
            f"{name}",
        )


def _ensure_project_name_free(s: Session, name: str, domain_id: str, project_id: str) -> None:
    """Keystone's _generate_project_name_conflict_msg (it names the project being stored)."""
    clash = s.scalars(
        select(m.Project).where(m.Project.name == name, m.Project.domain_id == domain_id)
    ).first()
    if clash is not None:
        raise Conflict.storing(
            "project",
            "it is not permitted to have two projects with either the same name or same id in "
            f"the same domain: name is {name}, project id {project_id}",
        )


def get_domain(s: Session, domain_id: str) -> m.Domain:
    domain = s.get(m.Domain, domain_id)
    if domain is None:
        raise NotFound.of("domain", domain_id)
    return domain


def get_domain_by_name(s: Session, name: str) -> m.Domain:
    domain = s.scalars(select(m.Domain).where(m.Domain.name == name)).first()
    if domain is None:
        raise NotFound.of("domain", name)
    return domain


def list_domains(s: Session, filters: dict[str, Any]) -> list[m.Domain]:
    query = select(m.Domain).order_by(m.Domain.id)
    if "name" in filters:
        query = query.where(m.Domain.name == filters["name"])
    if "enabled" in filters:
        query = query.where(m.Domain.enabled == filters["enabled"])
    return list(s.scalars(query))


def create_domain(s: Session, domain_id: str, data: dict[str, Any]) -> m.Domain:
    _ensure_domain_name_free(s, data["name"])
    domain = m.Domain(
        id=domain_id,
        name=data["name"],
        description=data.get("description") or "",
        enabled=data.get("enabled", True) is not False,
        tags=list(data.get("tags") or []),
        options=dict(data.get("options") or {}),
        extra={k: v for k, v in data.items() if k not in _DOMAIN_FIELDS},
    )
    s.add(domain)
    return domain


def update_domain(s: Session, domain: m.Domain, data: dict[str, Any]) -> m.Domain:
    if "id" in data and data["id"] != domain.id:
        raise ValidationError("Cannot change Domain ID")
    if "name" in data and data["name"] != domain.name:
        _ensure_domain_name_free(s, data["name"])
        domain.name = data["name"]
    if "description" in data:
        domain.description = data["description"] or ""
    if "enabled" in data and data["enabled"] is not None:
        domain.enabled = bool(data["enabled"])
    if "tags" in data:
        domain.tags = list(data["tags"] or [])
    extra = {k: v for k, v in data.items() if k not in _DOMAIN_FIELDS}
    if extra:
        domain.extra = {**domain.extra, **extra}
    return domain


def delete_domain(s: Session, domain: m.Domain) -> None:
    if domain.enabled:
        raise ForbiddenNotSecurity(
            "Cannot delete a domain that is enabled, please disable it first."
        )
    if domain.id == DEFAULT_DOMAIN_ID:
        # Keystone refuses too: the default domain holds the service users.
        raise ForbiddenNotSecurity("Cannot delete the default domain.")
    for project in s.scalars(select(m.Project).where(m.Project.domain_id == domain.id)):
        delete_project(s, project, cascade=True)
    s.execute(delete(m.DomainConfigOption).where(m.DomainConfigOption.domain_id == domain.id))
    for user in s.scalars(select(m.User).where(m.User.domain_id == domain.id)):
        s.delete(user)
    for group in s.scalars(select(m.Group).where(m.Group.domain_id == domain.id)):
        s.delete(group)
    s.execute(delete(m.Assignment).where(m.Assignment.target_id == domain.id))
    s.delete(domain)


def get_project(s: Session, project_id: str) -> m.Project:
    project = s.get(m.Project, project_id)
    if project is None:
        raise NotFound.of("project", project_id)
    return project


def get_project_by_name(s: Session, name: str, domain_id: str) -> m.Project:
    project = s.scalars(
        select(m.Project).where(m.Project.name == name, m.Project.domain_id == domain_id)
    ).first()
    if project is None:
        raise NotFound.of("project", name)
    return project


def list_projects(s: Session, filters: dict[str, Any]) -> list[m.Project]:
    # Keystone lists in primary-key order (MySQL without ORDER BY), i.e. by id.
    query = select(m.Project).order_by(m.Project.id)
    for key in ("name", "domain_id", "parent_id", "enabled"):
        if key in filters:
            query = query.where(getattr(m.Project, key) == filters[key])
    projects = list(s.scalars(query))
    if "tags" in filters:
        wanted = set(filters["tags"])
        projects = [p for p in projects if wanted <= set(p.tags)]
    if "tags-any" in filters:
        anyof = set(filters["tags-any"])
        projects = [p for p in projects if anyof & set(p.tags)]
    return projects


def create_domain_project(s: Session, project_id: str, data: dict[str, Any]) -> m.Domain:
    """A project created with ``is_domain``: Keystone keeps a domain as a project acting as
    one, so the project API makes (and then shows, changes, deletes) a domain of that id."""
    if data.get("parent_id"):
        raise ValidationError("only root projects are allowed to act as domains.")
    kept: dict[str, Any] = {
        k: data[k] for k in ("name", "description", "enabled", "tags", "options") if k in data
    }
    extra = {k: v for k, v in data.items() if k not in _PROJECT_FIELDS}
    return create_domain(s, project_id, {**kept, **extra})


def project_or_domain(s: Session, project_id: str) -> m.Project | m.Domain:
    """What /v3/projects/{id} names: a project, else a domain (a project acting as one)."""
    found = s.get(m.Project, project_id)
    if found is not None:
        return found
    domain = s.get(m.Domain, project_id)
    if domain is None:
        raise NotFound.of("project", project_id)
    return domain


def create_project(s: Session, project_id: str, data: dict[str, Any]) -> m.Project:
    parent_id = data.get("parent_id")
    domain_id = data.get("domain_id")
    if not domain_id:
        # Keystone takes the parent's domain, else the token's (the API layer passes it in).
        parent = s.get(m.Project, parent_id) if parent_id else None
        domain_id = parent.domain_id if parent else DEFAULT_DOMAIN_ID
    domain = get_domain(s, domain_id)  # 404 "Could not find domain: X." as in Keystone
    if parent_id and parent_id != domain.id:
        parent = get_project(s, parent_id)
        if parent.domain_id != domain.id:
            raise ValidationError(
                f"Cannot create project, since it specifies its domain_id {domain.id}, but "
                f"specifies a parent in a different domain ({parent.domain_id})."
            )
        if not parent.enabled:
            raise ValidationError(
                f"cannot create a project in a branch containing a disabled project: {parent.id}"
            )
    else:
        parent_id = domain.id
    _ensure_project_name_free(s, data["name"], domain_id, project_id)
    project = m.Project(
        id=project_id,
        name=data["name"],
        domain_id=domain_id,
        parent_id=parent_id,
        description=data.get("description") or "",
        enabled=data.get("enabled", True) is not False,
        tags=list(data.get("tags") or []),
        options=dict(data.get("options") or {}),
        extra={k: v for k, v in data.items() if k not in _PROJECT_FIELDS},
    )
    s.add(project)
    return project


def update_project(s: Session, project: m.Project, data: dict[str, Any]) -> m.Project:
    if "domain_id" in data and data["domain_id"] != project.domain_id:
        raise ValidationError("Cannot change Domain ID")
    if "is_domain" in data and bool(data["is_domain"]):
        raise ValidationError("Update of `is_domain` is not allowed.")
    if "parent_id" in data and data["parent_id"] != project.parent_id:
        raise ForbiddenNotSecurity("Update of `parent_id` is not allowed.")
    if project.options.get("immutable") and set(data) - {"options"}:
        raise ForbiddenNotSecurity(
            f"Unable to update immutable project resource: `{project.id}. Set resource option "
            '"immutable" to false first.'
        )
    if "name" in data and data["name"] != project.name:
        _ensure_project_name_free(s, data["name"], project.domain_id, project.id)
        project.name = data["name"]
    if "description" in data:
        project.description = data["description"] or ""
    if "enabled" in data and data["enabled"] is not None:
        project.enabled = bool(data["enabled"])
    if "tags" in data:
        project.tags = list(data["tags"] or [])
    if "options" in data:
        project.options = {**project.options, **(data["options"] or {})}
    extra = {k: v for k, v in data.items() if k not in _PROJECT_FIELDS}
    if extra:
        project.extra = {**project.extra, **extra}
    return project


def delete_project(s: Session, project: m.Project, cascade: bool = False) -> None:
    children = list(s.scalars(select(m.Project).where(m.Project.parent_id == project.id)))
    if children and not cascade:
        raise ForbiddenNotSecurity(
            f"Cannot delete the project {project.id} since it is not a leaf in the hierarchy. "
            "Use the cascade option if you want to delete a whole subtree."
        )
    if project.options.get("immutable"):
        raise ForbiddenNotSecurity(
            f"Unable to delete immutable project resource: `{project.id}. Set resource option "
            '"immutable" to false first.'
        )
    for child in children:
        delete_project(s, child, cascade=True)
    s.execute(delete(m.Assignment).where(m.Assignment.target_id == project.id))
    s.execute(delete(m.Credential).where(m.Credential.project_id == project.id))
    s.delete(project)
