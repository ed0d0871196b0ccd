"""Resource classes and traits: the names inventories, allocations and providers use.

Standard names (:mod:`.standards`) are rows from the start and can be neither renamed nor
deleted; ``CUSTOM_*`` names are created by users (``PUT /resource_classes/CUSTOM_X``,
``PUT /traits/CUSTOM_Y``) and deleted while nothing uses them.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labkit.sim.placement import models as m
from labkit.sim.placement import standards
from labkit.sim.placement.errors import (
    ActionError,
    ClassInUse,
    Duplicate,
    PlacementException,
    ResourceClassNotFound,
    TraitInUse,
    TraitNotFound,
)


def ensure_standards(s: Session, now: float) -> None:
    """Placement's ``ensure_sync``: every standard class and trait has its row."""
    have = set(s.scalars(select(m.ResourceClass.name)))
    for index, name in enumerate(standards.RESOURCE_CLASSES):
        if name not in have:
            s.add(m.ResourceClass(id=index, name=name, created_at=now))
    traits = set(s.scalars(select(m.Trait.name)))
    for name in standards.TRAITS:
        if name not in traits:
            s.add(m.Trait(name=name, created_at=now))
    s.flush()


# ---- resource classes --------------------------------------------------------------------------


def class_id(s: Session, name: str) -> int:
    found = s.scalar(select(m.ResourceClass.id).where(m.ResourceClass.name == name))
    if found is None:
        raise ResourceClassNotFound(name)
    return found


def class_ids(s: Session, names: Iterable[str]) -> dict[str, int]:
    """:func:`class_id` of each name, in one query; the first unknown name (in the order
    given) is the ResourceClassNotFound, as asking one by one would report it."""
    wanted = list(dict.fromkeys(names))
    found = {
        a: b
        for a, b in s.execute(
            select(m.ResourceClass.name, m.ResourceClass.id).where(m.ResourceClass.name.in_(wanted))
        )
    }
    for name in wanted:
        if name not in found:
            raise ResourceClassNotFound(name)
    return found


def class_names(s: Session) -> dict[int, str]:
    return {a: b for a, b in s.execute(select(m.ResourceClass.id, m.ResourceClass.name))}


def list_classes(s: Session) -> list[m.ResourceClass]:
    return list(s.scalars(select(m.ResourceClass).order_by(m.ResourceClass.id)))


def get_class(s: Session, name: str) -> m.ResourceClass:
    row = s.scalar(select(m.ResourceClass).where(m.ResourceClass.name == name))
    if row is None:
        raise ResourceClassNotFound(name)
    return row


def create_class(s: Session, name: str, now: float) -> m.ResourceClass:
    if s.scalar(select(m.ResourceClass.id).where(m.ResourceClass.name == name)) is not None:
        raise Duplicate("name", name)
    highest = s.scalar(select(func.max(m.ResourceClass.id))) or 0
    row = m.ResourceClass(id=max(highest + 1, m.CUSTOM_CLASS_FIRST_ID), name=name, created_at=now)
    s.add(row)
    s.flush()
    return row


def rename_class(s: Session, name: str, new_name: str, now: float) -> m.ResourceClass:
    row = get_class(s, name)
    if not standards.is_custom(name):
        raise ActionError("save", f"Cannot update standard resource class {name}")
    if new_name != name and s.scalar(
        select(m.ResourceClass.id).where(m.ResourceClass.name == new_name)
    ):
        raise Duplicate("name", new_name)
    row.name, row.updated_at = new_name, now
    return row


def delete_class(s: Session, name: str) -> None:
    row = get_class(s, name)
    if not standards.is_custom(name):
        raise PlacementException(f"Cannot delete standard resource class {name}.")
    used = s.scalar(
        select(func.count()).select_from(m.Inventory).where(m.Inventory.resource_class_id == row.id)
    )
    if used:
        raise ClassInUse(name)
    s.delete(row)


# ---- traits ------------------------------------------------------------------------------------


def list_traits(
    s: Session,
    names_in: Iterable[str] | None = None,
    prefix: str | None = None,
    associated: bool | None = None,
) -> list[str]:
    query = select(m.Trait.name).order_by(m.Trait.name)
    if names_in is not None:
        query = query.where(m.Trait.name.in_(list(names_in)))
    if prefix is not None:
        query = query.where(m.Trait.name.startswith(prefix, autoescape=True))
    if associated is not None:
        linked = select(m.ProviderTrait.trait_id)
        query = query.where(m.Trait.id.in_(linked) if associated else m.Trait.id.not_in(linked))
    return list(s.scalars(query))


def trait_ids(s: Session, names: Iterable[str]) -> dict[str, int]:
    """Ids of the named traits; TraitNotFound names the ones that do not exist."""
    wanted = set(names)
    found = {
        a: b for a, b in s.execute(select(m.Trait.name, m.Trait.id).where(m.Trait.name.in_(wanted)))
    }
    missing = wanted - set(found)
    if missing:
        raise TraitNotFound(", ".join(sorted(missing)))
    return found


def get_trait(s: Session, name: str) -> m.Trait:
    row = s.scalar(select(m.Trait).where(m.Trait.name == name))
    if row is None:
        raise TraitNotFound(name)
    return row


def ensure_trait(s: Session, name: str, now: float) -> tuple[m.Trait, bool]:
    """(the trait, whether it was created)."""
    row = s.scalar(select(m.Trait).where(m.Trait.name == name))
    if row is not None:
        return row, False
    row = m.Trait(name=name, created_at=now)
    s.add(row)
    s.flush()
    return row, True


def delete_trait(s: Session, name: str) -> None:
    row = get_trait(s, name)
    if not standards.is_custom(name):
        raise PlacementException(f"Cannot delete standard trait {name}.")
    used = s.scalar(
        select(func.count()).select_from(m.ProviderTrait).where(m.ProviderTrait.trait_id == row.id)
    )
    if used:
        raise TraitInUse(name)
    s.delete(row)
