"""neutron-rpc-server: the side of neutron-server the agents talk to over RabbitMQ.

It consumes two topics, with ``transport_url`` from neutron.conf:

- ``q-reports-plugin`` -- ``report_state`` from every agent: the first report registers the
  agent, later ones move its heartbeat (:mod:`.agents`);
- ``q-plugin`` -- the agents' requests: the DHCP agent's ``get_active_networks_info`` /
  ``create_dhcp_port`` / ``release_dhcp_port``, the Linux bridge agent's
  ``update_device_up`` / ``update_device_down`` (a plugged port becomes ``ACTIVE``).

Agents report every ``report_interval`` (30 s). The sim does not send a message every 30 s
of its clock: an agent's first report travels over the bus, and the periodic ones are
recorded when they are due, by :meth:`NeutronRpcServer.catch_up` -- while the agent runs, its
``transport_url`` logs in to RabbitMQ and this server consumes. Stop any of the three and the
heartbeats stop; after ``agent_down_time`` the agent shows as down.

When a port of a VM (``device_owner`` ``compute:*``) goes ``ACTIVE``, Nova is told with a
``network-vif-plugged`` event (``[nova]`` credentials, ``notify_nova_on_port_status_changes``).

**Security groups.** A Linux bridge agent that plugs a port, or hears that rules or members
of groups changed (:mod:`.secgroups` casts ``security_groups_rule_updated`` /
``security_groups_member_updated``), asks ``security_group_info_for_devices`` on
``q-plugin`` (RPC version 1.3) for its devices -- ``tap`` + the first 11 characters of the
port id, or the full id -- and gets what it needs to program the host's iptables:

- ``devices``: per port id, the port (addresses as plain strings in ``fixed_ips``, its
  ``security_groups``, ``port_security_enabled``, ``security_group_source_groups`` -- the
  remote groups its rules name) and the *provider rules* that belong to no group (DHCP
  replies to the port, IPv6 router advertisements). The network's own ports (``network:*``)
  are left out: they are never filtered;
- ``security_groups``: per group, its rules reduced to what a firewall needs -- the remote
  prefix becomes ``source_ip_prefix`` (ingress) or ``dest_ip_prefix`` (egress), normalized;
  every rule carries the group's ``stateful`` flag;
- ``sg_member_ips``: per remote group, per ethertype, the ``[ip, mac]`` pairs of its member
  ports (fixed IPs with mac ``None``, allowed address pairs with theirs).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from labkit.sim.core.context import RequestContext, bound
from labkit.sim.core.service import RoomContext, ServiceProcess
from labkit.sim.neutron import address_groups, agents, cleanup, ipam, ports, secgroups, views
from labkit.sim.neutron import models as m
from labkit.sim.neutron.config import NEUTRON_CONF, NeutronConf
from labkit.sim.neutron.db import Repo, Tx
from labkit.sim.neutron.notify import PLUGIN_TOPIC, REPORTS_TOPIC, AgentNotifier
from labkit.sim.neutron.nova_notifier import NovaNotifier
from labkit.sim.neutron.service import open_repo, read_server_conf

if TYPE_CHECKING:
    from labkit.sim.neutron.agent_procs import NeutronAgent


class NeutronRpcServer(ServiceProcess):
    name = "neutron-rpc-server"
    conf_path = NEUTRON_CONF
    conf: NeutronConf | None = None
    repo: Repo | None = None
    notifier: AgentNotifier | None = None
    nova: NovaNotifier | None = None

    def __init__(self, ctx: RoomContext, host: str) -> None:
        super().__init__(ctx, host)
        self.agents: list[NeutronAgent] = []  # the room's agents, wired by build()
        # (what it was worked out from, until when) no agent's report is due: catch_up
        self._quiet_until: tuple[Any, float] | None = None
        url = self._transport_url
        self.rpc.append(ctx.bus.server(self.name, host, REPORTS_TOPIC, ReportsEndpoint(self), url))
        self.rpc.append(ctx.bus.server(self.name, host, PLUGIN_TOPIC, PluginEndpoint(self), url))

    def _transport_url(self) -> str:
        return self.conf.transport_url if self.conf else ""

    def configure(self, conf_file: Path) -> None:
        conf = read_server_conf(self)
        self.repo = open_repo(self, conf)
        self.conf = conf
        self.notifier = AgentNotifier(
            self.ctx.bus, self.name, self.host, self._transport_url, False
        )
        self.nova = NovaNotifier(conf, self.ctx.http_client(self.name, self.host), self.log)
        self.log.info("RPC server (sim) consuming %s and %s", REPORTS_TOPIC, PLUGIN_TOPIC)

    def stop(self) -> None:
        self.catch_up()  # the heartbeats received until now
        super().stop()

    def release(self) -> None:
        if self.repo is not None:
            self.repo.db.dispose()
        if self.nova is not None:
            self.nova.close()
        self.conf = self.repo = self.notifier = self.nova = None

    @property
    def consuming(self) -> bool:
        return self.running and all(server.consuming for server in self.rpc)

    # ---- heartbeats ------------------------------------------------------------------------
    def record(self, state: dict[str, Any]) -> str | None:
        """One report from an agent; a DHCP agent that is new or back gets its networks."""
        if self.repo is None:
            return None
        with self.repo.write() as tx:
            status = agents.record_report(tx, state)
        if state["agent_type"] == agents.DHCP and (
            status in (agents.NEW, agents.REVIVED) or state.get("start_flag")
        ):
            self.sync_dhcp(state["host"])
        return status

    def catch_up(self) -> None:
        """Record the reports the running agents sent since their last recorded one.

        Every Neutron API request asks first. When none was due, the earliest time one
        will be is kept, with what it was worked out from -- which agents report (and as
        which host, how often) and the database's change counter (a report recorded, an
        agent deleted...); until that time, with both unchanged, nothing can be due and the
        agents' table is not read again."""
        repo = self.repo
        if repo is None or not self.consuming:
            return
        reporting = [a for a in self.agents if a.reporting and a.agent_conf is not None]
        stamp = (
            repo.db,
            repo.db.data_version(),
            tuple(
                (a.agent_type, a.report_host, a.agent_conf.report_interval if a.agent_conf else 0)
                for a in reporting
            ),
        )
        quiet = self._quiet_until
        if quiet is not None and quiet[0] == stamp and repo.now() < quiet[1]:
            return
        due = []
        next_due = float("inf")
        now = repo.now()
        beats = agents.heartbeats(repo.db)
        for agent in reporting:
            assert agent.agent_conf is not None
            interval = agent.agent_conf.report_interval
            beat = beats.get((agent.agent_type, agent.report_host))
            if beat is None or now - beat >= interval:
                due.append(agent)
            else:
                next_due = min(next_due, beat + interval)
        self._quiet_until = None if due else (stamp, next_due)
        for agent in due:
            # An agent reports from its own periodic task: what the report sets off (a DHCP
            # agent's sync_state ...) is not part of the request that noticed it was due.
            with bound(self.runtime.root_context(agent.binary, agent.report_host)):
                self.record(agent.state())

    # ---- DHCP ------------------------------------------------------------------------------
    def sync_dhcp(self, host: str) -> None:
        """Schedule the networks that need DHCP to the agent on ``host`` and tell it."""
        if self.repo is None or self.notifier is None:
            return
        with self.repo.write() as tx:
            agent = agents.by_type_and_host(tx, agents.DHCP, host)
            if agent is None:
                return
            for network_id in agents.networks_needing_dhcp(tx):
                agents.schedule_network(tx, network_id)
            hosted = agents.hosted_by(tx, agent.id)
        if hosted:
            self.notifier.dhcp([host], "sync_state", "", network_ids=hosted)

    def dhcp_port(self, network_id: str, host: str) -> dict[str, Any] | None:
        if self.repo is None:
            return None
        with self.repo.write() as tx:
            port = ports.dhcp_port(tx, network_id, host, self.notifier)
            return views.ports(tx, [port])[0] if port is not None else None

    def device_state(self, port_id: str, host: str, status: str) -> None:
        if self.repo is None:
            return
        with self.repo.write() as tx:
            port = ports.set_status(tx, port_id, host, status)
            plugged = (
                port is not None
                and status == "ACTIVE"
                and port.device_owner.startswith("compute:")
                and bool(port.device_id)
            )
            device_id = port.device_id if port is not None else ""
        conf = self.conf
        if plugged and self.nova is not None and conf and conf.notify_nova_on_port_status_changes:
            self.nova.send("network-vif-plugged", device_id, port_id, "completed")


class ReportsEndpoint:
    """``q-reports-plugin``: AgentExtRpcCallback."""

    def __init__(self, server: NeutronRpcServer) -> None:
        self.server = server

    def report_state(self, ctx: RequestContext, agent_state: dict[str, Any], time: str) -> Any:
        return self.server.record(dict(agent_state["agent_state"]))

    def has_alive_neutron_server(self, ctx: RequestContext) -> bool:
        return True


class PluginEndpoint:
    """``q-plugin``: what the DHCP and Linux bridge agents ask the server."""

    def __init__(self, server: NeutronRpcServer) -> None:
        self.server = server

    def get_active_networks_info(self, ctx: RequestContext, host: str) -> list[str]:
        self.server.sync_dhcp(host)
        repo = self.server.repo
        if repo is None:
            return []
        with repo.read() as tx:
            agent = agents.by_type_and_host(tx, agents.DHCP, host)
            return agents.hosted_by(tx, agent.id) if agent else []

    def create_dhcp_port(self, ctx: RequestContext, network_id: str, host: str) -> Any:
        return self.server.dhcp_port(network_id, host)

    def release_dhcp_port(self, ctx: RequestContext, network_id: str, device_id: str) -> None:
        repo = self.server.repo
        if repo is None:
            return
        with repo.write() as tx:
            found = select(m.Port).where(
                m.Port.network_id == network_id, m.Port.device_id == device_id
            )
            for port in list(tx.s.scalars(found)):
                cleanup.remove_port(tx, port)

    def security_group_info_for_devices(
        self, ctx: RequestContext, devices: list[str], call_version: str = "1.2"
    ) -> dict[str, Any]:
        """SecurityGroupServerRpcCallback: what the agent's firewall needs for its ports."""
        repo = self.server.repo
        if repo is None:
            return {"devices": {}, "security_groups": {}, "sg_member_ips": {}}
        with repo.read() as tx:
            return security_group_info(tx, list(devices))

    def get_ports(self, ctx: RequestContext, filters: dict[str, Any]) -> list[dict[str, Any]]:
        """MetadataRpcCallback: the metadata agent asks which port has a guest's address
        (``{"network_id": [...], "fixed_ips": {"ip_address": [...]}}``; also ``mac_address``,
        ``device_id``, ``device_owner``)."""
        repo = self.server.repo
        if repo is None:
            return []
        query = select(m.Port)
        addresses = list((filters.get("fixed_ips") or {}).get("ip_address") or [])
        if addresses:
            query = query.join(m.IPAllocation, m.IPAllocation.port_id == m.Port.id).where(
                m.IPAllocation.ip_address.in_(addresses)
            )
        for key in ("network_id", "mac_address", "device_id", "device_owner"):
            if filters.get(key):
                query = query.where(getattr(m.Port, key).in_(list(filters[key])))
        with repo.read() as tx:
            return views.ports(tx, list(tx.s.scalars(query.distinct())))

    def update_device_up(self, ctx: RequestContext, device: str, agent_id: str, host: str) -> None:
        self.server.device_state(device, host, "ACTIVE")

    def update_device_down(
        self, ctx: RequestContext, device: str, agent_id: str, host: str
    ) -> None:
        self.server.device_state(device, host, "DOWN")


# ---- security_group_info_for_devices ------------------------------------------------------------

DEVICE_PREFIX = "tap"  # the Linux bridge agent's name for a port's device: tap + 11 chars
DIRECTION_IP_PREFIX = {"ingress": "source_ip_prefix", "egress": "dest_ip_prefix"}
DHCP_RULE_PORTS = {4: (67, 68, "IPv4"), 6: (547, 546, "IPv6")}
ICMPV6_TYPE_RA = 134


def _ports_for_devices(tx: Tx, devices: list[str]) -> dict[str, tuple[str, m.Port]]:
    """get_ports_from_devices: device name -> port (a ``tap`` name matches by id prefix)."""
    found: dict[str, tuple[str, m.Port]] = {}
    for device in devices:
        partial = device[len(DEVICE_PREFIX) :] if device.startswith(DEVICE_PREFIX) else device
        port = tx.s.get(m.Port, partial)
        if port is None and partial:
            port = tx.s.scalars(
                select(m.Port).where(m.Port.id.startswith(partial, autoescape=True))
            ).first()
        if port is not None:
            found[port.id] = (device, port)
    return found


def _provider_rules(fixed_ips: list[str]) -> list[dict[str, Any]]:
    """_apply_provider_rule: IPv6 router advertisements in, DHCP replies to the port's own
    addresses (and IPv4 broadcast, IPv6 link-local) in."""
    rules: list[dict[str, Any]] = []
    if any(ipam.address(ip).version == 6 for ip in fixed_ips):
        rules.append(
            {
                "direction": "ingress",
                "ethertype": "IPv6",
                "protocol": "ipv6-icmp",
                "source_port_range_min": ICMPV6_TYPE_RA,
            }
        )
    for version in (4, 6):
        prefix = "32" if version == 4 else "128"
        dests = [f"{ip}/{prefix}" for ip in fixed_ips if ipam.address(ip).version == version]
        dests.append("255.255.255.255/32" if version == 4 else "fe80::/64")
        source_port, dest_port, ethertype = DHCP_RULE_PORTS[version]
        for dest in dests:
            rules.append(
                {
                    "direction": "ingress",
                    "ethertype": ethertype,
                    "protocol": "udp",
                    "port_range_min": dest_port,
                    "port_range_max": dest_port,
                    "source_port_range_min": source_port,
                    "source_port_range_max": source_port,
                    "dest_ip_prefix": dest,
                }
            )
    return rules


def _firewall_rule(rule: m.SecurityGroupRule, stateful: bool) -> dict[str, Any]:
    """One stored rule as security_group_info_for_ports hands it to the agents."""
    out: dict[str, Any] = {"direction": rule.direction, "ethertype": rule.ethertype}
    for key in ("protocol", "port_range_min", "port_range_max"):
        if getattr(rule, key) is not None:
            out[key] = getattr(rule, key)
    if rule.remote_ip_prefix is not None:
        network = ipam.network(rule.remote_ip_prefix)
        out[DIRECTION_IP_PREFIX[rule.direction]] = str(network)
    if rule.remote_group_id is not None:
        out["remote_group_id"] = rule.remote_group_id
    if rule.remote_address_group_id is not None:
        out["remote_address_group_id"] = rule.remote_address_group_id
    out["stateful"] = stateful
    return out


def _member_ips(tx: Tx, group_ids: list[str]) -> dict[str, set[tuple[str, str | None]]]:
    """_select_ips_for_remote_group: the addresses of every port in each group."""
    out: dict[str, set[tuple[str, str | None]]] = {g: set() for g in group_ids}
    if not group_ids:
        return out
    bindings = list(
        tx.s.execute(
            select(
                m.SecurityGroupPortBinding.security_group_id, m.SecurityGroupPortBinding.port_id
            ).where(m.SecurityGroupPortBinding.security_group_id.in_(group_ids))
        )
    )
    port_ids = sorted({port_id for _, port_id in bindings})
    addresses = views.fixed_ips_of(tx, port_ids)
    pairs = {
        p.id: list(p.allowed_address_pairs or [])
        for p in tx.s.scalars(select(m.Port).where(m.Port.id.in_(port_ids)))
    }
    for group_id, port_id in bindings:
        for fixed in addresses.get(port_id, []):
            out[group_id].add((fixed["ip_address"], None))
        for pair in pairs.get(port_id, []):
            if isinstance(pair, dict) and pair.get("ip_address"):
                out[group_id].add((str(pair["ip_address"]), pair.get("mac_address")))
    return out


def security_group_info(tx: Tx, devices: list[str]) -> dict[str, Any]:
    """security_group_info_for_ports, for the devices an agent names."""
    found = _ports_for_devices(tx, devices)
    rows = [port for _, port in found.values() if not ports.is_trusted(port.device_owner)]
    shown = {p["id"]: p for p in views.ports(tx, rows)}
    out_devices: dict[str, dict[str, Any]] = {}
    groups_of: dict[str, list[str]] = {}
    for port in rows:
        item = dict(shown[port.id])
        fixed = [f["ip_address"] for f in item["fixed_ips"]]
        groups_of[port.id] = list(item["security_groups"])
        item.update(
            device=found[port.id][0],
            fixed_ips=fixed,
            security_group_rules=_provider_rules(fixed),
            security_group_source_groups=[],
            security_group_remote_address_groups=[],
        )
        out_devices[port.id] = item
    wanted_groups = sorted({g for groups in groups_of.values() for g in groups})
    stateful = {
        g.id: g.stateful
        for g in tx.s.scalars(select(m.SecurityGroup).where(m.SecurityGroup.id.in_(wanted_groups)))
    }
    by_group: dict[str, list[dict[str, Any]]] = {g: [] for g in wanted_groups}
    remote_ethertypes: dict[str, set[str]] = {}
    address_groups_of: dict[str, set[str]] = {}  # remote address group -> its ethertypes
    for rule in secgroups.rules_of(tx, wanted_groups):
        entry = _firewall_rule(rule, stateful.get(rule.security_group_id, True))
        if entry not in by_group[rule.security_group_id]:
            by_group[rule.security_group_id].append(entry)
        for remote, seen_types, key in (
            (rule.remote_group_id, remote_ethertypes, "security_group_source_groups"),
            (
                rule.remote_address_group_id,
                address_groups_of,
                "security_group_remote_address_groups",
            ),
        ):
            if not remote:
                continue
            seen_types.setdefault(remote, set()).add(rule.ethertype)
            for port_id, groups in groups_of.items():
                named = out_devices[port_id][key]
                if rule.security_group_id in groups and remote not in named:
                    named.append(remote)
    members = _member_ips(tx, sorted(remote_ethertypes))
    member_ips: dict[str, dict[str, list[list[str | None]]]] = {}
    for group_id, ethertypes in remote_ethertypes.items():
        per_type: dict[str, list[list[str | None]]] = {e: [] for e in sorted(ethertypes)}
        for ip, mac in sorted(members[group_id], key=lambda pair: (pair[0], pair[1] or "")):
            ethertype = f"IPv{ipam.address(ip).version}"
            if ethertype in per_type:
                per_type[ethertype].append([ip, mac])
        member_ips[group_id] = per_type
    # _select_ips_for_remote_address_group: a group's CIDRs, as (cidr, None) pairs
    cidrs = address_groups.addresses_of(tx, sorted(address_groups_of))
    for group_id, ethertypes in address_groups_of.items():
        member_ips[group_id] = {
            e: [[c, None] for c in cidrs[group_id] if f"IPv{ipam.network(c).version}" == e]
            for e in sorted(ethertypes)
        }
    return {"devices": out_devices, "security_groups": by_group, "sg_member_ips": member_ips}
