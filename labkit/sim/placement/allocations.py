"""Consumers and their allocations: the claims Nova makes on providers' inventory.

A *consumer* (a server, in Nova's case) holds allocations -- amounts of resource classes on
providers -- and belongs to a project and a user. Writing a consumer's allocations replaces
all of them at once. The capacity check and the write happen in one transaction under the
database's write lock, so Placement never hands out more than a provider has, however many
schedulers claim at the same moment: ``used + requested <= (total - reserved) *
allocation_ratio``, and each amount within ``min_unit``/``max_unit``/``step_size``.

From microversion 1.28 a consumer has a *generation* too: a writer says which generation it
last saw (``null`` for a consumer it believes new) and gets 409 ``placement.concurrent_update``
if that is stale. Every write bumps the generations of the consumers and providers involved;
a consumer left without allocations is deleted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from labkit.sim.placement import classes, providers
from labkit.sim.placement import models as m
from labkit.sim.placement.errors import (
    CapacityExceeded,
    ConstraintsViolated,
    InvalidInventory,
    PlacementException,
)


class ConsumerGenerationConflict(PlacementException):
    def __init__(self, expected: int | None, got: int | None) -> None:
        shown = "null" if expected is None else str(expected)
        super().__init__(f"consumer generation conflict - expected {shown} but got {got}")


class UnknownProvider(PlacementException):
    def __init__(self, uuid: str) -> None:
        super().__init__(f"Allocation for resource provider '{uuid}' that does not exist.")
        self.uuid = uuid


@dataclass
class ConsumerWrite:
    """What one consumer's allocations should become (``allocations`` empty: none)."""

    uuid: str
    allocations: dict[str, dict[str, int]]  # provider uuid -> resource class -> amount
    project_id: str
    user_id: str
    generation: int | None = None
    check_generation: bool = False  # microversion 1.28+
    consumer_type: str | None = None  # microversion 1.38+


@dataclass
class ConsumerAllocations:
    uuid: str
    project_id: str = ""
    user_id: str = ""
    generation: int = 0
    consumer_type: str = "unknown"
    # provider uuid -> (provider generation, resource class -> amount)
    allocations: dict[str, tuple[int, dict[str, int]]] = field(default_factory=dict)


def _external(
    s: Session, model: type[m.Project] | type[m.User], external_id: str, now: float
) -> int:
    found = s.scalar(select(model.id).where(model.external_id == external_id))
    if found is not None:
        return found
    row = model(external_id=external_id, created_at=now)
    s.add(row)
    s.flush()
    return row.id


def _consumer_type_id(s: Session, name: str | None, now: float) -> int | None:
    if name is None:
        return None
    found = s.scalar(select(m.ConsumerType.id).where(m.ConsumerType.name == name))
    if found is not None:
        return found
    row = m.ConsumerType(name=name, created_at=now)
    s.add(row)
    s.flush()
    return row.id


def write(s: Session, writes: list[ConsumerWrite], now: float) -> None:
    """Replace the allocations of each consumer in ``writes``, all or nothing.

    Raises ConsumerGenerationConflict, UnknownProvider, ResourceClassNotFound,
    InvalidInventory (missing inventory, CapacityExceeded, ConstraintsViolated)."""
    consumers: dict[str, m.Consumer] = {}
    for want in writes:  # placement's ensure_consumer, consumer by consumer
        project = _external(s, m.Project, want.project_id, now)
        user = _external(s, m.User, want.user_id, now)
        type_id = _consumer_type_id(s, want.consumer_type, now)
        row = s.scalar(select(m.Consumer).where(m.Consumer.uuid == want.uuid))
        if row is None:
            if want.check_generation and want.generation is not None:
                raise ConsumerGenerationConflict(None, want.generation)
            row = m.Consumer(
                uuid=want.uuid,
                project_id=project,
                user_id=user,
                generation=0,
                consumer_type_id=type_id,
                created_at=now,
            )
            s.add(row)
            s.flush()
        else:
            if want.check_generation and row.generation != want.generation:
                raise ConsumerGenerationConflict(row.generation, want.generation)
            if (row.project_id, row.user_id) != (project, user):
                row.project_id, row.user_id, row.updated_at = project, user, now
            if type_id is not None and row.consumer_type_id != type_id:
                row.consumer_type_id, row.updated_at = type_id, now
        consumers[want.uuid] = row
    rps: dict[str, m.ResourceProvider] = {}
    for want in writes:
        for rp_uuid in want.allocations:
            if rp_uuid not in rps:
                rp = s.scalar(select(m.ResourceProvider).where(m.ResourceProvider.uuid == rp_uuid))
                if rp is None:
                    raise UnknownProvider(rp_uuid)
                rps[rp_uuid] = rp
    s.execute(delete(m.Allocation).where(m.Allocation.consumer_id.in_([w.uuid for w in writes])))
    s.flush()
    _check_and_insert(s, writes, rps, now)
    for rp in rps.values():
        rp.generation += 1
    for want in writes:
        consumer = consumers[want.uuid]
        if want.allocations:
            consumer.generation += 1
            consumer.updated_at = now
        else:
            s.delete(consumer)


def _check_and_insert(
    s: Session, writes: list[ConsumerWrite], rps: dict[str, m.ResourceProvider], now: float
) -> None:
    wanted: dict[tuple[str, str], int] = defaultdict(int)
    for want in writes:
        for rp_uuid, resources in want.allocations.items():
            for rc, amount in resources.items():
                wanted[(rp_uuid, rc)] += amount
    ids = classes.class_ids(s, (rc for _, rc in wanted))
    rp_ids = [rp.id for rp in rps.values()]
    used = providers.used_amounts(s, rp_ids)
    inventories = {
        (inv.resource_provider_id, inv.resource_class_id): inv
        for inv in s.scalars(
            select(m.Inventory).where(m.Inventory.resource_provider_id.in_(rp_ids))
        )
    }
    for want in writes:
        for rp_uuid, resources in want.allocations.items():
            rp = rps[rp_uuid]
            for rc, amount in resources.items():
                inv = inventories.get((rp.id, ids[rc]))
                if inv is None:
                    raise InvalidInventory(rc, rp_uuid)
                record = providers.record_of(inv, rc)
                if not record.min_unit <= amount <= record.max_unit or amount % record.step_size:
                    raise ConstraintsViolated(rc, rp_uuid)
                limit = (record.total - record.reserved) * record.allocation_ratio
                already = used.get((rp.id, ids[rc]), 0)
                if already + amount > limit or already + wanted[(rp_uuid, rc)] > limit:
                    raise CapacityExceeded(rc, rp_uuid)
                s.add(
                    m.Allocation(
                        resource_provider_id=rp.id,
                        consumer_id=want.uuid,
                        resource_class_id=ids[rc],
                        used=amount,
                        created_at=now,
                    )
                )
    s.flush()


def delete_consumer(s: Session, consumer_uuid: str) -> bool:
    """DELETE /allocations/{uuid}: False when the consumer has no allocations. Provider
    generations are not bumped (as in Placement's delete_all)."""
    gone = s.execute(delete(m.Allocation).where(m.Allocation.consumer_id == consumer_uuid))
    if not gone.rowcount:  # type: ignore[attr-defined]
        return False
    s.execute(delete(m.Consumer).where(m.Consumer.uuid == consumer_uuid))
    return True


def of_consumer(s: Session, consumer_uuid: str) -> ConsumerAllocations:
    out = ConsumerAllocations(consumer_uuid)
    rows = list(s.scalars(select(m.Allocation).where(m.Allocation.consumer_id == consumer_uuid)))
    if not rows:
        return out
    names = classes.class_names(s)
    consumer = s.scalar(select(m.Consumer).where(m.Consumer.uuid == consumer_uuid))
    if consumer is not None:
        out.project_id = s.get(m.Project, consumer.project_id).external_id  # type: ignore[union-attr]
        out.user_id = s.get(m.User, consumer.user_id).external_id  # type: ignore[union-attr]
        out.generation = consumer.generation
        if consumer.consumer_type_id is not None:
            kind = s.get(m.ConsumerType, consumer.consumer_type_id)
            out.consumer_type = kind.name if kind else "unknown"
    for row in rows:
        rp = s.get(m.ResourceProvider, row.resource_provider_id)
        if rp is None:
            continue
        entry = out.allocations.setdefault(rp.uuid, (rp.generation, {}))
        entry[1][names[row.resource_class_id]] = row.used
    return out


def of_provider(s: Session, provider_id: int) -> dict[str, tuple[int, dict[str, int]]]:
    """consumer uuid -> (consumer generation, resource class -> amount)."""
    names = classes.class_names(s)
    generations = {a: b for a, b in s.execute(select(m.Consumer.uuid, m.Consumer.generation))}
    out: dict[str, tuple[int, dict[str, int]]] = {}
    for row in s.scalars(
        select(m.Allocation)
        .where(m.Allocation.resource_provider_id == provider_id)
        .order_by(m.Allocation.id)
    ):
        entry = out.setdefault(row.consumer_id, (generations.get(row.consumer_id, 0), {}))
        entry[1][names[row.resource_class_id]] = row.used
    return out


def total_usages(
    s: Session, project_id: str, user_id: str | None, by_type: bool, consumer_type: str | None
) -> dict[str, dict[str, int]]:
    """GET /usages: {"": {class: used}} or, by consumer type (1.38), {type: {class: used,
    "consumer_count": n}}."""
    names = classes.class_names(s)
    types = {a: b for a, b in s.execute(select(m.ConsumerType.id, m.ConsumerType.name))}
    query = (
        select(
            m.Consumer.uuid,
            m.Consumer.consumer_type_id,
            m.Allocation.resource_class_id,
            func.sum(m.Allocation.used),
        )
        .join(m.Allocation, m.Allocation.consumer_id == m.Consumer.uuid)
        .join(m.Project, m.Project.id == m.Consumer.project_id)
        .where(m.Project.external_id == project_id)
        .group_by(m.Consumer.uuid, m.Consumer.consumer_type_id, m.Allocation.resource_class_id)
    )
    if user_id is not None:
        query = query.join(m.User, m.User.id == m.Consumer.user_id).where(
            m.User.external_id == user_id
        )
    out: dict[str, dict[str, int]] = {}
    counted: dict[str, set[str]] = defaultdict(set)
    for consumer, type_id, rc, used in s.execute(query):
        kind = types.get(type_id, "unknown") if type_id is not None else "unknown"
        if by_type and consumer_type not in (None, "all") and kind != consumer_type:
            continue
        key = kind if by_type else ""
        bucket = out.setdefault(key, {})
        bucket[names[rc]] = bucket.get(names[rc], 0) + int(used or 0)
        counted[key].add(consumer)
    if by_type:
        for key, bucket in out.items():
            bucket["consumer_count"] = len(counted[key])
        if consumer_type == "all" and out:
            merged: dict[str, int] = {}
            for bucket in out.values():
                for name, amount in bucket.items():
                    merged[name] = merged.get(name, 0) + amount
            out = {"all": merged}
    return out
