"""Neutron's agents as processes on the hosts: Linux bridge (every host), DHCP and metadata
(the controller).

Each reads neutron.conf plus its own file (Debian's init scripts), fails to start the way
the real agent does, and reports its state to ``q-reports-plugin`` -- which needs its
``transport_url`` to log in to RabbitMQ: with a wrong password the report never leaves,
the agent never appears in ``openstack network agent list`` (or goes down there).

- **Linux bridge agent**: ``physical_interface_mappings`` names the host's interface for
  each physnet; a missing interface stops the agent ("Interface X for physical network Y
  does not exist. Agent terminated!"). With VXLAN enabled (the default) it needs
  ``local_ip``, one of the host's addresses. When the server binds a port to its host it
  gets ``port_update``, plugs the port, programs the port's security-group filter on the
  host's firewall (the sim's :class:`~labkit.sim.core.wire.Firewall`) and reports
  ``update_device_up``. When rules or members of groups change it hears
  ``security_groups_rule_updated`` / ``security_groups_member_updated`` on
  ``q-agent-notifier-security_group-update`` and refreshes the filters of the ports the
  change touches; either way it asks the server ``security_group_info_for_devices``.
  ``[securitygroup] firewall_driver`` unset (or ``noop``) or ``enable_security_group =
  false`` plugs ports unfiltered: everything passes.
- **DHCP agent**: hosts networks with DHCP subnets; for each it asks the server for its DHCP
  port (``create_dhcp_port``), the address dnsmasq will answer from. Its
  ``interface_driver`` must match the L2 agent (``linuxbridge``) or it cannot plug that port.
  With ``enable_isolated_metadata`` (or ``force_metadata``) it also runs the network's
  metadata proxy at 169.254.169.254:80 (:mod:`.metadata_proxy`), until the network goes
  away or the agent stops.
- **Metadata agent**: behind those proxies: finds the guest's port, signs its instance id
  with ``metadata_proxy_shared_secret`` and forwards the request to nova-api-metadata at
  ``nova_metadata_host:nova_metadata_port`` (:mod:`.metadata_proxy`).

The simulated hosts each have one network interface, ``eth0`` (and ``lo``), with the
host's management address.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from labkit.sim.core.bus import MessagingTimeout, RemoteError
from labkit.sim.core.context import RequestContext
from labkit.sim.core.service import RoomContext, ServiceFailed, ServiceProcess
from labkit.sim.core.wire import (
    METADATA_ADDRESS,
    Endpoint,
    PortFilter,
    Rule,
    WireRequest,
    WireResponse,
)
from labkit.sim.neutron import agents
from labkit.sim.neutron.config import (
    DHCP_CONF,
    LINUXBRIDGE_CONF,
    METADATA_CONF,
    ML2_CONF,
    NEUTRON_CONF,
    AgentConf,
)
from labkit.sim.neutron.metadata_proxy import ProxyHandler, haproxy
from labkit.sim.neutron.notify import (
    DHCP_TOPIC,
    PLUGIN_TOPIC,
    PORT_UPDATE_TOPIC,
    REPORTS_TOPIC,
    on_bus_thread,
)
from labkit.sim.neutron.secgroups import SG_UPDATE_TOPIC

HOST_INTERFACES = ("eth0", "lo")
NOOP_FIREWALLS = ("", "noop", "neutron.agent.firewall.NoopFirewallDriver")
DEFAULT_TRANSPORT = "rabbit://guest:guest@localhost:5672/"
LINUXBRIDGE_DRIVERS = ("linuxbridge", "neutron.agent.linux.interface.BridgeInterfaceDriver")


class NeutronAgent(ServiceProcess):
    """What the three agents share: their config, their reports."""

    conf_path = NEUTRON_CONF
    agent_type: ClassVar[str] = ""
    binary: ClassVar[str] = ""
    topic: ClassVar[str] = "N/A"
    extra_files: ClassVar[tuple[str, ...]] = ()
    agent_conf: AgentConf | None = None

    def __init__(self, ctx: RoomContext, host: str) -> None:
        super().__init__(ctx, host)
        # Set by the room: neutron-rpc-server records the heartbeats received so far.
        self.before_stop: Callable[[], None] = lambda: None

    def configure(self, conf_file: Path) -> None:
        files = [self.host_path(NEUTRON_CONF), *(self.host_path(f) for f in self.extra_files)]
        try:
            conf = AgentConf.read(files, self.name)
        except ValueError as exc:
            raise ServiceFailed(str(exc)) from None
        self.check(conf)
        self.agent_conf = conf
        self.log.info("Agent initialized successfully, now running... ")

    def check(self, conf: AgentConf) -> None:
        """Raise ServiceFailed with the agent's log line when it would exit at start."""

    def release(self) -> None:
        self.agent_conf = None

    @property
    def report_host(self) -> str:
        return (self.agent_conf.host if self.agent_conf else "") or self.host

    def transport_url(self) -> str:
        conf = self.agent_conf
        return (conf.transport_url if conf else "") or DEFAULT_TRANSPORT

    @property
    def reporting(self) -> bool:
        """Running and logged in to RabbitMQ: its reports reach the queue."""
        return (
            self.running
            and self.agent_conf is not None
            and self.ctx.bus.broker_error(self.transport_url()) is None
        )

    def configurations(self) -> dict[str, Any]:
        return {}

    def state(self, start: bool = False) -> dict[str, Any]:
        conf = self.agent_conf or AgentConf()
        state: dict[str, Any] = {
            "binary": self.binary,
            "host": self.report_host,
            "topic": self.topic,
            "configurations": self.configurations(),
            "agent_type": self.agent_type,
        }
        if self.agent_type == agents.DHCP:
            state["availability_zone"] = conf.availability_zone
        if start:
            state["start_flag"] = True
        return state

    def start(self) -> None:
        super().start()
        client = self.ctx.bus.client(self.name, self.host, REPORTS_TOPIC, self.transport_url)
        client.cast(
            "report_state",
            agent_state={"agent_state": self.state(start=True)},
            time=self.runtime.now().strftime("%Y-%m-%dT%H:%M:%S.%f"),
        )
        if self.runtime.config.deterministic and not on_bus_thread():
            self.ctx.bus.wait_idle(timeout=10)

    def stop(self) -> None:
        if self.running:
            self.before_stop()
        super().stop()

    def call_server(self, method: str, **kwargs: Any) -> Any:
        client = self.ctx.bus.client(self.name, self.host, PLUGIN_TOPIC, self.transport_url)
        return client.prepare(timeout=60).call(method, **kwargs)


class LinuxBridgeAgent(NeutronAgent):
    name = "neutron-linuxbridge-agent"
    agent_type = agents.LINUXBRIDGE
    binary = "neutron-linuxbridge-agent"
    extra_files = (ML2_CONF, LINUXBRIDGE_CONF)

    def __init__(self, ctx: RoomContext, host: str) -> None:
        super().__init__(ctx, host)
        self.rpc.append(
            ctx.bus.server(self.name, host, PORT_UPDATE_TOPIC, self, self.transport_url)
        )
        self.rpc.append(ctx.bus.server(self.name, host, SG_UPDATE_TOPIC, self, self.transport_url))
        # The ports plugged here and what the server last said of each (its groups, the
        # remote groups its rules name). Kept across restarts: the tap devices and their
        # iptables chains outlive the agent process.
        self.filtered: dict[str, dict[str, Any]] = {}

    def _address(self) -> str:
        return next((h.address for h in self.runtime.config.hosts if h.name == self.host), "")

    def check(self, conf: AgentConf) -> None:
        for physnet, interface in conf.physical_interface_mappings.items():
            if interface not in HOST_INTERFACES:
                raise ServiceFailed(
                    f"Interface {interface} for physical network {physnet} does not exist. "
                    "Agent terminated!"
                )
        for physnet, bridge in conf.bridge_mappings.items():
            raise ServiceFailed(
                f"Bridge {bridge} for physical network {physnet} does not exist. Agent terminated!"
            )
        if conf.enable_vxlan and conf.local_ip not in (self._address(), "127.0.0.1"):
            raise ServiceFailed(
                "Tunneling cannot be enabled without the local_ip bound to an interface on "
                f"the host. Please configure local_ip {conf.local_ip or None} on the host "
                "interface to be used for tunneling and restart the agent."
            )

    def configurations(self) -> dict[str, Any]:
        conf = self.agent_conf or AgentConf()
        out: dict[str, Any] = {
            "bridge_mappings": dict(conf.bridge_mappings),
            "interface_mappings": dict(conf.physical_interface_mappings),
            "extensions": [],
            "devices": 0,
        }
        if conf.enable_vxlan:
            out.update(tunneling_ip=conf.local_ip, tunnel_types=["vxlan"])
            out["l2_population"] = conf.l2_population
        return out

    # ---- RPC: q-agent-notifier-port-update ---------------------------------------------------
    def port_update(self, ctx: RequestContext, port_id: str, network_id: str) -> None:
        """A port bound here: plug its tap device into the network's bridge, filter it,
        report it up."""
        self.log.info("[%s] Port %s updated.", ctx.root_request_id, port_id)
        known = self.filtered.setdefault(port_id, {})
        known.setdefault("network_id", network_id)
        if not self._refresh_firewall(ctx, [port_id]):
            return
        self.call_server(
            "update_device_up", device=port_id, agent_id=f"lb-{self.host}", host=self.report_host
        )

    def port_delete(self, ctx: RequestContext, port_id: str) -> None:
        self.filtered.pop(port_id, None)
        self.ctx.wire.firewall(self.host).remove(port_id)
        self.log.info(
            "[%s] port_delete message processed for port %s", ctx.root_request_id, port_id
        )

    # ---- RPC: q-agent-notifier-security_group-update (fanout) -------------------------------
    def security_groups_rule_updated(self, ctx: RequestContext, security_groups: list[str]) -> None:
        """The rules of these groups changed: refresh the ports that are in them."""
        self.log.info("[%s] Security group rule updated %r", ctx.root_request_id, security_groups)
        self._security_group_updated(ctx, security_groups, "security_groups")

    def security_groups_member_updated(
        self, ctx: RequestContext, security_groups: list[str]
    ) -> None:
        """Ports joined or left these groups: refresh the ports whose rules name them."""
        self.log.info("[%s] Security group member updated %r", ctx.root_request_id, security_groups)
        self._security_group_updated(ctx, security_groups, "security_group_source_groups")

    def _security_group_updated(
        self, ctx: RequestContext, security_groups: list[str], attribute: str
    ) -> None:
        wanted = set(security_groups)
        ports = [p for p, known in self.filtered.items() if wanted & set(known.get(attribute, []))]
        if ports:
            self._refresh_firewall(ctx, ports)

    # ---- the firewall ------------------------------------------------------------------------
    @property
    def firewall_enabled(self) -> bool:
        """is_firewall_enabled() and a firewall driver other than noop."""
        conf = self.agent_conf
        return bool(
            conf and conf.enable_security_group and conf.firewall_driver not in NOOP_FIREWALLS
        )

    def _refresh_firewall(self, ctx: RequestContext, port_ids: list[str]) -> bool:
        """Ask the server for the ports' security-group information and program it. The
        noop driver filters nothing and asks nothing. False when the server could not be
        asked (the port is not reported up; a real agent would resync later)."""
        if not self.firewall_enabled:
            self.log.info(
                "[%s] Skipping method refresh_firewall as firewall is disabled or configured "
                "as NoopFirewallDriver.",
                ctx.root_request_id,
            )
            self._program_firewall({}, unfiltered=port_ids)
            return True
        self.log.info("[%s] Refresh firewall rules", ctx.root_request_id)
        try:
            info = self.call_server(
                "security_group_info_for_devices",
                devices=[f"tap{p[:11]}" for p in port_ids],
                call_version="1.3",
            )
        except (MessagingTimeout, RemoteError) as exc:
            self.log.error(
                "[%s] Error occurred while processing for ports %s: %s",
                ctx.root_request_id,
                port_ids,
                exc,
            )
            return False
        # Asked for but not answered: the network's own ports (DHCP ...), which the server
        # leaves out -- process_trusted_ports lets everything through them.
        answered = set(info.get("devices") or {})
        self._program_firewall(info, unfiltered=[p for p in port_ids if p not in answered])
        return True

    def _program_firewall(self, info: dict[str, Any], unfiltered: Sequence[str] = ()) -> None:
        """Turn the server's ``security_group_info_for_devices`` answer into one
        :class:`PortFilter` per port on this host's firewall (the iptables chains
        ``neutron-linuxbri-i<port>`` / ``-o<port>``): the rules of each of the port's
        groups, a remote group resolved to its members' addresses (``sg_member_ips``),
        plus the provider rules that let DHCP replies in. A port without port security,
        any port under the noop driver and the ``unfiltered`` ones (trusted ports the
        server left out) are plugged with no filter: everything passes."""
        firewall = self.ctx.wire.firewall(self.host)
        for port_id in unfiltered:
            known = self.filtered.setdefault(port_id, {})
            known.update(security_groups=[], security_group_source_groups=[])
            plugged = PortFilter(
                port_id=port_id,
                network_id=str(known.get("network_id", "")),
                mac="",
                ips=(),
                port_security=False,
            )
            firewall.apply(plugged)
            self.log.info("Update port filter for %s (unfiltered)", plugged.device)
        members = info.get("sg_member_ips") or {}
        by_group = info.get("security_groups") or {}
        for port_id, device in (info.get("devices") or {}).items():
            secured = self.firewall_enabled and bool(device.get("port_security_enabled", True))
            rules: list[Rule] = []
            for group_id in device.get("security_groups") or []:
                rules += [w for r in by_group.get(group_id, []) for w in wire_rules(r, members)]
            for rule in device.get("security_group_rules") or []:
                rules += wire_rules(rule, members)
            self.filtered[port_id] = {
                "network_id": device.get("network_id", ""),
                "security_groups": list(device.get("security_groups") or []),
                "security_group_source_groups": list(
                    device.get("security_group_source_groups") or []
                ),
            }
            port_filter = PortFilter(
                port_id=port_id,
                network_id=str(device.get("network_id", "")),
                mac=str(device.get("mac_address", "")),
                ips=tuple(str(ip) for ip in device.get("fixed_ips") or []),
                rules=tuple(dict.fromkeys(rules)) if secured else (),
                port_security=secured,
            )
            firewall.apply(port_filter)
            self.log.info(
                "Update port filter for %s (%d rules%s)",
                port_filter.device,
                len(port_filter.rules),
                "" if secured else ", port security disabled",
            )


def wire_rules(rule: dict[str, Any], members: dict[str, dict[str, list[Any]]]) -> list[Rule]:
    """One rule of the server's answer as the firewall holds it: the remote prefix is
    ``source_ip_prefix`` for ingress and ``dest_ip_prefix`` for egress (the provider rules'
    ``dest_ip_prefix`` on ingress is the port's own address, not a remote). A rule naming an
    address group becomes one rule per CIDR of the group (the iptables driver's
    ``_expand_sg_rule_with_remote_ips``: an empty group lets nothing in)."""
    direction = str(rule.get("direction", "ingress"))
    ethertype = str(rule.get("ethertype", "IPv4"))
    remote_key = "source_ip_prefix" if direction == "ingress" else "dest_ip_prefix"
    remote_group = rule.get("remote_group_id")
    remote_ips = None
    if remote_group:
        pairs = (members.get(remote_group) or {}).get(ethertype) or []
        remote_ips = frozenset(str(pair[0]) for pair in pairs)
    protocol = rule.get("protocol")
    wired = Rule(
        direction=direction,
        ethertype=ethertype,
        protocol=None if protocol is None else str(protocol),
        port_min=rule.get("port_range_min"),
        port_max=rule.get("port_range_max"),
        remote_prefix=rule.get(remote_key),
        remote_group_id=remote_group,
        remote_ips=remote_ips,
    )
    address_group = rule.get("remote_address_group_id")
    if not address_group:
        return [wired]
    cidrs = (members.get(address_group) or {}).get(ethertype) or []
    return [replace(wired, remote_prefix=str(cidr)) for cidr, _mac in cidrs]


class DhcpAgent(NeutronAgent):
    name = "neutron-dhcp-agent"
    agent_type = agents.DHCP
    binary = "neutron-dhcp-agent"
    topic = DHCP_TOPIC
    extra_files = (DHCP_CONF,)

    def __init__(self, ctx: RoomContext, host: str) -> None:
        super().__init__(ctx, host)
        self.rpc.append(ctx.bus.server(self.name, host, DHCP_TOPIC, self, self.transport_url))
        self.networks: set[str] = set()
        # The networks whose metadata proxy (haproxy in qdhcp-<net>) this agent runs, and
        # what the proxies hand requests to: the metadata agent on this host (set by the
        # room; haproxy's backend is its unix socket, /var/lib/neutron/metadata_proxy).
        self.proxied: set[str] = set()
        self.metadata_agent: MetadataAgent | None = None

    def check(self, conf: AgentConf) -> None:
        if not conf.interface_driver:
            raise ServiceFailed("An interface driver must be specified")

    def configurations(self) -> dict[str, Any]:
        conf = self.agent_conf or AgentConf()
        return {
            "dhcp_driver": conf.dhcp_driver,
            "dhcp_lease_duration": conf.dhcp_lease_duration,
            "log_agent_heartbeats": False,
            "networks": len(self.networks),
        }

    def release(self) -> None:
        for network_id in list(self.proxied):
            self._metadata_proxy(network_id, False)
        self.networks = set()
        super().release()

    def _metadata_proxy(self, network_id: str, enabled: bool) -> None:
        """Start or stop the network's metadata proxy: the address 169.254.169.254 in its
        namespace, an haproxy on port 80 there."""
        conf = self.agent_conf
        if enabled and conf is not None and (conf.enable_isolated_metadata or conf.force_metadata):
            if network_id not in self.proxied:
                self.ctx.wire.attach(
                    Endpoint(
                        address=METADATA_ADDRESS,
                        network_id=network_id,
                        http={80: haproxy(network_id, self._metadata_backend)},
                    )
                )
                self.proxied.add(network_id)
        elif network_id in self.proxied:
            self.ctx.wire.detach(network_id, METADATA_ADDRESS)
            self.proxied.discard(network_id)

    def _metadata_backend(self) -> MetadataAgent | None:
        agent = self.metadata_agent
        return agent if agent is not None and agent.host == self.host else None

    def _enable(self, ctx: RequestContext, network_id: str) -> None:
        conf = self.agent_conf
        if conf is None:
            return
        if conf.interface_driver not in LINUXBRIDGE_DRIVERS:
            self.log.error(
                "[%s] Unable to enable dhcp for %s: interface_driver %s cannot plug a port "
                "into a Linux bridge (this host's L2 agent).",
                ctx.root_request_id,
                network_id,
                conf.interface_driver,
            )
            return
        port = self.call_server("create_dhcp_port", network_id=network_id, host=self.report_host)
        if port:
            self.networks.add(network_id)
        else:
            self.networks.discard(network_id)
        self._metadata_proxy(network_id, bool(port))

    # ---- RPC: dhcp_agent.<host> ---------------------------------------------------------------
    def sync_state(self, ctx: RequestContext, network_id: str, network_ids: list[str]) -> None:
        for net in network_ids:
            self._enable(ctx, net)

    def network_create_end(self, ctx: RequestContext, network_id: str) -> None:
        """Nothing to serve until the network has a DHCP subnet."""

    def subnet_create_end(self, ctx: RequestContext, network_id: str) -> None:
        self._enable(ctx, network_id)

    def subnet_update_end(self, ctx: RequestContext, network_id: str) -> None:
        self._enable(ctx, network_id)

    def subnet_delete_end(self, ctx: RequestContext, network_id: str) -> None:
        self._enable(ctx, network_id)

    def network_delete_end(self, ctx: RequestContext, network_id: str) -> None:
        self.networks.discard(network_id)
        self._metadata_proxy(network_id, False)


class MetadataAgent(NeutronAgent):
    name = "neutron-metadata-agent"
    agent_type = agents.METADATA
    binary = "neutron-metadata-agent"
    extra_files = (METADATA_CONF,)
    handler: ProxyHandler | None = None

    def configure(self, conf_file: Path) -> None:
        super().configure(conf_file)
        assert self.agent_conf is not None
        self.handler = ProxyHandler(
            self.agent_conf,
            self.host,
            self.ctx.http_client(self.name, self.host),
            lambda filters: list(self.call_server("get_ports", filters=filters)),
            self.log,
        )

    def release(self) -> None:
        if self.handler is not None:
            self.handler.http.close()
        self.handler = None
        super().release()

    def proxy(self, request: WireRequest) -> WireResponse | None:
        """A request from a metadata proxy (with its X-Forwarded-For and
        X-Neutron-Network-ID); None while the agent does not run."""
        handler = self.handler
        if handler is None or not self.running:
            return None
        return handler(request)

    def configurations(self) -> dict[str, Any]:
        conf = self.agent_conf or AgentConf()
        return {
            "log_agent_heartbeats": False,
            "metadata_proxy_socket": "/var/lib/neutron/metadata_proxy",
            "nova_metadata_host": conf.nova_metadata_host,
            "nova_metadata_port": conf.nova_metadata_port,
        }
