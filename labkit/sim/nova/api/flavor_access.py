"""Flavor access: which projects may use a private flavor (``flavor_access.py`` in Nova).

``GET /flavors/{id}/os-flavor-access`` lists them, ``POST /flavors/{id}/action`` with
``addTenantAccess`` / ``removeTenantAccess`` changes them; all admin-only (Zed's policy).
A project id is checked with Keystone first (``identity.verify_project_id``): one Keystone
says does not exist is a 400; if Keystone cannot be asked, Nova lets it through.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.nova import models as m
from labkit.sim.nova.api._helpers import caller, microversion_at_least, nova, require_admin
from labkit.sim.nova.errors import bad_request, conflict, not_found

routes = Routes()


def _access(flavor_id: str, projects: list[str]) -> dict[str, Any]:
    return {"flavor_access": [{"flavor_id": flavor_id, "tenant_id": p} for p in projects]}


def _flavor(call: Call, flavor_id: str) -> m.Flavor:
    with nova(call).nova_cells.api.read() as s:
        row = s.scalars(select(m.Flavor).where(m.Flavor.flavorid == flavor_id)).first()
    if row is None:
        raise not_found(f"Flavor {flavor_id} could not be found.")
    return row


def _verify_project(call: Call, project_id: str) -> None:
    api = nova(call)
    url = api.nova_conf.authtoken.auth_url.rstrip("/")
    url = url if url.endswith("/v3") else f"{url}/v3"
    try:
        answer = api.http_client.get(
            f"{url}/projects/{project_id}", headers={"X-Auth-Token": caller(call).token}
        )
    except Exception as exc:  # keystoneauth's ClientException: Nova takes the pass
        api.log.info(
            "[%s] Unable to contact keystone to verify project_id: %s", call.request_id, exc
        )
        return
    if answer.status_code == 404:
        raise bad_request(f"Project ID {project_id} is not a valid project.")


def _tenant(call: Call, action: str) -> str:
    data = call.json()
    body = data.get(action) if isinstance(data, dict) else None
    if not isinstance(body, dict) or "tenant" not in body:
        raise bad_request(
            f"Invalid input for field/attribute {action}. Value: {body}. 'tenant' is a "
            "required property"
        )
    tenant = body["tenant"]
    if not isinstance(tenant, str) or not 0 < len(tenant) <= 255:
        raise bad_request(
            f"Invalid input for field/attribute tenant. Value: {tenant}. {tenant!r} is not "
            "of type 'string'"
            if not isinstance(tenant, str)
            else f"Invalid input for field/attribute tenant. Value: {tenant}. {tenant!r} is "
            "too short"
        )
    return tenant


@routes.get("/v2.1/flavors/{flavor_id}/os-flavor-access")
def list_access(call: Call, flavor_id: str) -> Response:
    require_admin(call, "os_compute_api:os-flavor-access")
    row = _flavor(call, flavor_id)
    if row.is_public:
        raise not_found("Access list not available for public flavors.")
    return json_response(_access(row.flavorid, list(row.projects or [])))


@routes.post("/v2.1/flavors/{flavor_id}/action")
def flavor_action(call: Call, flavor_id: str) -> Response:
    data = call.json()
    if not isinstance(data, dict) or len(data) != 1:
        raise bad_request("There is no such action: None")
    (action,) = data
    if action == "addTenantAccess":
        return _add(call, flavor_id)
    if action == "removeTenantAccess":
        return _remove(call, flavor_id)
    raise bad_request(f"There is no such action: {action}")


def _add(call: Call, flavor_id: str) -> Response:
    require_admin(call, "os_compute_api:os-flavor-access:add_tenant_access")
    tenant = _tenant(call, "addTenantAccess")
    _verify_project(call, tenant)
    row = _flavor(call, flavor_id)
    if microversion_at_least(call, "2.7") and row.is_public:
        raise conflict("Can not add access to a public flavor.")
    with nova(call).nova_cells.api.write() as s:
        found = s.scalars(select(m.Flavor).where(m.Flavor.flavorid == flavor_id)).one()
        projects = list(found.projects or [])
        if tenant in projects:
            raise conflict(
                f"Flavor access already exists for flavor {flavor_id} and project {tenant} "
                "combination."
            )
        found.projects = [*projects, tenant]
        out = list(found.projects)
    return json_response(_access(flavor_id, out))


def _remove(call: Call, flavor_id: str) -> Response:
    require_admin(call, "os_compute_api:os-flavor-access:remove_tenant_access")
    tenant = _tenant(call, "removeTenantAccess")
    _verify_project(call, tenant)
    _flavor(call, flavor_id)
    with nova(call).nova_cells.api.write() as s:
        found = s.scalars(select(m.Flavor).where(m.Flavor.flavorid == flavor_id)).one()
        projects = list(found.projects or [])
        if tenant not in projects:
            raise not_found(f"Flavor access not found for {flavor_id} / {tenant} combination.")
        found.projects = [p for p in projects if p != tenant]
        out = list(found.projects)
    return json_response(_access(flavor_id, out))
