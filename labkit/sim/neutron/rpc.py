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
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from labkit.sim.core.context import RequestContext
from labkit.sim.core.service import RoomContext, ServiceProcess
from labkit.sim.neutron import agents, cleanup, ports, views
from labkit.sim.neutron import models as m
from labkit.sim.neutron.config import NEUTRON_CONF, NeutronConf
from labkit.sim.neutron.db import Repo
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
        """Record the reports the running agents sent since their last recorded one."""
        repo = self.repo
        if repo is None or not self.consuming:
            return
        due = []
        with repo.read() as tx:
            for agent in self.agents:
                if not agent.reporting or agent.agent_conf is None:
                    continue
                row = agents.by_type_and_host(tx, agent.agent_type, agent.report_host)
                stale = (
                    row is None
                    or tx.now - row.heartbeat_timestamp >= agent.agent_conf.report_interval
                )
                if stale:
                    due.append(agent)
        for agent in due:
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

    def update_device_up(self, ctx: RequestContext, device: str, agent_id: str, host: str) -> None:
        self.server.device_state(device, host, "ACTIVE")

    def update_device_down(
        self, ctx: RequestContext, device: str, agent_id: str, host: str
    ) -> None:
        self.server.device_state(device, host, "DOWN")
