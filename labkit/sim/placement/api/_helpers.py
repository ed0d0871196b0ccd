"""What the Placement API modules share: the process, the caller, the microversion, and
Placement's request parsing (JSON bodies and query strings checked with JSON schemas, the
way ``placement.util`` does, with its error texts)."""

from __future__ import annotations

import json
import threading
import uuid as uuidlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jsonschema
from sqlalchemy.orm import Session
from starlette.responses import Response

from labkit.sim.core.http import Call
from labkit.sim.placement import policy
from labkit.sim.placement.errors import PlacementError, bad_request
from labkit.sim.placement.microversion import Version
from labkit.sim.placement.service import PlacementService, http_date


def app(call: Call) -> PlacementService:
    process = call.service.process
    assert isinstance(process, PlacementService)
    return process


def version(call: Call) -> Version:
    found = call.extra["mv"]
    assert isinstance(found, Version)
    return found


def enforce(call: Call, action: str, target_project: str | None = None) -> None:
    """context.can(): a refusal is raised past the handler (no Vary header)."""
    ctx = call.auth
    assert isinstance(ctx, policy.Context)
    try:
        policy.enforce(ctx, action, target_project)
    except policy.PolicyNotAuthorized as exc:
        raise PlacementError(403, str(exc), in_handler=False) from None


def since(call: Call, minor: int, status: int = 404, until: int | None = None) -> None:
    """microversion.version_handler: outside [1.minor, 1.until] the route does not exist."""
    v = version(call)
    if not v.at_least(minor) or (until is not None and not v.between(0, until)):
        raise PlacementError(status)


@contextmanager
def reading(call: Call) -> Iterator[Session]:
    with app(call).database.read() as s:
        yield s


@contextmanager
def writing(call: Call) -> Iterator[Session]:
    """One write transaction under the database's write lock."""
    with app(call).database.write() as s:
        yield s


def now(call: Call) -> float:
    return app(call).now()


# ---- requests ---------------------------------------------------------------------------------


def is_uuid_like(value: object) -> bool:
    """oslo_utils.uuidutils.is_uuid_like: dashes optional, any case."""
    if not isinstance(value, str):
        return False
    try:
        canonical = str(uuidlib.UUID(value)).replace("-", "")
    except (TypeError, ValueError, AttributeError):
        return False
    cleaned = value.lower().replace("urn:", "").replace("uuid:", "").strip("{}").replace("-", "")
    return canonical == cleaned


_FORMATS = jsonschema.FormatChecker()
_FORMATS.checks("uuid")(is_uuid_like)


# Checking a schema against its meta-schema costs more than validating a body with it, and
# jsonschema.validate() does both on every call: each schema is checked and its validator
# built once. The cache holds the schema itself, so its id() cannot be reused by another.
_VALIDATORS: dict[int, tuple[dict[str, Any], Any]] = {}


def _validator(schema: dict[str, Any]) -> Any:
    cached = _VALIDATORS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema, format_checker=_FORMATS)
    _VALIDATORS[id(schema)] = (schema, validator)
    return validator


def _validate(data: Any, schema: dict[str, Any], prefix: str) -> None:
    """jsonschema.validate() with a validator made once per schema: the same error, the
    best match among all, as Placement's util.validate reports it."""
    error = jsonschema.exceptions.best_match(_validator(schema).iter_errors(data))
    if error is not None:
        raise bad_request(f"{prefix}{error}")


def require_json(call: Call) -> None:
    """util.require_content('application/json')."""
    media = call.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise PlacementError(
            415,
            f"The media type {media or 'None'} is not supported, use application/json",
        )


def check_accept(call: Call) -> None:
    """util.check_accept('application/json'): an explicit Accept must allow JSON."""
    accept = call.headers.get("accept")
    if not accept:
        return
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        q = next((f[2:] for f in fields[1:] if f.startswith("q=")), "1")
        try:
            weight = float(q)
        except ValueError:
            weight = 0.0
        if weight > 0 and fields[0].lower() in ("application/json", "application/*", "*/*"):
            return
    raise PlacementError(406, "Only application/json is provided")


def body(call: Call, schema: dict[str, Any]) -> Any:
    """util.extract_json."""
    require_json(call)
    raw = call.body
    try:
        data = json.loads(raw.decode())  # jsonutils: UTF-8 first (no BOM, no UTF-16)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise bad_request(f"Malformed JSON: {exc}") from None
    if not _VALID_BODIES.seen(schema, raw):
        _validate(data, schema, "JSON does not validate: ")
        _VALID_BODIES.add(schema, raw)
    return data


class _ValidBodies:
    """Request bodies already found valid against a schema, by their bytes.

    Validating costs as much as the claim it guards (jsonschema walks the schema each
    time), and a scheduler's claims repeat the same few bodies: the consumer is in the URL,
    the body names the host's provider, the flavor's amounts, the project and the user. A
    body's validity depends on its bytes and the schema alone, so a body seen valid is not
    checked again. Bounded; the oldest entries go first."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._known: dict[tuple[int, bytes], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def seen(self, schema: dict[str, Any], raw: bytes) -> bool:
        return self._known.get((id(schema), raw)) is schema

    def add(self, schema: dict[str, Any], raw: bytes) -> None:
        with self._lock:
            if len(self._known) >= self.size:
                del self._known[next(iter(self._known))]
            self._known[(id(schema), raw)] = schema  # the schema itself: its id stays its own


_VALID_BODIES = _ValidBodies()


def query(call: Call, schema: dict[str, Any]) -> dict[str, str]:
    """util.validate_query_params over the last value of each parameter."""
    params = {key: call.query.getlist(key)[-1] for key in call.query}
    _validate(params, schema, "Invalid query string parameters: ")
    return params


# ---- responses --------------------------------------------------------------------------------


def ok(call: Call, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer; from 1.15 with ``Cache-Control: no-cache`` and ``Last-Modified``."""
    out = dict(headers or {})
    if version(call).at_least(15):
        out["Cache-Control"] = "no-cache"
        out["Last-Modified"] = http_date(now(call))
    return Response(
        json.dumps(data), status_code=status, media_type="application/json", headers=out
    )


def empty(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    return Response(b"", status_code=status, headers=headers)


def location(call: Call, path: str) -> str:
    """A ``Location`` header: WebOb makes the handler's relative one absolute."""
    found = call.request.url
    return f"{found.scheme}://{found.netloc}{url(call, path)}"


def url(call: Call, path: str) -> str:
    """Placement's links: relative, under its mount point (WSGI's SCRIPT_NAME): the sim's
    ``/placement`` prefix, or nothing when reached on port 8778 of the controller."""
    prefix = call.service.prefix
    mounted = call.request.url.path.startswith(prefix)
    return f"{prefix if mounted else ''}{path}"
