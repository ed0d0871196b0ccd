"""The compute API's routes, one module per resource."""

from __future__ import annotations

from labkit.sim.core.http import Routes


def all_routes() -> Routes:
    from labkit.sim.nova.api import admin, flavors, keypairs, quotas, servers, versions

    table = Routes()
    for module in (versions, servers, flavors, admin, quotas, keypairs):
        for route in module.routes:
            table.add(route.method, route.template, route.handler)
    return table
