"""``GET /``: the version document (no token needed)."""

from __future__ import annotations

import json

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, public
from labkit.sim.placement.api._helpers import now, version
from labkit.sim.placement.service import http_date

routes = Routes()


@routes.get("/")
@public
def home(call: Call) -> Response:
    """placement.handlers.root.home: one version, CURRENT, with a relative self link."""
    document = {
        "versions": [
            {
                "id": "v1.0",
                "max_version": "1.39",
                "min_version": "1.0",
                "status": "CURRENT",
                "links": [{"rel": "self", "href": ""}],
            }
        ]
    }
    headers = {}
    if version(call).at_least(15):
        headers = {"Cache-Control": "no-cache", "Last-Modified": http_date(now(call))}
    return Response(
        json.dumps(document), status_code=200, media_type="application/json", headers=headers
    )
