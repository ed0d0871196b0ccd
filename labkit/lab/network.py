"""The network facade: the provider network as the seed draws it, and security groups.

Everything here comes through Neutron's and Nova's APIs -- agents, ports, security groups
and rules, servers -- so it reads the same on the sim, on real lab hosts and on an existing
cloud. The sim adds nothing of its own.

Introduced in notebooks/05-access.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from labkit.display import Table
from labkit.lab.identity import Identity

if TYPE_CHECKING:
    from openstack.connection import Connection


def rule_summary(rule: Any) -> str:
    """One rule in a few words: ``tcp/22 from 0.0.0.0/0``, ``icmp from any``,
    ``any from group default`` (ingress), ``egress any`` ..."""
    protocol = rule.protocol or "any"
    ports = ""
    if rule.port_range_min is not None and protocol in ("tcp", "udp", "6", "17"):
        top = rule.port_range_max
        ports = f"/{rule.port_range_min}" + (
            f"-{top}" if top not in (None, rule.port_range_min) else ""
        )
    elif rule.port_range_min is not None:
        ports = f" type {rule.port_range_min}"
    peer = "any"
    if rule.remote_ip_prefix:
        peer = rule.remote_ip_prefix
    elif rule.remote_group_id:
        peer = "its own group" if rule.remote_group_id == rule.security_group_id else "a group"
    word = "from" if rule.direction == "ingress" else "to"
    return f"{protocol}{ports} {word} {peer}"


def _ingress(rules: Iterable[Any], ethertype: str = "IPv4") -> list[str]:
    return [
        rule_summary(r) for r in rules if r.direction == "ingress" and r.ether_type == ethertype
    ]


class Network:
    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    def _conn(self, user: str) -> Connection:
        return self.identity.connect(user)

    # ---- security groups ----------------------------------------------------------------
    def security_groups(self, user: str = "demo") -> Table:
        """``openstack security group rule list`` for every group ``user``'s project has: one
        row per rule, ingress first."""
        conn = self._conn(user)
        project = conn.current_project_id
        groups = {g.id: g.name for g in conn.network.security_groups(project_id=project)}
        table = Table(
            ["group", "direction", "ethertype", "protocol", "ports", "remote"],
            title=f"Security groups of {user}'s project",
        )
        rules = list(conn.network.security_group_rules(project_id=project))
        rules.sort(
            key=lambda r: (
                groups.get(r.security_group_id, ""),
                r.direction != "ingress",
                r.ether_type,
                r.protocol or "",
                r.port_range_min or 0,
            )
        )
        for r in rules:
            ports = "any"
            if r.port_range_min is not None:
                ports = str(r.port_range_min)
                if r.port_range_max not in (None, r.port_range_min):
                    ports += f"-{r.port_range_max}"
            remote = r.remote_ip_prefix or "any"
            if r.remote_group_id:
                remote = f"group {groups.get(r.remote_group_id, r.remote_group_id[:8])}"
            table.add(
                groups.get(r.security_group_id, r.security_group_id[:8]),
                r.direction,
                r.ether_type,
                r.protocol or "any",
                ports,
                remote,
                mark="ok" if r.direction == "ingress" and r.protocol else "",
            )
        return table

    # ---- the provider network, for the topology -----------------------------------------
    def state(self) -> dict[str, Any]:
        """What the seed's picture adds to the hosts: each host's Linux bridge, the host
        running dnsmasq (the DHCP agent) with its address, and each server's port with its
        status and ingress rules. Admin's view."""
        conn = self._conn("admin")
        agents = list(conn.network.agents())
        bridges = sorted(
            a.host for a in agents if a.binary == "neutron-linuxbridge-agent" and a.is_alive
        )
        dhcp: dict[str, str] = {}
        for port in conn.network.ports(device_owner="network:dhcp"):
            host = port.binding_host_id or ""
            address = next((ip["ip_address"] for ip in port.fixed_ips), "")
            if host and address:
                dhcp[host] = address
        rules_of: dict[str, list[Any]] = {}
        for rule in conn.network.security_group_rules():
            rules_of.setdefault(rule.security_group_id, []).append(rule)
        names = {g.id: g.name for g in conn.network.security_groups()}
        guests = []
        for server in conn.compute.servers(details=True, all_projects=True):
            for port in conn.network.ports(device_id=server.id):
                groups = list(port.security_group_ids or [])
                guests.append(
                    {
                        "name": server.name,
                        "host": server.compute_host or "",
                        "address": next((ip["ip_address"] for ip in port.fixed_ips), ""),
                        "port_status": port.status,
                        "status": server.status,
                        "groups": [names.get(g, g[:8]) for g in groups],
                        "rules": sorted({s for g in groups for s in _ingress(rules_of.get(g, []))}),
                    }
                )
        return {
            "bridges": bridges,
            "dhcp": dhcp,
            "guests": sorted(guests, key=lambda g: (g["name"], g["address"])),
        }
