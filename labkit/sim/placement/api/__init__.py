"""Placement's HTTP API in the sim, one module per part of the API (route table order
follows ``placement/handler.py``'s, which the ``Allow`` header of a 405 lists)."""

from __future__ import annotations

from labkit.sim.core.http import Routes
from labkit.sim.placement.api import (
    allocations,
    candidates,
    classes,
    inventories,
    provider_links,
    providers,
    root,
)


def all_routes() -> Routes:
    merged = Routes()
    for module in (
        classes,
        providers,
        inventories,
        provider_links,
        allocations,
        candidates,
        root,
    ):
        for route in module.routes:
            merged.add(route.method, route.template, route.handler)
    return merged
