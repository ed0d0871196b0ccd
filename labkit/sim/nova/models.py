"""Nova's tables: the API database (nova_api) and the cell databases (nova_cell0, nova).

As in a real deployment, what the whole cloud shares lives in the API database -- flavors,
keypairs, quotas, server groups, the cell and host mappings, and the build requests of
servers not yet scheduled -- and servers, services and compute nodes live in a cell: cell1
(the ``nova`` database) holds everything that was placed on a host, cell0 (``nova_cell0``)
the servers that never were (No valid host). A server's InstanceMapping says which.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, MetaData, String, Text
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
