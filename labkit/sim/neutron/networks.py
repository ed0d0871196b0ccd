"""Networks and their segments: what ML2's type drivers decide, in the sim.

A network is one segment of a type the ``[ml2] type_drivers`` allow:

- **flat** -- a provider network straight on a physical network (``provider`` in the
  Install Guide), only for admins, only on a physnet listed in ``[ml2_type_flat]
  flat_networks``, and only one flat network per physnet;
- **vlan** / **vxlan** -- a provider network with a segmentation id, or a project network
  whose id ML2 takes from ``network_vlan_ranges`` / ``vni_ranges``.

A network created without provider attributes is a *project* network: ML2 tries the
``tenant_network_types`` in order, and with the provider-networks option of the Install
Guide (``tenant_network_types =`` empty) there is none -- ``openstack network create`` by a
member fails with 503 "No tenant network is available for allocation", as on a real cloud.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from labkit.sim.neutron import cleanup, policy, quotas, rbac, secgroups
from labkit.sim.neutron import models as m
from labkit.sim.neutron.attributes import NOT_SPECIFIED
from labkit.sim.neutron.db import Tx
from labkit.sim.neutron.errors import (
    NeutronError,
    flat_network_in_use,
    invalid_input,
    network_in_use,
    network_not_found,
)
from labkit.sim.neutron.policy import Context

PROVIDER = ("provider:network_type", "provider:physical_network", "provider:segmentation_id")
NETWORK_DEFAULTS = {"shared": False, "admin_state_up": True, "port_security_enabled": True}
VXLAN_OVERHEAD = 50  # VXLAN + UDP + IPv4 headers: ML2 lowers the MTU by this
AUTO_DELETE_OWNERS = ("network:dhcp", "network:router_ha_interface")


def find(tx: Tx, net_id: str) -> m.Network | None:
    return tx.s.get(m.Network, net_id)


def segment_of(tx: Tx, net_id: str) -> m.NetworkSegment | None:
    return tx.s.scalars(
        select(m.NetworkSegment).where(m.NetworkSegment.network_id == net_id)
    ).first()


def visible(tx: Tx, ctx: Context, row: m.Network) -> bool:
    """An admin, the owner, or a project an RBAC entry (shared or external) opens it to."""
    return rbac.can_reach(tx, ctx, "network", row)


def get(tx: Tx, ctx: Context, net_id: str) -> m.Network:
    """The network, or NetworkNotFound when it does not exist or the caller cannot see it."""
    row = find(tx, net_id)
    if row is None or not visible(tx, ctx, row):
        raise network_not_found(net_id)
    return row


def candidates(tx: Tx, ctx: Context) -> list[m.Network]:
    rows = list(tx.s.scalars(select(m.Network).order_by(m.Network.standard_attr_id)))
    return rbac.visible_rows(tx, ctx, "network", rows)


def shared_for(tx: Tx, ctx: Context, row: m.Network) -> bool:
    """``shared`` as the caller reads it: open to everyone, or to the caller's project."""
    return row.shared or rbac.shared_with(tx, "network", row.id, ctx.project_id)


# ---- segments ----------------------------------------------------------------------------------


def _ranges(entries: tuple[str, ...], physnet: str | None) -> list[tuple[int, int]]:
    """``physnet:1000:2000`` (VLAN) or ``1:1000`` (VNI) ranges."""
    out = []
    for entry in entries:
        parts = entry.split(":")
        if physnet is not None:
            if len(parts) == 3 and parts[0] == physnet:
                out.append((int(parts[1]), int(parts[2])))
        elif len(parts) == 2:
            out.append((int(parts[0]), int(parts[1])))
    return out


def _taken(tx: Tx, network_type: str, physnet: str | None) -> set[int]:
    query = select(m.NetworkSegment.segmentation_id).where(
        m.NetworkSegment.network_type == network_type
    )
    if physnet is not None:
        query = query.where(m.NetworkSegment.physical_network == physnet)
    return {s for s in tx.s.scalars(query) if s is not None}


def _vlan_physnets(conf_ranges: tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys(entry.split(":")[0] for entry in conf_ranges if entry))


def provider_segment(tx: Tx, body: dict[str, Any]) -> tuple[str, str | None, int | None]:
    """Validate provider attributes the way ML2's type drivers do."""
    conf = tx.conf
    network_type = body.get("provider:network_type", NOT_SPECIFIED)
    physnet = body.get("provider:physical_network", NOT_SPECIFIED)
    seg_id = body.get("provider:segmentation_id", NOT_SPECIFIED)
    if network_type is NOT_SPECIFIED or network_type in ("", None):
        raise invalid_input("network_type required")
    if network_type not in conf.type_drivers or network_type not in ("flat", "vlan", "vxlan"):
        raise invalid_input(f"network_type value '{network_type}' not supported")
    physnet = None if physnet in (NOT_SPECIFIED, "", None) else physnet
    seg_id = None if seg_id in (NOT_SPECIFIED, None) else seg_id
    if network_type == "flat":
        if physnet is None:
            raise invalid_input("physical_network required for flat provider network")
        if not conf.flat_networks:
            raise invalid_input("Flat provider networks are disabled")
        if "*" not in conf.flat_networks and physnet not in conf.flat_networks:
            raise invalid_input(f"physical_network '{physnet}' unknown for flat provider network")
        if seg_id is not None:
            raise invalid_input("segmentation_id prohibited for flat provider network")
        if _flat_taken(tx, physnet):
            raise flat_network_in_use(physnet)
        return "flat", physnet, None
    if network_type == "vlan":
        if physnet is None:
            if seg_id is not None:
                raise invalid_input(
                    "segmentation_id requires physical_network for VLAN provider network"
                )
            return _allocate(tx, "vlan")
        if physnet not in _vlan_physnets(conf.network_vlan_ranges):
            raise invalid_input(f"physical_network '{physnet}' unknown for VLAN provider network")
        if seg_id is None:
            return _allocate(tx, "vlan", physnet)
        if not 1 <= seg_id <= 4094:
            raise invalid_input("segmentation_id out of range (1 through 4094)")
        if seg_id in _taken(tx, "vlan", physnet):
            raise NeutronError(
                409,
                "VlanIdInUse",
                f"Unable to create the network. The VLAN {seg_id} on physical network "
                f"{physnet} is in use.",
            )
        return "vlan", physnet, seg_id
    if physnet is not None:
        raise invalid_input("provider:physical_network specified for vxlan network")
    if seg_id is None:
        return _allocate(tx, "vxlan")
    if not 1 <= seg_id <= 2**24 - 1:
        raise invalid_input(f"segmentation_id out of range (1 through {2**24 - 1})")
    if seg_id in _taken(tx, "vxlan", None):
        raise NeutronError(
            409,
            "TunnelIdInUse",
            f"Unable to create the network. The tunnel ID {seg_id} is in use.",
        )
    return "vxlan", None, seg_id


def _flat_taken(tx: Tx, physnet: str) -> bool:
    return (
        tx.s.scalars(
            select(m.NetworkSegment).where(
                m.NetworkSegment.network_type == "flat",
                m.NetworkSegment.physical_network == physnet,
            )
        ).first()
        is not None
    )


def _allocate(
    tx: Tx, network_type: str, physnet: str | None = None
) -> tuple[str, str | None, int | None]:
    conf = tx.conf
    if network_type == "vlan":
        physnets = [physnet] if physnet else _vlan_physnets(conf.network_vlan_ranges)
        for net in physnets:
            taken = _taken(tx, "vlan", net)
            for low, high in _ranges(conf.network_vlan_ranges, net):
                for vid in range(low, high + 1):
                    if vid not in taken:
                        return "vlan", net, vid
        raise _no_network()
    if network_type == "vxlan":
        taken = _taken(tx, "vxlan", None)
        for low, high in _ranges(conf.vni_ranges, None):
            for vni in range(low, high + 1):
                if vni not in taken:
                    return "vxlan", None, vni
        raise _no_network()
    if network_type == "local":
        return "local", None, None
    raise _no_network()


def _no_network() -> NeutronError:
    return NeutronError(
        503,
        "NoNetworkAvailable",
        "Unable to create the network. No tenant network is available for allocation.",
    )


def project_segment(tx: Tx) -> tuple[str, str | None, int | None]:
    """_allocate_tenant_net_segment: the first tenant_network_types entry with room."""
    for network_type in tx.conf.tenant_network_types:
        if network_type not in tx.conf.type_drivers:
            continue
        try:
            return _allocate(tx, network_type)
        except NeutronError:
            continue
    raise _no_network()


def mtu_for(tx: Tx, network_type: str) -> int:
    base = tx.conf.global_physnet_mtu
    return base - VXLAN_OVERHEAD if network_type == "vxlan" else base


# ---- create, update, delete --------------------------------------------------------------------


def create(tx: Tx, ctx: Context, body: dict[str, Any]) -> m.Network:
    project = body["project_id"]
    quotas.check(tx, project, {"network": 1})
    policy.enforce_create(ctx, "network", body, NETWORK_DEFAULTS)
    segments = body.get("segments", NOT_SPECIFIED)
    if segments is not NOT_SPECIFIED:
        if any(body.get(k, NOT_SPECIFIED) is not NOT_SPECIFIED for k in PROVIDER):
            raise invalid_input("Segments and provider values cannot both be set.")
        if len(segments) != 1:
            raise invalid_input("the sim supports networks of exactly one segment")
        body = {**body, **segments[0]}
    if any(body.get(k, NOT_SPECIFIED) is not NOT_SPECIFIED for k in PROVIDER):
        network_type, physnet, seg_id = provider_segment(tx, body)
    else:
        network_type, physnet, seg_id = project_segment(tx)
    max_mtu = mtu_for(tx, network_type)
    mtu = body.get("mtu", NOT_SPECIFIED)
    if mtu is NOT_SPECIFIED or mtu is None:
        mtu = max_mtu
    elif mtu > max_mtu:
        raise invalid_input(f"Requested MTU is too big, maximum is {max_mtu}")
    secgroups.ensure_default(tx, ctx, project)
    external = body.get("router:external", NOT_SPECIFIED)
    row = m.Network(
        id=tx.new_id(),
        project_id=project,
        name=body.get("name", ""),
        status="ACTIVE",
        admin_state_up=body.get("admin_state_up", True),
        mtu=mtu,
        shared=body.get("shared", False),
        external=bool(external) if external is not NOT_SPECIFIED else False,
        port_security_enabled=body.get("port_security_enabled", True),
        availability_zone_hints=list(body.get("availability_zone_hints") or []),
        description=body.get("description", ""),
        **tx.standard("networks"),
    )
    tx.s.add(row)
    tx.s.flush()
    tx.s.add(
        m.NetworkSegment(
            id=tx.new_id(),
            network_id=row.id,
            network_type=network_type,
            physical_network=physnet,
            segmentation_id=seg_id,
        )
    )
    if row.shared:  # the '*' entries Neutron makes for shared and external networks
        rbac.open_to_all(tx, "network", row.id, project)
    if row.external:
        rbac.open_to_all(tx, "network", row.id, project, rbac.EXTERNAL)
    return row


def update(tx: Tx, ctx: Context, row: m.Network, changes: dict[str, Any]) -> m.Network:
    target = {"project_id": row.project_id, "shared": row.shared}
    policy.enforce_update(ctx, "network", target, changes)
    if any(k in changes for k in PROVIDER):
        segment = segment_of(tx, row.id)
        if segment is None or segment.network_type != "vlan":
            raise invalid_input("Only VLAN type networks can be updated.")
        raise invalid_input(
            "Only provider:segmentation_id field can be updated in VLAN type networks"
        )
    if changes.get("shared") is False and row.shared:
        _check_unshare(tx, row)
    if "mtu" in changes and changes["mtu"] is not None:
        segment = segment_of(tx, row.id)
        max_mtu = mtu_for(tx, segment.network_type if segment else "flat")
        if changes["mtu"] > max_mtu:
            raise invalid_input(f"Requested MTU is too big, maximum is {max_mtu}")
        row.mtu = changes["mtu"]
    for key, column in (
        ("name", "name"),
        ("admin_state_up", "admin_state_up"),
        ("port_security_enabled", "port_security_enabled"),
        ("description", "description"),
    ):
        if key in changes:
            setattr(row, column, changes[key])
    if "shared" in changes and changes["shared"] != row.shared:
        if changes["shared"]:
            rbac.open_to_all(tx, "network", row.id, row.project_id)
        else:
            rbac.close_to_all(tx, "network", row.id, rbac.SHARED, every=False)
    if "router:external" in changes and bool(changes["router:external"]) != row.external:
        if changes["router:external"]:
            rbac.open_to_all(tx, "network", row.id, row.project_id, rbac.EXTERNAL)
        else:
            rbac.close_to_all(tx, "network", row.id, rbac.EXTERNAL, every=True)
            row.external = False
    tx.bump(row)
    return row


def _check_unshare(tx: Tx, row: m.Network) -> None:
    """_validate_shared_update: the projects with ports (other than the network's own) or
    subnets on it must keep access through entries of their own."""
    users = set(
        tx.s.scalars(
            select(m.Port.project_id).where(
                m.Port.network_id == row.id, ~m.Port.device_owner.startswith("network:")
            )
        )
    )
    users |= set(tx.s.scalars(select(m.Subnet.project_id).where(m.Subnet.network_id == row.id)))
    if len(users) > 1 or (len(users) == 1 and row.project_id not in users):
        rbac.network_users_allowed(tx, row, users)


def delete(tx: Tx, ctx: Context, row: m.Network) -> list[str]:
    """Delete a network and what belongs to it; returns the ids of the DHCP ports removed.
    Ports other than the network's own (DHCP) keep it in use."""
    policy.enforce_delete(ctx, "network", row.project_id)
    ports = list(tx.s.scalars(select(m.Port).where(m.Port.network_id == row.id)))
    if any(p.device_owner not in AUTO_DELETE_OWNERS for p in ports):
        raise network_in_use(row.id)
    removed = []
    for port in ports:
        cleanup.remove_port(tx, port)
        removed.append(port.id)
    for subnet in list(tx.s.scalars(select(m.Subnet).where(m.Subnet.network_id == row.id))):
        cleanup.remove_subnet(tx, subnet)
    for segment in list(
        tx.s.scalars(select(m.NetworkSegment).where(m.NetworkSegment.network_id == row.id))
    ):
        tx.s.delete(segment)
    for binding in list(
        tx.s.scalars(
            select(m.NetworkDhcpAgentBinding).where(m.NetworkDhcpAgentBinding.network_id == row.id)
        )
    ):
        tx.s.delete(binding)
    tx.s.flush()
    rbac.forget(tx, "network", row.id)
    tx.delete_resource(row)
    return removed
