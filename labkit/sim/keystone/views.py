"""How Keystone renders its entities: field order and links as Zed sends them."""

from __future__ import annotations

from typing import Any

from labkit.sim.keystone import models as m
from labkit.sim.keystone.assignment import role_domain


def _link(root: str, kind: str, ident: str) -> dict[str, str]:
    return {"self": f"{root}/v3/{kind}/{ident}"}


def domain(d: m.Domain, root: str) -> dict[str, Any]:
    return {
        "id": d.id,
        "name": d.name,
        "description": d.description,
        "enabled": d.enabled,
        "tags": d.tags,
        "options": d.options,
        **d.extra,
        "links": _link(root, "domains", d.id),
    }


def _project_form(
    p: m.Project | m.Domain, domain_id: str | None, parent_id: str | None, root: str
) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "domain_id": domain_id,
        "description": p.description,
        "enabled": p.enabled,
        "parent_id": parent_id,
        "is_domain": isinstance(p, m.Domain),
        "tags": p.tags,
        "options": p.options,
        **p.extra,
        "links": _link(root, "projects", p.id),
    }


def project(p: m.Project, root: str) -> dict[str, Any]:
    return _project_form(p, p.domain_id, p.parent_id, root)


def project_or_domain(p: m.Project | m.Domain, root: str) -> dict[str, Any]:
    """A project, or a domain as the project API shows it (a project acting as a domain:
    no domain, no parent)."""
    if isinstance(p, m.Project):
        return project(p, root)
    return _project_form(p, None, None, root)


def user(u: m.User, root: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": u.id,
        "name": u.name,
        "domain_id": u.domain_id,
        "enabled": u.enabled,
    }
    if u.default_project_id:
        out["default_project_id"] = u.default_project_id
    out.update(u.extra)
    out.update(
        {"password_expires_at": None, "options": u.options, "links": _link(root, "users", u.id)}
    )
    return out


def group(g: m.Group, root: str) -> dict[str, Any]:
    return {
        "id": g.id,
        "name": g.name,
        "domain_id": g.domain_id,
        "description": g.description,
        **g.extra,
        "links": _link(root, "groups", g.id),
    }


def role(r: m.Role, root: str) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "domain_id": role_domain(r),
        "description": r.description,
        "options": r.options,
        **r.extra,
        "links": _link(root, "roles", r.id),
    }


def role_ref(r: m.Role, root: str) -> dict[str, Any]:
    """A role inside an implied-role answer: id, name, links."""
    return {"id": r.id, "name": r.name, "links": _link(root, "roles", r.id)}


def region(r: m.Region, root: str) -> dict[str, Any]:
    return {
        "id": r.id,
        "description": r.description,
        "parent_region_id": r.parent_region_id,
        **r.extra,
        "links": _link(root, "regions", r.id),
    }


def service(sv: m.Service, root: str) -> dict[str, Any]:
    return {
        **sv.extra,
        "id": sv.id,
        "type": sv.type,
        "enabled": sv.enabled,
        "links": _link(root, "services", sv.id),
    }


def endpoint(e: m.Endpoint, root: str) -> dict[str, Any]:
    return {
        "id": e.id,
        "interface": e.interface,
        "region_id": e.region_id,
        "service_id": e.service_id,
        "url": e.url,
        "enabled": e.enabled,
        "region": e.region_id,
        **e.extra,
        "links": _link(root, "endpoints", e.id),
    }


def collection(key: str, items: list[dict[str, Any]], self_url: str) -> dict[str, Any]:
    return {key: items, "links": {"next": None, "self": self_url, "previous": None}}


def credential(c: m.Credential, root: str) -> dict[str, Any]:
    return {
        "id": c.id,
        "user_id": c.user_id,
        "project_id": c.project_id,
        "type": c.type,
        "blob": c.blob,
        **c.extra,
        "links": _link(root, "credentials", c.id),
    }


def ec2_credential(ec2: dict[str, Any], root: str) -> dict[str, Any]:
    """An OS-EC2 credential (``credential.ec2_view``) with its self link (by access key)."""
    path = f"users/{ec2['user_id']}/credentials/OS-EC2/{ec2['access']}"
    return {**ec2, "links": {"self": f"{root}/v3/{path}"}}


def policy_blob(p: m.Policy, root: str) -> dict[str, Any]:
    return {
        "id": p.id,
        "type": p.type,
        "blob": p.blob,
        **p.extra,
        "links": _link(root, "policies", p.id),
    }


def endpoint_group(g: m.EndpointGroup, root: str) -> dict[str, Any]:
    return {
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "filters": g.filters,
        "links": _link(root, "OS-EP-FILTER/endpoint_groups", g.id),
    }


def consumer(c: m.Consumer, root: str) -> dict[str, Any]:
    return {
        "id": c.id,
        "description": c.description,
        **c.extra,
        "links": _link(root, "OS-OAUTH1/consumers", c.id),
    }


def new_consumer(c: m.Consumer, root: str) -> dict[str, Any]:
    """A consumer as its create shows it: with its secret, never shown again."""
    return {**consumer(c, root), "secret": c.secret}
