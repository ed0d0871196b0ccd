"""Subnets: a CIDR on a network, its gateway and the pools ports take addresses from.

Created the way ``_create_subnet_precommit`` and ``_validate_subnet`` check them: a CIDR, or
a subnet pool to cut one from (:mod:`.subnetpools`; ``use_default_subnetpool`` picks the
IP version's default pool), the CIDR of the subnet's IP version and not
overlapping another subnet of the network, DHCP only on prefixes of /30 or larger, a gateway
that is not the network or broadcast address, pools inside the CIDR that do not hold the
gateway. Without pools Neutron makes them: the whole range minus the gateway.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import select

from labkit.sim.neutron import cleanup, ipam, networks, policy, quotas, rbac, subnetpools
from labkit.sim.neutron import models as m
from labkit.sim.neutron.attributes import NOT_SPECIFIED
from labkit.sim.neutron.db import Tx
from labkit.sim.neutron.errors import (
    NeutronError,
    bad_request,
    http_forbidden,
    invalid_input,
    policy_not_authorized,
    subnet_in_use,
    subnet_not_found,
)
from labkit.sim.neutron.policy import Context

MAX_DNS_NAMESERVERS = 5
MAX_SUBNET_HOST_ROUTES = 20
DHCP_OWNER = "network:dhcp"


def find(tx: Tx, subnet_id: str) -> m.Subnet | None:
    return tx.s.get(m.Subnet, subnet_id)


def visible(tx: Tx, ctx: Context, row: m.Subnet) -> bool:
    """The owner's, an admin's, or on a network shared with the caller (or everyone)."""
    if ctx.is_admin or row.project_id == ctx.project_id:
        return True
    return rbac.shared_with(tx, "network", row.network_id, ctx.project_id)


def get(tx: Tx, ctx: Context, subnet_id: str) -> m.Subnet:
    row = find(tx, subnet_id)
    if row is None or not visible(tx, ctx, row):
        raise subnet_not_found(subnet_id)
    return row


def candidates(tx: Tx, ctx: Context) -> list[m.Subnet]:
    rows = list(tx.s.scalars(select(m.Subnet).order_by(m.Subnet.standard_attr_id)))
    if ctx.is_admin:
        return rows
    shared = rbac.reachable(tx, "network", ctx.project_id, rbac.SHARED)
    return [r for r in rows if r.project_id == ctx.project_id or r.network_id in shared]


def of_network(tx: Tx, network_id: str) -> list[m.Subnet]:
    return list(
        tx.s.scalars(
            select(m.Subnet)
            .where(m.Subnet.network_id == network_id)
            .order_by(m.Subnet.standard_attr_id)
        )
    )


def pools(tx: Tx, subnet_id: str) -> list[ipam.Range]:
    rows = tx.s.scalars(
        select(m.IPAllocationPool)
        .where(m.IPAllocationPool.subnet_id == subnet_id)
        .order_by(m.IPAllocationPool.id)
    )
    return [(ipam.address(r.first_ip), ipam.address(r.last_ip)) for r in rows]


def _set_pools(tx: Tx, subnet_id: str, ranges: list[ipam.Range]) -> None:
    tx.s.execute(sql_delete(m.IPAllocationPool).where(m.IPAllocationPool.subnet_id == subnet_id))
    for start, end in ranges:
        tx.s.add(m.IPAllocationPool(subnet_id=subnet_id, first_ip=str(start), last_ip=str(end)))


def _check(body: dict[str, Any], cidr: str, ip_version: int, dhcp_newly_enabled: bool) -> None:
    """_validate_subnet's checks, in its order."""
    problem = ipam.version_mismatch(ip_version, cidr, "cidr")
    if problem:
        raise problem
    net = ipam.network(cidr)
    if dhcp_newly_enabled:
        if (ip_version == 4 and net.prefixlen > 30) or (ip_version == 6 and net.prefixlen > 126):
            raise invalid_input(
                "Subnet has a prefix length that is incompatible with DHCP service enabled"
            )
        if net.is_multicast:
            raise invalid_input("Multicast IP subnet is not supported if enable_dhcp is True")
        if net.is_loopback:
            raise invalid_input("Loopback IP subnet is not supported if enable_dhcp is True")
        if ip_version == 4 and int(net.network_address) == 0:
            raise invalid_input(
                "First IP '0.0.0.0' of network is not supported if enable_dhcp is True."
            )
    gateway = body.get("gateway_ip", NOT_SPECIFIED)
    if gateway not in (NOT_SPECIFIED, None):
        problem = ipam.version_mismatch(ip_version, gateway, "gateway_ip")
        if problem:
            raise problem
        if ipam.gateway_invalid(cidr, gateway):
            raise invalid_input("Gateway is not valid on subnet")
    servers = body.get("dns_nameservers", NOT_SPECIFIED)
    if servers is not NOT_SPECIFIED and len(servers) > MAX_DNS_NAMESERVERS:
        raise NeutronError(
            400,
            "DNSNameServersExhausted",
            f"Unable to complete operation for {body.get('id', 'new subnet')}. The number of "
            f"DNS nameservers exceeds the limit {MAX_DNS_NAMESERVERS}.",
        )
    routes = body.get("host_routes", NOT_SPECIFIED)
    if routes is not NOT_SPECIFIED and len(routes) > MAX_SUBNET_HOST_ROUTES:
        raise NeutronError(
            400,
            "HostRoutesExhausted",
            f"Unable to complete operation for {body.get('id', 'new subnet')}. The number of "
            f"host routes exceeds the limit {MAX_SUBNET_HOST_ROUTES}.",
        )


def create(tx: Tx, ctx: Context, body: dict[str, Any]) -> m.Subnet:
    network = networks.get(tx, ctx, body["network_id"])
    project = body["project_id"]
    shared = networks.shared_for(tx, ctx, network)
    if not (ctx.is_admin or ctx.is_advsvc) and not shared and network.project_id != project:
        raise http_forbidden(f"Tenant {project} not allowed to create subnet on this network")
    quotas.check(tx, project, {"subnet": 1})
    policy.enforce_create(ctx, "subnet", body, {}, network_owner=network.project_id)
    cidr = body.get("cidr", NOT_SPECIFIED)
    has_cidr = cidr not in (NOT_SPECIFIED, None)
    prefixlen = body.get("prefixlen", NOT_SPECIFIED)
    if has_cidr and prefixlen is not NOT_SPECIFIED:
        raise bad_request("subnets", "cidr and prefixlen must not be supplied together")
    ip_version = body["ip_version"]
    pool_id = _subnetpool_id(tx, body, cidr if has_cidr else None, ip_version)
    if pool_id is None and not has_cidr:
        raise bad_request("subnets", "a subnetpool must be specified in the absence of a cidr")
    if (
        pool_id is not None
        and not has_cidr
        and body.get("allocation_pools")
        not in (
            NOT_SPECIFIED,
            None,
        )
    ):
        raise bad_request("subnets", "allocation_pools allowed only for specific subnet requests.")
    if has_cidr:
        _check(body, cidr, ip_version, bool(body.get("enable_dhcp", True)))
    if pool_id is not None:
        pool = subnetpools.get(tx, ctx, pool_id)
        if pool.ip_version != ip_version:
            raise bad_request(
                "subnets",
                f"Cannot allocate IPv{ip_version} subnet from IPv{pool.ip_version} subnet pool",
            )
        cidr = subnetpools.allocate(
            tx, pool, project, str(ipam.network(cidr)) if has_cidr else None, prefixlen
        )
    net = ipam.network(cidr)
    if net.prefixlen == 0:
        raise invalid_input("0 is not allowed as CIDR prefix length")
    for other in of_network(tx, network.id):
        if ipam.overlaps(other.cidr, cidr):
            raise invalid_input(
                f"Requested subnet with cidr: {cidr} for network: {network.id} overlaps with "
                "another subnet"
            )
    gateway = body.get("gateway_ip", NOT_SPECIFIED)
    if gateway is NOT_SPECIFIED:
        gateway = ipam.default_gateway(cidr)
    given = body.get("allocation_pools", NOT_SPECIFIED)
    if given in (NOT_SPECIFIED, None):
        ranges = ipam.default_pools(cidr, gateway)
    else:
        ranges = ipam.parse_pools(given)
        ipam.check_pools(ranges, cidr, gateway)
    row = m.Subnet(
        id=tx.new_id(),
        project_id=project,
        name=body.get("name", ""),
        network_id=network.id,
        ip_version=ip_version,
        cidr=str(net),
        gateway_ip=gateway,
        enable_dhcp=body.get("enable_dhcp", True),
        ipv6_ra_mode=_set_or_none(body, "ipv6_ra_mode"),
        ipv6_address_mode=_set_or_none(body, "ipv6_address_mode"),
        subnetpool_id=pool_id,
        dns_nameservers=list(_set_or_none(body, "dns_nameservers") or []),
        host_routes=list(_set_or_none(body, "host_routes") or []),
        service_types=list(_set_or_none(body, "service_types") or []),
        description=body.get("description", ""),
        **tx.standard("subnets"),
    )
    tx.s.add(row)
    tx.s.flush()
    _set_pools(tx, row.id, ranges)
    tx.bump(network)
    return row


def _subnetpool_id(tx: Tx, body: dict[str, Any], cidr: str | None, ip_version: int) -> str | None:
    """_get_subnetpool_id: the pool named, or the default pool of the IP version when
    ``use_default_subnetpool`` is set."""
    pool_id = body.get("subnetpool_id", NOT_SPECIFIED)
    pool_id = None if pool_id is NOT_SPECIFIED else pool_id
    use_default = bool(body.get("use_default_subnetpool"))
    if use_default and pool_id:
        raise bad_request(
            "subnets", "subnetpool_id and use_default_subnetpool cannot both be specified"
        )
    if pool_id or not use_default:
        return pool_id or None
    version = ipam.network(cidr).version if cidr is not None else ip_version
    default = subnetpools.default_for(tx, version)
    if default is None:
        raise bad_request("subnets", f"No default subnetpool found for IPv{version}")
    return default.id


def _set_or_none(body: dict[str, Any], key: str) -> Any:
    value = body.get(key, NOT_SPECIFIED)
    return None if value is NOT_SPECIFIED else value


def update(tx: Tx, ctx: Context, row: m.Subnet, changes: dict[str, Any]) -> m.Subnet:
    network = tx.s.get(m.Network, row.network_id)
    owner = network.project_id if network else ""
    policy.enforce_update(ctx, "subnet", {"project_id": row.project_id}, changes, owner)
    check_body = dict(changes)
    _check(
        check_body,
        row.cidr,
        row.ip_version,
        bool(changes.get("enable_dhcp")) and not row.enable_dhcp,
    )
    gateway = changes.get("gateway_ip", row.gateway_ip)
    if "allocation_pools" in changes or "gateway_ip" in changes:
        given = changes.get("allocation_pools")
        ranges = ipam.parse_pools(given) if given else pools(tx, row.id)
        ipam.check_pools(ranges, row.cidr, gateway)
        if given:
            _set_pools(tx, row.id, ranges)
        row.gateway_ip = gateway
    for key in ("name", "description", "enable_dhcp", "dns_nameservers", "host_routes"):
        if key in changes:
            setattr(row, key, changes[key])
    tx.bump(row)
    return row


def delete(tx: Tx, ctx: Context, row: m.Subnet) -> None:
    network = tx.s.get(m.Network, row.network_id)
    owner = network.project_id if network else ""
    if not (ctx.is_admin or owner == ctx.project_id):
        raise policy_not_authorized("rule:delete_subnet")
    holders = tx.s.execute(
        select(m.Port.id, m.Port.device_owner)
        .join(m.IPAllocation, m.IPAllocation.port_id == m.Port.id)
        .where(m.IPAllocation.subnet_id == row.id)
    ).all()
    if any(owner_ != DHCP_OWNER for _, owner_ in holders):
        raise subnet_in_use(row.id)
    cleanup.remove_subnet(tx, row)
    if network is not None:
        tx.bump(network)
