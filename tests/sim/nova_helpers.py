"""What the Nova tests share: raw requests through openstacksdk's compute proxy, for
requests the SDK would not send as they are, and the fault body Nova answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def compute_raw(default_version: str) -> Callable[..., Any]:
    """``raw(conn, method, path, version=default_version, **kwargs)``: a request through
    ``conn.compute`` (a keystoneauth adapter) at the microversion given; errors are
    returned, not raised. Each test module picks the microversion its requests default to."""

    def raw(
        conn: Any, method: str, path: str, version: str = default_version, **kwargs: Any
    ) -> Any:
        return conn.compute.request(path, method, microversion=version, raise_exc=False, **kwargs)

    return raw


def fault(response: Any) -> tuple[int, str, str]:
    """A Nova fault as (status, its key such as ``badRequest``, its message)."""
    body = response.json()
    (key,) = body
    return response.status_code, key, body[key]["message"]


def fault_message(response: Any) -> tuple[int, str]:
    """A Nova fault as (status, its message)."""
    status, _, message = fault(response)
    return status, message
