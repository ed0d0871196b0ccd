"""``/v3/regions``, ``/v3/services`` and ``/v3/endpoints``."""

from __future__ import annotations

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.keystone import catalog, schemas, views
from labkit.sim.keystone.api._helpers import filters, ks
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


@routes.get("/v3/services")
def list_services(call: Call) -> Response:
    enforce(call, "identity:list_services")
    with ks(call).session() as s:
        items = [
            views.service(x, call.root_url)
            for x in catalog.list_services(s, filters(call, ("type", "name")))
        ]
    return json_response(views.collection("services", items, call.url))


@routes.post("/v3/services")
def create_service(call: Call) -> Response:
    enforce(call, "identity:create_service")
    data = body_of(call, "service")
    schemas.validate(schemas.SERVICE_CREATE, data)
    with ks(call).write() as s:
        service = catalog.create_service(s, ks(call).runtime.ids.hex_id(), data)
        out = views.service(service, call.root_url)
    return json_response({"service": out}, 201)


@routes.get("/v3/services/{service_id}")
def get_service(call: Call, service_id: str) -> Response:
    enforce(call, "identity:get_service")
    with ks(call).session() as s:
        out = views.service(catalog.get_service(s, service_id), call.root_url)
    return json_response({"service": out})


@routes.patch("/v3/services/{service_id}")
def update_service(call: Call, service_id: str) -> Response:
    enforce(call, "identity:update_service")
    data = body_of(call, "service")
    schemas.validate(schemas.SERVICE_UPDATE, data)
    with ks(call).write() as s:
        service = catalog.update_service(s, catalog.get_service(s, service_id), data)
        out = views.service(service, call.root_url)
    return json_response({"service": out})


@routes.delete("/v3/services/{service_id}")
def delete_service(call: Call, service_id: str) -> Response:
    enforce(call, "identity:delete_service")
    with ks(call).write() as s:
        catalog.delete_service(s, catalog.get_service(s, service_id))
    return empty_response()


@routes.get("/v3/endpoints")
def list_endpoints(call: Call) -> Response:
    enforce(call, "identity:list_endpoints")
    wanted = filters(call, ("service_id", "interface", "region_id"))
    with ks(call).session() as s:
        items = [views.endpoint(e, call.root_url) for e in catalog.list_endpoints(s, wanted)]
    return json_response(views.collection("endpoints", items, call.url))


@routes.post("/v3/endpoints")
def create_endpoint(call: Call) -> Response:
    enforce(call, "identity:create_endpoint")
    data = body_of(call, "endpoint")
    schemas.validate(schemas.ENDPOINT_CREATE, data)
    with ks(call).write() as s:
        endpoint = catalog.create_endpoint(s, ks(call).runtime.ids.hex_id(), data)
        out = views.endpoint(endpoint, call.root_url)
    return json_response({"endpoint": out}, 201)


@routes.get("/v3/endpoints/{endpoint_id}")
def get_endpoint(call: Call, endpoint_id: str) -> Response:
    enforce(call, "identity:get_endpoint")
    with ks(call).session() as s:
        out = views.endpoint(catalog.get_endpoint(s, endpoint_id), call.root_url)
    return json_response({"endpoint": out})


@routes.patch("/v3/endpoints/{endpoint_id}")
def update_endpoint(call: Call, endpoint_id: str) -> Response:
    enforce(call, "identity:update_endpoint")
    data = body_of(call, "endpoint")
    schemas.validate(schemas.ENDPOINT_UPDATE, data)
    with ks(call).write() as s:
        endpoint = catalog.update_endpoint(s, catalog.get_endpoint(s, endpoint_id), data)
        out = views.endpoint(endpoint, call.root_url)
    return json_response({"endpoint": out})


@routes.delete("/v3/endpoints/{endpoint_id}")
def delete_endpoint(call: Call, endpoint_id: str) -> Response:
    enforce(call, "identity:delete_endpoint")
    with ks(call).write() as s:
        catalog.delete_endpoint(s, catalog.get_endpoint(s, endpoint_id))
    return empty_response()
