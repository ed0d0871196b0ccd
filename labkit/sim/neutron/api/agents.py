"""``/v2.0/agents``: what ``openstack network agent list`` shows (admins only), and the
networks a DHCP agent hosts."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.neutron import agents, attributes, networks, views
from labkit.sim.neutron import models as m
from labkit.sim.neutron.api._helpers import body, ctx, deleted, listed, repo, show
from labkit.sim.neutron.db import Tx
from labkit.sim.neutron.errors import agent_not_found, http_bad_request
from labkit.sim.neutron.policy import Context, enforce_admin

routes = Routes()


def _rows(tx: Tx, rows: list[m.Agent]) -> list[dict[str, Any]]:
    return views.agents(rows, {r.id: agents.is_alive(tx, r) for r in rows})


def _visible(tx: Tx, caller: Context) -> list[dict[str, Any]]:
    # get_agent is admin-only: others get an empty list, as Neutron's policy hook filters.
    return _rows(tx, agents.all_agents(tx)) if caller.is_admin else []


def _get(tx: Tx, caller: Context, agent_id: str) -> m.Agent:
    row = tx.s.get(m.Agent, agent_id)
    if row is None or not caller.is_admin:
        raise agent_not_found(agent_id)
    return row


@routes.get("/v2.0/agents")
def index(call: Call) -> Response:
    return listed(call, "agents", "agent", attributes.AGENT, _visible)


@routes.get("/v2.0/agents/{agent_id}")
def get(call: Call, agent_id: str) -> Response:
    with repo(call).read() as tx:
        item = _rows(tx, [_get(tx, ctx(call), agent_id)])[0]
    return show(call, "agent", item)


@routes.put("/v2.0/agents/{agent_id}")
def update(call: Call, agent_id: str) -> Response:
    caller = ctx(call)
    data = attributes.prepare(caller, body(call), "agent", attributes.AGENT, False)
    with repo(call).write() as tx:
        row = _get(tx, caller, agent_id)
        enforce_admin(caller, "update_agent")
        if "admin_state_up" in data:
            row.admin_state_up = data["admin_state_up"]
        if "description" in data:
            row.description = data["description"]
        item = _rows(tx, [row])[0]
    return json_response({"agent": item})


@routes.delete("/v2.0/agents/{agent_id}")
def delete(call: Call, agent_id: str) -> Response:
    caller = ctx(call)
    with repo(call).write() as tx:
        row = _get(tx, caller, agent_id)
        enforce_admin(caller, "delete_agent")
        for binding in list(tx.s.query(m.NetworkDhcpAgentBinding).filter_by(dhcp_agent_id=row.id)):
            tx.s.delete(binding)
        tx.s.flush()
        tx.s.delete(row)
    return deleted(call)


@routes.get("/v2.0/agents/{agent_id}/dhcp-networks")
def dhcp_networks(call: Call, agent_id: str) -> Response:
    caller = ctx(call)
    with repo(call).read() as tx:
        row = _get(tx, caller, agent_id)
        if row.agent_type != agents.DHCP:
            raise http_bad_request(f"Agent {agent_id} is not a DHCP Agent or has been disabled")
        ids = agents.hosted_by(tx, row.id)
        rows = [r for r in (networks.find(tx, i) for i in ids) if r is not None]
        items = views.networks(tx, rows)
    return json_response({"networks": items})


@routes.get("/v2.0/networks/{network_id}/dhcp-agents")
def network_dhcp_agents(call: Call, network_id: str) -> Response:
    caller = ctx(call)
    enforce_admin(caller, "get_dhcp-agents")
    with repo(call).read() as tx:
        networks.get(tx, caller, network_id)
        items = _rows(tx, agents.dhcp_agents_for(tx, network_id))
    return json_response({"agents": items})
