"""``/allocations/{consumer_uuid}``, ``POST /allocations`` (1.13), a provider's allocations,
and usages (``/resource_providers/{uuid}/usages``, ``GET /usages`` from 1.9)."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes
from labkit.sim.placement import allocations, errors, providers, schemas
from labkit.sim.placement.api._helpers import (
    app,
    body,
    check_accept,
    empty,
    enforce,
    is_uuid_like,
    now,
    ok,
    query,
    reading,
    since,
    version,
    writing,
)
from labkit.sim.placement.errors import PlacementError, bad_request, conflict

routes = Routes()


def _put_schema(call: Call) -> dict[str, Any]:
    v = version(call)
    if v.at_least(38):
        return schemas.ALLOCATIONS_1_38
    if v.at_least(34):
        return schemas.ALLOCATIONS_1_34
    if v.at_least(28):
        return schemas.ALLOCATIONS_1_28
    if v.at_least(12):
        return schemas.ALLOCATIONS_1_12
    if v.at_least(8):
        return schemas.ALLOCATIONS_1_8
    return schemas.ALLOCATIONS_1_0


def _consumer_write(call: Call, consumer: str, data: dict[str, Any]) -> allocations.ConsumerWrite:
    v = version(call)
    raw = data["allocations"]
    if isinstance(raw, list):  # before 1.12: a list of {resource_provider: {uuid}, resources}
        amounts = {item["resource_provider"]["uuid"]: dict(item["resources"]) for item in raw}
    else:
        amounts = {rp: dict(entry["resources"]) for rp, entry in raw.items()}
    conf = app(call).config
    project = data.get("project_id")
    return allocations.ConsumerWrite(
        uuid=consumer,
        allocations=amounts,
        project_id=project if project is not None else conf.incomplete_consumer_project_id,
        user_id=data["user_id"] if project is not None else conf.incomplete_consumer_user_id,
        generation=data.get("consumer_generation"),
        check_generation=v.at_least(28),
        consumer_type=data.get("consumer_type"),
    )


def _write(call: Call, writes: list[allocations.ConsumerWrite], single: str | None) -> None:
    with app(call).database.transaction() as tx:
        try:
            allocations.write(tx, writes, now(call))
        except allocations.ConsumerGenerationConflict as exc:
            raise conflict(str(exc), errors.CONCURRENT_UPDATE) from None
        except allocations.UnknownProvider as exc:
            raise bad_request(str(exc)) from None
        except errors.NotFound as exc:
            where = f"for consumer {single}: " if single else ""
            raise bad_request(f"Unable to allocate inventory {where}{exc}") from None
        except errors.InvalidInventory as exc:
            raise conflict(f"Unable to allocate inventory: {exc}") from None
        except errors.ConcurrentUpdate as exc:  # a provider's generation moved under the write
            raise conflict(
                f"Inventory and/or allocations changed while attempting to allocate: {exc}",
                errors.CONCURRENT_UPDATE,
            ) from None


@routes.put("/allocations/{consumer_uuid}")
def put_allocations(call: Call, consumer_uuid: str) -> Response:
    enforce(call, "placement:allocations:update")
    if not is_uuid_like(consumer_uuid):
        raise bad_request(f"Malformed consumer_uuid: {consumer_uuid}")
    consumer = str(uuidlib.UUID(consumer_uuid))
    data = body(call, _put_schema(call))
    _write(call, [_consumer_write(call, consumer, data)], consumer)
    return empty()


@routes.post("/allocations")
def post_allocations(call: Call) -> Response:
    since(call, 13)
    enforce(call, "placement:allocations:manage")
    v = version(call)
    schema = (
        schemas.POST_ALLOCATIONS_1_38
        if v.at_least(38)
        else schemas.POST_ALLOCATIONS_1_34
        if v.at_least(34)
        else schemas.POST_ALLOCATIONS_1_28
        if v.at_least(28)
        else schemas.POST_ALLOCATIONS_1_13
    )
    data = body(call, schema)
    writes = [_consumer_write(call, consumer, entry) for consumer, entry in data.items()]
    _write(call, writes, None)
    return empty()


@routes.get("/allocations/{consumer_uuid}")
def show_allocations(call: Call, consumer_uuid: str) -> Response:
    check_accept(call)
    enforce(call, "placement:allocations:list")
    v = version(call)
    with reading(call) as s:
        found = allocations.of_consumer(s, consumer_uuid)
    result: dict[str, Any] = {
        "allocations": {
            rp: {"resources": amounts, "generation": generation}
            for rp, (generation, amounts) in found.allocations.items()
        }
    }
    if found.allocations and v.at_least(12):
        result["project_id"] = found.project_id
        result["user_id"] = found.user_id
        if v.at_least(28):
            result["consumer_generation"] = found.generation
        if v.at_least(38):
            result["consumer_type"] = found.consumer_type
    return ok(call, result)


@routes.delete("/allocations/{consumer_uuid}")
def delete_allocations(call: Call, consumer_uuid: str) -> Response:
    enforce(call, "placement:allocations:delete")
    with writing(call) as s:
        if not allocations.delete_consumer(s, consumer_uuid):
            raise PlacementError(404, f"No allocations for consumer '{consumer_uuid}'")
    return empty()


@routes.get("/resource_providers/{uuid}/allocations")
def provider_allocations(call: Call, uuid: str) -> Response:
    check_accept(call)
    enforce(call, "placement:resource_providers:allocations:list")
    with reading(call) as s:
        try:
            rp = providers.get(s, uuid)
        except errors.ProviderNotFound as exc:
            raise PlacementError(404, f"Resource provider '{uuid}' not found: {exc}") from None
        found = allocations.of_provider(s, rp.id)
    with_generation = version(call).at_least(28)
    return ok(
        call,
        {
            "allocations": {
                consumer: {"resources": amounts}
                | ({"consumer_generation": generation} if with_generation else {})
                for consumer, (generation, amounts) in found.items()
            },
            "resource_provider_generation": rp.generation,
        },
    )


@routes.get("/resource_providers/{uuid}/usages")
def provider_usages(call: Call, uuid: str) -> Response:
    check_accept(call)
    enforce(call, "placement:resource_providers:usages")
    with reading(call) as s:
        try:
            rp = providers.get(s, uuid)
        except errors.ProviderNotFound as exc:
            raise PlacementError(
                404, f"No resource provider with uuid {uuid} found: {exc}"
            ) from None
        used = providers.usages(s, rp.id)
    return ok(call, {"resource_provider_generation": rp.generation, "usages": used})


@routes.get("/usages")
def total_usages(call: Call) -> Response:
    since(call, 9)
    check_accept(call)
    project = call.query.get("project_id")
    enforce(call, "placement:usages", target_project=project)
    by_type = version(call).at_least(38)
    params = query(call, schemas.USAGES_QUERY_1_38 if by_type else schemas.USAGES_QUERY)
    with reading(call) as s:
        found = allocations.total_usages(
            s, params["project_id"], params.get("user_id"), by_type, params.get("consumer_type")
        )
    return ok(call, {"usages": found if by_type else found.get("", {})})
