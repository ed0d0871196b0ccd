"""What the Placement tests share: raw requests through openstacksdk's placement proxy."""

from __future__ import annotations

import uuid
from typing import Any


def request(
    conn: Any,
    method: str,
    path: str,
    mv: str | None = None,
    json: Any = None,
    **kwargs: Any,
) -> Any:
    """A request to Placement through ``conn.placement`` (a keystoneauth adapter), at
    microversion ``mv``; errors are returned, not raised."""
    headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
    if mv is not None:
        headers["OpenStack-API-Version"] = f"placement {mv}"
    return conn.placement.request(
        path, method, json=json, headers=headers, raise_exc=False, **kwargs
    )


def error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert list(body) == ["errors"], body
    (entry,) = body["errors"]
    return dict(entry)


def new_provider(conn: Any, name: str, inventory: dict[str, dict[str, Any]] | None = None) -> str:
    rp = str(uuid.uuid4())
    created = request(conn, "POST", "/resource_providers", "1.20", {"name": name, "uuid": rp})
    assert created.status_code == 200, created.text
    if inventory:
        put = request(
            conn,
            "PUT",
            f"/resource_providers/{rp}/inventories",
            "1.20",
            {"resource_provider_generation": 0, "inventories": inventory},
        )
        assert put.status_code == 200, put.text
    return rp


def claim(
    conn: Any,
    consumer: str,
    rp: str,
    resources: dict[str, int],
    generation: int | None = None,
    mv: str = "1.36",
) -> Any:
    return request(
        conn,
        "PUT",
        f"/allocations/{consumer}",
        mv,
        {
            "allocations": {rp: {"resources": resources}},
            "project_id": "p-" + consumer[:8],
            "user_id": "u-" + consumer[:8],
            "consumer_generation": generation,
        },
    )
