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
  gets ``port_update``, plugs the port and reports ``update_device_up``.
- **DHCP agent**: hosts networks with DHCP subnets; for each it asks the server for its DHCP
  port (``create_dhcp_port``), the address dnsmasq will answer from. Its
  ``interface_driver`` must match the L2 agent (``linuxbridge``) or it cannot plug that port.
- **Metadata agent**: only reports; the metadata proxy comes with the next layer.

The simulated hosts each have one network interface, ``eth0`` (and ``lo``), with the
host's management address.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from labkit.sim.core.context import RequestContext
from labkit.sim.core.service import RoomContext, ServiceFailed, ServiceProcess
from labkit.sim.neutron import agents
from labkit.sim.neutron.config import (
    DHCP_CONF,
    LINUXBRIDGE_CONF,
    METADATA_CONF,
    ML2_CONF,
    NEUTRON_CONF,
    AgentConf,
)
from labkit.sim.neutron.notify import (
    DHCP_TOPIC,
    PLUGIN_TOPIC,
    PORT_UPDATE_TOPIC,
    REPORTS_TOPIC,
    on_bus_thread,
)

HOST_INTERFACES = ("eth0", "lo")
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
        """A port bound here: plug its tap device into the network's bridge, report it up."""
        self.log.info("[%s] Port %s updated.", ctx.root_request_id, port_id)
        self.call_server(
            "update_device_up", device=port_id, agent_id=f"lb-{self.host}", host=self.report_host
        )

    def port_delete(self, ctx: RequestContext, port_id: str) -> None:
        self.log.info(
            "[%s] port_delete message processed for port %s", ctx.root_request_id, port_id
        )


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
        self.networks = set()
        super().release()

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


class MetadataAgent(NeutronAgent):
    name = "neutron-metadata-agent"
    agent_type = agents.METADATA
    binary = "neutron-metadata-agent"
    extra_files = (METADATA_CONF,)

    def configurations(self) -> dict[str, Any]:
        conf = self.agent_conf or AgentConf()
        return {
            "log_agent_heartbeats": False,
            "metadata_proxy_socket": "/var/lib/neutron/metadata_proxy",
            "nova_metadata_host": conf.nova_metadata_host,
            "nova_metadata_port": conf.nova_metadata_port,
        }
