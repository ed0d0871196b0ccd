"""``/v2.0/networks``: create, list, show, update, delete."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes
from labkit.sim.neutron import agents, attributes, networks, views
from labkit.sim.neutron.api._helpers import (
    body,
    check_revision,
    created_many,
    ctx,
    deleted,
    listed,
    notifier,
    repo,
    show,
    updated,
)
from labkit.sim.neutron.db import Tx
from labkit.sim.neutron.policy import Context

routes = Routes()


def _visible(tx: Tx, caller: Context) -> list[dict[str, Any]]:
    return views.networks(tx, networks.candidates(tx, caller), caller.project_id)


@routes.get("/v2.0/networks")
def index(call: Call) -> Response:
    return listed(call, "networks", "network", attributes.NETWORK, _visible)


@routes.post("/v2.0/networks")
def create(call: Call) -> Response:
    caller = ctx(call)
    items, bulk = attributes.prepare_items(caller, body(call), "network", attributes.NETWORK)
    with repo(call).write() as tx:  # a bulk body: all of them or none
        rows = [networks.create(tx, caller, data) for data in items]
        shown = views.networks(tx, rows, caller.project_id)
    return created_many(call, "network", shown, bulk)


@routes.get("/v2.0/networks/{network_id}")
def get(call: Call, network_id: str) -> Response:
    caller = ctx(call)
    with repo(call).read() as tx:
        item = views.networks(tx, [networks.get(tx, caller, network_id)], caller.project_id)[0]
    return show(call, "network", item)


@routes.put("/v2.0/networks/{network_id}")
def update(call: Call, network_id: str) -> Response:
    caller = ctx(call)
    data = attributes.prepare(caller, body(call), "network", attributes.NETWORK, False)
    with repo(call).write() as tx:
        row = networks.get(tx, caller, network_id)
        before = row.revision_number
        row = networks.update(tx, caller, row, data)
        check_revision(call, before)
        item = views.networks(tx, [row], caller.project_id)[0]
    return updated(call, "network", item)


@routes.delete("/v2.0/networks/{network_id}")
def delete(call: Call, network_id: str) -> Response:
    caller = ctx(call)
    with repo(call).write() as tx:
        row = networks.get(tx, caller, network_id)
        before = row.revision_number
        hosts = [a.host for a in agents.dhcp_agents_for(tx, row.id)]
        networks.delete(tx, caller, row)
        check_revision(call, before)
        sender = notifier(call)
        if sender is not None and hosts:
            tx.after_commit(lambda: sender.dhcp(hosts, "network_delete_end", network_id))
    return deleted(call)
