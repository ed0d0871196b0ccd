"""Keystone's HTTP API in the sim, one module per part of the v3 API."""

from __future__ import annotations

from labkit.sim.core.http import Routes
from labkit.sim.keystone.api import (
    app_credentials,
    auth,
    catalog,
    credentials,
    domain_config,
    resource,
    roles,
    users,
)


def all_routes() -> Routes:
    merged = Routes()
    for module in (
        auth,
        resource,
        domain_config,
        users,
        roles,
        catalog,
        credentials,
        app_credentials,
    ):
        for route in module.routes:
            merged.add(route.method, route.template, route.handler)
    return merged
