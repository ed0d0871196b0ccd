"""``GET /servers/{id}/ips`` and ``/ips/{network}``: a server's addresses, per network.

The same addresses as the server's ``addresses`` field, bare (``version`` and ``addr``: Nova's
address view without the OS-EXT-IPS extension keys), from the network info cache. A network
the server has no port on is a 404 with Nova's text.
"""

from __future__ import annotations

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.nova import views
from labkit.sim.nova.api import _instance as srv
from labkit.sim.nova.errors import not_found

routes = Routes()


@routes.get("/v2.1/servers/{server_id}/ips")
def index(call: Call, server_id: str) -> Response:
    _, inst = srv.lookup(call, server_id)
    return json_response({"addresses": views.addresses(inst, extended=False)})


@routes.get("/v2.1/servers/{server_id}/ips/{network}")
def show(call: Call, server_id: str, network: str) -> Response:
    _, inst = srv.lookup(call, server_id)
    networks = views.addresses(inst, extended=False)
    if network not in networks:
        raise not_found("Instance is not a member of specified network")
    return json_response({network: networks[network]})
