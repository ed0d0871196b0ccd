"""Neutron's tables, created by ``neutron-db-manage upgrade heads`` in the database that
neutron.conf names.

Named and shaped like Neutron's own schema so a learner who opens the database recognises
it: ``networks``, ``networksegments``, ``subnets``, ``subnetpools`` (and their
``subnetpoolprefixes``), ``ipallocationpools``, ``ports``,
``ipallocations``, ``ml2_port_bindings``, ``securitygroups``, ``securitygrouprules``,
``agents``, ``networkdhcpagentbindings``, ``quotas``. As in Neutron every resource has a
row in ``standardattributes`` (its id orders lists, its tags hang off it); the sim keeps
the description, revision number and timestamps on the resource's own row. Behaviour lives
in the domain modules (:mod:`.networks`, :mod:`.ports` ...).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = MetaData()
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class StandardAttribute(Base):
    """One row per resource: its ``id`` is the order lists come in."""

    __tablename__ = "standardattributes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_type: Mapped[str] = mapped_column(String(255))


class Standard:
    """Columns every Neutron resource with standard attributes has."""

    standard_attr_id: Mapped[int] = mapped_column(Integer, index=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    revision_number: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class Tag(Base):
    __tablename__ = "tags"
    standard_attr_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag: Mapped[str] = mapped_column(String(255), primary_key=True)


class Network(Standard, Base):
    __tablename__ = "networks"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    mtu: Mapped[int] = mapped_column(Integer, default=1500)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)  # Neutron: networkrbacs
    external: Mapped[bool] = mapped_column(Boolean, default=False)  # externalnetworks
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    availability_zone_hints: Mapped[list[Any]] = mapped_column(default=list)


class NetworkSegment(Base):
    __tablename__ = "networksegments"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), index=True)
    network_type: Mapped[str] = mapped_column(String(32))
    physical_network: Mapped[str | None] = mapped_column(String(64), nullable=True)
    segmentation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Subnet(Standard, Base):
    __tablename__ = "subnets"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), index=True)
    ip_version: Mapped[int] = mapped_column(Integer)
    cidr: Mapped[str] = mapped_column(String(64))
    gateway_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    enable_dhcp: Mapped[bool] = mapped_column(Boolean, default=True)
    ipv6_ra_mode: Mapped[str | None] = mapped_column(String(16), nullable=True)
    ipv6_address_mode: Mapped[str | None] = mapped_column(String(16), nullable=True)
    subnetpool_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    dns_nameservers: Mapped[list[Any]] = mapped_column(default=list)  # dnsnameservers
    host_routes: Mapped[list[Any]] = mapped_column(default=list)  # subnetroutes
    service_types: Mapped[list[Any]] = mapped_column(default=list)


class SubnetPool(Standard, Base):
    """A pool of prefixes subnets are cut from (Neutron's core ``subnetpools``)."""

    __tablename__ = "subnetpools"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    ip_version: Mapped[int] = mapped_column(Integer)
    default_prefixlen: Mapped[int] = mapped_column(Integer)
    min_prefixlen: Mapped[int] = mapped_column(Integer)
    max_prefixlen: Mapped[int] = mapped_column(Integer)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)  # Neutron: subnetpoolrbacs
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    default_quota: Mapped[int | None] = mapped_column(Integer, nullable=True)
    address_scope_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class SubnetPoolPrefix(Base):
    __tablename__ = "subnetpoolprefixes"
    cidr: Mapped[str] = mapped_column(String(64), primary_key=True)
    subnetpool_id: Mapped[str] = mapped_column(ForeignKey("subnetpools.id"), primary_key=True)


class IPAllocationPool(Base):
    __tablename__ = "ipallocationpools"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subnet_id: Mapped[str] = mapped_column(ForeignKey("subnets.id"), index=True)
    first_ip: Mapped[str] = mapped_column(String(64))
    last_ip: Mapped[str] = mapped_column(String(64))


class Port(Standard, Base):
    __tablename__ = "ports"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), index=True)
    mac_address: Mapped[str] = mapped_column(String(32))
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    device_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    device_owner: Mapped[str] = mapped_column(String(255), default="")
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    allowed_address_pairs: Mapped[list[Any]] = mapped_column(default=list)
    extra_dhcp_opts: Mapped[list[Any]] = mapped_column(default=list)


class IPAllocation(Base):
    __tablename__ = "ipallocations"
    ip_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    subnet_id: Mapped[str] = mapped_column(ForeignKey("subnets.id"), primary_key=True)
    port_id: Mapped[str] = mapped_column(ForeignKey("ports.id"), index=True)
    network_id: Mapped[str] = mapped_column(String(36), index=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)  # order within the port


class PortBinding(Base):
    __tablename__ = "ml2_port_bindings"
    port_id: Mapped[str] = mapped_column(ForeignKey("ports.id"), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), default="")
    vnic_type: Mapped[str] = mapped_column(String(64), default="normal")
    vif_type: Mapped[str] = mapped_column(String(64), default="unbound")
    vif_details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    profile: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SecurityGroup(Standard, Base):
    __tablename__ = "securitygroups"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    stateful: Mapped[bool] = mapped_column(Boolean, default=True)


class DefaultSecurityGroup(Base):
    __tablename__ = "default_security_group"
    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(ForeignKey("securitygroups.id"))


class SecurityGroupRule(Standard, Base):
    __tablename__ = "securitygrouprules"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    security_group_id: Mapped[str] = mapped_column(ForeignKey("securitygroups.id"), index=True)
    remote_group_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    remote_address_group_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    direction: Mapped[str] = mapped_column(String(16))
    ethertype: Mapped[str] = mapped_column(String(40))
    protocol: Mapped[str | None] = mapped_column(String(40), nullable=True)
    port_range_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port_range_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(255), nullable=True)


class SecurityGroupPortBinding(Base):
    __tablename__ = "securitygroupportbindings"
    port_id: Mapped[str] = mapped_column(ForeignKey("ports.id"), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("securitygroups.id"), primary_key=True
    )


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agent_type: Mapped[str] = mapped_column(String(255))
    binary: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(255))
    host: Mapped[str] = mapped_column(String(255))
    availability_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float] = mapped_column(Float)
    heartbeat_timestamp: Mapped[float] = mapped_column(Float)
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    configurations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    resource_versions: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    load: Mapped[int] = mapped_column(Integer, default=0)


class NetworkDhcpAgentBinding(Base):
    __tablename__ = "networkdhcpagentbindings"
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), primary_key=True)
    dhcp_agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), primary_key=True)


class Quota(Base):
    __tablename__ = "quotas"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    resource: Mapped[str] = mapped_column(String(255))
    limit: Mapped[int] = mapped_column(Integer)


class AlembicVersion(Base):
    """What ``neutron-db-manage current`` reads."""

    __tablename__ = "alembic_version"
    version_num: Mapped[str] = mapped_column(String(32), primary_key=True)
    note: Mapped[str] = mapped_column(Text, default="")


# ---- RBAC: who else may use an object (rbac-policies) ---------------------------------------


class RbacColumns:
    """What Neutron's RBACColumns gives each object type's table: the entry's owner, the
    project it opens the object to (``*`` for every project) and the kind of access."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    target_project: Mapped[str] = mapped_column(String(255), index=True)
    action: Mapped[str] = mapped_column(String(255), index=True)
    object_id: Mapped[str] = mapped_column(String(36), index=True)


class NetworkRBAC(RbacColumns, Base):
    __tablename__ = "networkrbacs"


class SubnetPoolRBAC(RbacColumns, Base):
    __tablename__ = "subnetpoolrbacs"


class SecurityGroupRBAC(RbacColumns, Base):
    __tablename__ = "securitygrouprbacs"


class AddressScopeRBAC(RbacColumns, Base):
    __tablename__ = "addressscoperbacs"


class AddressGroupRBAC(RbacColumns, Base):
    __tablename__ = "addressgrouprbacs"


class AddressScope(Base):
    """An address scope: subnet pools in one scope never overlap (no standard attributes:
    no description, revision or timestamps, as in Neutron)."""

    __tablename__ = "address_scopes"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    ip_version: Mapped[int] = mapped_column(Integer)
    order: Mapped[int] = mapped_column(Integer, default=0)  # creation order, for lists


class AddressGroup(Standard, Base):
    __tablename__ = "address_groups"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")


class AddressAssociation(Base):
    __tablename__ = "address_associations"
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    address_group_id: Mapped[str] = mapped_column(ForeignKey("address_groups.id"), primary_key=True)


# ---- service flavors (the flavors service plugin, loaded by default) -------------------------


class Flavor(Base):
    """A flavor of an advanced service (L3_ROUTER_NAT ...): no standard attributes."""

    __tablename__ = "flavors"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    service_type: Mapped[str] = mapped_column(String(36))
    order: Mapped[int] = mapped_column(Integer, default=0)  # creation order, for lists


class ServiceProfile(Base):
    __tablename__ = "serviceprofiles"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    description: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    driver: Mapped[str] = mapped_column(String(1024), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    metainfo: Mapped[str] = mapped_column(String(4096), default="")
    order: Mapped[int] = mapped_column(Integer, default=0)


class FlavorServiceProfileBinding(Base):
    __tablename__ = "flavorserviceprofilebindings"
    flavor_id: Mapped[str] = mapped_column(ForeignKey("flavors.id"), primary_key=True)
    service_profile_id: Mapped[str] = mapped_column(
        ForeignKey("serviceprofiles.id"), primary_key=True
    )
