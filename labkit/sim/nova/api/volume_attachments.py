"""``GET /servers/{id}/os-volume_attachments``: the volumes attached to a server.

The lab has no Cinder, so no server ever has a volume: the list is always empty, as on a
real Nova without Cinder. Horizon's instance page still asks (python-novaclient's
``volumes.get_server_volumes``) before it shows the Overview and Log tabs; without an answer
it has no ``volumes`` to show and the page fails. Attaching a volume (POST) needs Cinder and
is not emulated.
"""

from __future__ import annotations

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.nova.api import _instance as srv

routes = Routes()


@routes.get("/v2.1/servers/{server_id}/os-volume_attachments")
def list_attachments(call: Call, server_id: str) -> Response:
    srv.lookup(call, server_id)  # 404 for a server the caller cannot see, as Nova
    return json_response({"volumeAttachments": []})
