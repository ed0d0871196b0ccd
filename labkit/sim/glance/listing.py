"""``GET /v2/images``: which images a caller sees, filters, sort order and pagination.

Zed does this in SQL (``glance/db/sqlalchemy/api.py image_get_all``); a lab has tens of
images, so the sim applies the same rules in Python: the visible set (own, public, shared
with the caller's project with the asked membership status, community only when owned or
asked for), then filters, then a stable sort on the requested keys plus ``created_at`` and
``id``, then the page after the marker -- compared by sort values, as Glance does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from labkit.sim.glance.domain import Image
from labkit.sim.glance.errors import Forbidden, Invalid
from labkit.sim.glance.policy import Context

SORT_KEYS = (
    "name",
    "status",
    "container_format",
    "disk_format",
    "size",
    "id",
    "created_at",
    "updated_at",
)
MEMBER_STATUSES = ("pending", "accepted", "rejected", "all")
VISIBILITY_FILTERS = ("community", "public", "private", "shared", "all")
_OPERATOR_FIELDS = ("name", "id", "status", "container_format", "disk_format")
_NUMERIC = ("size", "virtual_size", "min_ram", "min_disk")
_COLUMNS = (
    "owner",
    "checksum",
    "os_hash_value",
    "os_hash_algo",
    "size",
    "virtual_size",
    "min_ram",
    "min_disk",
    "protected",
    "os_hidden",
    "name",
    "status",
)


@dataclass
class Query:
    limit: int
    marker: str | None = None
    sort: list[tuple[str, str]] = field(default_factory=lambda: [("created_at", "desc")])
    member_status: str = "accepted"
    visibility: str | None = None
    os_hidden: bool = False
    protected: bool | None = None
    tags: list[str] = field(default_factory=list)
    filters: list[tuple[str, str]] = field(default_factory=list)


def _sorting(params: dict[str, list[str]]) -> list[tuple[str, str]]:
    keys: list[str] = []
    dirs: list[str] = []

    def check_key(key: str) -> str:
        if key not in SORT_KEYS:
            raise Invalid(
                f"Invalid sort key: {key}. It must be one of the following: {', '.join(SORT_KEYS)}."
            )
        return key

    def check_dir(direction: str) -> str:
        if direction not in ("asc", "desc"):
            raise Invalid(f"Invalid sort direction: {direction}")
        return direction

    if "sort" in params:
        if "sort_key" in params or "sort_dir" in params:
            raise Invalid("Old and new sorting syntax cannot be combined")
        for item in params["sort"][0].strip().split(","):
            key, _, direction = item.partition(":")
            keys.append(check_key(key.strip()))
            dirs.append(check_dir((direction or "desc").strip()))
    else:
        keys = [check_key(k.strip()) for k in params.get("sort_key", [])]
        dirs = [check_dir(d.strip()) for d in params.get("sort_dir", [])]
        if len(dirs) > 1 and len(dirs) != len(keys):
            raise Invalid("Number of sort dirs does not match the number of sort keys")
    keys = keys or ["created_at"]
    dirs = dirs or ["desc"]
    default = dirs[0] if len(dirs) == 1 else "desc"
    if len(dirs) == 1:
        dirs = dirs * len(keys)
    pairs = list(zip(keys, dirs, strict=False))
    for key in ("created_at", "id"):
        if key not in keys:
            pairs.append((key, default))
    return pairs


def parse(pairs: list[tuple[str, str]], default_limit: int, max_limit: int) -> Query:
    """The request's query string, checked the way Glance's deserializer and controller do.
    Raises :class:`Invalid` with Glance's message (a 400)."""
    params: dict[str, list[str]] = {}
    for key, value in pairs:
        params.setdefault(key, []).append(value)
    query = Query(limit=default_limit)
    if "limit" in params:
        try:
            limit = int(params["limit"][0])
        except ValueError:
            raise Invalid("limit param must be an integer") from None
        if limit < 0:
            raise Invalid("limit param must be positive")
        query.limit = limit
    query.limit = min(max_limit, query.limit)
    query.marker = params["marker"][0] if "marker" in params else None
    query.member_status = params.get("member_status", ["accepted"])[0]
    if query.member_status not in MEMBER_STATUSES:
        raise Invalid(f"Invalid status: {query.member_status}")
    query.tags = [t.strip() for t in params.get("tag", [])]
    visibility = params.get("visibility", [""])[0]
    if visibility:
        if visibility not in VISIBILITY_FILTERS:
            raise Invalid(f"Invalid visibility value: {visibility}")
        query.visibility = visibility
    if params.get("changes-since", [""])[0]:
        raise Invalid('The "changes-since" filter is no longer available on v2.')
    query.sort = _sorting(params)
    hidden = params.get("os_hidden", ["false"])[0].lower()
    if hidden not in ("true", "false"):
        raise Invalid(
            f"Invalid value '{hidden}' for 'os_hidden' filter. Valid values are 'true' or 'false'."
        )
    query.os_hidden = hidden == "true"
    if "protected" in params:
        protected = params["protected"][0]
        if protected not in ("true", "false"):
            raise Invalid(
                f"Invalid value '{protected}' for 'protected' filter. Valid values "
                "are 'true' or 'false'."
            )
        query.protected = protected == "true"
    skip = {
        "limit",
        "marker",
        "member_status",
        "tag",
        "visibility",
        "changes-since",
        "sort",
        "sort_key",
        "sort_dir",
        "os_hidden",
        "protected",
    }
    # Repeated filter keys: the last one wins, as with webob's params copied into a dict.
    query.filters = list({k: v[-1] for k, v in params.items() if k not in skip}.items())
    return query


# ---- evaluation ------------------------------------------------------------------------------


def _split_op(expression: str) -> tuple[str, str]:
    """glance.common.utils.split_filter_op: ``op:value``; an ISO time alone means eq."""
    left, sep, right = expression.partition(":")
    if not sep:
        return "eq", left
    if _parse_time(expression) is not None:
        return "eq", expression
    return left, right


def _parse_time(value: str) -> float | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _split_in(value: str) -> list[str]:
    """``in:a,"b,c",d``: comma separated, double quotes protect commas."""
    out, current, quoted = [], "", False
    for char in value:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            out.append(current)
            current = ""
        else:
            current += char
    if quoted:
        raise Invalid(f"Invalid filter value {value}. The quote is not closed.")
    out.append(current)
    return out


def _compare(value: Any, operator: str, threshold: Any) -> bool:
    if operator == "eq":
        return bool(value == threshold)
    if operator == "neq":
        return bool(value != threshold)
    if value is None:
        return False
    tests: dict[str, Callable[[Any, Any], bool]] = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    if operator not in tests:
        raise Invalid("Unable to filter on a unknown operator.")
    return tests[operator](value, threshold)


def _column_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


Test = Callable[[Image], bool]


def _range_test(attr: str, bound: int, low: bool) -> Test:
    def test(image: Image) -> bool:
        value = getattr(image, attr)
        return value is not None and (value >= bound if low else value <= bound)

    return test


def _time_test(attr: str, operator: str, moment: float) -> Test:
    # Glance's DATETIME columns keep whole seconds.
    return lambda image: _compare(int(getattr(image, attr)), operator, moment)


def _in_test(attr: str, wanted: list[str]) -> Test:
    return lambda image: getattr(image, attr) in wanted


def _equal_test(attr: str, text: str) -> Test:
    return lambda image: bool(getattr(image, attr) == text)


def _column_test(attr: str, text: str) -> Test:
    return lambda image: _column_text(getattr(image, attr)) == text


def _property_test(key: str, text: str) -> Test:
    return lambda image: bool(image.extra.get(key) == text)


def _predicates(filters: list[tuple[str, str]]) -> list[Test]:
    tests: list[Test] = []
    for key, raw in filters:
        if key.endswith(("_min", "_max")) and key[:-4] in _NUMERIC:
            try:
                bound = int(raw)
            except ValueError:
                raise Invalid("Unable to filter on a range with a non-numeric value.") from None
            tests.append(_range_test(key[:-4], bound, key.endswith("_min")))
        elif key in ("created_at", "updated_at"):
            operator, text = _split_op(raw)
            moment = _parse_time(text)
            if moment is None:
                raise Invalid(f'Bad "{key}" query filter format. Use ISO 8601 DateTime notation.')
            if operator not in ("gt", "gte", "lt", "lte", "neq", "eq"):
                raise Invalid("Unable to filter on a unknown operator.")
            tests.append(_time_test(key, operator, moment))
        elif key in _OPERATOR_FIELDS:
            operator, text = _split_op(raw)
            if operator == "in":
                tests.append(_in_test(key, _split_in(text)))
            elif operator == "eq":
                tests.append(_equal_test(key, text))
            else:
                raise Invalid(f"Unable to filter by unknown operator '{operator}'.")
        elif key in _COLUMNS:
            tests.append(_column_test(key, raw))
        else:
            tests.append(_property_test(key, raw))
    return tests


def _visible(
    ctx: Context,
    image: Image,
    memberships: dict[str, str],
    member_status: str,
    visibility: str | None,
) -> bool:
    if not ctx.is_admin:
        member = memberships.get(image.id)
        shared_with_me = (
            image.visibility == "shared"
            and member is not None
            and (member_status == "all" or member == member_status)
        )
        if not (
            image.visibility in ("public", "community")
            or (ctx.owner is not None and image.owner == ctx.owner)
            or shared_with_me
        ):
            return False
    if visibility is not None:
        return visibility == "all" or image.visibility == visibility
    if image.visibility != "community":
        return True
    return ctx.owner is not None and image.owner == ctx.owner


def _order(sort: list[tuple[str, str]]) -> Callable[[Image, Image], int]:
    def compare(a: Image, b: Image) -> int:
        for key, direction in sort:
            x, y = getattr(a, key), getattr(b, key)
            if x == y:
                continue
            less = x is None or (y is not None and x < y)
            result = -1 if less else 1
            return result if direction == "asc" else -result
        return 0

    return compare


def select(
    query: Query,
    ctx: Context,
    images: list[Image],
    memberships: dict[str, str],
    find: Callable[[str], Image | None],
    visible: Callable[[Image], bool],
) -> tuple[list[Image], str | None]:
    """The page of images and the next marker (None when this page is the last)."""
    tests = _predicates(query.filters)
    chosen = [
        i
        for i in images
        if _visible(ctx, i, memberships, query.member_status, query.visibility)
        and i.os_hidden == query.os_hidden
        and (query.protected is None or i.protected == query.protected)
        and all(tag in i.tags for tag in query.tags)
        and all(test(i) for test in tests)
    ]
    compare = _order(query.sort)
    chosen.sort(key=functools.cmp_to_key(compare))
    if query.marker is not None:
        marker = find(query.marker)
        if marker is None:
            raise Invalid(f"No image found with ID {query.marker}")
        if not visible(marker):
            raise Forbidden(f"Forbidding request, image {query.marker} not visible")
        chosen = [i for i in chosen if compare(i, marker) > 0]
    page = chosen[: query.limit]
    more = bool(page) and len(page) == query.limit
    return page, page[-1].id if more else None
