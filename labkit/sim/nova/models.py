"""Nova's tables: the API database (nova_api) and the cell databases (nova_cell0, nova).

As in a real deployment, what the whole cloud shares lives in the API database -- flavors,
keypairs, quotas, server groups, the cell and host mappings, and the build requests of
servers not yet scheduled -- and servers, services and compute nodes live in a cell: cell1
(the ``nova`` database) holds everything that was placed on a host, cell0 (``nova_cell0``)
the servers that never were (No valid host). A server's InstanceMapping says which.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    inspect,
    text,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class ApiBase(DeclarativeBase):
    metadata = MetaData()


class CellBase(DeclarativeBase):
    metadata = MetaData()


# ---- nova_api ---------------------------------------------------------------------------------


class Flavor(ApiBase):
    __tablename__ = "flavors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flavorid: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    vcpus: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    root_gb: Mapped[int] = mapped_column(Integer)
    ephemeral_gb: Mapped[int] = mapped_column(Integer, default=0)
    swap: Mapped[int] = mapped_column(Integer, default=0)
    rxtx_factor: Mapped[float] = mapped_column(Float, default=1.0)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    extra_specs: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    projects: Mapped[list[str]] = mapped_column(JSON, default=list)  # flavor access
    created_at: Mapped[str] = mapped_column(String(40), default="")


class CellMapping(ApiBase):
    __tablename__ = "cell_mappings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    transport_url: Mapped[str] = mapped_column(Text)
    database_connection: Mapped[str] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class HostMapping(ApiBase):
    __tablename__ = "host_mappings"
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    cell_id: Mapped[int] = mapped_column(ForeignKey("cell_mappings.id"))


class InstanceMapping(ApiBase):
    __tablename__ = "instance_mappings"
    instance_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    cell_id: Mapped[int | None] = mapped_column(ForeignKey("cell_mappings.id"), nullable=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    queued_for_delete: Mapped[bool] = mapped_column(Boolean, default=False)


class Aggregate(ApiBase):
    """A host aggregate (Nova's aggregates, aggregate_hosts and aggregate_metadata tables
    in one row: its hosts and metadata as JSON). A table added after the first release:
    see add_missing_tables."""

    __tablename__ = "aggregates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    hosts: Mapped[list[str]] = mapped_column(JSON, default=list)
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[str | None] = mapped_column(String(40), nullable=True)


class BuildRequest(ApiBase):
    """A server accepted by nova-api that the conductor has not put in a cell yet."""

    __tablename__ = "build_requests"
    instance_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    instance: Mapped[dict[str, Any]] = mapped_column(JSON)  # the instance as nova-api made it


class RequestSpec(ApiBase):
    __tablename__ = "request_specs"
    instance_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)


class KeyPair(ApiBase):
    __tablename__ = "key_pairs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(255))
    public_key: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(10), default="ssh")
    created_at: Mapped[str] = mapped_column(String(40), default="")


class Quota(ApiBase):
    __tablename__ = "quotas"
    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource: Mapped[str] = mapped_column(String(255), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)


class QuotaClass(ApiBase):
    """A quota class's limit for one resource: the class ``default`` is every project's
    defaults (Nova's quota_classes table; added after the first release)."""

    __tablename__ = "quota_classes"
    class_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource: Mapped[str] = mapped_column(String(255), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)


class InstanceGroup(ApiBase):
    __tablename__ = "instance_groups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    policy: Mapped[str] = mapped_column(String(255))
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    members: Mapped[list[str]] = mapped_column(JSON, default=list)


# ---- a cell (nova, nova_cell0) ----------------------------------------------------------------


class Service(CellBase):
    __tablename__ = "services"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    host: Mapped[str] = mapped_column(String(255))
    binary: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(255))
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    forced_down: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_up: Mapped[float] = mapped_column(Float, default=0.0)  # sim time, epoch s
    created_at: Mapped[str] = mapped_column(String(40), default="")
    updated_at: Mapped[str] = mapped_column(String(40), default="")


class ComputeNode(CellBase):
    __tablename__ = "compute_nodes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    host: Mapped[str] = mapped_column(String(255))
    hypervisor_hostname: Mapped[str] = mapped_column(String(255))
    service_id: Mapped[int] = mapped_column(Integer)
    vcpus: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    local_gb: Mapped[int] = mapped_column(Integer)
    vcpus_used: Mapped[int] = mapped_column(Integer, default=0)
    memory_mb_used: Mapped[int] = mapped_column(Integer, default=0)
    local_gb_used: Mapped[int] = mapped_column(Integer, default=0)
    running_vms: Mapped[int] = mapped_column(Integer, default=0)
    hypervisor_type: Mapped[str] = mapped_column(String(255), default="QEMU")
    hypervisor_version: Mapped[int] = mapped_column(Integer, default=7002022)
    host_ip: Mapped[str] = mapped_column(String(64), default="")
    cpu_info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[float] = mapped_column(Float, default=0.0)


class Instance(CellBase):
    __tablename__ = "instances"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    display_name: Mapped[str] = mapped_column(String(255))
    display_description: Mapped[str | None] = mapped_column(Text, nullable=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    image_ref: Mapped[str] = mapped_column(String(255), default="")
    flavor: Mapped[dict[str, Any]] = mapped_column(JSON)
    vm_state: Mapped[str] = mapped_column(String(255))
    task_state: Mapped[str | None] = mapped_column(String(255), nullable=True)
    power_state: Mapped[int] = mapped_column(Integer, default=0)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    node: Mapped[str | None] = mapped_column(String(255), nullable=True)
    availability_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    key_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    key_data: Mapped[str | None] = mapped_column(Text, nullable=True)
    user_data: Mapped[str | None] = mapped_column(Text, nullable=True)
    config_drive: Mapped[str] = mapped_column(String(255), default="")
    # what create, update and rebuild were given (accessIPv4/accessIPv6, OS-DCF:diskConfig);
    # columns added after the first release: see add_missing_columns
    access_ip_v4: Mapped[str | None] = mapped_column(String(39), nullable=True)
    access_ip_v6: Mapped[str | None] = mapped_column(String(39), nullable=True)
    auto_disk_config: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    hostname: Mapped[str] = mapped_column(String(255), default="")
    launch_index: Mapped[int] = mapped_column(Integer, default=0)
    reservation_id: Mapped[str] = mapped_column(String(255), default="")
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    network_info: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    security_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[str] = mapped_column(String(40), default="")
    updated_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    launched_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    terminated_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    console: Mapped[list[str]] = mapped_column(JSON, default=list)  # the serial console log
    fault: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Nova's instance_system_metadata, for what the sim keeps there: the password a guest
    # POSTs to the metadata API, in 255-character items password_0..password_3
    system_metadata: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)


class InstanceAction(CellBase):
    __tablename__ = "instance_actions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), index=True)
    action: Mapped[str] = mapped_column(String(255))
    request_id: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str] = mapped_column(String(255))
    start_time: Mapped[str] = mapped_column(String(40))
    finish_time: Mapped[str | None] = mapped_column(String(40), nullable=True)
    message: Mapped[str | None] = mapped_column(String(255), nullable=True)
    updated_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    events: Mapped[list[InstanceActionEvent]] = relationship(
        back_populates="action", order_by="InstanceActionEvent.id", lazy="selectin"
    )


class InstanceActionEvent(CellBase):
    __tablename__ = "instance_actions_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("instance_actions.id"))
    event: Mapped[str] = mapped_column(String(255))
    start_time: Mapped[str] = mapped_column(String(40))
    finish_time: Mapped[str | None] = mapped_column(String(40), nullable=True)
    result: Mapped[str | None] = mapped_column(String(255), nullable=True)
    traceback: Mapped[str | None] = mapped_column(Text, nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    details: Mapped[str | None] = mapped_column(Text, nullable=True)
    action: Mapped[InstanceAction] = relationship(back_populates="events")


# ---- columns added since a state folder was made ----------------------------------------------


def add_missing_columns(engine: Engine, metadata: MetaData) -> list[str]:
    """Add to the existing tables of ``metadata`` the columns the models have and the
    database lacks; return them as ``table.column``.

    A real deployment gets new columns from ``nova-manage db sync`` (its migrations). A
    state folder made by an older labkit already ran db sync, and its learner will not run
    it again, so the services call this when they open a database: a column the models
    gained (``instances.access_ip_v4`` ...) is added, empty (NULL), as a migration would add
    it. Only nullable columns without a server default may be added this way (SQLite's
    ``ALTER TABLE ... ADD COLUMN``); a table that does not exist yet is left to db sync.
    Two services opening the same file at once may race: the loser's "duplicate column" is
    the winner's work and is ignored."""
    added: list[str] = []
    found = inspect(engine)
    existing = set(found.get_table_names())
    for table in metadata.sorted_tables:
        if table.name not in existing:
            continue
        have = {c["name"] for c in found.get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            if not column.nullable or column.primary_key:
                raise RuntimeError(f"{table.name}.{column.name} cannot be added to old data")
            kind = column.type.compile(dialect=engine.dialect)
            try:
                with engine.begin() as conn:
                    conn.execute(
                        text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}')
                    )
            except OperationalError as exc:
                if "duplicate column" not in str(exc):
                    raise
            added.append(f"{table.name}.{column.name}")
    return added


def add_missing_tables(engine: Engine, metadata: MetaData) -> list[str]:
    """Create the tables of ``metadata`` that a database already synced lacks (a state folder
    from before ``aggregates`` or ``quota_classes`` existed), as ``nova-manage api_db
    sync``'s migrations would; a database not synced yet (no table of ``metadata`` at all)
    is left to db sync."""
    existing = set(inspect(engine).get_table_names())
    missing = [t for t in metadata.sorted_tables if t.name not in existing]
    if not missing or not existing & set(metadata.tables):
        return []
    try:
        metadata.create_all(engine, tables=missing)
    except OperationalError as exc:  # another service made them first
        if "already exists" not in str(exc):
            raise
    return [t.name for t in missing]
