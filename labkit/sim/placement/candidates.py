"""``GET /allocation_candidates``: which providers could satisfy a request, right now.

Nova's scheduler asks "who has room for VCPU:1, MEMORY_MB:512, DISK_GB:1 (and these traits,
in these aggregates)?" and gets *allocation requests* -- bodies it can ``PUT`` to
``/allocations/{consumer}`` as they are -- and *provider summaries*: each provider's
capacity and current use, per resource class. A provider qualifies when every requested
amount fits: ``used + amount <= (total - reserved) * allocation_ratio`` and the amount
respects ``min_unit``, ``max_unit`` and ``step_size``.

The sim's candidates are single providers: one provider satisfies all request groups of a
candidate (as a compute node with its own VCPU, memory and disk does). Nested trees and
sharing providers are not combined into one candidate (see the room's LIMITATIONS).
"""

from __future__ import annotations

import random
from collections import defaultdict, namedtuple
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labkit.sim.core.sql import Prepared
from labkit.sim.core.store import Database
from labkit.sim.placement import classes, providers
from labkit.sim.placement import models as m
from labkit.sim.placement.errors import ResourceClassNotFound


@dataclass
class Group:
    """One request group: the unnamed one (suffix "") or ``resources{suffix}``."""

    suffix: str = ""
    resources: dict[str, int] = field(default_factory=dict)
    required_traits: list[set[str]] = field(default_factory=list)  # each set: any of these
    forbidden_traits: set[str] = field(default_factory=set)
    member_of: list[set[str]] = field(default_factory=list)
    forbidden_aggs: set[str] = field(default_factory=set)
    in_tree: str | None = None


@dataclass
class Request:
    groups: list[Group]
    limit: int | None = None
    group_policy: str | None = None
    root_required: set[str] = field(default_factory=set)
    root_forbidden: set[str] = field(default_factory=set)
    randomize: bool = False


@dataclass(frozen=True)
class Summary:
    provider: providers.Provider
    resources: dict[str, tuple[int, int]]  # class -> (capacity, used)
    traits: list[str]


@dataclass(frozen=True)
class Candidate:
    provider: str  # uuid
    by_group: dict[str, dict[str, int]]  # suffix -> class -> amount

    @property
    def resources(self) -> dict[str, int]:
        merged: dict[str, int] = {}
        for amounts in self.by_group.values():
            for name, amount in amounts.items():
                merged[name] = merged.get(name, 0) + amount
        return merged


def find(s: Session, request: Request) -> tuple[list[Candidate], list[Summary]]:
    """Candidates and the summaries of their providers' trees. Raises ResourceClassNotFound
    and TraitNotFound for unknown names.

    Four or five queries whatever the cloud's size: the resource classes, the providers, their
    traits, their aggregates (only when a group filters on them), and every inventory with
    what is used of it (one join on the allocations summed per provider and class)."""
    db = Database.of(s)  # the read-only queries below are compiled once (core/sql.py)
    names = dict(_CLASS_NAMES.all(db))
    ids = {name: class_id for class_id, name in names.items()}
    class_ids: dict[str, int] = {}
    for g in request.groups:
        for name in g.resources:
            if name not in ids:
                raise ResourceClassNotFound(name)
            class_ids[name] = ids[name]
    trait_names = {t for g in request.groups for group in g.required_traits for t in group}
    trait_names |= {t for g in request.groups for t in g.forbidden_traits}
    trait_names |= request.root_required | request.root_forbidden
    if trait_names:
        classes.trait_ids(s, trait_names)  # TraitNotFound for an unknown one
    all_rps = _all_providers(db)
    by_uuid = {rp.uuid: rp for rp in all_rps}
    traits: dict[int, set[str]] = defaultdict(set)
    for rp_id, name in _PROVIDER_TRAITS.all(db):
        traits[rp_id].add(name)
    needs_aggs = any(g.member_of or g.forbidden_aggs for g in request.groups)
    aggs = providers.aggregate_map(s) if needs_aggs else {}
    used: dict[tuple[int, int], int] = {}
    inventory: dict[int, dict[int, providers.InventoryRecord]] = defaultdict(dict)
    for row in _INVENTORY_USED.all(db):
        rp_id, rc = row[0], row[1]
        inventory[rp_id][rc] = providers.InventoryRecord(
            names[rc], row[2], row[3], row[4], row[5], row[6], row[7]
        )
        if row[8]:
            used[(rp_id, rc)] = int(row[8])
    isolate = request.group_policy == "isolate" and len([g for g in request.groups if g.suffix]) > 1
    found: list[Candidate] = []
    for rp in all_rps:
        if isolate:
            break  # isolated groups need several providers of one tree: not combined here
        root = by_uuid[rp.root_provider_uuid]
        if request.root_required - traits[root.id] or request.root_forbidden & traits[root.id]:
            continue
        if not all(
            _group_fits(rp, g, traits[rp.id], aggs.get(rp.id, set()), by_uuid)
            for g in request.groups
        ):
            continue
        candidate = Candidate(rp.uuid, {g.suffix: dict(g.resources) for g in request.groups})
        if _fits(rp.id, candidate, class_ids, inventory[rp.id], used):
            found.append(candidate)
    if request.randomize:
        random.shuffle(found)
    if request.limit is not None:
        found = found[: request.limit]
    roots = {by_uuid[c.provider].root_provider_uuid for c in found}
    summaries = [
        Summary(
            provider=rp,
            resources={
                rec.resource_class: (rec.capacity, used.get((rp.id, rc), 0))
                for rc, rec in sorted(inventory[rp.id].items())
            },
            traits=sorted(traits[rp.id]),
        )
        for rp in all_rps
        if rp.root_provider_uuid in roots
    ]
    return found, summaries


def _all_providers(db: Database) -> list[providers.Provider]:
    """Every provider, by id, with its parent's and root's uuids -- one query."""
    rows = [_ProviderRow(*row) for row in _PROVIDERS.all(db)]
    uuids = {row.id: row.uuid for row in rows}
    return [
        providers.Provider(
            id=row.id,
            uuid=row.uuid,
            name=row.name,
            generation=row.generation,
            parent_provider_uuid=uuids.get(row.parent_provider_id)
            if row.parent_provider_id
            else None,
            root_provider_uuid=uuids.get(row.root_provider_id or row.id, row.uuid),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
        for row in rows
    ]


def _group_fits(
    rp: providers.Provider,
    group: Group,
    have: set[str],
    aggs: set[str],
    by_uuid: dict[str, providers.Provider],
) -> bool:
    if any(not any_of & have for any_of in group.required_traits):
        return False
    if group.forbidden_traits & have:
        return False
    if any(not any_of & aggs for any_of in group.member_of) or group.forbidden_aggs & aggs:
        return False
    if group.in_tree is not None:
        tree = by_uuid.get(group.in_tree)
        if tree is None or tree.root_provider_uuid != rp.root_provider_uuid:
            return False
    return True


def _fits(
    rp_id: int,
    candidate: Candidate,
    class_ids: dict[str, int],
    inventory: dict[int, providers.InventoryRecord],
    used: dict[tuple[int, int], int],
) -> bool:
    for amounts in candidate.by_group.values():
        for name, amount in amounts.items():
            rec = inventory.get(class_ids[name])
            if rec is None or not rec.fits(amount, used.get((rp_id, class_ids[name]), 0)):
                return False
    for name, total in candidate.resources.items():
        rec = inventory[class_ids[name]]
        limit = (rec.total - rec.reserved) * rec.allocation_ratio
        if total > rec.max_unit or used.get((rp_id, class_ids[name]), 0) + total > limit:
            return False
    return True


# find()'s queries, compiled once (core/sql.py), each read outside the session
_CLASS_NAMES = Prepared(select(m.ResourceClass.id, m.ResourceClass.name))
_PROVIDER_TRAITS = Prepared(
    select(m.ProviderTrait.resource_provider_id, m.Trait.name).join(
        m.Trait, m.Trait.id == m.ProviderTrait.trait_id
    )
)
_SUMS = (
    select(
        m.Allocation.resource_provider_id.label("rp"),
        m.Allocation.resource_class_id.label("rc"),
        func.sum(m.Allocation.used).label("used"),
    )
    .group_by(m.Allocation.resource_provider_id, m.Allocation.resource_class_id)
    .subquery()
)
_INVENTORY_USED = Prepared(
    select(
        m.Inventory.resource_provider_id,
        m.Inventory.resource_class_id,
        *m.INVENTORY_LIMITS,
        _SUMS.c.used,
    ).outerjoin(
        _SUMS,
        (_SUMS.c.rp == m.Inventory.resource_provider_id)
        & (_SUMS.c.rc == m.Inventory.resource_class_id),
    )
)
_PROVIDERS = Prepared(
    select(
        m.ResourceProvider.id,
        m.ResourceProvider.uuid,
        m.ResourceProvider.name,
        m.ResourceProvider.generation,
        m.ResourceProvider.parent_provider_id,
        m.ResourceProvider.root_provider_id,
        m.ResourceProvider.created_at,
        m.ResourceProvider.updated_at,
    ).order_by(m.ResourceProvider.id)
)
_ProviderRow = namedtuple(
    "_ProviderRow",
    "id uuid name generation parent_provider_id root_provider_id created_at updated_at",
)
