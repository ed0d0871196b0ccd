"""``/v3/domains`` and ``/v3/projects`` (with tags)."""

from __future__ import annotations

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.keystone import models as m
from labkit.sim.keystone import resource, schemas, views
from labkit.sim.keystone.api._helpers import filters, ks
from labkit.sim.keystone.errors import NotFound, ValidationError
from labkit.sim.keystone.service import body_of, enforce, query_bool
from labkit.sim.keystone.tokens import Token

routes = Routes()


# ---- domains -----------------------------------------------------------------------------------


@routes.get("/v3/domains")
def list_domains(call: Call) -> Response:
    enforce(call, "identity:list_domains")
    with ks(call).session() as s:
        items = [
            views.domain(d, call.root_url)
            for d in resource.list_domains(s, filters(call, ("name", "enabled")))
        ]
    return json_response(views.collection("domains", items, call.url))


@routes.post("/v3/domains")
def create_domain(call: Call) -> Response:
    enforce(call, "identity:create_domain")
    data = body_of(call, "domain")
    schemas.validate(schemas.DOMAIN_CREATE, data)
    with ks(call).write() as s:
        domain = resource.create_domain(s, data.get("id") or ks(call).runtime.ids.hex_id(), data)
        out = views.domain(domain, call.root_url)
    return json_response({"domain": out}, 201)


@routes.get("/v3/domains/{domain_id}")
def get_domain(call: Call, domain_id: str) -> Response:
    enforce(call, "identity:get_domain", {"target.domain.id": domain_id})
    with ks(call).session() as s:
        out = views.domain(resource.get_domain(s, domain_id), call.root_url)
    return json_response({"domain": out})


@routes.patch("/v3/domains/{domain_id}")
def update_domain(call: Call, domain_id: str) -> Response:
    enforce(call, "identity:update_domain", {"target.domain.id": domain_id})
    data = body_of(call, "domain")
    schemas.validate(schemas.DOMAIN_UPDATE, data)
    with ks(call).write() as s:
        domain = resource.update_domain(s, resource.get_domain(s, domain_id), data)
        out = views.domain(domain, call.root_url)
    return json_response({"domain": out})


@routes.delete("/v3/domains/{domain_id}")
def delete_domain(call: Call, domain_id: str) -> Response:
    enforce(call, "identity:delete_domain", {"target.domain.id": domain_id})
    with ks(call).write() as s:
        resource.delete_domain(s, resource.get_domain(s, domain_id))
    return empty_response()


# ---- projects ----------------------------------------------------------------------------------


@routes.get("/v3/projects")
def list_projects(call: Call) -> Response:
    wanted = filters(call, ("name", "domain_id", "parent_id", "enabled"))
    enforce(
        call,
        "identity:list_projects",
        {"target.domain_id": wanted["domain_id"]} if "domain_id" in wanted else {},
    )
    for key in ("tags", "tags-any"):
        if key in call.query:
            wanted[key] = call.query[key].split(",")
    with ks(call).session() as s:
        if query_bool(call, "is_domain"):
            # the projects acting as domains: the domains
            found = resource.list_domains(
                s, {k: v for k, v in wanted.items() if k in ("name", "enabled")}
            )
            items = [views.project_or_domain(d, call.root_url) for d in found]
        else:
            items = [views.project(p, call.root_url) for p in resource.list_projects(s, wanted)]
    return json_response(views.collection("projects", items, call.url))


@routes.post("/v3/projects")
def create_project(call: Call) -> Response:
    data = body_of(call, "project")
    schemas.validate(schemas.PROJECT_CREATE, data)
    token: Token = call.auth
    if data.get("is_domain"):
        enforce(call, "identity:create_project", {"target.project.domain_id": ""})
        with ks(call).write() as s:
            made = resource.create_domain_project(s, ks(call).runtime.ids.hex_id(), data)
            out = views.project_or_domain(made, call.root_url)
        return json_response({"project": out}, 201)
    if not data.get("domain_id") and not data.get("parent_id"):
        # Keystone puts a project without domain in the token's domain.
        data["domain_id"] = (
            token.domain or (token.project or {}).get("domain") or {"id": "default"}
        )["id"]
    enforce(
        call, "identity:create_project", {"target.project.domain_id": data.get("domain_id") or ""}
    )
    with ks(call).write() as s:
        project = resource.create_project(s, ks(call).runtime.ids.hex_id(), data)
        out = views.project(project, call.root_url)
    return json_response({"project": out}, 201)


def _project_target(call: Call, project_id: str) -> dict[str, str]:
    with ks(call).session() as s:
        project = s.get(m.Project, project_id)
        if project is None:
            # Keystone enforces with what it could load, then answers 404 for admins and 403
            # for everyone else; checking the policy first keeps members from probing ids.
            return {"target.project.id": project_id}
        return {"target.project.id": project.id, "target.project.domain_id": project.domain_id}


@routes.get("/v3/projects/{project_id}")
def get_project(call: Call, project_id: str) -> Response:
    enforce(call, "identity:get_project", _project_target(call, project_id))
    with ks(call).session() as s:
        out = views.project_or_domain(resource.project_or_domain(s, project_id), call.root_url)
    return json_response({"project": out})


@routes.patch("/v3/projects/{project_id}")
def update_project(call: Call, project_id: str) -> Response:
    enforce(call, "identity:update_project", _project_target(call, project_id))
    data = body_of(call, "project")
    schemas.validate(schemas.PROJECT_UPDATE, data)
    with ks(call).write() as s:
        found = resource.project_or_domain(s, project_id)
        if isinstance(found, m.Domain):
            if "is_domain" in data and data["is_domain"] is False:
                raise ValidationError("Update of `is_domain` is not allowed.")
            kept = {k: v for k, v in data.items() if k not in ("is_domain", "domain_id")}
            out = views.project_or_domain(resource.update_domain(s, found, kept), call.root_url)
        else:
            project = resource.update_project(s, found, data)
            out = views.project(project, call.root_url)
    return json_response({"project": out})


@routes.delete("/v3/projects/{project_id}")
def delete_project(call: Call, project_id: str) -> Response:
    enforce(call, "identity:delete_project", _project_target(call, project_id))
    with ks(call).write() as s:
        found = resource.project_or_domain(s, project_id)
        if isinstance(found, m.Domain):
            resource.delete_domain(s, found)
        else:
            resource.delete_project(s, found)
    return empty_response()


def _tags(call: Call, tags: list[str]) -> Response:
    """Keystone's answer about a project's tags: the list and a link to this very request."""
    return json_response({"links": {"self": call.url}, "tags": tags})


@routes.get("/v3/projects/{project_id}/tags")
def list_tags(call: Call, project_id: str) -> Response:
    enforce(call, "identity:list_project_tags", _project_target(call, project_id))
    with ks(call).session() as s:
        tags = list(resource.get_project(s, project_id).tags)
    return _tags(call, tags)


@routes.put("/v3/projects/{project_id}/tags")
def replace_tags(call: Call, project_id: str) -> Response:
    enforce(call, "identity:update_project_tags", _project_target(call, project_id))
    data = call.json()
    tags = data.get("tags", {}) if isinstance(data, dict) else None
    schemas.validate(schemas.PROJECT_TAGS, tags)
    stripped = [t.strip() for t in tags or []]  # Keystone strips each tag, after the schema
    with ks(call).write() as s:
        resource.get_project(s, project_id).tags = stripped
    return _tags(call, stripped)


@routes.delete("/v3/projects/{project_id}/tags")
def delete_tags(call: Call, project_id: str) -> Response:
    enforce(call, "identity:delete_project_tags", _project_target(call, project_id))
    with ks(call).write() as s:
        resource.get_project(s, project_id).tags = []
    return empty_response()


@routes.get("/v3/projects/{project_id}/tags/{tag}")
def check_tag(call: Call, project_id: str, tag: str) -> Response:
    enforce(call, "identity:get_project_tag", _project_target(call, project_id))
    with ks(call).session() as s:
        if tag not in resource.get_project(s, project_id).tags:
            raise NotFound(f"Could not find project tag: {tag}.")
    return empty_response()


@routes.put("/v3/projects/{project_id}/tags/{tag}")
def add_tag(call: Call, project_id: str, tag: str) -> Response:
    enforce(call, "identity:create_project_tag", _project_target(call, project_id))
    schemas.validate(schemas.PROJECT_TAGS, [tag])
    with ks(call).write() as s:
        project = resource.get_project(s, project_id)
        # Keystone checks the tag count with this one added (at most 80 tags)
        schemas.validate(schemas.PROJECT_TAGS, [*project.tags, tag])
        if tag not in project.tags:
            project.tags = [*project.tags, tag]
    # The tag as it is: the core encodes the header (iri_to_uri, as Werkzeug does for Flask).
    where = f"{call.root_url}/v3/projects/{project_id}/tags/{tag}"
    return empty_response(201, {"Location": where})


@routes.delete("/v3/projects/{project_id}/tags/{tag}")
def delete_tag(call: Call, project_id: str, tag: str) -> Response:
    enforce(call, "identity:delete_project_tag", _project_target(call, project_id))
    with ks(call).write() as s:
        project = resource.get_project(s, project_id)
        if tag not in project.tags:
            raise NotFound(f"Could not find project tag: {tag}.")
        project.tags = [t for t in project.tags if t != tag]
    return empty_response()
