"""``/v2.0/ports``: create, list, show, update, delete -- what Nova does for every VM
(create, then bind with ``binding:host_id``, ``device_owner`` ``compute:nova``)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes
from labkit.sim.neutron import attributes, ports, views
from labkit.sim.neutron.api._helpers import (
    body,
    check_revision,
    created_many,
    ctx,
    deleted,
    listed,
    notifier,
    query,
    repo,
    show,
    updated,
)
from labkit.sim.neutron.db import Tx
from labkit.sim.neutron.policy import Context

routes = Routes()


def _visible(
    tx: Tx, caller: Context, wanted: dict[str, list[Any]] | None = None
) -> list[dict[str, Any]]:
    return views.ports(tx, ports.candidates(tx, caller, wanted))


@routes.get("/v2.0/ports")
def index(call: Call) -> Response:
    wanted = attributes.filters(query(call), attributes.PORT)  # narrows the query (ids...)
    return listed(
        call,
        "ports",
        "port",
        attributes.PORT,
        lambda tx, caller: _visible(tx, caller, wanted),
    )


@routes.post("/v2.0/ports")
def create(call: Call) -> Response:
    caller = ctx(call)
    items, bulk = attributes.prepare_items(caller, body(call), "port", attributes.PORT)
    with repo(call).write() as tx:  # a bulk body: all of them or none
        rows = [ports.create(tx, caller, data, notifier(call)) for data in items]
        shown = views.ports(tx, rows)
    return created_many(call, "port", shown, bulk)


@routes.get("/v2.0/ports/{port_id}")
def get(call: Call, port_id: str) -> Response:
    with repo(call).read() as tx:
        item = views.ports(tx, [ports.get(tx, ctx(call), port_id)])[0]
    return show(call, "port", item)


@routes.put("/v2.0/ports/{port_id}")
def update(call: Call, port_id: str) -> Response:
    caller = ctx(call)
    data = attributes.prepare(caller, body(call), "port", attributes.PORT, False)
    with repo(call).write() as tx:
        row = ports.get(tx, caller, port_id)
        before = row.revision_number
        row = ports.update(tx, caller, row, data, notifier(call))
        check_revision(call, before)
        item = views.ports(tx, [row])[0]
    return updated(call, "port", item)


@routes.delete("/v2.0/ports/{port_id}")
def delete(call: Call, port_id: str) -> Response:
    caller = ctx(call)
    with repo(call).write() as tx:
        row = ports.get(tx, caller, port_id)
        before = row.revision_number
        ports.delete(tx, caller, row, notifier(call))
        check_revision(call, before)
    return deleted(call)
