"""Resource providers and what hangs off them: inventories, traits and aggregates.

Every change to a provider's inventories, traits or (from 1.19) aggregates bumps its
*generation*; a writer that read generation N and sends N back finds out, inside the same
write transaction, whether someone changed the provider in between -- Placement's
optimistic concurrency (409 ``placement.concurrent_update``). Callers hold the database's
write lock (:meth:`labkit.sim.core.store.Database.write`) around a whole change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from labkit.sim.placement import classes
from labkit.sim.placement import models as m
from labkit.sim.placement.errors import (
    ActionError,
    CannotDeleteParent,
    ConcurrentUpdate,
    Duplicate,
    InvalidCapacity,
    InventoryInUse,
    NotFound,
    ProviderInUse,
    ProviderNotFound,
)

MAX_INT = 0x7FFFFFFF


@dataclass(frozen=True)
class Provider:
    id: int
    uuid: str
    name: str
    generation: int
    parent_provider_uuid: str | None
    root_provider_uuid: str
    created_at: float
    updated_at: float | None


@dataclass(frozen=True)
class InventoryRecord:
    resource_class: str
    total: int
    reserved: int = 0
    min_unit: int = 1
    max_unit: int = MAX_INT
    step_size: int = 1
    allocation_ratio: float = 1.0

    @property
    def capacity(self) -> int:
        """What can be allocated: ``(total - reserved) * allocation_ratio``."""
        return int((self.total - self.reserved) * self.allocation_ratio)

    def fits(self, amount: int, used: int) -> bool:
        """Could ``amount`` more be allocated (capacity, min/max unit, step size)?"""
        return (
            used + amount <= (self.total - self.reserved) * self.allocation_ratio
            and self.min_unit <= amount <= self.max_unit
            and amount % self.step_size == 0
        )


@dataclass
class ProviderFilters:
    name: str | None = None
    uuid: str | None = None
    in_tree: str | None = None
    member_of: list[set[str]] = field(default_factory=list)  # each set: any of these
    forbidden_aggs: set[str] = field(default_factory=set)
    required_traits: list[set[str]] = field(default_factory=list)  # each set: any of these
    forbidden_traits: set[str] = field(default_factory=set)
    resources: dict[str, int] = field(default_factory=dict)


# ---- reading -----------------------------------------------------------------------------------


def _views(s: Session, rows: Iterable[m.ResourceProvider]) -> list[Provider]:
    rows = list(rows)
    uuids = {a: b for a, b in s.execute(select(m.ResourceProvider.id, m.ResourceProvider.uuid))}
    return [
        Provider(
            id=r.id,
            uuid=r.uuid,
            name=r.name,
            generation=r.generation,
            parent_provider_uuid=uuids.get(r.parent_provider_id) if r.parent_provider_id else None,
            root_provider_uuid=uuids.get(r.root_provider_id or r.id, r.uuid),
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in rows
    ]


def _row(s: Session, uuid: str) -> m.ResourceProvider:
    row = s.scalar(select(m.ResourceProvider).where(m.ResourceProvider.uuid == uuid))
    if row is None:
        raise ProviderNotFound(uuid)
    return row


def get(s: Session, uuid: str) -> Provider:
    return _views(s, [_row(s, uuid)])[0]


def inventories(s: Session, provider_id: int) -> dict[str, InventoryRecord]:
    names = classes.class_names(s)
    rows = s.scalars(select(m.Inventory).where(m.Inventory.resource_provider_id == provider_id))
    return {
        names[r.resource_class_id]: InventoryRecord(
            names[r.resource_class_id],
            r.total,
            r.reserved,
            r.min_unit,
            r.max_unit,
            r.step_size,
            r.allocation_ratio,
        )
        for r in sorted(rows, key=lambda r: r.resource_class_id)
    }


def usages(s: Session, provider_id: int) -> dict[str, int]:
    """Used amounts per resource class (classes with inventory but no use show 0)."""
    names = classes.class_names(s)
    out = {
        names[rc]: 0
        for rc in s.scalars(
            select(m.Inventory.resource_class_id).where(
                m.Inventory.resource_provider_id == provider_id
            )
        )
    }
    for rc, used in s.execute(
        select(m.Allocation.resource_class_id, func.sum(m.Allocation.used))
        .where(m.Allocation.resource_provider_id == provider_id)
        .group_by(m.Allocation.resource_class_id)
    ):
        out[names[rc]] = int(used or 0)
    return out


def traits_of(s: Session, provider_id: int) -> list[str]:
    return list(
        s.scalars(
            select(m.Trait.name)
            .join(m.ProviderTrait, m.ProviderTrait.trait_id == m.Trait.id)
            .where(m.ProviderTrait.resource_provider_id == provider_id)
            .order_by(m.Trait.name)
        )
    )


def aggregates_of(s: Session, provider_id: int) -> list[str]:
    return list(
        s.scalars(
            select(m.Aggregate.uuid)
            .join(m.ProviderAggregate, m.ProviderAggregate.aggregate_id == m.Aggregate.id)
            .where(m.ProviderAggregate.resource_provider_id == provider_id)
            .order_by(m.Aggregate.id)
        )
    )


def used_amounts(
    s: Session, provider_ids: Iterable[int] | None = None
) -> dict[tuple[int, int], int]:
    """(provider id, resource class id) -> amount used, for every provider or only for
    ``provider_ids`` (a claim needs its own providers' sums, not the whole cloud's)."""
    query = select(
        m.Allocation.resource_provider_id,
        m.Allocation.resource_class_id,
        func.sum(m.Allocation.used),
    ).group_by(m.Allocation.resource_provider_id, m.Allocation.resource_class_id)
    if provider_ids is not None:
        query = query.where(m.Allocation.resource_provider_id.in_(list(provider_ids)))
    return {(rp, rc): int(used or 0) for rp, rc, used in s.execute(query)}


def list_providers(s: Session, f: ProviderFilters) -> list[Provider]:
    """GET /resource_providers with its filters (ResourceClassNotFound, TraitNotFound for
    unknown names)."""
    query = select(m.ResourceProvider).order_by(m.ResourceProvider.id)
    if f.name:
        query = query.where(m.ResourceProvider.name == f.name)
    if f.uuid:
        query = query.where(m.ResourceProvider.uuid == f.uuid)
    if f.in_tree:
        tree = s.scalar(select(m.ResourceProvider).where(m.ResourceProvider.uuid == f.in_tree))
        if tree is None:
            return []
        query = query.where(m.ResourceProvider.root_provider_id == (tree.root_provider_id))
    wanted_classes = {name: classes.class_id(s, name) for name in f.resources}
    names = {t for group in f.required_traits for t in group}
    ids = classes.trait_ids(s, names) if names else {}
    forbidden_ids = set(s.scalars(select(m.Trait.id).where(m.Trait.name.in_(f.forbidden_traits))))
    rows = list(s.scalars(query))
    if not rows:
        return []
    trait_map: dict[int, set[int]] = defaultdict(set)
    for rp, trait in s.execute(
        select(m.ProviderTrait.resource_provider_id, m.ProviderTrait.trait_id)
    ):
        trait_map[rp].add(trait)
    agg_map = aggregate_map(s)
    used = used_amounts(s) if wanted_classes else {}
    invs: dict[tuple[int, int], m.Inventory] = {}
    if wanted_classes:
        for inv in s.scalars(select(m.Inventory)):
            invs[(inv.resource_provider_id, inv.resource_class_id)] = inv
    out = []
    for row in rows:
        have = trait_map[row.id]
        if any(not {ids[t] for t in group} & have for group in f.required_traits):
            continue
        if forbidden_ids & have:
            continue
        aggs = agg_map.get(row.id, set())
        if any(not group & aggs for group in f.member_of):
            continue
        if f.forbidden_aggs & aggs:
            continue
        if not all(
            _has_room(invs.get((row.id, rc)), name, f.resources[name], used.get((row.id, rc), 0))
            for name, rc in wanted_classes.items()
        ):
            continue
        out.append(row)
    return _views(s, out)


def _has_room(inv: m.Inventory | None, name: str, amount: int, used: int) -> bool:
    return inv is not None and record_of(inv, name).fits(amount, used)


def aggregate_map(s: Session) -> dict[int, set[str]]:
    found: dict[int, set[str]] = defaultdict(set)
    for rp, agg in s.execute(
        select(m.ProviderAggregate.resource_provider_id, m.Aggregate.uuid).join(
            m.Aggregate, m.Aggregate.id == m.ProviderAggregate.aggregate_id
        )
    ):
        found[rp].add(agg)
    return found


def record_of(inv: m.Inventory, name: str) -> InventoryRecord:
    return InventoryRecord(
        name,
        inv.total,
        inv.reserved,
        inv.min_unit,
        inv.max_unit,
        inv.step_size,
        inv.allocation_ratio,
    )


# ---- providers ---------------------------------------------------------------------------------


def create(s: Session, uuid: str, name: str, parent_uuid: str | None, now: float) -> Provider:
    if s.scalar(select(m.ResourceProvider.id).where(m.ResourceProvider.uuid == uuid)):
        raise Duplicate("uuid", uuid)
    if s.scalar(select(m.ResourceProvider.id).where(m.ResourceProvider.name == name)):
        raise Duplicate("name", name)
    parent = None
    if parent_uuid is not None:
        if parent_uuid == uuid:
            raise ActionError(
                "create",
                "parent provider UUID cannot be same as UUID. Please set parent provider UUID "
                "to None if there is no parent.",
            )
        parent = s.scalar(select(m.ResourceProvider).where(m.ResourceProvider.uuid == parent_uuid))
        if parent is None:
            raise ActionError("create", "parent provider UUID does not exist.")
    row = m.ResourceProvider(
        uuid=uuid,
        name=name,
        generation=0,
        parent_provider_id=parent.id if parent else None,
        root_provider_id=parent.root_provider_id if parent else None,
        created_at=now,
    )
    s.add(row)
    s.flush()
    if parent is None:
        row.root_provider_id = row.id
        s.flush()
    return get(s, uuid)


def _subtree(s: Session, root: m.ResourceProvider) -> list[m.ResourceProvider]:
    children: dict[int, list[m.ResourceProvider]] = defaultdict(list)
    for rp in s.scalars(
        select(m.ResourceProvider).where(
            m.ResourceProvider.root_provider_id == root.root_provider_id
        )
    ):
        if rp.parent_provider_id is not None:
            children[rp.parent_provider_id].append(rp)
    out, todo = [], [root]
    while todo:
        rp = todo.pop()
        out.append(rp)
        todo.extend(children[rp.id])
    return out


def update(
    s: Session,
    uuid: str,
    name: str,
    parent_uuid: str | None,
    set_parent: bool,
    allow_reparenting: bool,
    now: float,
) -> Provider:
    row = _row(s, uuid)
    if name != row.name and s.scalar(
        select(m.ResourceProvider.id).where(m.ResourceProvider.name == name)
    ):
        raise Duplicate("name", name)
    if set_parent:
        subtree = _subtree(s, row)
        if parent_uuid is not None:
            parent = s.scalar(
                select(m.ResourceProvider).where(m.ResourceProvider.uuid == parent_uuid)
            )
            if parent is None:
                raise ActionError("create", "parent provider UUID does not exist.")
            if row.parent_provider_id not in (None, parent.id) and not allow_reparenting:
                raise ActionError("update", "re-parenting a provider is not currently allowed.")
            if parent.id in {rp.id for rp in subtree}:
                raise ActionError("update", "creating loop in the provider tree is not allowed.")
            if row.parent_provider_id != parent.id:
                row.parent_provider_id = parent.id
                for rp in subtree:
                    rp.root_provider_id = parent.root_provider_id
        elif row.parent_provider_id is not None:
            if not allow_reparenting:
                raise ActionError("update", "un-parenting a provider is not currently allowed.")
            row.parent_provider_id = None
            for rp in subtree:
                rp.root_provider_id = row.id
    row.name, row.updated_at = name, now
    s.flush()
    return get(s, uuid)


def delete_provider(s: Session, uuid: str) -> None:
    row = _row(s, uuid)
    if s.scalar(
        select(m.ResourceProvider.id).where(m.ResourceProvider.parent_provider_id == row.id)
    ):
        raise CannotDeleteParent()
    if s.scalar(
        select(func.count())
        .select_from(m.Allocation)
        .where(m.Allocation.resource_provider_id == row.id)
    ):
        raise ProviderInUse()
    s.execute(delete(m.Inventory).where(m.Inventory.resource_provider_id == row.id))
    s.execute(delete(m.ProviderAggregate).where(m.ProviderAggregate.resource_provider_id == row.id))
    s.execute(delete(m.ProviderTrait).where(m.ProviderTrait.resource_provider_id == row.id))
    s.delete(row)


def bump(s: Session, provider_id: int, expected: int | None = None) -> int:
    """Increment a provider's generation; ConcurrentUpdate if it is no longer ``expected``."""
    row = s.get(m.ResourceProvider, provider_id)
    if row is None:
        raise NotFound(f"No resource provider with id {provider_id} found")
    if expected is not None and row.generation != expected:
        raise ConcurrentUpdate()
    row.generation += 1
    return row.generation


# ---- inventories -------------------------------------------------------------------------------


def check_capacity(records: Iterable[InventoryRecord], provider: str, at_126: bool) -> None:
    """Reserved may equal total from 1.26 on (capacity 0), never exceed it."""
    for rec in records:
        capacity = rec.capacity
        if capacity < 0 or (capacity == 0 and not at_126):
            raise InvalidCapacity(rec.resource_class, provider, at_126)


def _in_use(s: Session, provider: m.ResourceProvider, class_ids: set[int]) -> None:
    if not class_ids:
        return
    names = classes.class_names(s)
    used = sorted(
        set(
            s.scalars(
                select(m.Allocation.resource_class_id).where(
                    m.Allocation.resource_provider_id == provider.id,
                    m.Allocation.resource_class_id.in_(class_ids),
                )
            )
        )
    )
    if used:
        raise InventoryInUse(", ".join(names[i] for i in used), provider.uuid)


def _write(s: Session, inv: m.Inventory, rec: InventoryRecord, now: float) -> None:
    inv.total, inv.reserved = rec.total, rec.reserved
    inv.min_unit, inv.max_unit = rec.min_unit, rec.max_unit
    inv.step_size, inv.allocation_ratio = rec.step_size, rec.allocation_ratio
    inv.updated_at = now


def set_inventories(
    s: Session, uuid: str, records: list[InventoryRecord], now: float
) -> tuple[Provider, list[str]]:
    """Replace all inventory; returns the provider and the classes now over capacity."""
    row = _row(s, uuid)
    wanted = {rec.resource_class: (classes.class_id(s, rec.resource_class), rec) for rec in records}
    existing = {
        inv.resource_class_id: inv
        for inv in s.scalars(select(m.Inventory).where(m.Inventory.resource_provider_id == row.id))
    }
    keep = {rc for rc, _ in wanted.values()}
    _in_use(s, row, set(existing) - keep)
    for rc, inv in existing.items():
        if rc not in keep:
            s.delete(inv)
    over = []
    used = {rc: amount for (_, rc), amount in used_amounts(s, [row.id]).items()}
    for name, (rc, rec) in wanted.items():
        found = existing.get(rc)
        if found is None:
            found = m.Inventory(resource_provider_id=row.id, resource_class_id=rc, created_at=now)
            s.add(found)
        _write(s, found, rec, now)
        if used.get(rc, 0) > rec.capacity:
            over.append(name)
    bump(s, row.id)
    s.flush()
    return get(s, uuid), over


def update_inventory(
    s: Session, uuid: str, rec: InventoryRecord, now: float
) -> tuple[Provider, list[str]]:
    """PUT one class: it must already be in the provider's inventory."""
    row = _row(s, uuid)
    rc = classes.class_id(s, rec.resource_class)
    inv = s.scalar(
        select(m.Inventory).where(
            m.Inventory.resource_provider_id == row.id, m.Inventory.resource_class_id == rc
        )
    )
    if inv is None:
        raise NotFound(f"No inventory of class {rec.resource_class} found.")
    _write(s, inv, rec, now)
    used = s.scalar(
        select(func.sum(m.Allocation.used)).where(
            m.Allocation.resource_provider_id == row.id, m.Allocation.resource_class_id == rc
        )
    )
    bump(s, row.id)
    s.flush()
    return get(s, uuid), [rec.resource_class] if (used or 0) > rec.capacity else []


def add_inventory(s: Session, uuid: str, rec: InventoryRecord, now: float) -> Provider:
    """POST one class (1.0 style): Duplicate if the class is already there."""
    row = _row(s, uuid)
    rc = classes.class_id(s, rec.resource_class)
    if s.scalar(
        select(m.Inventory.id).where(
            m.Inventory.resource_provider_id == row.id, m.Inventory.resource_class_id == rc
        )
    ):
        raise Duplicate("resource_class", rec.resource_class)
    inv = m.Inventory(resource_provider_id=row.id, resource_class_id=rc, created_at=now)
    s.add(inv)
    _write(s, inv, rec, now)
    bump(s, row.id)
    s.flush()
    return get(s, uuid)


def delete_inventory(s: Session, uuid: str, resource_class: str) -> None:
    row = _row(s, uuid)
    rc = classes.class_id(s, resource_class)
    _in_use(s, row, {rc})
    inv = s.scalar(
        select(m.Inventory).where(
            m.Inventory.resource_provider_id == row.id, m.Inventory.resource_class_id == rc
        )
    )
    if inv is None:
        raise NotFound(f"No inventory of class {resource_class} found for delete")
    s.delete(inv)
    bump(s, row.id)


# ---- traits and aggregates ---------------------------------------------------------------------


def set_traits(s: Session, uuid: str, names: list[str], now: float) -> Provider:
    """Replace the provider's traits (TraitNotFound for unknown names). No change, no bump."""
    row = _row(s, uuid)
    ids = set(classes.trait_ids(s, names).values()) if names else set()
    have = set(
        s.scalars(
            select(m.ProviderTrait.trait_id).where(m.ProviderTrait.resource_provider_id == row.id)
        )
    )
    if ids == have:
        return get(s, uuid)
    if have - ids:
        s.execute(
            delete(m.ProviderTrait).where(
                m.ProviderTrait.resource_provider_id == row.id,
                m.ProviderTrait.trait_id.in_(have - ids),
            )
        )
    for trait in ids - have:
        s.add(m.ProviderTrait(trait_id=trait, resource_provider_id=row.id, created_at=now))
    bump(s, row.id)
    s.flush()
    return get(s, uuid)


def set_aggregates(
    s: Session, uuid: str, aggregates: list[str], bump_generation: bool, now: float
) -> Provider:
    row = _row(s, uuid)
    s.execute(delete(m.ProviderAggregate).where(m.ProviderAggregate.resource_provider_id == row.id))
    for agg_uuid in aggregates:
        agg = s.scalar(select(m.Aggregate).where(m.Aggregate.uuid == agg_uuid))
        if agg is None:
            agg = m.Aggregate(uuid=agg_uuid, created_at=now)
            s.add(agg)
            s.flush()
        s.add(m.ProviderAggregate(resource_provider_id=row.id, aggregate_id=agg.id, created_at=now))
    if bump_generation:
        bump(s, row.id)
    s.flush()
    return get(s, uuid)
