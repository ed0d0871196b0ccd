"""What the compute API modules share: the caller, the process, body parsing, links, policy."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from labkit.sim.core.http import Call
from labkit.sim.nova.api_service import Caller, NovaApi
from labkit.sim.nova.errors import NovaError, bad_request, policy_forbidden

_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)


def nova(call: Call) -> NovaApi:
    process = call.service.process
    assert isinstance(process, NovaApi)
    return process


def caller(call: Call) -> Caller:
    found = call.auth
    assert isinstance(found, Caller)
    return found


def body_of(call: Call, key: str) -> dict[str, Any]:
    """``{"<key>": {...}}`` or Nova's schema error."""
    data = call.json()
    if not isinstance(data, dict) or key not in data:
        raise bad_request(
            f"Invalid input for field/attribute {key}. Value: {data}. '{key}' is a required "
            "property"
        )
    inner = data[key]
    if not isinstance(inner, dict):
        raise bad_request(
            f"Invalid input for field/attribute {key}. Value: {inner}. {inner!r} is not of type "
            "'object'"
        )
    return inner


def links(call: Call, kind: str, ident: str) -> list[dict[str, str]]:
    root = call.root_url
    return [
        {"rel": "self", "href": f"{root}/v2.1/{kind}/{ident}"},
        {"rel": "bookmark", "href": f"{root}/{kind}/{ident}"},
    ]


def is_uuid(value: str) -> bool:
    return bool(_UUID.match(value))


def require_admin(call: Call, rule: str) -> None:
    if not caller(call).is_admin:
        raise policy_forbidden(rule)


def owner_or_admin(call: Call, project_id: str, rule: str) -> None:
    who = caller(call)
    if not (who.is_admin or who.project_id == project_id):
        raise policy_forbidden(rule)


def query_int(call: Call, name: str, default: int | None = None) -> int | None:
    raw = call.query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_request(
            f"Invalid input for query parameters {name}. Value: {raw}. '{raw}' is not a 'integer'"
        ) from None


def microversion_at_least(call: Call, version: str) -> bool:
    return caller(call).version.at_least(version)


def not_found_error(message: str) -> NovaError:
    return NovaError(message, status=404)


MAX_LIMIT = 1000  # [api] max_limit: the most a page of any list holds


def next_link(call: Call, collection: str, params: dict[str, str]) -> list[dict[str, str]]:
    """The ``<collection>_links`` of a full page (``common.ViewBuilder._get_next_link``): one
    ``next`` link to ``/v2.1/<collection>`` with ``params`` (the marker among them)."""
    return [{"href": f"{call.root_url}/v2.1/{collection}?{urlencode(params)}", "rel": "next"}]


def check_description(value: Any, max_length: int) -> str | None:
    """A ``description`` field as Nova's schemas have it: a string of at most
    ``max_length`` characters, or null (which removes it)."""
    if value is not None and (not isinstance(value, str) or len(value) > max_length):
        raise bad_request(
            f"Invalid input for field/attribute description. Value: {value}. "
            + (
                f"{value!r} is too long"
                if isinstance(value, str)
                else f"{value!r} is not of type 'string', 'null'"
            )
        )
    return value
