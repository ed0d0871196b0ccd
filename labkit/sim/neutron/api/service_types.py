"""``/v2.0/service-providers`` (the service-type extension): the drivers Neutron's service
plugins registered, read-only.

Zed's ``ServiceTypeManager`` lists the ``[service_providers] service_provider`` entries of
the config files -- none in the Install Guide's -- plus what a loaded service plugin adds by
itself: the L3 router plugin registers its four ``L3_ROUTER_NAT`` flavors of router
(``dvrha``, ``dvr``, ``ha``, ``single_node``). With the provider-networks option
(``service_plugins =`` empty) the list is empty.

The manager has no filter validation: every query parameter is a filter, but it only
looks at ``service_type``, ``name``, ``driver`` and ``default`` (the others match
everything; ``default`` compares the text of the query with a boolean, so it matches
nothing). ``driver`` filters but is not shown (the extension's attribute map has no such
attribute). Paging is emulated by Neutron's API layer, which looks for an ``id`` these
entries do not have; the sim applies ``limit`` and leaves out links and markers.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes
from labkit.sim.neutron.api._helpers import app, listed_without_ids, query
from labkit.sim.neutron.attributes import NOT_FILTERS

routes = Routes()

L3_TYPE = "L3_ROUTER_NAT"
# _LegacyPlusProviderConfiguration, in the order it adds them.
L3_PROVIDERS = (
    ("dvrha", "neutron.services.l3_router.service_providers.dvrha.DvrHaDriver"),
    ("dvr", "neutron.services.l3_router.service_providers.dvr.DvrDriver"),
    ("ha", "neutron.services.l3_router.service_providers.ha.HaDriver"),
    ("single_node", "neutron.services.l3_router.service_providers.single_node.SingleNodeDriver"),
)


def providers(l3_enabled: bool) -> list[dict[str, Any]]:
    """Every registered provider, with its driver (which the API does not show)."""
    if not l3_enabled:
        return []
    return [
        {"service_type": L3_TYPE, "name": name, "driver": driver, "default": False}
        for name, driver in L3_PROVIDERS
    ]


def _matches(entry: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    """ProviderConfiguration._check_entry."""
    return all(
        entry[key] in filters[key]
        for key in ("service_type", "name", "driver", "default")
        if key in filters
    )


@routes.get("/v2.0/service-providers")
def index(call: Call) -> Response:
    pairs = query(call)
    filters: dict[str, list[str]] = {}
    for key, value in pairs:
        if key not in NOT_FILTERS:
            filters.setdefault(key, []).append(value)
    conf = app(call).conf
    entries = [
        {k: v for k, v in e.items() if k != "driver"}
        for e in providers(conf is not None and conf.l3_enabled)
        if _matches(e, filters)
    ]
    return listed_without_ids(call, "service_providers", entries)
