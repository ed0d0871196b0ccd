"""``/v2.0/subnets``: create, list, show, update, delete. The DHCP agents hosting the
network hear of every change (and make, move or give back their DHCP port)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes
from labkit.sim.neutron import agents, attributes, subnets, views
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
    return views.subnets(tx, subnets.candidates(tx, caller))


def _tell_dhcp(call: Call, tx: Tx, network_id: str, event: str, schedule: bool) -> None:
    """DhcpAgentNotifyAPI: schedule the network if needed, cast to the agents hosting it."""
    hosting = (
        agents.schedule_network(tx, network_id)
        if schedule
        else agents.dhcp_agents_for(tx, network_id)
    )
    hosts = [a.host for a in hosting]
    sender = notifier(call)
    if sender is not None and hosts:
        tx.after_commit(lambda: sender.dhcp(hosts, event, network_id))


@routes.get("/v2.0/subnets")
def index(call: Call) -> Response:
    return listed(call, "subnets", "subnet", attributes.SUBNET, _visible)


@routes.post("/v2.0/subnets")
def create(call: Call) -> Response:
    caller = ctx(call)
    items, bulk = attributes.prepare_items(caller, body(call), "subnet", attributes.SUBNET)
    with repo(call).write() as tx:  # a bulk body: all of them or none
        rows = []
        for data in items:
            row = subnets.create(tx, caller, data)
            _tell_dhcp(call, tx, row.network_id, "subnet_create_end", row.enable_dhcp)
            rows.append(row)
        shown = views.subnets(tx, rows)
    return created_many(call, "subnet", shown, bulk)


@routes.get("/v2.0/subnets/{subnet_id}")
def get(call: Call, subnet_id: str) -> Response:
    with repo(call).read() as tx:
        item = views.subnets(tx, [subnets.get(tx, ctx(call), subnet_id)])[0]
    return show(call, "subnet", item)


@routes.put("/v2.0/subnets/{subnet_id}")
def update(call: Call, subnet_id: str) -> Response:
    caller = ctx(call)
    data = attributes.prepare(caller, body(call), "subnet", attributes.SUBNET, False)
    with repo(call).write() as tx:
        row = subnets.get(tx, caller, subnet_id)
        before = row.revision_number
        row = subnets.update(tx, caller, row, data)
        check_revision(call, before)
        item = views.subnets(tx, [row])[0]
        _tell_dhcp(call, tx, row.network_id, "subnet_update_end", row.enable_dhcp)
    return updated(call, "subnet", item)


@routes.delete("/v2.0/subnets/{subnet_id}")
def delete(call: Call, subnet_id: str) -> Response:
    caller = ctx(call)
    with repo(call).write() as tx:
        row = subnets.get(tx, caller, subnet_id)
        before = row.revision_number
        network_id = row.network_id
        subnets.delete(tx, caller, row)
        check_revision(call, before)
        _tell_dhcp(call, tx, network_id, "subnet_delete_end", False)
    return deleted(call)
