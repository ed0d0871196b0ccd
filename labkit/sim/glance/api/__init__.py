"""Glance's HTTP API in the sim, one module per part of the v2 API."""

from __future__ import annotations

from labkit.sim.core.http import Route, Routes
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


class GlanceRoutes(Routes):
    """Glance's router (Routes' ``Mapper``, no minimization) matches a path as written: a
    trailing slash names nothing, so ``GET /v2/images/`` -- an image id left empty -- is a
    404, not the image list, and ``DELETE /v2/images/`` a 404, not a 405."""

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], list[str]]:
        if len(path) > 1 and path.endswith("/"):
            return None, {}, []
        return super().match(method, path)


def all_routes() -> Routes:
    merged = GlanceRoutes()
    for module in (discovery, images, update, data, imports, actions, members, metadefs):
        for route in module.routes:
            merged.add(route.method, route.template, route.handler)
    return merged
