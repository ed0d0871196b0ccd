"""Neutron's HTTP API in the sim, one module per resource of the v2.0 API."""

from __future__ import annotations

from labkit.sim.core.http import Routes
from labkit.sim.neutron.api import (
    agents,
    discovery,
    networks,
    ports,
    quotas,
    security_groups,
    subnets,
)


def all_routes() -> Routes:
    merged = Routes()
    for module in (discovery, networks, subnets, ports, agents, quotas, security_groups):
        for route in module.routes:
            merged.add(route.method, route.template, route.handler)
    return merged
