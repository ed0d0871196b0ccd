"""``/v2.0/network-ip-availabilities``: list and show, for admins."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.neutron import attributes, ip_availability, listing
from labkit.sim.neutron.api._helpers import ctx, paged, query, repo
from labkit.sim.neutron.errors import network_not_found

routes = Routes()
COLLECTION = "network_ip_availabilities"


def _items(call: Call, wanted: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The entries the caller may read (admins: all; others: none), filtered."""
    versions = wanted.pop("ip_version", None)
    if not ctx(call).is_admin:
        return []
    with repo(call).read() as tx:
        items = ip_availability.availabilities(tx, versions)
    return listing.apply(items, wanted)


@routes.get("/v2.0/network-ip-availabilities")
def index(call: Call) -> Response:
    pairs = query(call)
    items = _items(call, attributes.filters(pairs, attributes.NETWORK_IP_AVAILABILITY))
    return paged(call, pairs, COLLECTION, items)


@routes.get("/v2.0/network-ip-availabilities/{network_id}")
def get(call: Call, network_id: str) -> Response:
    """get_network_ip_availability: the network's entry, else NetworkNotFound (also what a
    member gets: the policy hides the entry)."""
    items = _items(call, {"network_id": [network_id]})
    if not items:
        raise network_not_found(network_id)
    wanted = listing.fields(query(call))
    return json_response({"network_ip_availability": listing.select_fields(items[0], wanted)})
