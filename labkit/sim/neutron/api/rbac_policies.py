"""``/v2.0/rbac-policies``: create (also in bulk), list, show, update (``target_tenant``),
delete -- ``openstack network rbac create/list/show/set/delete``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes
from labkit.sim.neutron import attributes, rbac
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
    return [rbac.view(kind, row) for kind, row in rbac.listing(tx, caller)]


@routes.get("/v2.0/rbac-policies")
def index(call: Call) -> Response:
    return listed(call, "rbac_policies", "rbac_policy", attributes.RBAC_POLICY, _visible)


@routes.post("/v2.0/rbac-policies")
def create(call: Call) -> Response:
    caller = ctx(call)
    items, bulk = attributes.prepare_items(
        caller, body(call), "rbac_policy", attributes.RBAC_POLICY
    )
    with repo(call).write() as tx:
        made = [rbac.create(tx, caller, data) for data in items]
        shown = [rbac.view(kind, row) for kind, row in made]
    return created_many(call, "rbac_policy", shown, bulk)


@routes.get("/v2.0/rbac-policies/{rbac_policy_id}")
def get(call: Call, rbac_policy_id: str) -> Response:
    with repo(call).read() as tx:
        item = rbac.view(*rbac.find(tx, ctx(call), rbac_policy_id))
    return show(call, "rbac_policy", item)


@routes.put("/v2.0/rbac-policies/{rbac_policy_id}")
def update(call: Call, rbac_policy_id: str) -> Response:
    caller = ctx(call)
    data = attributes.prepare(caller, body(call), "rbac_policy", attributes.RBAC_POLICY, False)
    with repo(call).write() as tx:
        kind, row = rbac.find(tx, caller, rbac_policy_id)
        item = rbac.view(kind, rbac.update(tx, caller, kind, row, data))
    return updated(call, "rbac_policy", item)


@routes.delete("/v2.0/rbac-policies/{rbac_policy_id}")
def delete(call: Call, rbac_policy_id: str) -> Response:
    caller = ctx(call)
    with repo(call).write() as tx:
        kind, row = rbac.find(tx, caller, rbac_policy_id)
        rbac.delete_entry(tx, caller, kind, row)
    return deleted(call)
