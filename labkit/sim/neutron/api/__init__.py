"""Neutron's HTTP API in the sim, one module per resource of the v2.0 API."""

from __future__ import annotations

from labkit.sim.core.http import Routes
from labkit.sim.neutron.api import (
    address_groups,
    address_scopes,
    agents,
    availability_zones,
    discovery,
    flavors,
    ip_availability,
    networks,
    ports,
    quotas,
    rbac_policies,
    security_groups,
    service_types,
    subnetpools,
    subnets,
    tags,
)


def all_routes() -> Routes:
    merged = Routes()
    for module in (
        discovery,
        networks,
        subnets,
        subnetpools,
        ports,
        agents,
        availability_zones,
        quotas,
        security_groups,
        service_types,
        tags,
        rbac_policies,
        ip_availability,
        address_scopes,
        address_groups,
        flavors,
    ):
        for route in module.routes:
            merged.add(route.method, route.template, route.handler)
    return merged
