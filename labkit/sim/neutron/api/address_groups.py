"""``/v2.0/address-groups``: create, list, show, update, delete, and the ``add_addresses`` /
``remove_addresses`` member actions -- ``openstack address group create/list/show/set/unset
/delete``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.neutron import address_groups, attributes, secgroups
from labkit.sim.neutron.api._helpers import (
    body,
    created_many,
    ctx,
    deleted,
    listed,
    notifier,
    repo,
    settle,
    show,
    updated,
)
from labkit.sim.neutron.db import Tx
from labkit.sim.neutron.errors import http_bad_request
from labkit.sim.neutron.policy import Context

routes = Routes()


def _visible(tx: Tx, caller: Context) -> list[dict[str, Any]]:
    return address_groups.views(tx, address_groups.candidates(tx, caller))


@routes.get("/v2.0/address-groups")
def index(call: Call) -> Response:
    return listed(call, "address_groups", "address_group", attributes.ADDRESS_GROUP, _visible)


@routes.post("/v2.0/address-groups")
def create(call: Call) -> Response:
    caller = ctx(call)
    items, bulk = attributes.prepare_items(
        caller, body(call), "address_group", attributes.ADDRESS_GROUP
    )
    with repo(call).write() as tx:
        rows = [address_groups.create(tx, caller, data) for data in items]
        shown = address_groups.views(tx, rows)
    return created_many(call, "address_group", shown, bulk)


@routes.get("/v2.0/address-groups/{group_id}")
def get(call: Call, group_id: str) -> Response:
    with repo(call).read() as tx:
        item = address_groups.views(tx, [address_groups.get(tx, ctx(call), group_id)])[0]
    return show(call, "address_group", item)


@routes.put("/v2.0/address-groups/{group_id}")
def update(call: Call, group_id: str) -> Response:
    caller = ctx(call)
    data = attributes.prepare(caller, body(call), "address_group", attributes.ADDRESS_GROUP, False)
    with repo(call).write() as tx:
        row = address_groups.update(tx, caller, address_groups.get(tx, caller, group_id), data)
        item = address_groups.views(tx, [row])[0]
    return updated(call, "address_group", item)


@routes.delete("/v2.0/address-groups/{group_id}")
def delete(call: Call, group_id: str) -> Response:
    caller = ctx(call)
    with repo(call).write() as tx:
        address_groups.delete_group(tx, caller, address_groups.get(tx, caller, group_id))
    return deleted(call)


def _addresses(call: Call) -> list[str]:
    """``{"addresses": [CIDR, ...]}``: a list of CIDRs (Neutron hands each to netaddr, a
    500 for one that is none; the sim answers the malformed body's 400)."""
    data = body(call)
    addresses = data.get("addresses")
    if not isinstance(addresses, list) or attributes.v_subnet_list(addresses):
        raise http_bad_request("Request body contains invalid data")
    return addresses


def _action(call: Call, group_id: str, add: bool) -> Response:
    caller = ctx(call)
    addresses = _addresses(call)
    with repo(call).write() as tx:
        row = address_groups.get(tx, caller, group_id)
        address_groups.change(tx, caller, row, addresses, add)
        item = address_groups.views(tx, [row])[0]
        secgroups.notify_rule_updated(tx, notifier(call), address_groups.groups_naming(tx, row.id))
    settle(call)
    return json_response({"address_group": item})


@routes.put("/v2.0/address-groups/{group_id}/add_addresses")
def add_addresses(call: Call, group_id: str) -> Response:
    return _action(call, group_id, True)


@routes.put("/v2.0/address-groups/{group_id}/remove_addresses")
def remove_addresses(call: Call, group_id: str) -> Response:
    return _action(call, group_id, False)
