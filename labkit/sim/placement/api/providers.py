"""``/resource_providers`` and ``/resource_providers/{uuid}``."""

from __future__ import annotations

import uuid as uuidlib

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes
from labkit.sim.placement import errors, providers, schemas, views
from labkit.sim.placement.api import _params
from labkit.sim.placement.api._helpers import (
    app,
    body,
    check_accept,
    empty,
    enforce,
    location,
    now,
    ok,
    query,
    reading,
    url,
    version,
    writing,
)
from labkit.sim.placement.errors import PlacementError, bad_request, conflict

routes = Routes()


def missing(uuid: str) -> PlacementError:
    """A provider the URL names does not exist: the router's NotFound (no Vary)."""
    return PlacementError(404, str(errors.ProviderNotFound(uuid)), in_handler=False)


@routes.get("/resource_providers")
def list_providers(call: Call) -> Response:
    check_accept(call)
    enforce(call, "placement:resource_providers:list")
    v = version(call)
    schema = (
        schemas.PROVIDERS_QUERY_1_18
        if v.at_least(18)
        else schemas.PROVIDERS_QUERY_1_14
        if v.at_least(14)
        else schemas.PROVIDERS_QUERY_1_4
        if v.at_least(4)
        else schemas.PROVIDERS_QUERY_1_3
        if v.at_least(3)
        else schemas.PROVIDERS_QUERY
    )
    params = query(call, schema)
    f = providers.ProviderFilters(name=params.get("name"), uuid=params.get("uuid"))
    if "member_of" in params:
        f.member_of, f.forbidden_aggs = _params.member_of(call)
    if "required" in params:
        f.required_traits, f.forbidden_traits = _params.traits(call)
    if "in_tree" in params:
        f.in_tree = params["in_tree"]
    if "resources" in params:
        f.resources = _params.resources(params["resources"])
    with reading(call) as s:
        try:
            found = providers.list_providers(s, f)
        except errors.ResourceClassNotFound as exc:
            raise bad_request(f"Invalid resource class in resources parameter: {exc}") from None
        except errors.TraitNotFound as exc:
            raise bad_request(f'Invalid trait(s) in "required" parameter: {exc}') from None
    link = lambda path: url(call, path)  # noqa: E731
    return ok(call, {"resource_providers": [views.provider(link, p, v) for p in found]})


@routes.post("/resource_providers")
def create_provider(call: Call) -> Response:
    enforce(call, "placement:resource_providers:create")
    v = version(call)
    data = body(call, schemas.PROVIDER_POST_1_14 if v.at_least(14) else schemas.PROVIDER_POST)
    rp_uuid = (
        str(uuidlib.UUID(data["uuid"])) if data.get("uuid") else app(call).runtime.ids.dashed_id()
    )
    name = data["name"]
    if not name:
        raise bad_request(
            f'Unable to create resource provider "{name}", {rp_uuid}: Object action create '
            "failed because: name is required"
        )
    with writing(call) as s:
        try:
            created = providers.create(
                s, rp_uuid, name, data.get("parent_provider_uuid"), now(call)
            )
        except errors.Duplicate as exc:
            raise conflict(
                f"Conflicting resource provider {exc.column}: {exc.value} already exists.",
                errors.DUPLICATE_NAME,
            ) from None
        except errors.ActionError as exc:
            raise bad_request(
                f'Unable to create resource provider "{name}", {rp_uuid}: {exc}'
            ) from None
    where = location(call, f"/resource_providers/{rp_uuid}")
    if v.at_least(20):
        link = lambda path: url(call, path)  # noqa: E731
        response = ok(call, views.provider(link, created, v), headers={"Location": where})
        response.headers["Cache-Control"] = "no-cache"
        return response
    return empty(201, {"Location": where})


@routes.get("/resource_providers/{uuid}")
def show_provider(call: Call, uuid: str) -> Response:
    check_accept(call)
    enforce(call, "placement:resource_providers:show")
    with reading(call) as s:
        try:
            found = providers.get(s, uuid)
        except errors.ProviderNotFound:
            raise missing(uuid) from None
    link = lambda path: url(call, path)  # noqa: E731
    return ok(call, views.provider(link, found, version(call)))


@routes.put("/resource_providers/{uuid}")
def update_provider(call: Call, uuid: str) -> Response:
    enforce(call, "placement:resource_providers:update")
    v = version(call)
    with reading(call) as s:
        try:
            providers.get(s, uuid)
        except errors.ProviderNotFound:
            raise missing(uuid) from None
    data = body(call, schemas.PROVIDER_PUT_1_14 if v.at_least(14) else schemas.PROVIDER_PUT)
    with writing(call) as s:
        try:
            updated = providers.update(
                s,
                uuid,
                data["name"],
                data.get("parent_provider_uuid"),
                "parent_provider_uuid" in data,
                v.at_least(37),
                now(call),
            )
        except errors.ProviderNotFound:
            raise missing(uuid) from None
        except errors.Duplicate:
            raise conflict(
                f"Conflicting resource provider {data['name']} already exists.",
                errors.DUPLICATE_NAME,
            ) from None
        except errors.ActionError as exc:
            raise bad_request(f"Unable to save resource provider {uuid}: {exc}") from None
    link = lambda path: url(call, path)  # noqa: E731
    return ok(call, views.provider(link, updated, v))


@routes.delete("/resource_providers/{uuid}")
def delete_provider(call: Call, uuid: str) -> Response:
    enforce(call, "placement:resource_providers:delete")
    with writing(call) as s:
        try:
            providers.delete_provider(s, uuid)
        except errors.ProviderNotFound:
            raise PlacementError(
                404, f"No resource provider with uuid {uuid} found for delete"
            ) from None
        except errors.ProviderInUse as exc:
            raise conflict(
                f"Unable to delete resource provider {uuid}: {exc}", errors.PROVIDER_IN_USE
            ) from None
        except errors.CannotDeleteParent:
            raise conflict(
                f"Unable to delete parent resource provider {uuid}: It has child resource "
                "providers.",
                errors.PROVIDER_CANNOT_DELETE_PARENT,
            ) from None
    return empty()
