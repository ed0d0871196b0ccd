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

from collections import defaultdict, namedtuple
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Table, bindparam, delete, func, insert, literal, select, union_all, update
from sqlalchemy.orm import Session

from labkit.sim.core.sql import Prepared, PreparedWrite
from labkit.sim.core.store import Transaction
from labkit.sim.placement import classes, providers
from labkit.sim.placement import models as m
from labkit.sim.placement.errors import (
    CapacityExceeded,
    ConcurrentUpdate,
    ConstraintsViolated,
    InvalidInventory,
    PlacementException,
    ResourceClassNotFound,
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


def _table(model: type[m.Base]) -> Table:
    """A model's table, for the Core statements a claim runs (no ORM objects to track)."""
    return cast(Table, model.__table__)


def _external_ids(tx: Transaction, writes: list[ConsumerWrite], now: float) -> dict[str, int]:
    """The internal ids of the writes' projects and users (``p:<external id>`` and
    ``u:<external id>``), in one query; a project or user Placement has not seen yet gets its
    row (placement's ``ensure_consumer`` creates them the same way)."""
    projects = {w.project_id for w in writes}
    users = {w.user_id for w in writes}
    found: dict[str, int] = {}
    for kind, row_id, external in _PROJECTS_AND_USERS.all(
        tx, projects=sorted(projects), users=sorted(users)
    ):
        found[f"{kind}:{external}"] = row_id
    for kind, made, names in (("p", _NEW_PROJECT, projects), ("u", _NEW_USER, users)):
        for external in sorted(names):
            if f"{kind}:{external}" not in found:
                found[f"{kind}:{external}"] = made.run(tx, external=external, now=now)[0][0]
    return found


def _consumer_type_id(tx: Transaction, name: str | None, now: float) -> int | None:
    if name is None:
        return None
    found = _CONSUMER_TYPE.one(tx, name=name)
    if found is not None:
        return int(found[0])
    return int(_NEW_CONSUMER_TYPE.run(tx, name=name, now=now)[0][0])


@dataclass
class _Slot:
    """One provider's inventory of one class, and what the *other* consumers use of it."""

    record: providers.InventoryRecord
    class_id: int
    used: int


def write(tx: Transaction, writes: list[ConsumerWrite], now: float) -> None:
    """Replace the allocations of each consumer in ``writes``, all or nothing (the caller's
    transaction, :meth:`~labkit.sim.core.store.Database.transaction`, is rolled back when
    this raises).

    Raises ConsumerGenerationConflict, UnknownProvider, ResourceClassNotFound,
    InvalidInventory (missing inventory, CapacityExceeded, ConstraintsViolated) and
    ConcurrentUpdate (a provider's generation moved under the write).

    A claim is a handful of statements whatever its size, each compiled once (core/sql.py):
    one read of the consumers, one of their projects and users, one of the providers with
    their inventories and what every other consumer already uses of them; then the writes
    -- the old allocations deleted, the new ones inserted, each provider's generation moved
    on *only if it is still the one just read* (Placement's optimistic ``UPDATE ... WHERE
    generation = :seen``), the consumers' generations bumped. The checks run in the order
    Placement makes them, so the same bad request fails with the same error."""
    uuids = [w.uuid for w in writes]
    consumers = {row[0]: _ConsumerRow(*row) for row in _CONSUMERS.all(tx, uuids=uuids)}
    external = _external_ids(tx, writes, now)
    new_consumers: list[dict[str, object]] = []
    for want in writes:  # placement's ensure_consumer, consumer by consumer
        project, user = external[f"p:{want.project_id}"], external[f"u:{want.user_id}"]
        type_id = _consumer_type_id(tx, want.consumer_type, now)
        row = consumers.get(want.uuid)
        if row is None:
            if want.check_generation and want.generation is not None:
                raise ConsumerGenerationConflict(None, want.generation)
            if want.allocations:  # a new consumer left without allocations is not kept
                new_consumers.append(
                    {
                        "uuid": want.uuid,
                        "project_id": project,
                        "user_id": user,
                        "consumer_type_id": type_id,
                        "now": now,
                    }
                )
            continue
        if want.check_generation and row.generation != want.generation:
            raise ConsumerGenerationConflict(row.generation, want.generation)
        if want.allocations:  # its project, user and type as written, its generation moved
            _BUMP_CONSUMER.run(
                tx,
                uuid=want.uuid,
                project_id=project,
                user_id=user,
                consumer_type_id=type_id if type_id is not None else row.consumer_type_id,
                now=now,
            )
        else:
            _DROP_CONSUMER.run(tx, uuid=want.uuid)
    rps, slots = _providers_of(tx, writes)
    rows = _checked_rows(tx, writes, rps, slots, now)
    for made in new_consumers:
        _NEW_CONSUMER.run(tx, **made)
    _DROP_ALLOCATIONS.run(tx, uuids=uuids)
    for allocation in rows:
        _NEW_ALLOCATION.run(tx, **allocation)
    moved = 0
    for rp_id, generation in rps.values():
        moved += len(_MOVE_GENERATION.run(tx, rp_id=rp_id, seen=generation))
    if moved != len(rps):
        raise ConcurrentUpdate()


def _providers_of(
    tx: Transaction, writes: list[ConsumerWrite]
) -> tuple[dict[str, tuple[int, int]], dict[tuple[str, str], _Slot]]:
    """The writes' providers (uuid -> (id, generation)), UnknownProvider for the first one
    that does not exist, and their inventories by (provider uuid, class name) with what the
    consumers *not* being written use of each -- one query."""
    uuids = list(dict.fromkeys(rp for w in writes for rp in w.allocations))
    if not uuids:
        return {}, {}
    rps: dict[str, tuple[int, int]] = {}
    slots: dict[tuple[str, str], _Slot] = {}
    for row in _PROVIDER_SLOTS.all(tx, providers=uuids, consumers=[w.uuid for w in writes]):
        rps[row[0]] = (row[1], row[2])
        if row[3] is not None:
            record = providers.InventoryRecord(
                row[3], row[5], row[6], row[7], row[8], row[9], row[10]
            )
            slots[(row[0], row[3])] = _Slot(record, row[4], int(row[11] or 0))
    for uuid in uuids:
        if uuid not in rps:
            raise UnknownProvider(uuid)
    return {uuid: rps[uuid] for uuid in uuids}, slots


def _checked_rows(
    tx: Transaction,
    writes: list[ConsumerWrite],
    rps: dict[str, tuple[int, int]],
    slots: dict[tuple[str, str], _Slot],
    now: float,
) -> list[dict[str, object]]:
    """The allocation rows to insert, once every amount is checked against its provider's
    inventory: ``used + requested <= (total - reserved) * allocation_ratio``, each amount
    within ``min_unit``/``max_unit``/``step_size``."""
    wanted: dict[tuple[str, str], int] = defaultdict(int)
    for want in writes:
        for rp_uuid, resources in want.allocations.items():
            for rc, amount in resources.items():
                wanted[(rp_uuid, rc)] += amount
    if any(key not in slots for key in wanted):
        # ResourceClassNotFound comes first (classes.class_ids: the first unknown name)
        names = list(dict.fromkeys(rc for _, rc in wanted))
        known = {row[0] for row in _CLASSES_NAMED.all(tx, names=names)}
        for name in names:
            if name not in known:
                raise ResourceClassNotFound(name)
    rows: list[dict[str, object]] = []
    for want in writes:
        for rp_uuid, resources in want.allocations.items():
            for rc, amount in resources.items():
                slot = slots.get((rp_uuid, rc))
                if slot is None:
                    raise InvalidInventory(rc, rp_uuid)
                record = slot.record
                if not record.min_unit <= amount <= record.max_unit or amount % record.step_size:
                    raise ConstraintsViolated(rc, rp_uuid)
                limit = (record.total - record.reserved) * record.allocation_ratio
                if slot.used + amount > limit or slot.used + wanted[(rp_uuid, rc)] > limit:
                    raise CapacityExceeded(rc, rp_uuid)
                rows.append(
                    {
                        "rp_id": rps[rp_uuid][0],
                        "consumer": want.uuid,
                        "rc_id": slot.class_id,
                        "used": amount,
                        "now": now,
                    }
                )
    return rows


# ---- write()'s statements, compiled once (core/sql.py) ---------------------------------------

_CONSUMER_TABLE = _table(m.Consumer)
_ConsumerRow = namedtuple("_ConsumerRow", "uuid project_id user_id generation consumer_type_id")
_CONSUMERS = Prepared(
    select(*(getattr(m.Consumer, name) for name in _ConsumerRow._fields)).where(
        m.Consumer.uuid.in_(bindparam("uuids", expanding=True))
    )
)
_PROJECTS_AND_USERS = Prepared(
    union_all(
        select(literal("p"), m.Project.id, m.Project.external_id).where(
            m.Project.external_id.in_(bindparam("projects", expanding=True))
        ),
        select(literal("u"), m.User.id, m.User.external_id).where(
            m.User.external_id.in_(bindparam("users", expanding=True))
        ),
    )
)
_NEW_PROJECT = PreparedWrite(
    insert(_table(m.Project))
    .values(external_id=bindparam("external"), created_at=bindparam("now"))
    .returning(m.Project.id)
)
_NEW_USER = PreparedWrite(
    insert(_table(m.User))
    .values(external_id=bindparam("external"), created_at=bindparam("now"))
    .returning(m.User.id)
)
_CONSUMER_TYPE = Prepared(select(m.ConsumerType.id).where(m.ConsumerType.name == bindparam("name")))
_NEW_CONSUMER_TYPE = PreparedWrite(
    insert(_table(m.ConsumerType))
    .values(name=bindparam("name"), created_at=bindparam("now"))
    .returning(m.ConsumerType.id)
)
_NEW_CONSUMER = PreparedWrite(
    insert(_CONSUMER_TABLE).values(
        uuid=bindparam("uuid"),
        project_id=bindparam("project_id"),
        user_id=bindparam("user_id"),
        generation=1,
        consumer_type_id=bindparam("consumer_type_id"),
        created_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
)
_BUMP_CONSUMER = PreparedWrite(
    update(_CONSUMER_TABLE)
    .where(_CONSUMER_TABLE.c.uuid == bindparam("uuid"))
    .values(
        project_id=bindparam("project_id"),
        user_id=bindparam("user_id"),
        consumer_type_id=bindparam("consumer_type_id"),
        generation=_CONSUMER_TABLE.c.generation + 1,
        updated_at=bindparam("now"),
    )
)
_DROP_CONSUMER = PreparedWrite(
    delete(_CONSUMER_TABLE).where(_CONSUMER_TABLE.c.uuid == bindparam("uuid"))
)
_OTHERS_USE = (
    select(func.coalesce(func.sum(m.Allocation.used), 0))
    .where(m.Allocation.resource_provider_id == m.ResourceProvider.id)
    .where(m.Allocation.resource_class_id == m.Inventory.resource_class_id)
    .where(m.Allocation.consumer_id.not_in(bindparam("consumers", expanding=True)))
    .scalar_subquery()
)
_PROVIDER_SLOTS = Prepared(
    select(
        m.ResourceProvider.uuid,
        m.ResourceProvider.id,
        m.ResourceProvider.generation,
        m.ResourceClass.name,
        m.Inventory.resource_class_id,
        *m.INVENTORY_LIMITS,
        _OTHERS_USE,
    )
    .outerjoin(m.Inventory, m.Inventory.resource_provider_id == m.ResourceProvider.id)
    .outerjoin(m.ResourceClass, m.ResourceClass.id == m.Inventory.resource_class_id)
    .where(m.ResourceProvider.uuid.in_(bindparam("providers", expanding=True)))
)
_CLASSES_NAMED = Prepared(
    select(m.ResourceClass.name).where(m.ResourceClass.name.in_(bindparam("names", expanding=True)))
)
_ALLOCATIONS = _table(m.Allocation)
_DROP_ALLOCATIONS = PreparedWrite(
    delete(_ALLOCATIONS).where(_ALLOCATIONS.c.consumer_id.in_(bindparam("uuids", expanding=True)))
)
_NEW_ALLOCATION = PreparedWrite(
    insert(_ALLOCATIONS).values(
        resource_provider_id=bindparam("rp_id"),
        consumer_id=bindparam("consumer"),
        resource_class_id=bindparam("rc_id"),
        used=bindparam("used"),
        created_at=bindparam("now"),
    )
)
_PROVIDERS = _table(m.ResourceProvider)
_MOVE_GENERATION = PreparedWrite(
    update(_PROVIDERS)
    .where(_PROVIDERS.c.id == bindparam("rp_id"))
    .where(_PROVIDERS.c.generation == bindparam("seen"))
    .values(generation=_PROVIDERS.c.generation + 1)
    .returning(_PROVIDERS.c.id)
)


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
