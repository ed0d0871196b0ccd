"""Rows to the JSON Neutron answers with, one function per resource.

Each takes a transaction and a batch of rows (lists load their children in one query per
table) and returns dicts with every attribute Zed's ML2 plugin shows for the extensions it
loads in the Install Guide's setup: standard attributes (``description``, ``tags``,
``revision_number``, ``created_at``/``updated_at`` as ``...Z``), ``tenant_id`` beside
``project_id``, ``provider:*``, ``router:external``, ``binding:*`` ... Who may read which
attribute is :mod:`.policy`'s business.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from labkit.sim.neutron import address_scopes, ipam, rbac
from labkit.sim.neutron import models as m
from labkit.sim.neutron import subnetpools as subnetpools_mod
from labkit.sim.neutron.db import Tx


def isotime(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def agent_time(ts: float) -> str:
    """Agents' timestamps are shown without the T and Z: ``2030-01-01 09:00:00``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _standard(row: Any, tags: list[str]) -> dict[str, Any]:
    return {
        "description": row.description,
        "tags": tags,
        "created_at": isotime(row.created_at),
        "updated_at": isotime(row.updated_at),
        "revision_number": row.revision_number,
    }


def networks(tx: Tx, rows: Sequence[m.Network], viewer: str = "") -> list[dict[str, Any]]:
    """_make_network_dict for the caller's project ``viewer``: ``shared`` is true when the
    network is shared with everyone or with that project; the address scopes are those of
    the subnets' pools."""
    ids = [r.id for r in rows]
    subnets: dict[str, list[str]] = {i: [] for i in ids}
    segments: dict[str, m.NetworkSegment] = {}
    zones: dict[str, list[str]] = {i: [] for i in ids}
    scopes: dict[str, dict[int, str | None]] = {i: {4: None, 6: None} for i in ids}
    shared_to_viewer = rbac.shown_shared(tx, "network", ids, viewer)
    if ids:
        pools: dict[str, set[str]] = {i: set() for i in ids}
        for sid, net_id, pool_id in tx.s.execute(
            select(m.Subnet.id, m.Subnet.network_id, m.Subnet.subnetpool_id)
            .where(m.Subnet.network_id.in_(ids))
            .order_by(m.Subnet.standard_attr_id)
        ):
            subnets[net_id].append(sid)
            if pool_id:
                pools[net_id].add(pool_id)
        pool_scopes = address_scopes.of_pools(tx, set().union(*pools.values()))
        for net_id, pool_ids in pools.items():
            for pool_id in sorted(pool_ids):
                version, scope = pool_scopes.get(pool_id, (0, None))
                if version in (4, 6):
                    scopes[net_id][version] = scope
        for segment_row in tx.s.scalars(
            select(m.NetworkSegment).where(m.NetworkSegment.network_id.in_(ids))
        ):
            segments.setdefault(segment_row.network_id, segment_row)
        for net_id, zone in tx.s.execute(
            select(m.NetworkDhcpAgentBinding.network_id, m.Agent.availability_zone)
            .join(m.Agent, m.Agent.id == m.NetworkDhcpAgentBinding.dhcp_agent_id)
            .where(m.NetworkDhcpAgentBinding.network_id.in_(ids))
        ):
            if zone and zone not in zones[net_id]:
                zones[net_id].append(zone)
    tags = tx.tags([r.standard_attr_id for r in rows])
    out = []
    for r in rows:
        seg = segments.get(r.id)
        out.append(
            {
                "id": r.id,
                "name": r.name,
                "tenant_id": r.project_id,
                "admin_state_up": r.admin_state_up,
                "mtu": r.mtu,
                "status": r.status,
                "subnets": subnets[r.id],
                "shared": r.shared or r.id in shared_to_viewer,
                "availability_zone_hints": list(r.availability_zone_hints or []),
                "availability_zones": sorted(zones[r.id]),
                "ipv4_address_scope": scopes[r.id][4],
                "ipv6_address_scope": scopes[r.id][6],
                "router:external": r.external,
                "port_security_enabled": r.port_security_enabled,
                **_standard(r, tags[r.standard_attr_id]),
                "project_id": r.project_id,
                "provider:network_type": seg.network_type if seg else None,
                "provider:physical_network": seg.physical_network if seg else None,
                "provider:segmentation_id": seg.segmentation_id if seg else None,
            }
        )
    return out


def pools_of(tx: Tx, subnet_ids: list[str]) -> dict[str, list[ipam.Range]]:
    out: dict[str, list[ipam.Range]] = {i: [] for i in subnet_ids}
    if subnet_ids:
        for pool in tx.s.scalars(
            select(m.IPAllocationPool)
            .where(m.IPAllocationPool.subnet_id.in_(subnet_ids))
            .order_by(m.IPAllocationPool.id)
        ):
            out[pool.subnet_id].append((ipam.address(pool.first_ip), ipam.address(pool.last_ip)))
    return out


def subnets(tx: Tx, rows: Sequence[m.Subnet]) -> list[dict[str, Any]]:
    pools = pools_of(tx, [r.id for r in rows])
    tags = tx.tags([r.standard_attr_id for r in rows])
    return [
        {
            "id": r.id,
            "name": r.name,
            "tenant_id": r.project_id,
            "network_id": r.network_id,
            "ip_version": r.ip_version,
            "subnetpool_id": r.subnetpool_id,
            "enable_dhcp": r.enable_dhcp,
            "ipv6_ra_mode": r.ipv6_ra_mode,
            "ipv6_address_mode": r.ipv6_address_mode,
            "gateway_ip": r.gateway_ip,
            "cidr": r.cidr,
            "allocation_pools": ipam.pools_json(pools[r.id]),
            "host_routes": list(r.host_routes or []),
            "dns_nameservers": list(r.dns_nameservers or []),
            "service_types": list(r.service_types or []),
            **_standard(r, tags[r.standard_attr_id]),
            "project_id": r.project_id,
        }
        for r in rows
    ]


def subnetpools(
    tx: Tx, rows: Sequence[m.SubnetPool], numbers: bool = False, viewer: str = ""
) -> list[dict[str, Any]]:
    """_make_subnetpool_dict: the prefix lengths as strings -- or as numbers (``numbers``),
    which is how update_subnetpool's own answer shows them; ``shared`` as the project
    ``viewer`` reads it."""
    prefixes = subnetpools_mod.prefixes_of(tx, [r.id for r in rows])
    shared_to_viewer = rbac.shown_shared(tx, "subnetpool", [r.id for r in rows], viewer)
    tags = tx.tags([r.standard_attr_id for r in rows])

    def length(value: int) -> int | str:
        return value if numbers else str(value)

    return [
        {
            "id": r.id,
            "name": r.name,
            "tenant_id": r.project_id,
            "default_prefixlen": length(r.default_prefixlen),
            "min_prefixlen": length(r.min_prefixlen),
            "max_prefixlen": length(r.max_prefixlen),
            "is_default": r.is_default,
            "shared": r.shared or r.id in shared_to_viewer,
            "prefixes": prefixes[r.id],
            "ip_version": r.ip_version,
            "default_quota": r.default_quota,
            "address_scope_id": r.address_scope_id,
            **_standard(r, tags[r.standard_attr_id]),
            "project_id": r.project_id,
        }
        for r in rows
    ]


def fixed_ips_of(tx: Tx, port_ids: list[str]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {i: [] for i in port_ids}
    if port_ids:
        for port_id, subnet_id, ip_address in tx.s.execute(
            select(m.IPAllocation.port_id, m.IPAllocation.subnet_id, m.IPAllocation.ip_address)
            .where(m.IPAllocation.port_id.in_(port_ids))
            .order_by(m.IPAllocation.seq)
        ):
            out[port_id].append({"subnet_id": subnet_id, "ip_address": ip_address})
    return out


@dataclass
class _PortChildren:
    """What a port shows from the tables around it, per port id."""

    ips: dict[str, list[dict[str, str]]]
    groups: dict[str, list[str]]
    tags: dict[str, list[str]]
    bindings: dict[str, dict[str, Any]]


# A port's fixed IPs, security groups, tags and ML2 binding, as rows of one shape
# (kind, port, a, b, n, c, d, e), in the order each list is shown: fixed IPs by their place in
# the port (``seq``), tags by name. Written as SQL, not built with SQLAlchemy: building,
# compiling and caching a statement costs several times what SQLite takes to answer it, and
# this runs at every status poll of every server (``GET /servers/{id}`` shows its groups).
_PORT_CHILDREN = (
    "SELECT 'ip', port_id, subnet_id, ip_address, seq, '', '', '' FROM ipallocations"
    " WHERE port_id IN ({ids})"
    " UNION ALL SELECT 'sg', port_id, security_group_id, '', 0, '', '', ''"
    " FROM securitygroupportbindings WHERE port_id IN ({ids})"
    " UNION ALL SELECT 'tag', ports.id, tags.tag, '', 0, '', '', '' FROM tags"
    " JOIN ports ON ports.standard_attr_id = tags.standard_attr_id WHERE ports.id IN ({ids})"
    " UNION ALL SELECT 'binding', port_id, host, vnic_type, 0, vif_type, vif_details, profile"
    " FROM ml2_port_bindings WHERE port_id IN ({ids})"
    " ORDER BY 1, 5, 3"
)


def _json(text: str | None) -> Any:
    """A JSON column's stored text as SQLAlchemy's JSON type reads it back."""
    return None if text is None else json.loads(text)


def _port_children(tx: Tx, port_ids: list[str]) -> _PortChildren:
    """Everything :func:`ports` shows besides the port's own row, in one query."""
    out = _PortChildren(
        ips={i: [] for i in port_ids},
        groups={i: [] for i in port_ids},
        tags={i: [] for i in port_ids},
        bindings={},
    )
    if not port_ids:
        return out
    tx.s.flush()  # a port just created or changed in this transaction is read back
    marks = ",".join("?" * len(port_ids))
    rows = tx.s.connection().exec_driver_sql(_PORT_CHILDREN.format(ids=marks), tuple(port_ids) * 4)
    for kind, port_id, a, b, _, c, d, e in rows:
        if kind == "ip":
            out.ips[port_id].append({"subnet_id": a, "ip_address": b})
        elif kind == "sg":
            out.groups[port_id].append(a)
        elif kind == "tag":
            out.tags[port_id].append(a)
        else:
            out.bindings[port_id] = {
                "host": a,
                "vnic_type": b,
                "vif_type": c,
                "vif_details": _json(d),
                "profile": _json(e),
            }
    for found in out.groups.values():
        found.sort()
    return out


def ports(tx: Tx, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Ports as Neutron shows them, from Port objects or plain rows of their table: the
    rows, then one query for the rest of all of them (:func:`_port_children`)."""
    children = _port_children(tx, [r.id for r in rows])
    out = []
    for r in rows:
        b = children.bindings.get(r.id)
        out.append(
            {
                "id": r.id,
                "name": r.name,
                "network_id": r.network_id,
                "tenant_id": r.project_id,
                "mac_address": r.mac_address,
                "admin_state_up": r.admin_state_up,
                "status": r.status,
                "device_id": r.device_id,
                "device_owner": r.device_owner,
                "fixed_ips": children.ips[r.id],
                "allowed_address_pairs": list(r.allowed_address_pairs or []),
                "extra_dhcp_opts": list(r.extra_dhcp_opts or []),
                "security_groups": children.groups[r.id],
                **_standard(r, children.tags[r.id]),
                "binding:vnic_type": b["vnic_type"] if b else "normal",
                "binding:profile": dict(b["profile"] or {}) if b else {},
                "binding:host_id": b["host"] if b else "",
                "binding:vif_type": b["vif_type"] if b else "unbound",
                "binding:vif_details": dict(b["vif_details"] or {}) if b else {},
                "port_security_enabled": r.port_security_enabled,
                "numa_affinity_policy": None,
                "device_profile": None,
                "project_id": r.project_id,
            }
        )
    return out


def rules(tx: Tx, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Rules from their model objects or plain rows of their table (same names)."""
    return [
        {
            "id": r.id,
            "tenant_id": r.project_id,
            "security_group_id": r.security_group_id,
            "ethertype": r.ethertype,
            "direction": r.direction,
            "protocol": r.protocol,
            "port_range_min": r.port_range_min,
            "port_range_max": r.port_range_max,
            "remote_ip_prefix": r.remote_ip_prefix,
            "remote_address_group_id": r.remote_address_group_id,
            "normalized_cidr": _normalized(r.remote_ip_prefix),
            "remote_group_id": r.remote_group_id,
            "description": r.description,
            "created_at": isotime(r.created_at),
            "updated_at": isotime(r.updated_at),
            "revision_number": r.revision_number,
            "project_id": r.project_id,
        }
        for r in rows
    ]


def _normalized(prefix: str | None) -> str | None:
    if not prefix:
        return None
    return str(ipam.network(prefix))


def security_groups(tx: Tx, rows: Sequence[Any], viewer: str = "") -> list[dict[str, Any]]:
    """Groups with their rules, from SecurityGroup objects or plain rows of their table;
    ``shared`` as the project ``viewer`` reads it (an RBAC entry for it or for everyone)."""
    ids = [r.id for r in rows]
    shared_to_viewer = rbac.shown_shared(tx, "security_group", ids, viewer)
    by_group: dict[str, list[Any]] = {i: [] for i in ids}
    if ids:
        # plain rows (named like the model's attributes), lighter than rule objects
        table = m.SecurityGroupRule.__table__
        for rule in tx.s.execute(
            select(*table.columns)
            .where(table.c.security_group_id.in_(ids))
            .order_by(table.c.standard_attr_id)
        ):
            by_group[rule.security_group_id].append(rule)
    tags = tx.tags([r.standard_attr_id for r in rows])
    return [
        {
            "id": r.id,
            "name": r.name,
            "tenant_id": r.project_id,
            "description": r.description,
            "security_group_rules": rules(tx, by_group[r.id]),
            "stateful": r.stateful,
            "tags": tags[r.standard_attr_id],
            "created_at": isotime(r.created_at),
            "updated_at": isotime(r.updated_at),
            "revision_number": r.revision_number,
            "project_id": r.project_id,
            "shared": r.id in shared_to_viewer,
        }
        for r in rows
    ]


def agents(rows: Sequence[m.Agent], alive: dict[str, bool]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "agent_type": r.agent_type,
            "binary": r.binary,
            "topic": r.topic,
            "host": r.host,
            "admin_state_up": r.admin_state_up,
            "created_at": agent_time(r.created_at),
            "started_at": agent_time(r.started_at),
            "heartbeat_timestamp": agent_time(r.heartbeat_timestamp),
            "alive": alive[r.id],
            "configurations": dict(r.configurations or {}),
            "description": r.description,
            "resource_versions": dict(r.resource_versions or {}),
            "availability_zone": r.availability_zone,
            "resources_synced": None,
        }
        for r in rows
    ]
