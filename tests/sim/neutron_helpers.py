"""What the Neutron tests share: raw requests with a connection's token, for requests the
SDK would not send as they are, and the NeutronError body Neutron answers."""

from __future__ import annotations

from typing import Any


def raw(conn: Any, lab: Any, method: str, path: str, **kwargs: Any) -> Any:
    """A request to Neutron with the connection's token; errors returned, not raised."""
    url = f"http://127.0.0.1:{lab.sim_port}/networking/v2.0{path}"
    headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
    return conn.session.request(url, method, headers=headers, raise_exc=False, **kwargs)


def neutron_error(response: Any) -> tuple[int, str, str]:
    """A NeutronError as (status, type, message); its ``detail`` is empty, as Neutron's is."""
    body = response.json()["NeutronError"]
    assert body["detail"] == ""
    return response.status_code, body["type"], body["message"]
