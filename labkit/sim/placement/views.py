"""Response shapes per microversion (``placement/handlers/*.py`` serializers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labkit.sim.placement.microversion import Version
from labkit.sim.placement.providers import InventoryRecord, Provider

Url = Callable[[str], str]  # path -> link href (under the service's mount point)


def provider_links(url: Url, provider: Provider, v: Version) -> list[dict[str, str]]:
    base = url(f"/resource_providers/{provider.uuid}")
    rels = ["inventories", "usages"]
    rels += ["aggregates"] if v.at_least(1) else []
    rels += ["traits"] if v.at_least(6) else []
    rels += ["allocations"] if v.at_least(11) else []
    return [{"rel": "self", "href": base}] + [{"rel": rel, "href": f"{base}/{rel}"} for rel in rels]


def provider(url: Url, p: Provider, v: Version) -> dict[str, Any]:
    data: dict[str, Any] = {
        "uuid": p.uuid,
        "name": p.name,
        "generation": p.generation,
        "links": provider_links(url, p, v),
    }
    if v.at_least(14):
        data["parent_provider_uuid"] = p.parent_provider_uuid
        data["root_provider_uuid"] = p.root_provider_uuid
    return data


def inventory(rec: InventoryRecord, generation: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "total": rec.total,
        "reserved": rec.reserved,
        "min_unit": rec.min_unit,
        "max_unit": rec.max_unit,
        "step_size": rec.step_size,
        "allocation_ratio": rec.allocation_ratio,
    }
    if generation:  # Placement leaves it out for a provider at generation 0
        data["resource_provider_generation"] = generation
    return data


def inventories(records: dict[str, InventoryRecord], generation: int) -> dict[str, Any]:
    return {
        "resource_provider_generation": generation,
        "inventories": {name: inventory(rec) for name, rec in records.items()},
    }
