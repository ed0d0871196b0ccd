"""``/v2.0/subnetpools``: create, list, show, update, delete, and the ``add_prefixes`` /
``remove_prefixes`` member actions of the subnetpool-prefix-ops extension."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.neutron import attributes, subnetpools, views
from labkit.sim.neutron.api._helpers import (
    body,
    check_revision,
    created_many,
    ctx,
    deleted,
    listed,
    repo,
    settle,
    show,
    updated,
)
from labkit.sim.neutron.attributes import NOT_SPECIFIED
from labkit.sim.neutron.db import Tx
from labkit.sim.neutron.errors import http_bad_request
from labkit.sim.neutron.policy import Context

routes = Routes()


def _visible(tx: Tx, caller: Context) -> list[dict[str, Any]]:
    return views.subnetpools(tx, subnetpools.candidates(tx, caller), viewer=caller.project_id)


@routes.get("/v2.0/subnetpools")
def index(call: Call) -> Response:
    return listed(call, "subnetpools", "subnetpool", attributes.SUBNETPOOL, _visible)


@routes.post("/v2.0/subnetpools")
def create(call: Call) -> Response:
    caller = ctx(call)
    items, bulk = attributes.prepare_items(caller, body(call), "subnetpool", attributes.SUBNETPOOL)
    with repo(call).write() as tx:
        rows = [subnetpools.create(tx, caller, data) for data in items]
        shown = views.subnetpools(tx, rows, viewer=caller.project_id)
    return created_many(call, "subnetpool", shown, bulk)


@routes.get("/v2.0/subnetpools/{subnetpool_id}")
def get(call: Call, subnetpool_id: str) -> Response:
    caller = ctx(call)
    with repo(call).read() as tx:
        row = subnetpools.get(tx, caller, subnetpool_id)
        item = views.subnetpools(tx, [row], viewer=caller.project_id)[0]
    return show(call, "subnetpool", item)


@routes.put("/v2.0/subnetpools/{subnetpool_id}")
def update(call: Call, subnetpool_id: str) -> Response:
    caller = ctx(call)
    data = attributes.prepare(caller, body(call), "subnetpool", attributes.SUBNETPOOL, False)
    with repo(call).write() as tx:
        row = subnetpools.get(tx, caller, subnetpool_id)
        before = row.revision_number
        row = subnetpools.update(tx, caller, row, data)
        check_revision(call, before)
        item = views.subnetpools(tx, [row], numbers=True, viewer=caller.project_id)[0]
    return updated(call, "subnetpool", item)


@routes.delete("/v2.0/subnetpools/{subnetpool_id}")
def delete(call: Call, subnetpool_id: str) -> Response:
    caller = ctx(call)
    with repo(call).write() as tx:
        row = subnetpools.get(tx, caller, subnetpool_id)
        before = row.revision_number
        subnetpools.delete_pool(tx, caller, row)
        check_revision(call, before)
    return deleted(call)


def _prefixes(call: Call) -> list[str]:
    """get_operation_request_body: ``{"prefixes": [CIDR, ...]}``, a non-empty list. (Neutron
    passes the members to netaddr unchecked, a 500 for one that is no CIDR; the sim answers
    that with the same 400 as a malformed body.)"""
    data = body(call)
    prefixes = data.get("prefixes")
    if not prefixes or not isinstance(prefixes, list) or attributes.v_subnet_list(prefixes):
        raise http_bad_request("Request body contains invalid data")
    return prefixes


def _action(call: Call, subnetpool_id: str, add: bool) -> Response:
    caller = ctx(call)
    prefixes = _prefixes(call)
    with repo(call).write() as tx:
        row = subnetpools.get(tx, caller, subnetpool_id)
        result = subnetpools.change_prefixes(tx, caller, row, prefixes, add)
    settle(call)
    return json_response({"prefixes": result})


@routes.put("/v2.0/subnetpools/{subnetpool_id}/add_prefixes")
def add_prefixes(call: Call, subnetpool_id: str) -> Response:
    return _action(call, subnetpool_id, True)


@routes.put("/v2.0/subnetpools/{subnetpool_id}/remove_prefixes")
def remove_prefixes(call: Call, subnetpool_id: str) -> Response:
    return _action(call, subnetpool_id, False)


@routes.put("/v2.0/subnetpools/{subnetpool_id}/onboard_network_subnets")
def onboard_network_subnets(call: Call, subnetpool_id: str) -> Response:
    """subnet_onboard: ``{"network_id": ...}``; answers the subnets onboarded, a list."""
    caller = ctx(call)
    data = body(call)
    with repo(call).write() as tx:
        row = subnetpools.get(tx, caller, subnetpool_id)
        result = subnetpools.onboard(tx, caller, row, data.get("network_id", NOT_SPECIFIED))
    settle(call)
    return json_response(result)
