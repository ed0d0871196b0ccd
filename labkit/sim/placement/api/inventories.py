"""``/resource_providers/{uuid}/inventories`` and ``.../inventories/{resource_class}``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes
from labkit.sim.placement import errors, providers, schemas, views
from labkit.sim.placement.api._helpers import (
    body,
    check_accept,
    empty,
    enforce,
    location,
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
_FIELDS = ("total", "reserved", "min_unit", "max_unit", "step_size", "allocation_ratio")


def _record(uuid: str, resource_class: str, data: dict[str, Any]) -> providers.InventoryRecord:
    """make_inventory_object: Placement's defaults for what the body leaves out."""
    return providers.InventoryRecord(resource_class, **{k: data[k] for k in _FIELDS if k in data})


def _generation(call: Call, uuid: str) -> int:
    with reading(call) as s:
        try:
            return providers.get(s, uuid).generation
        except errors.ProviderNotFound:
            raise missing(uuid) from None


def _stale() -> PlacementError:
    return conflict("resource provider generation conflict", errors.CONCURRENT_UPDATE)


def _warn_over(call: Call, uuid: str, over: list[str]) -> None:
    for name in over:
        call.service.runtime.logger(call.service.name).warning(
            "Resource provider %s is now over-capacity for %s", uuid, name
        )


@routes.get("/resource_providers/{uuid}/inventories")
def list_inventories(call: Call, uuid: str) -> Response:
    check_accept(call)
    enforce(call, "placement:resource_providers:inventories:list")
    with reading(call) as s:
        try:
            rp = providers.get(s, uuid)
        except errors.ProviderNotFound as exc:
            raise PlacementError(
                404, f"No resource provider with uuid {uuid} found : {exc}"
            ) from None
        records = providers.inventories(s, rp.id)
    return ok(call, views.inventories(records, rp.generation))


@routes.post("/resource_providers/{uuid}/inventories")
def create_inventory(call: Call, uuid: str) -> Response:
    enforce(call, "placement:resource_providers:inventories:create")
    _generation(call, uuid)
    data = body(call, schemas.INVENTORY_POST)
    rec = _record(uuid, data["resource_class"], data)
    with writing(call) as s:
        try:
            providers.check_capacity([rec], uuid, version(call).at_least(26))
            rp = providers.add_inventory(s, uuid, rec, now(call))
        except errors.ProviderNotFound:
            raise missing(uuid) from None
        except errors.Duplicate as exc:
            raise conflict(f"Update conflict: {exc}", errors.CONCURRENT_UPDATE) from None
        except (errors.InvalidCapacity, errors.NotFound) as exc:
            raise bad_request(
                f"Unable to create inventory for resource provider {uuid}: {exc}"
            ) from None
    where = location(call, f"/resource_providers/{uuid}/inventories/{rec.resource_class}")
    return ok(call, views.inventory(rec, rp.generation), 201, {"Location": where})


@routes.put("/resource_providers/{uuid}/inventories")
def set_inventories(call: Call, uuid: str) -> Response:
    enforce(call, "placement:resource_providers:inventories:update")
    _generation(call, uuid)
    data = body(call, schemas.INVENTORIES)
    records = [_record(uuid, name, inv) for name, inv in data["inventories"].items()]
    with writing(call) as s:
        try:
            if providers.get(s, uuid).generation != data["resource_provider_generation"]:
                raise _stale()
            providers.check_capacity(records, uuid, version(call).at_least(26))
            rp, over = providers.set_inventories(s, uuid, records, now(call))
        except errors.ProviderNotFound:
            raise missing(uuid) from None
        except errors.ResourceClassNotFound as exc:
            raise bad_request(
                f"Unknown resource class in inventory for resource provider {uuid}: {exc}"
            ) from None
        except errors.InventoryInUse as exc:
            raise conflict(f"update conflict: {exc}", errors.INVENTORY_INUSE) from None
        except errors.InvalidCapacity as exc:
            raise bad_request(
                f"Unable to update inventory for resource provider {uuid}: {exc}"
            ) from None
    _warn_over(call, uuid, over)
    return ok(call, views.inventories({r.resource_class: r for r in records}, rp.generation))


@routes.delete("/resource_providers/{uuid}/inventories")
def delete_inventories(call: Call, uuid: str) -> Response:
    since(call, 5, status=405)
    enforce(call, "placement:resource_providers:inventories:delete")
    with writing(call) as s:
        try:
            providers.set_inventories(s, uuid, [], now(call))
        except errors.ProviderNotFound:
            raise missing(uuid) from None
        except errors.InventoryInUse as exc:
            raise conflict(str(exc), errors.INVENTORY_INUSE) from None
    return empty()


@routes.get("/resource_providers/{uuid}/inventories/{resource_class}")
def show_inventory(call: Call, uuid: str, resource_class: str) -> Response:
    check_accept(call)
    enforce(call, "placement:resource_providers:inventories:show")
    with reading(call) as s:
        try:
            rp = providers.get(s, uuid)
        except errors.ProviderNotFound as exc:
            raise PlacementError(
                404, f"No resource provider with uuid {uuid} found : {exc}"
            ) from None
        rec = providers.inventories(s, rp.id).get(resource_class)
    if rec is None:
        raise PlacementError(404, f"No inventory of class {resource_class} for {uuid}")
    return ok(call, views.inventory(rec, rp.generation))


@routes.put("/resource_providers/{uuid}/inventories/{resource_class}")
def update_inventory(call: Call, uuid: str, resource_class: str) -> Response:
    enforce(call, "placement:resource_providers:inventories:update")
    _generation(call, uuid)
    data = body(call, schemas.INVENTORY)
    rec = _record(uuid, resource_class, data)
    with writing(call) as s:
        try:
            if providers.get(s, uuid).generation != data["resource_provider_generation"]:
                raise _stale()
            providers.check_capacity([rec], uuid, version(call).at_least(26))
            rp, over = providers.update_inventory(s, uuid, rec, now(call))
        except errors.ProviderNotFound:
            raise missing(uuid) from None
        except errors.ResourceClassNotFound as exc:
            raise PlacementError(404, str(exc), in_handler=False) from None
        except errors.NotFound as exc:
            raise bad_request(
                f"No inventory record with resource class for resource provider {uuid}: {exc}"
            ) from None
        except errors.InvalidCapacity as exc:
            raise bad_request(
                f"Unable to update inventory for resource provider {uuid}: {exc}"
            ) from None
    _warn_over(call, uuid, over)
    return ok(call, views.inventory(rec, rp.generation))


@routes.delete("/resource_providers/{uuid}/inventories/{resource_class}")
def delete_inventory(call: Call, uuid: str, resource_class: str) -> Response:
    enforce(call, "placement:resource_providers:inventories:delete")
    with writing(call) as s:
        try:
            providers.delete_inventory(s, uuid, resource_class)
        except errors.ProviderNotFound:
            raise missing(uuid) from None
        except errors.InventoryInUse as exc:
            raise conflict(
                f"Unable to delete inventory of class {resource_class}: {exc}",
                errors.CONCURRENT_UPDATE,
            ) from None
        except errors.NotFound as exc:
            raise PlacementError(
                404, f"No inventory of class {resource_class} found for delete: {exc}"
            ) from None
    return empty()
