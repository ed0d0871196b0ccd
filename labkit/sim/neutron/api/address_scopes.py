"""``/v2.0/address-scopes``: create (also in bulk), list, show, update, delete --
``openstack address scope create/list/show/set/delete``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes
from labkit.sim.neutron import address_scopes, attributes
from labkit.sim.neutron.api._helpers import (
    body,
    created_many,
    ctx,
    deleted,
    listed,
    repo,
    show,
    updated,
)
from labkit.sim.neutron.db import Tx
from labkit.sim.neutron.policy import Context

routes = Routes()


def _visible(tx: Tx, caller: Context) -> list[dict[str, Any]]:
    return address_scopes.views(tx, caller, address_scopes.candidates(tx, caller))


@routes.get("/v2.0/address-scopes")
def index(call: Call) -> Response:
    return listed(call, "address_scopes", "address_scope", attributes.ADDRESS_SCOPE, _visible)


@routes.post("/v2.0/address-scopes")
def create(call: Call) -> Response:
    caller = ctx(call)
    items, bulk = attributes.prepare_items(
        caller, body(call), "address_scope", attributes.ADDRESS_SCOPE
    )
    with repo(call).write() as tx:
        rows = [address_scopes.create(tx, caller, data) for data in items]
        shown = address_scopes.views(tx, caller, rows)
    return created_many(call, "address_scope", shown, bulk)


@routes.get("/v2.0/address-scopes/{scope_id}")
def get(call: Call, scope_id: str) -> Response:
    caller = ctx(call)
    with repo(call).read() as tx:
        item = address_scopes.views(tx, caller, [address_scopes.get(tx, caller, scope_id)])[0]
    return show(call, "address_scope", item)


@routes.put("/v2.0/address-scopes/{scope_id}")
def update(call: Call, scope_id: str) -> Response:
    caller = ctx(call)
    data = attributes.prepare(caller, body(call), "address_scope", attributes.ADDRESS_SCOPE, False)
    with repo(call).write() as tx:
        row = address_scopes.get(tx, caller, scope_id)
        row = address_scopes.update(tx, caller, row, data)
        item = address_scopes.views(tx, caller, [row])[0]
    return updated(call, "address_scope", item)


@routes.delete("/v2.0/address-scopes/{scope_id}")
def delete(call: Call, scope_id: str) -> Response:
    caller = ctx(call)
    with repo(call).write() as tx:
        address_scopes.delete(tx, caller, address_scopes.get(tx, caller, scope_id))
    return deleted(call)
