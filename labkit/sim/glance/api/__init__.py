"""Glance's HTTP API in the sim, one module per part of the v2 API."""

from __future__ import annotations

from labkit.sim.core.http import Routes
from labkit.sim.glance.api import (
    actions,
    data,
    discovery,
    images,
    imports,
    members,
    metadefs,
    update,
)


def all_routes() -> Routes:
    merged = Routes()
    for module in (discovery, images, update, data, imports, actions, members, metadefs):
        for route in module.routes:
            merged.add(route.method, route.template, route.handler)
    return merged
