"""``/v2.0/quotas``: a project's limits, its usage (``/details``), the defaults, changes.

Admins read and change any project's quotas; a member reads its own project's only (others
answer 403 ``rule:get_quota is disallowed by policy``). ``openstack quota show`` reads
``/quotas/{project}`` (``--usage``: ``/details``, ``--default``: ``/default``); ``openstack
quota set --ports 100`` sends ``PUT`` with ``check_limit``.
"""

from __future__ import annotations

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.neutron import attributes, quotas
from labkit.sim.neutron.api._helpers import body, ctx, deleted, repo
from labkit.sim.neutron.attributes import Attr
from labkit.sim.neutron.errors import http_not_implemented
from labkit.sim.neutron.policy import Context, enforce_admin

routes = Routes()
DB_INTEGER_MAX = 2147483647


def _may_read(caller: Context, project_id: str) -> None:
    if project_id != caller.project_id:
        enforce_admin(caller, "get_quota")


@routes.get("/v2.0/quotas")
def index(call: Call) -> Response:
    caller = ctx(call)
    enforce_admin(caller, "get_quota")
    with repo(call).read() as tx:
        items = []
        for project in quotas.projects_with_quotas(tx):
            items.append(
                {**quotas.limits(tx, project), "project_id": project, "tenant_id": project}
            )
    return json_response({"quotas": items})


@routes.post("/v2.0/quotas")
def create(call: Call) -> Response:
    raise http_not_implemented("POST requests are not supported on this resource.")


@routes.get("/v2.0/quotas/tenant")
def tenant(call: Call) -> Response:
    return json_response({"tenant": {"tenant_id": ctx(call).project_id}})


@routes.get("/v2.0/quotas/project")
def project(call: Call) -> Response:
    return json_response({"project": {"project_id": ctx(call).project_id}})


@routes.get("/v2.0/quotas/{project_id}")
def show(call: Call, project_id: str) -> Response:
    _may_read(ctx(call), project_id)
    with repo(call).read() as tx:
        return json_response({"quota": quotas.limits(tx, project_id)})


@routes.get("/v2.0/quotas/{project_id}/default")
def default(call: Call, project_id: str) -> Response:
    _may_read(ctx(call), project_id)
    with repo(call).read() as tx:
        return json_response({"quota": quotas.defaults(tx)})


@routes.get("/v2.0/quotas/{project_id}/details")
def details(call: Call, project_id: str) -> Response:
    _may_read(ctx(call), project_id)
    with repo(call).read() as tx:
        return json_response({"quota": quotas.details(tx, project_id)})


@routes.put("/v2.0/quotas/{project_id}")
def update(call: Call, project_id: str) -> Response:
    caller = ctx(call)
    enforce_admin(caller, "update_quota")
    data = body(call)
    inner = data.get("quota") if isinstance(data, dict) else None
    force = check_limit = False
    if isinstance(inner, dict):
        inner = dict(inner)
        force = bool(inner.pop("force", False))
        check_limit = bool(inner.pop("check_limit", False))
        data = {"quota": inner}
    with repo(call).write() as tx:
        names = quotas.resources(tx)
        attrs = {
            name: Attr(
                put=True,
                convert=attributes.to_int,
                validate=attributes.v_range(-1, DB_INTEGER_MAX),
            )
            for name in names
        }
        values = attributes.prepare(caller, data, "quota", attrs, False)
        quotas.update(tx, project_id, values, check_limit and not force)
        limits = quotas.limits(tx, project_id)
    return json_response({"quota": limits})


@routes.delete("/v2.0/quotas/{project_id}")
def delete(call: Call, project_id: str) -> Response:
    caller = ctx(call)
    enforce_admin(caller, "delete_quota")
    with repo(call).write() as tx:
        quotas.reset(tx, project_id)
    return deleted(call)
