"""Filtering, field selection, sorting and paging of Neutron's lists.

Neutron filters a list by every query parameter that names a filterable attribute: values
of one parameter are alternatives (``?id=a&id=b``), parameters combine (``?network_id=N&
device_owner=network:dhcp``). A few filters are special: ``fixed_ips=ip_address=10.0.0.5``
or ``fixed_ips=subnet_id=S`` on ports, ``ip_address_substr``, ``tags``/``tags-any``/
``not-tags``/``not-tags-any``, list attributes such as ``security_groups`` (any member
matches). ``fields=id&fields=name`` keeps only those attributes. ``sort_key``/``sort_dir``,
``limit``/``marker``/``page_reverse`` page through the list, with ``<collection>_links``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from labkit.sim.neutron.attributes import kvp_to_dict, to_int
from labkit.sim.neutron.errors import http_bad_request


def _matches(item: dict[str, Any], key: str, values: list[Any]) -> bool:
    if key == "fixed_ips":
        wanted = kvp_to_dict([str(v) for v in values])
        ips = item.get("fixed_ips") or []
        for field, options in wanted.items():
            if field == "ip_address_substr":
                if not any(any(o in ip["ip_address"] for o in options) for ip in ips):
                    return False
            elif not any(str(ip.get(field)) in options for ip in ips):
                return False
        return True
    if key == "ip_address_substr":
        return any(
            any(str(v) in ip["ip_address"] for v in values) for ip in item.get("fixed_ips") or []
        )
    tags = set(item.get("tags") or [])
    if key in ("tags", "not-tags", "tags-any", "not-tags-any"):
        wanted_tags = {t for v in values for t in str(v).split(",") if t}
        if key == "tags":
            return wanted_tags <= tags
        if key == "not-tags":
            return not wanted_tags <= tags
        if key == "tags-any":
            return bool(wanted_tags & tags)
        return not wanted_tags & tags
    if key not in item:
        return False
    value = item[key]
    if isinstance(value, list):
        return any(v in value for v in values)
    if isinstance(value, bool):
        return value in values
    return any(value == v or (value is not None and str(value) == str(v)) for v in values)


def apply(items: list[dict[str, Any]], filters: dict[str, list[Any]]) -> list[dict[str, Any]]:
    return [i for i in items if all(_matches(i, k, v) for k, v in filters.items())]


def fields(query: list[tuple[str, str]]) -> list[str]:
    return [v for k, v in query if k == "fields" and v]


def select_fields(item: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
    if not wanted:
        return item
    return {k: v for k, v in item.items() if k in wanted}


def page(
    items: list[dict[str, Any]],
    query: list[tuple[str, str]],
    collection: str,
    url: str,
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Sorting and paging; returns the page and its links (empty without ``limit``)."""
    params: dict[str, list[str]] = {}
    for key, value in query:
        params.setdefault(key, []).append(value)
    keys = params.get("sort_key", [])
    dirs = params.get("sort_dir", [])
    if len(dirs) > len(keys):
        raise http_bad_request("The number of sort_keys and sort_dirs must be same")
    for key, direction in reversed(
        list(zip(keys, dirs + ["asc"] * (len(keys) - len(dirs)), strict=False))
    ):
        if direction not in ("asc", "desc"):
            raise http_bad_request(
                f"{direction} is invalid value for sort_dirs, valid value is 'asc' and 'desc'"
            )
        if items and key not in items[0]:
            raise http_bad_request(f"{[key]} is invalid attribute for sort_keys")
        items = sorted(items, key=lambda i: _sortable(i.get(key)), reverse=direction == "desc")
    limit_text = (params.get("limit") or [""])[0]
    if not limit_text:
        return items, []
    limit = to_int(limit_text)
    if limit < 0:
        raise http_bad_request(f"Limit must be an integer 0 or greater and not '{limit_text}'")
    marker = (params.get("marker") or [""])[0]
    reverse = (params.get("page_reverse") or ["false"])[0].lower() == "true"
    ordered = list(reversed(items)) if reverse else items
    start = 0
    if marker:
        ids = [i.get("id") for i in ordered]
        start = ids.index(marker) + 1 if marker in ids else 0
    chunk = ordered[start : start + limit] if limit else ordered[start:]
    links: list[dict[str, str]] = []
    base = {k: v for k, v in params.items() if k not in ("marker", "page_reverse")}
    if limit and start + limit < len(ordered) and chunk:
        links.append({"rel": "next", "href": _href(url, base, chunk[-1]["id"], reverse)})
    if marker and chunk:
        links.append({"rel": "previous", "href": _href(url, base, chunk[0]["id"], not reverse)})
    return (list(reversed(chunk)) if reverse else chunk), links


def _href(url: str, params: dict[str, list[str]], marker: str, reverse: bool) -> str:
    pairs = [(k, v) for k, values in params.items() for v in values]
    pairs.append(("marker", marker))
    if reverse:
        pairs.append(("page_reverse", "True"))
    return f"{url.split('?', 1)[0]}?{urlencode(pairs)}"


def _sortable(value: Any) -> Any:
    if value is None:
        return (0, "")
    if isinstance(value, bool | int | float):
        return (1, value)
    return (2, str(value))
