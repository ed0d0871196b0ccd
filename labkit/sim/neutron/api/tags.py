"""``/v2.0/<resources>/{id}/tags`` (the standard-attr-tag extension): tags on networks,
subnets, subnet pools, ports and security groups.

Zed's ``TaggingController`` and tag service plugin:

- ``GET .../tags`` -> ``{"tags": [...]}``; ``GET .../tags/{tag}`` -> 204, or 404
  ``TagNotFound``;
- ``PUT .../tags`` with ``{"tags": [...]}`` replaces them all and answers the body it was
  sent; ``PUT .../tags/{tag}`` adds one (201, empty); ``DELETE .../tags`` removes all and
  ``DELETE .../tags/{tag}`` one (204; 404 ``TagNotFound`` when it is not there);
- a tag is a string of at most 255 characters; a list has no duplicates;
- the resource is looked up as its owner's project sees it -- a project sees (and so may
  tag) the shared provider network: Zed has no policy rules of its own for tags yet (they
  came in 2023.2), only the database scoping. What cannot be seen is
  ``TagResourceNotFound``;
- a tag change is a change of the resource: its ``revision_number`` goes up.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select
from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.neutron import models as m
from labkit.sim.neutron import networks, policy, ports, subnetpools, subnets
from labkit.sim.neutron.api._helpers import ctx, repo, settle
from labkit.sim.neutron.attributes import v_string
from labkit.sim.neutron.db import Tx
from labkit.sim.neutron.errors import NeutronError, http_bad_request, invalid_input
from labkit.sim.neutron.policy import Context

routes = Routes()

MAX_TAG_LEN = 255
Getter = Callable[[Tx, Context, str], Any]


def _scoped(
    model: Any, seen: Callable[[Tx, Context, Any], bool]
) -> Callable[[Tx, Context, str], Any]:
    """model_query.get_by_id: the row if the caller's project scoping shows it."""

    def get(tx: Tx, caller: Context, resource_id: str) -> Any:
        row = tx.s.get(model, resource_id)
        return row if row is not None and seen(tx, caller, row) else None

    return get


# collection in the URL -> (the resource's name in texts, its lookup)
PARENTS: dict[str, tuple[str, Getter]] = {
    "networks": ("network", _scoped(m.Network, networks.visible)),
    "subnets": ("subnet", _scoped(m.Subnet, subnets.visible)),
    "subnetpools": (
        "subnetpool",
        _scoped(m.SubnetPool, subnetpools.visible),
    ),
    "ports": ("port", _scoped(m.Port, ports.visible)),
    "security-groups": (
        "security_group",
        _scoped(m.SecurityGroup, lambda tx, c, r: policy.can_see_owned(c, r.project_id)),
    ),
}


def tag_resource_not_found(resource: str, resource_id: str) -> NeutronError:
    return NeutronError(
        404, "TagResourceNotFound", f"Resource {resource} {resource_id} could not be found."
    )


def tag_not_found(tag: str) -> NeutronError:
    return NeutronError(404, "TagNotFound", f"Tag {tag} could not be found.")


def _validate_tag(tag: str) -> None:
    problem = v_string(MAX_TAG_LEN)(tag)
    if problem:
        raise invalid_input(problem)


def _validate_tags(data: Any) -> list[str]:
    """validate_tags: ``{"tags": [...]}``, unique strings of at most 255 characters."""
    if not isinstance(data, dict) or "tags" not in data:
        raise invalid_input("Invalid tags body")
    tags = data["tags"]
    if not isinstance(tags, list):
        raise invalid_input(f"'{tags}' is not a list")
    dupes: list[Any] = []
    for i, tag in enumerate(tags):
        if tag in tags[:i] and tag not in dupes:
            dupes.append(tag)
    if dupes:
        raise invalid_input(f"Duplicate items in the list: '{', '.join(str(d) for d in dupes)}'")
    for tag in tags:
        problem = v_string(MAX_TAG_LEN)(tag)
        if problem:
            raise invalid_input(problem)
    return tags


def _parent(tx: Tx, call: Call, collection: str, resource_id: str) -> Any:
    resource, getter = PARENTS[collection]
    row = getter(tx, ctx(call), resource_id)
    if row is None:
        raise tag_resource_not_found(resource, resource_id)
    return row


def _tags(tx: Tx, row: Any) -> list[str]:
    return tx.tags([row.standard_attr_id])[row.standard_attr_id]


def _body(call: Call) -> Any:
    """The legacy controllers' body: what JSON says, None when there is none."""
    if not call.body:
        return None
    try:
        return json.loads(call.body.decode())
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise http_bad_request("Body contains invalid data") from None


def _index(call: Call, collection: str, resource_id: str) -> Response:
    with repo(call).read() as tx:
        return json_response({"tags": _tags(tx, _parent(tx, call, collection, resource_id))})


def _show(call: Call, collection: str, resource_id: str, tag: str) -> Response:
    _validate_tag(tag)
    with repo(call).read() as tx:
        if tag not in _tags(tx, _parent(tx, call, collection, resource_id)):
            raise tag_not_found(tag)
    return empty_response(204)


def _update_all(call: Call, collection: str, resource_id: str) -> Response:
    data = _body(call)
    wanted = _validate_tags(data)
    with repo(call).write() as tx:
        row = _parent(tx, call, collection, resource_id)
        old = set(_tags(tx, row))
        removed = old - set(wanted)
        if removed:
            tx.s.execute(
                delete(m.Tag).where(
                    m.Tag.standard_attr_id == row.standard_attr_id, m.Tag.tag.in_(removed)
                )
            )
        for tag in dict.fromkeys(wanted):
            if tag not in old:
                tx.s.add(m.Tag(standard_attr_id=row.standard_attr_id, tag=tag))
        tx.bump(row)
    settle(call)
    return json_response(data)


def _update(call: Call, collection: str, resource_id: str, tag: str) -> Response:
    _validate_tag(tag)
    with repo(call).write() as tx:
        row = _parent(tx, call, collection, resource_id)
        if tag not in _tags(tx, row):
            tx.s.add(m.Tag(standard_attr_id=row.standard_attr_id, tag=tag))
            tx.bump(row)
    settle(call)
    return empty_response(201)


def _delete_all(call: Call, collection: str, resource_id: str) -> Response:
    with repo(call).write() as tx:
        row = _parent(tx, call, collection, resource_id)
        tx.s.execute(delete(m.Tag).where(m.Tag.standard_attr_id == row.standard_attr_id))
        tx.bump(row)
    settle(call)
    return empty_response(204)


def _delete(call: Call, collection: str, resource_id: str, tag: str) -> Response:
    _validate_tag(tag)
    with repo(call).write() as tx:
        row = _parent(tx, call, collection, resource_id)
        found = tx.s.scalars(
            select(m.Tag).where(m.Tag.standard_attr_id == row.standard_attr_id, m.Tag.tag == tag)
        ).first()
        if found is None:
            raise tag_not_found(tag)
        tx.s.delete(found)
        tx.bump(row)
    settle(call)
    return empty_response(204)


def _register(collection: str, param: str) -> None:
    """The six routes of one taggable collection (``{network_id}`` ... in the path)."""
    base = f"/v2.0/{collection}/{{{param}}}/tags"

    def index(call: Call, **ids: str) -> Response:
        return _index(call, collection, ids[param])

    def show(call: Call, tag: str, **ids: str) -> Response:
        return _show(call, collection, ids[param], tag)

    def update_all(call: Call, **ids: str) -> Response:
        return _update_all(call, collection, ids[param])

    def update(call: Call, tag: str, **ids: str) -> Response:
        return _update(call, collection, ids[param], tag)

    def delete_all(call: Call, **ids: str) -> Response:
        return _delete_all(call, collection, ids[param])

    def delete_one(call: Call, tag: str, **ids: str) -> Response:
        return _delete(call, collection, ids[param], tag)

    routes.get(base)(index)
    routes.get(base + "/{tag}")(show)
    routes.put(base)(update_all)
    routes.put(base + "/{tag}")(update)
    routes.delete(base)(delete_all)
    routes.delete(base + "/{tag}")(delete_one)


for _collection, _param in (
    ("networks", "network_id"),
    ("subnets", "subnet_id"),
    ("subnetpools", "subnetpool_id"),
    ("ports", "port_id"),
    ("security-groups", "group_id"),
):
    _register(_collection, _param)
