"""Placement's tables, created by ``placement-manage db sync`` in the placement database.

Named and shaped like Zed Placement's schema (``resource_providers``, ``inventories``,
``allocations``, ``consumers``, ``projects``, ``users``, ``resource_classes``, ``traits``,
``placement_aggregates`` and the two association tables) so that a learner who opens the
database finds what the real one holds. Standard resource classes and traits are rows too,
written when the schema is created and again when placement-api starts (as Placement's
``ensure_sync`` does); custom resource classes get ids from 10000 up, as upstream.

Behaviour lives in :mod:`.providers`, :mod:`.allocations` and :mod:`.candidates`.
"""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

CUSTOM_CLASS_FIRST_ID = 10000  # placement.objects.resource_class: custom ids start here


class Base(DeclarativeBase):
    metadata = MetaData()


class Stamped:
    """Placement's TimestampMixin (seconds since the epoch on the sim's clock)."""

    created_at: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class ResourceClass(Stamped, Base):
    __tablename__ = "resource_classes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)


class Trait(Stamped, Base):
    __tablename__ = "traits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)


class ResourceProvider(Stamped, Base):
    __tablename__ = "resource_providers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    root_provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    parent_provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("resource_providers.id"), nullable=True, index=True
    )


class Inventory(Stamped, Base):
    __tablename__ = "inventories"
    __table_args__ = (UniqueConstraint("resource_provider_id", "resource_class_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_provider_id: Mapped[int] = mapped_column(Integer, index=True)
    resource_class_id: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    reserved: Mapped[int] = mapped_column(Integer)
    min_unit: Mapped[int] = mapped_column(Integer)
    max_unit: Mapped[int] = mapped_column(Integer)
    step_size: Mapped[int] = mapped_column(Integer)
    allocation_ratio: Mapped[float] = mapped_column(Float)


# An inventory's limits, as the claim and the candidates' queries both select them.
INVENTORY_LIMITS = (
    Inventory.total,
    Inventory.reserved,
    Inventory.min_unit,
    Inventory.max_unit,
    Inventory.step_size,
    Inventory.allocation_ratio,
)


class Allocation(Stamped, Base):
    __tablename__ = "allocations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_provider_id: Mapped[int] = mapped_column(Integer, index=True)
    consumer_id: Mapped[str] = mapped_column(String(36), index=True)  # the consumer's uuid
    resource_class_id: Mapped[int] = mapped_column(Integer)
    used: Mapped[int] = mapped_column(Integer)


class Project(Stamped, Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(255), unique=True)


class User(Stamped, Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(255), unique=True)


class ConsumerType(Stamped, Base):
    __tablename__ = "consumer_types"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)


class Consumer(Stamped, Base):
    __tablename__ = "consumers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    project_id: Mapped[int] = mapped_column(Integer, index=True)
    user_id: Mapped[int] = mapped_column(Integer)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    consumer_type_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Aggregate(Stamped, Base):
    __tablename__ = "placement_aggregates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)


class ProviderAggregate(Stamped, Base):
    __tablename__ = "resource_provider_aggregates"
    resource_provider_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    aggregate_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class ProviderTrait(Stamped, Base):
    __tablename__ = "resource_provider_traits"
    trait_id: Mapped[int] = mapped_column(ForeignKey("traits.id"), primary_key=True)
    resource_provider_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)
