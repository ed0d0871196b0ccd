"""What the Neutron API modules share: the process, the caller, bodies, lists, answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, empty_response, json_response
from labkit.sim.neutron import listing, policy
from labkit.sim.neutron.attributes import Attr, filters, to_int
from labkit.sim.neutron.db import Repo, Tx
from labkit.sim.neutron.errors import (
    NeutronError,
    http_bad_request,
    network_not_found,
    port_not_found,
)
from labkit.sim.neutron.notify import AgentNotifier
from labkit.sim.neutron.policy import Context
from labkit.sim.neutron.service import NeutronApi


def app(call: Call) -> NeutronApi:
    """The neutron-api process answering this call."""
    process = call.service.process
    assert isinstance(process, NeutronApi)
    return process


def ctx(call: Call) -> Context:
    caller = call.auth
    assert isinstance(caller, Context)
    return caller


def repo(call: Call) -> Repo:
    return app(call).db


def notifier(call: Call) -> AgentNotifier | None:
    return app(call).notifier


def body(call: Call) -> Any:
    """The JSON body; Neutron's BodyValidationHook refuses what is not a JSON object."""
    if not call.body:
        raise http_bad_request("Resource body required")
    try:
        data = json.loads(call.body.decode())  # jsonutils: UTF-8 first (no BOM, no UTF-16)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise http_bad_request("Body contains invalid data") from None
    if not isinstance(data, dict):
        raise http_bad_request("Body contains invalid data")
    return data


def query(call: Call) -> list[tuple[str, str]]:
    return list(call.query.multi_items())


def show(call: Call, resource: str, item: dict[str, Any]) -> Response:
    wanted = listing.fields(query(call))
    item = policy.strip_hidden(ctx(call), resource, item)
    return json_response({resource: listing.select_fields(item, wanted)})


def created(call: Call, resource: str, item: dict[str, Any]) -> Response:
    settle(call)
    return json_response({resource: policy.strip_hidden(ctx(call), resource, item)}, 201)


def created_many(call: Call, resource: str, items: list[dict[str, Any]], bulk: bool) -> Response:
    """201 with what a POST made: ``{"network": {...}}``, or ``{"networks": [...]}`` for a
    bulk body (:func:`attributes.prepare_items`)."""
    if not bulk:
        return created(call, resource, items[0])
    settle(call)
    caller = ctx(call)
    shown = [policy.strip_hidden(caller, resource, i) for i in items]
    return json_response({f"{resource}s": shown}, 201)


def updated(call: Call, resource: str, item: dict[str, Any]) -> Response:
    settle(call)
    return json_response({resource: policy.strip_hidden(ctx(call), resource, item)})


def check_revision(call: Call, before: int) -> None:
    """A change made under an If-Match constraint (:func:`service.if_revision`): 412 when
    the resource's revision before the change was not the one asked for. Called after the
    change -- the policy's and the change's own errors come first, as Neutron checks the
    constraint when the session flushes -- and the failed change rolls back."""
    wanted = call.extra.get("if_revision")
    if wanted is not None and before != wanted:
        raise NeutronError(
            412,
            "RevisionNumberConstraintFailed",
            f"Constrained to {wanted}, but current revision is {before}",
        )


def deleted(call: Call) -> Response:
    settle(call)
    return empty_response(204)


def settle(call: Call) -> None:
    n = notifier(call)
    if n is not None:
        n.settle()


# Networks and ports are listed by the DB plugin, which looks a page's marker up before the
# query (neutron-lib's get_marker_obj -> _get_network / _get_port): a marker the caller
# cannot see is that resource's 404. Subnets and security groups page through OVO objects,
# whose Pager takes a marker it cannot find as no marker. (The sim looks among what the list
# shows before its filters -- the port list narrows its query by some filters first, so a
# marker those filters leave out is a 404 here where Neutron would page after it.)
_MARKER_LOOKUP: dict[str, Callable[[str], NeutronError]] = {
    "networks": network_not_found,
    "ports": port_not_found,
}


def _check_marker(
    collection: str, pairs: list[tuple[str, str]], visible: list[dict[str, Any]]
) -> None:
    missing = _MARKER_LOOKUP.get(collection)
    limit = [v for k, v in pairs if k == "limit"][-1:]  # webob's GET.get: the last value
    marker = [v for k, v in pairs if k == "marker"][-1:]
    if missing is None or not marker or not marker[0] or not limit:
        return
    if not limit[0].strip().isdigit() or int(limit[0]) == 0:
        return  # no paging (0), or the limit's own 400 comes first
    if not any(item.get("id") == marker[0] for item in visible):
        raise missing(marker[0])


def listed(
    call: Call,
    collection: str,
    resource: str,
    attrs: dict[str, Attr],
    build: Callable[[Tx, Context], list[dict[str, Any]]],
) -> Response:
    """A list: filters checked and applied, hidden attributes left out, fields, paging."""
    pairs = query(call)
    wanted_filters = filters(pairs, attrs)
    caller = ctx(call)
    with repo(call).read() as tx:
        items = build(tx, caller)
    _check_marker(collection, pairs, items)
    items = listing.apply(items, wanted_filters)
    items = [policy.strip_hidden(caller, resource, i) for i in items]
    return paged(call, pairs, collection, items)


def paged(
    call: Call, pairs: list[tuple[str, str]], collection: str, items: list[dict[str, Any]]
) -> Response:
    """The list answer: sorted and cut into a page as asked, with its links, and fields."""
    page, links = listing.page(items, pairs, collection, call.url)
    wanted = listing.fields(pairs)
    out: dict[str, Any] = {collection: [listing.select_fields(i, wanted) for i in page]}
    if links:
        out[f"{collection}_links"] = links
    return json_response(out)


def listed_without_ids(call: Call, collection: str, entries: list[dict[str, Any]]) -> Response:
    """A list of entries that have no ``id`` (service providers, availability zones):
    sorted and cut at ``limit`` as asked, with fields, but without paging links or markers --
    Neutron's paging looks for an ``id`` these entries do not have."""
    pairs = query(call)
    sorting = [(k, v) for k, v in pairs if k in ("sort_key", "sort_dir")]
    entries, _links = listing.page(entries, sorting, collection, call.url)
    limit_text = next((v for k, v in pairs if k == "limit"), "")
    if limit_text:
        limit = to_int(limit_text)
        if limit < 0:
            raise http_bad_request(f"Limit must be an integer 0 or greater and not '{limit_text}'")
        entries = entries[:limit] if limit else entries
    wanted = listing.fields(pairs)
    return json_response({collection: [listing.select_fields(e, wanted) for e in entries]})
