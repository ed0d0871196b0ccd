"""``/v3/regions``, ``/v3/services`` and ``/v3/endpoints``."""

from __future__ import annotations

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.keystone import catalog, extensions, schemas, views
from labkit.sim.keystone.api._helpers import SystemResource, add_system_resource, ks
from labkit.sim.keystone.service import body_of, enforce

routes = Routes()


@routes.get("/v3/regions")
def list_regions(call: Call) -> Response:
    enforce(call, "identity:list_regions")
    with ks(call).session() as s:
        parent = call.query.get("parent_region_id")
        items = [views.region(r, call.root_url) for r in catalog.list_regions(s, parent)]
    return json_response(views.collection("regions", items, call.url))


def _create_region(call: Call, region_id: str | None) -> Response:
    enforce(call, "identity:create_region")
    data = body_of(call, "region")
    schemas.validate(schemas.REGION_CREATE, data)
    with ks(call).write() as s:
        region = catalog.create_region(
            s, region_id or data.get("id") or ks(call).runtime.ids.hex_id(), data
        )
        out = views.region(region, call.root_url)
    return json_response({"region": out}, 201)


@routes.post("/v3/regions")
def create_region(call: Call) -> Response:
    return _create_region(call, None)


@routes.put("/v3/regions/{region_id}")
def create_region_with_id(call: Call, region_id: str) -> Response:
    return _create_region(call, region_id)


@routes.get("/v3/regions/{region_id}")
def get_region(call: Call, region_id: str) -> Response:
    enforce(call, "identity:get_region")
    with ks(call).session() as s:
        out = views.region(catalog.get_region(s, region_id), call.root_url)
    return json_response({"region": out})


@routes.patch("/v3/regions/{region_id}")
def update_region(call: Call, region_id: str) -> Response:
    enforce(call, "identity:update_region")
    data = body_of(call, "region")
    schemas.validate(schemas.REGION_UPDATE, data)
    with ks(call).write() as s:
        region = catalog.update_region(s, catalog.get_region(s, region_id), data)
        out = views.region(region, call.root_url)
    return json_response({"region": out})


@routes.delete("/v3/regions/{region_id}")
def delete_region(call: Call, region_id: str) -> Response:
    enforce(call, "identity:delete_region")
    with ks(call).write() as s:
        catalog.delete_region(s, catalog.get_region(s, region_id))
    return empty_response()


add_system_resource(
    routes,
    SystemResource(
        "service",
        catalog,
        views.service,
        schemas.SERVICE_CREATE,
        schemas.SERVICE_UPDATE,
        ("type", "name"),
    ),
)
add_system_resource(
    routes,
    SystemResource(
        "endpoint",
        catalog,
        views.endpoint,
        schemas.ENDPOINT_CREATE,
        schemas.ENDPOINT_UPDATE,
        ("service_id", "interface", "region_id"),
    ),
)
add_system_resource(
    routes,
    SystemResource(
        "endpoint_group",
        extensions,
        views.endpoint_group,
        schemas.ENDPOINT_GROUP_CREATE,
        schemas.ENDPOINT_GROUP_UPDATE,
        ("name",),
        path="/v3/OS-EP-FILTER/endpoint_groups",
    ),
)
