"""``/v2.0/availability_zones`` (the availability_zone extension): the zones Neutron's agents
report, read-only.

Zed's ``AgentAvailabilityZoneMixin``: each DHCP agent's zone is a ``network`` zone, each L3
agent's a ``router`` zone (the Install Guide's provider networks have DHCP agents only:
one zone, ``nova``, resource ``network``); a zone is ``available`` when an agent in it is
administratively up. The availability_zone_filter extension filters by ``name``,
``resource`` and ``state``; other filters are refused (filter validation). As in Neutron,
a zone stays ``available`` once a first agent of it was listed, whatever the state of the
next (the mixin keeps the text ``unavailable``, which counts as true).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.responses import Response

from labkit.sim.core.http import Call, Routes
from labkit.sim.neutron import listing
from labkit.sim.neutron import models as m
from labkit.sim.neutron.api._helpers import listed_without_ids, query, repo
from labkit.sim.neutron.attributes import Attr, filters

routes = Routes()

AVAILABILITY_ZONE: dict[str, Attr] = {
    "name": Attr(is_filter=True),
    "resource": Attr(is_filter=True),
    "state": Attr(is_filter=True),
}
RESOURCE_OF = {"DHCP agent": "network", "L3 agent": "router"}


def zones(agents: list[Any]) -> list[dict[str, Any]]:
    """_list_availability_zones over the agents, in the order they registered."""
    found: dict[tuple[str, str], str] = {}
    for agent in agents:
        resource = RESOURCE_OF.get(agent.agent_type)
        if not agent.availability_zone or resource is None:
            continue
        key = (agent.availability_zone, resource)
        up = agent.admin_state_up or bool(found.get(key, ""))
        found[key] = "available" if up else "unavailable"
    return [{"state": v, "name": k[0], "resource": k[1]} for k, v in found.items()]


@routes.get("/v2.0/availability_zones")
def index(call: Call) -> Response:
    wanted = filters(query(call), AVAILABILITY_ZONE)
    with repo(call).read() as tx:
        agents = list(tx.s.scalars(select(m.Agent).order_by(m.Agent.created_at)))
    entries = listing.apply(zones(agents), wanted)
    return listed_without_ids(call, "availability_zones", entries)
