"""``/v3/roles``, implied roles, grants and ``/v3/role_assignments``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.keystone import assignment, identity, resource, revoke, schemas, views
from labkit.sim.keystone import models as m
from labkit.sim.keystone.api._helpers import SystemResource, add_system_resource, ks
from labkit.sim.keystone.assignment import Actor, Target
from labkit.sim.keystone.errors import ValidationError
from labkit.sim.keystone.service import enforce, query_bool

routes = Routes()


add_system_resource(
    routes,
    SystemResource(
        "role",
        assignment,
        views.role,
        schemas.ROLE_CREATE,
        schemas.ROLE_UPDATE,
        ("name", "domain_id"),
    ),
)


# ---- implied roles -----------------------------------------------------------------------------


def _implied_body(s: Session, root: str, prior: m.Role, implied: list[m.Role]) -> dict[str, Any]:
    return {
        "role_inference": {
            "prior_role": views.role_ref(prior, root),
            "implies": [views.role_ref(r, root) for r in implied],
        },
        "links": {"self": f"{root}/v3/roles/{prior.id}/implies"},
    }


@routes.get("/v3/roles/{prior_id}/implies")
def list_implied(call: Call, prior_id: str) -> Response:
    enforce(call, "identity:list_implied_roles")
    with ks(call).session() as s:
        prior = assignment.get_role(s, prior_id)
        implied = [assignment.get_role(s, r) for r in assignment.implied_by(s, prior.id)]
        out = _implied_body(s, call.root_url, prior, implied)
    return json_response(out)


def _inference(call: Call, s: Session, prior_id: str, implied_id: str) -> dict[str, Any]:
    prior = assignment.get_role(s, prior_id)
    implied = assignment.get_role(s, implied_id)
    return {
        "role_inference": {
            "prior_role": views.role_ref(prior, call.root_url),
            "implies": views.role_ref(implied, call.root_url),
        },
        "links": {"self": f"{call.root_url}/v3/roles/{prior_id}/implies/{implied_id}"},
    }


@routes.put("/v3/roles/{prior_id}/implies/{implied_id}")
def create_implied(call: Call, prior_id: str, implied_id: str) -> Response:
    enforce(call, "identity:create_implied_role")
    with ks(call).write() as s:
        assignment.create_implied_role(
            s, assignment.get_role(s, prior_id), assignment.get_role(s, implied_id)
        )
        out = _inference(call, s, prior_id, implied_id)
    return json_response(out, 201)


@routes.get("/v3/roles/{prior_id}/implies/{implied_id}")
def get_implied(call: Call, prior_id: str, implied_id: str) -> Response:
    enforce(call, "identity:get_implied_role")
    with ks(call).session() as s:
        assignment.get_implied_role(
            s, assignment.get_role(s, prior_id), assignment.get_role(s, implied_id)
        )
        out = _inference(call, s, prior_id, implied_id)
    return json_response(out)


@routes.head("/v3/roles/{prior_id}/implies/{implied_id}")
def check_implied(call: Call, prior_id: str, implied_id: str) -> Response:
    enforce(call, "identity:check_implied_role")
    with ks(call).session() as s:
        assignment.get_implied_role(
            s, assignment.get_role(s, prior_id), assignment.get_role(s, implied_id)
        )
    return empty_response()


@routes.delete("/v3/roles/{prior_id}/implies/{implied_id}")
def delete_implied(call: Call, prior_id: str, implied_id: str) -> Response:
    enforce(call, "identity:delete_implied_role")
    with ks(call).write() as s:
        row = assignment.get_implied_role(
            s, assignment.get_role(s, prior_id), assignment.get_role(s, implied_id)
        )
        s.delete(row)
    return empty_response()


@routes.get("/v3/role_inferences")
def list_inferences(call: Call) -> Response:
    enforce(call, "identity:list_role_inference_rules")
    with ks(call).session() as s:
        rules = []
        for prior_id, implied_ids in assignment.list_inferences(s).items():
            prior = assignment.get_role(s, prior_id)
            implied = [assignment.get_role(s, i) for i in implied_ids]
            rules.append(_implied_body(s, call.root_url, prior, implied)["role_inference"])
    return json_response(
        {"role_inferences": rules, "links": {"self": f"{call.root_url}/v3/role_inferences"}}
    )


# ---- grants ------------------------------------------------------------------------------------


def _resolve(
    s: Session, target_kind: str, target_id: str, actor_kind: str, actor_id: str
) -> tuple[Actor, Target, dict[str, Any]]:
    policy_target: dict[str, Any] = {}
    if target_kind == "project":
        project = resource.get_project(s, target_id)
        policy_target.update(
            {"target.project.id": project.id, "target.project.domain_id": project.domain_id}
        )
    elif target_kind == "domain":
        domain = resource.get_domain(s, target_id)
        policy_target["target.domain.id"] = domain.id
    if actor_kind == "user":
        user = identity.get_user(s, actor_id)
        policy_target.update({"target.user.id": user.id, "target.user.domain_id": user.domain_id})
    else:
        group = identity.get_group(s, actor_id)
        policy_target.update(
            {"target.group.id": group.id, "target.group.domain_id": group.domain_id}
        )
    return Actor(actor_kind, actor_id), Target(target_kind, target_id), policy_target


def _grant_rule(action: str, target_kind: str, actor_kind: str) -> str:
    if target_kind == "system":
        return {
            "create": f"identity:create_system_grant_for_{actor_kind}",
            "check": f"identity:check_system_grant_for_{actor_kind}",
            "delete": f"identity:revoke_system_grant_for_{actor_kind}",
            "list": f"identity:list_system_grants_for_{actor_kind}",
        }[action]
    return {
        "create": "identity:create_grant",
        "check": "identity:check_grant",
        "delete": "identity:revoke_grant",
        "list": "identity:list_grants",
    }[action]


def _grant(
    call: Call,
    target_kind: str,
    target_id: str,
    actor_kind: str,
    actor_id: str,
    action: str,
    role_id: str | None = None,
) -> Response:
    app = ks(call)
    inherited = call.path.endswith("/inherited_to_projects")
    writer = app.write if action in ("create", "delete") else app.session
    with writer() as s:
        actor, target, policy_target = _resolve(s, target_kind, target_id, actor_kind, actor_id)
        role = assignment.get_role(s, role_id) if role_id else None
        if role is not None:
            policy_target["target.role.id"] = role.id
            policy_target["target.role.domain_id"] = str(assignment.role_domain(role))
        enforce(call, _grant_rule(action, target_kind, actor_kind), policy_target)
        if action == "list":
            items = [
                views.role(r, call.root_url)
                for r in assignment.list_grants(s, actor, target, inherited)
            ]
            return json_response(views.collection("roles", items, call.url))
        assert role is not None
        if action == "create":
            assignment.create_grant(s, role, actor, target, inherited)
        elif action == "check":
            assignment.check_grant(s, role, actor, target, inherited)
        else:
            assignment.delete_grant(s, role, actor, target, inherited)
            if actor.kind == "user":
                revoke.revoke_user(
                    s, actor.id, app.runtime.now(), target.id if target.kind == "project" else None
                )
    return empty_response()


def _add_grant_routes(target_kind: str, prefix: str) -> None:
    for actor_kind in ("user", "group"):
        base = f"{prefix}/{actor_kind}s/{{actor_id}}/roles"

        def handler_list(
            call: Call,
            actor_id: str,
            target_id: str = "system",
            _t: str = target_kind,
            _a: str = actor_kind,
        ) -> Response:
            return _grant(call, _t, target_id, _a, actor_id, "list")

        def handler_one(
            call: Call,
            actor_id: str,
            role_id: str,
            target_id: str = "system",
            _t: str = target_kind,
            _a: str = actor_kind,
        ) -> Response:
            action = {"PUT": "create", "GET": "check", "HEAD": "check", "DELETE": "delete"}[
                call.method
            ]
            return _grant(call, _t, target_id, _a, actor_id, action, role_id)

        handler_list.__name__ = f"list_{target_kind}_{actor_kind}_grants"
        handler_one.__name__ = f"{target_kind}_{actor_kind}_grant"
        routes.add("GET", base, handler_list)
        for method in ("PUT", "GET", "HEAD", "DELETE"):
            routes.add(method, f"{base}/{{role_id}}", handler_one)
        if target_kind != "system":
            # OS-INHERIT: grants on a domain or project that apply to the projects below it.
            inherit = f"/v3/OS-INHERIT{prefix.removeprefix('/v3')}/{actor_kind}s/{{actor_id}}"
            routes.add("GET", f"{inherit}/roles/inherited_to_projects", handler_list)
            for method in ("PUT", "GET", "HEAD", "DELETE"):
                routes.add(
                    method, f"{inherit}/roles/{{role_id}}/inherited_to_projects", handler_one
                )


_add_grant_routes("project", "/v3/projects/{target_id}")
_add_grant_routes("domain", "/v3/domains/{target_id}")
_add_grant_routes("system", "/v3/system")


# ---- role assignments --------------------------------------------------------------------------


def _format(s: Session, ref: assignment.AssignmentRef, root: str, names: bool) -> dict[str, Any]:
    """Keystone's RoleAssignmentsResource._format_entity."""
    out: dict[str, Any] = {"links": {}}
    link = ""
    inherited = ref.inherited_to_projects
    if ref.project_id:
        scope: dict[str, Any] = {"id": ref.project_id}
        if names:
            project = s.get(m.Project, ref.project_id)
            domain = s.get(m.Domain, project.domain_id) if project else None
            scope = {
                "id": ref.project_id,
                "name": project.name if project else "",
                "domain": {
                    "id": domain.id if domain else "",
                    "name": domain.name if domain else "",
                },
            }
        out["scope"] = {"project": scope}
        if "domain_id" in ref.indirect:
            inherited, link = True, f"/domains/{ref.indirect['domain_id']}"
        elif "project_id" in ref.indirect:
            inherited, link = True, f"/projects/{ref.indirect['project_id']}"
        else:
            link = f"/projects/{ref.project_id}"
    elif ref.domain_id:
        scope = {"id": ref.domain_id}
        if names:
            domain = s.get(m.Domain, ref.domain_id)
            scope["name"] = domain.name if domain else ""
        out["scope"] = {"domain": scope}
        link = f"/domains/{ref.domain_id}"
    else:
        out["scope"] = {"system": {"all": True}}
        link = "/system"
    if ref.user_id:
        row: m.User | m.Group | None = s.get(m.User, ref.user_id) if names else None
        out["user"] = _actor(s, ref.user_id, row, names)
        if "group_id" in ref.indirect:
            group_id = ref.indirect["group_id"]
            out["links"]["membership"] = f"{root}/v3/groups/{group_id}/users/{ref.user_id}"
            link += f"/groups/{group_id}"
        else:
            link += f"/users/{ref.user_id}"
    elif ref.group_id:
        row = s.get(m.Group, ref.group_id) if names else None
        out["group"] = _actor(s, ref.group_id, row, names)
        link += f"/groups/{ref.group_id}"
    role = s.get(m.Role, ref.role_id)
    out["role"] = (
        {"id": ref.role_id, "name": role.name if role else ""} if names else {"id": ref.role_id}
    )
    prior = ref.indirect.get("role_id")
    if prior:
        link += f"/roles/{prior}"
        out["links"]["prior_role"] = f"{root}/v3/prior_role/{ref.role_id}/implies/{prior}"
    else:
        link += f"/roles/{ref.role_id}"
    if inherited:
        out["scope"]["OS-INHERIT:inherited_to"] = "projects"
        link = f"/OS-INHERIT{link}/inherited_to_projects"
    out["links"]["assignment"] = f"{root}/v3{link}"
    return out


def _actor(s: Session, actor_id: str, row: m.User | m.Group | None, names: bool) -> dict[str, Any]:
    if not names:
        return {"id": actor_id}
    domain = s.get(m.Domain, row.domain_id) if row else None
    return {
        "id": actor_id,
        "name": row.name if row else "",
        "domain": {"id": domain.id if domain else "", "name": domain.name if domain else ""},
    }


@routes.get("/v3/role_assignments")
def list_role_assignments(call: Call) -> Response:
    enforce(call, "identity:list_role_assignments")
    params = {k: call.query[k] for k in call.query}
    assignment.ensure_not_both(params)
    effective = query_bool(call, "effective")
    inherited = None
    if "scope.OS-INHERIT:inherited_to" in params:
        inherited = params["scope.OS-INHERIT:inherited_to"] == "projects"
    if effective and params.get("group.id"):
        raise ValidationError(
            "Combining effective and group filter will always result in an empty list."
        )
    with ks(call).session() as s:
        refs = assignment.list_assignments(
            s,
            role_id=params.get("role.id"),
            user_id=params.get("user.id"),
            group_id=params.get("group.id"),
            project_id=params.get("scope.project.id"),
            domain_id=params.get("scope.domain.id"),
            system="all" if params.get("scope.system") == "all" else None,
            inherited=inherited,
            effective=effective,
        )
        names = query_bool(call, "include_names")
        items = [_format(s, r, call.root_url, names) for r in refs]
    return json_response(views.collection("role_assignments", items, call.url))
