"""A provider's traits (from 1.6) and aggregates (from 1.1, generation-checked from 1.19)."""

from __future__ import annotations

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes
from labkit.sim.placement import classes, errors, providers, schemas
from labkit.sim.placement.api._helpers import (
    body,
    check_accept,
    empty,
    enforce,
    now,
    ok,
    reading,
    since,
    version,
    writing,
)
from labkit.sim.placement.api.providers import missing
from labkit.sim.placement.errors import PlacementError, bad_request, conflict

routes = Routes()
_GENERATION_CHANGED = (
    "Resource provider's generation already changed. Please update the generation and try again."
)


@routes.get("/resource_providers/{uuid}/traits")
def list_provider_traits(call: Call, uuid: str) -> Response:
    since(call, 6)
    check_accept(call)
    enforce(call, "placement:resource_providers:traits:list")
    with reading(call) as s:
        try:
            rp = providers.get(s, uuid)
        except errors.ProviderNotFound as exc:
            raise PlacementError(
                404, f"No resource provider with uuid {uuid} found: {exc}"
            ) from None
        names = providers.traits_of(s, rp.id)
    return ok(call, {"traits": names, "resource_provider_generation": rp.generation})


@routes.put("/resource_providers/{uuid}/traits")
def set_provider_traits(call: Call, uuid: str) -> Response:
    since(call, 6)
    enforce(call, "placement:resource_providers:traits:update")
    data = body(call, schemas.PROVIDER_TRAITS)
    with writing(call) as s:
        try:
            rp = providers.get(s, uuid)
            if rp.generation != data["resource_provider_generation"]:
                raise conflict(_GENERATION_CHANGED, errors.CONCURRENT_UPDATE)
            rp = providers.set_traits(s, uuid, data["traits"], now(call))
        except errors.ProviderNotFound:
            raise missing(uuid) from None
        except errors.TraitNotFound:
            known = set(classes.list_traits(s, names_in=data["traits"]))
            unknown = [t for t in dict.fromkeys(data["traits"]) if t not in known]
            raise bad_request(f"No such trait {', '.join(unknown)}") from None
        names = providers.traits_of(s, rp.id)
    return ok(call, {"traits": names, "resource_provider_generation": rp.generation})


@routes.delete("/resource_providers/{uuid}/traits")
def delete_provider_traits(call: Call, uuid: str) -> Response:
    since(call, 6)
    enforce(call, "placement:resource_providers:traits:delete")
    with writing(call) as s:
        try:
            providers.set_traits(s, uuid, [], now(call))
        except errors.ProviderNotFound:
            raise missing(uuid) from None
    return empty()


@routes.get("/resource_providers/{uuid}/aggregates")
def list_aggregates(call: Call, uuid: str) -> Response:
    since(call, 1)
    check_accept(call)
    enforce(call, "placement:resource_providers:aggregates:list")
    with reading(call) as s:
        try:
            rp = providers.get(s, uuid)
        except errors.ProviderNotFound:
            raise missing(uuid) from None
        aggregates = providers.aggregates_of(s, rp.id)
    payload: dict[str, object] = {"aggregates": aggregates}
    if version(call).at_least(19):
        payload["resource_provider_generation"] = rp.generation
    return ok(call, payload)


@routes.put("/resource_providers/{uuid}/aggregates")
def set_aggregates(call: Call, uuid: str) -> Response:
    since(call, 1)
    enforce(call, "placement:resource_providers:aggregates:update")
    with_generation = version(call).at_least(19)
    with reading(call) as s:
        try:
            providers.get(s, uuid)
        except errors.ProviderNotFound:
            raise missing(uuid) from None
    data = body(call, schemas.AGGREGATES_1_19 if with_generation else schemas.AGGREGATES_1_1)
    aggregates: list[str] = data["aggregates"] if with_generation else data
    with writing(call) as s:
        try:
            rp = providers.get(s, uuid)
            if with_generation and rp.generation != data["resource_provider_generation"]:
                raise conflict(_GENERATION_CHANGED, errors.CONCURRENT_UPDATE)
            rp = providers.set_aggregates(s, uuid, aggregates, with_generation, now(call))
        except errors.ProviderNotFound:
            raise missing(uuid) from None
    payload: dict[str, object] = {"aggregates": aggregates}
    if with_generation:
        payload["resource_provider_generation"] = rp.generation
    return ok(call, payload)
