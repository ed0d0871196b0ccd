"""``/v2.0/flavors`` and ``/v2.0/service_profiles`` (the flavors service plugin), and the
flavor's ``service_profiles`` sub-resource that binds a profile to it --
``openstack network flavor ...`` and ``openstack network flavor profile ...``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes
from labkit.sim.neutron import attributes, flavors
from labkit.sim.neutron.api._helpers import (
    app,
    body,
    created,
    created_many,
    ctx,
    deleted,
    listed,
    repo,
    show,
    updated,
)
from labkit.sim.neutron.api.service_types import providers
from labkit.sim.neutron.db import Tx
from labkit.sim.neutron.errors import http_bad_request, http_not_found
from labkit.sim.neutron.policy import Context

routes = Routes()


def _l3_enabled(call: Call) -> bool:
    conf = app(call).conf
    return conf is not None and conf.l3_enabled


def _drivers(call: Call) -> set[str]:
    """The drivers of the registered service providers (what _validate_driver asks for)."""
    return {p["driver"] for p in providers(_l3_enabled(call))}


# ---- flavors -----------------------------------------------------------------------------------


@routes.get("/v2.0/flavors")
def index(call: Call) -> Response:
    return listed(
        call,
        "flavors",
        "flavor",
        attributes.FLAVOR,
        lambda tx, caller: flavors.flavor_views(tx, flavors.all_flavors(tx)),
    )


@routes.post("/v2.0/flavors")
def create(call: Call) -> Response:
    caller = ctx(call)
    items, bulk = attributes.prepare_items(caller, body(call), "flavor", attributes.FLAVOR)
    for data in items:
        flavors.check_service_type(data["service_type"], _l3_enabled(call))
    with repo(call).write() as tx:
        rows = [flavors.create_flavor(tx, caller, data) for data in items]
        shown = flavors.flavor_views(tx, rows)
    return created_many(call, "flavor", shown, bulk)


@routes.get("/v2.0/flavors/{flavor_id}")
def get(call: Call, flavor_id: str) -> Response:
    with repo(call).read() as tx:
        item = flavors.flavor_views(tx, [flavors.get_flavor(tx, flavor_id)])[0]
    return show(call, "flavor", item)


@routes.put("/v2.0/flavors/{flavor_id}")
def update(call: Call, flavor_id: str) -> Response:
    caller = ctx(call)
    data = attributes.prepare(caller, body(call), "flavor", attributes.FLAVOR, False)
    with repo(call).write() as tx:
        row = flavors.update_flavor(tx, caller, flavors.get_flavor(tx, flavor_id), data)
        item = flavors.flavor_views(tx, [row])[0]
    return updated(call, "flavor", item)


@routes.delete("/v2.0/flavors/{flavor_id}")
def delete(call: Call, flavor_id: str) -> Response:
    caller = ctx(call)
    with repo(call).write() as tx:
        flavors.delete_flavor(tx, caller, flavors.get_flavor(tx, flavor_id))
    return deleted(call)


@routes.post("/v2.0/flavors/{flavor_id}/service_profiles")
def bind(call: Call, flavor_id: str) -> Response:
    """``{"service_profile": {"id": ...}}``; Neutron answers the flavor's dict cut to the
    sub-resource's one attribute, ``id`` -- the flavor's id."""
    caller = ctx(call)
    data = attributes.unwrap(body(call), "service_profile")
    unknown = sorted(set(data) - {"id"})
    if unknown:
        raise http_bad_request(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    if "id" not in data:
        raise http_bad_request("Failed to parse request. Required attribute 'id' not specified")
    problem = attributes.v_uuid(data["id"])
    if problem:
        raise http_bad_request(f"Invalid input for id. Reason: {problem}.")
    with repo(call).write() as tx:
        flavor = flavors.get_flavor(tx, flavor_id)
        flavors.bind(tx, caller, flavor, data["id"])
    return created(call, "service_profile", {"id": flavor.id})


@routes.delete("/v2.0/flavors/{flavor_id}/service_profiles/{profile_id}")
def unbind(call: Call, flavor_id: str, profile_id: str) -> Response:
    caller = ctx(call)
    with repo(call).write() as tx:
        flavors.unbind(tx, caller, flavors.get_flavor(tx, flavor_id), profile_id)
    return deleted(call)


# ---- service profiles (admins only, reading too) -----------------------------------------------


def _profiles(tx: Tx, caller: Context) -> list[dict[str, Any]]:
    return flavors.profile_views(flavors.all_profiles(tx)) if caller.is_admin else []


def _profile(tx: Tx, caller: Context, profile_id: str) -> Any:
    """A profile the caller may reach; for others Neutron's policy hook hides it (404)."""
    row = flavors.get_profile(tx, profile_id)
    if not caller.is_admin:
        raise http_not_found()
    return row


@routes.get("/v2.0/service_profiles")
def profiles_index(call: Call) -> Response:
    return listed(
        call, "service_profiles", "service_profile", attributes.SERVICE_PROFILE, _profiles
    )


@routes.post("/v2.0/service_profiles")
def profiles_create(call: Call) -> Response:
    caller = ctx(call)
    items, bulk = attributes.prepare_items(
        caller, body(call), "service_profile", attributes.SERVICE_PROFILE
    )
    with repo(call).write() as tx:
        rows = [flavors.create_profile(tx, caller, data, _drivers(call)) for data in items]
        shown = flavors.profile_views(rows)
    return created_many(call, "service_profile", shown, bulk)


@routes.get("/v2.0/service_profiles/{profile_id}")
def profiles_get(call: Call, profile_id: str) -> Response:
    with repo(call).read() as tx:
        item = flavors.profile_views([_profile(tx, ctx(call), profile_id)])[0]
    return show(call, "service_profile", item)


@routes.put("/v2.0/service_profiles/{profile_id}")
def profiles_update(call: Call, profile_id: str) -> Response:
    caller = ctx(call)
    data = attributes.prepare(
        caller, body(call), "service_profile", attributes.SERVICE_PROFILE, False
    )
    with repo(call).write() as tx:
        row = _profile(tx, caller, profile_id)
        row = flavors.update_profile(tx, caller, row, data, _drivers(call))
        item = flavors.profile_views([row])[0]
    return updated(call, "service_profile", item)


@routes.delete("/v2.0/service_profiles/{profile_id}")
def profiles_delete(call: Call, profile_id: str) -> Response:
    caller = ctx(call)
    with repo(call).write() as tx:
        flavors.delete_profile(tx, caller, _profile(tx, caller, profile_id))
    return deleted(call)
