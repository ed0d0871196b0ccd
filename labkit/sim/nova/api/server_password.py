"""``/servers/{id}/os-server-password`` and where the password lives (``nova/api/metadata/
password.py``, ``nova/api/openstack/compute/server_password.py``).

A guest agent (cloud-init's, or a Windows image's) POSTs an encrypted password once to the
metadata service's ``openstack/<version>/password``; Nova keeps it in the instance's system
metadata, cut in four items of at most 255 characters (``password_0`` .. ``password_3``).
``GET /servers/{id}/os-server-password`` returns it joined (``""`` when there is none), and
``DELETE`` clears it (four empty items), after which the guest may POST again. Both look
the server up first (404), then check the policy: show for the project's readers, clear
for its members (or an admin).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.nova import models as m
from labkit.sim.nova.api import _instance as srv
from labkit.sim.nova.api._helpers import nova, owner_or_admin
from labkit.sim.nova.service import NovaCells

routes = Routes()

CHUNKS, CHUNK_LENGTH = 4, 255
MAX_SIZE = CHUNKS * CHUNK_LENGTH  # what the metadata service takes (password.MAX_SIZE)


def items(password: str) -> dict[str, str]:
    """``convert_password``: the system metadata items that hold ``password``."""
    return {
        f"password_{i}": password[i * CHUNK_LENGTH : (i + 1) * CHUNK_LENGTH] for i in range(CHUNKS)
    }


def joined(system_metadata: dict[str, Any] | None) -> str | None:
    """``extract_password``: the items joined in key order; None when empty."""
    meta = system_metadata or {}
    text = "".join(str(meta[k]) for k in sorted(meta) if k.startswith("password_"))
    return text or None


def read(cells: NovaCells, uuid: str) -> str | None:
    """The password of a server in a cell (None: none set, or no such server)."""
    found = _cell_of(cells, uuid)
    if found is None:
        return None
    with cells.cell(found).read() as s:
        meta = s.scalars(select(m.Instance.system_metadata).where(m.Instance.uuid == uuid)).first()
    return joined(meta)


def store(cells: NovaCells, uuid: str, password: str) -> bool:
    """Write ``password`` into the server's system metadata (``""`` clears it); False when
    the server is in no cell."""
    found = _cell_of(cells, uuid)
    if found is None:
        return False
    with cells.cell(found).write() as s:
        row = s.scalars(select(m.Instance).where(m.Instance.uuid == uuid)).first()
        if row is None:
            return False
        row.system_metadata = {**(row.system_metadata or {}), **items(password)}
    return True


def _cell_of(cells: NovaCells, uuid: str) -> m.CellMapping | None:
    with cells.api.read() as s:
        mapping = s.get(m.InstanceMapping, uuid)
        cell_id = mapping.cell_id if mapping is not None else None
    return next((c for c in cells.mappings() if c.id == cell_id), None)


@routes.get("/v2.1/servers/{server_id}/os-server-password")
def show(call: Call, server_id: str) -> Response:
    cell, inst = srv.lookup(call, server_id)
    owner_or_admin(call, inst["project_id"], "os_compute_api:os-server-password:show")
    text = read(nova(call).nova_cells, inst["uuid"]) if cell is not None else None
    return json_response({"password": text or ""})


@routes.delete("/v2.1/servers/{server_id}/os-server-password")
def clear(call: Call, server_id: str) -> Response:
    cell, inst = srv.lookup(call, server_id)
    owner_or_admin(call, inst["project_id"], "os_compute_api:os-server-password:clear")
    if cell is not None:
        store(nova(call).nova_cells, inst["uuid"], "")
    return empty_response(204)
