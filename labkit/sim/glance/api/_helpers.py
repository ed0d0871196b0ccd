"""What the Glance API modules share: the app, the caller, and Glance's body parsing."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call
from labkit.sim.glance import quota
from labkit.sim.glance.errors import LimitExceeded, bad_request, too_large
from labkit.sim.glance.policy import Context
from labkit.sim.glance.service import GlanceService


def app(call: Call) -> GlanceService:
    """The glance-api process answering this call (its config, images, stores)."""
    process = call.service.process
    assert isinstance(process, GlanceService)
    return process


def ctx(call: Call) -> Context:
    return app(call).context(call)


def enforce_limit(glance: GlanceService, caller: Context, limit: str) -> None:
    """Glance's unified-limits check for one limit: 413 with Glance's message when over."""
    with glance.images.read() as tx:
        try:
            quota.enforce(glance.config, tx, caller, limit)
        except LimitExceeded as exc:
            raise too_large(exc.msg) from None


def has_body(call: Call) -> bool:
    """JSONRequestDeserializer.has_body: chunked, or a positive Content-Length."""
    if call.headers.get("transfer-encoding", "").lower() in (
        "chunked",
        "compress",
        "deflate",
        "gzip",
        "identity",
    ):
        return True
    length = call.headers.get("content-length", "")
    return length.isdigit() and int(length) > 0


def body(call: Call) -> Any:
    """The JSON body as Glance's deserializer reads it (400s with Glance's texts)."""
    if not has_body(call) or not call.body:
        raise bad_request("Body expected in request.")
    try:
        data = json.loads(call.body.decode())  # jsonutils: UTF-8 first (no BOM, no UTF-16)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise bad_request("Malformed JSON in request body.") from None
    if not isinstance(data, dict | list):
        raise bad_request("Unexpected body type. Expected list/dict.")
    return data


def no_content(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    """An empty answer as webob.Response sends it: text/html, Content-Length 0."""
    return Response(
        b"",
        status_code=status,
        headers={
            "Content-Type": "text/html; charset=UTF-8",
            "Content-Length": "0",
            **(headers or {}),
        },
    )
