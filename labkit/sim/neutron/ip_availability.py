"""Network IP availability (``network-ip-availability``): per network, and per subnet in it,
how many addresses the allocation pools hold (``total_ips``) and how many are allocated to
ports (``used_ips``) -- ``openstack ip availability list/show``.

As Neutron's ``IpAvailabilityMixin`` counts them: ``total_ips`` is the size of the subnet's
allocation pools (the whole CIDR when it has none), ``used_ips`` every IP allocation on the
subnet, the DHCP port's and addresses outside the pools included; a network without subnets
is listed with zeros. Filters (``network_id``, ``network_name``, ``project_id``,
``ip_version``) narrow the subnets counted -- a network left without any is not listed. Only
admins may read it (``get_network_ip_availability``); a member's list is empty.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from labkit.sim.neutron import ipam
from labkit.sim.neutron import models as m
from labkit.sim.neutron.db import Tx


def availabilities(tx: Tx, versions: list[int] | None) -> list[dict[str, Any]]:
    """One entry per network (ordered as the network list), its subnets' counts inside."""
    used = dict(
        tx.s.execute(
            select(m.IPAllocation.subnet_id, func.count()).group_by(m.IPAllocation.subnet_id)
        ).all()
    )
    pools: dict[str, list[ipam.Range]] = {}
    for subnet_id, first, last in tx.s.execute(
        select(
            m.IPAllocationPool.subnet_id, m.IPAllocationPool.first_ip, m.IPAllocationPool.last_ip
        )
    ):
        pools.setdefault(subnet_id, []).append((ipam.address(first), ipam.address(last)))
    subnets: dict[str, list[m.Subnet]] = {}
    for subnet in tx.s.scalars(select(m.Subnet).order_by(m.Subnet.standard_attr_id)):
        if versions is None or subnet.ip_version in versions:
            subnets.setdefault(subnet.network_id, []).append(subnet)
    out = []
    for net in tx.s.scalars(select(m.Network).order_by(m.Network.standard_attr_id)):
        mine = subnets.get(net.id, [])
        if versions is not None and not mine:
            continue
        entries: list[dict[str, Any]] = [
            {
                "subnet_id": s.id,
                "ip_version": s.ip_version,
                "cidr": s.cidr,
                "subnet_name": s.name,
                "used_ips": int(used.get(s.id, 0)),
                "total_ips": (
                    ipam.count(pools[s.id]) if s.id in pools else ipam.network(s.cidr).num_addresses
                ),
            }
            for s in mine
        ]
        out.append(
            {
                "network_id": net.id,
                "network_name": net.name,
                "tenant_id": net.project_id,
                "project_id": net.project_id,
                "subnet_ip_availability": entries,
                "used_ips": sum(e["used_ips"] for e in entries),
                "total_ips": sum(e["total_ips"] for e in entries),
            }
        )
    return out
