"""Agents as the server knows them: their rows, heartbeats, liveness and DHCP scheduling.

An agent exists for the server once one of its ``report_state`` messages arrived: the first
creates its row (``created_at``, ``started_at``), every later one moves
``heartbeat_timestamp``. The API calls an agent *alive* while its last heartbeat is younger
than ``agent_down_time`` (75 s); ``openstack network agent list`` shows ``:-)`` or ``XXX``.

ML2 binds a port to a host only through an alive agent there whose mappings reach the
network's segment -- here the Linux bridge mechanism driver: a flat or VLAN physnet in the
agent's ``physical_interface_mappings`` (or ``bridge_mappings``), or VXLAN when the agent
tunnels. The DHCP scheduler hosts each network with DHCP subnets on an alive DHCP agent.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from labkit.sim.core.sql import Prepared
from labkit.sim.core.store import Database
from labkit.sim.neutron import models as m
from labkit.sim.neutron.db import Tx

LINUXBRIDGE = "Linux bridge agent"
DHCP = "DHCP agent"
METADATA = "Metadata agent"
NEW, ALIVE, REVIVED = "new", "alive", "revived"
BRIDGE_VIF_DETAILS = {"connectivity": "l2", "port_filter": True}


def is_alive(tx: Tx, row: m.Agent) -> bool:
    return tx.now - row.heartbeat_timestamp <= tx.conf.agent_down_time


def by_type_and_host(tx: Tx, agent_type: str, host: str) -> m.Agent | None:
    return tx.s.scalars(
        select(m.Agent).where(m.Agent.agent_type == agent_type, m.Agent.host == host)
    ).first()


def heartbeats(db: Database) -> dict[tuple[str, str], float]:
    """Every agent's last heartbeat, by (agent type, host): one query for all of them, read
    outside any session (the server looks at every agent on each API request,
    :meth:`NeutronRpcServer.catch_up`)."""
    found: dict[tuple[str, str], float] = {}
    for agent_type, host, beat in _HEARTBEATS.all(db):
        found.setdefault((agent_type, host), beat)  # the first row, as by_type_and_host
    return found


_HEARTBEATS = Prepared(select(m.Agent.agent_type, m.Agent.host, m.Agent.heartbeat_timestamp))


def record_report(tx: Tx, state: dict[str, Any]) -> str:
    """create_or_update_agent: a report registers a new agent or moves its heartbeat.
    Returns new / alive / revived, as Neutron tells the agent."""
    row = by_type_and_host(tx, state["agent_type"], state["host"])
    configurations = dict(state.get("configurations") or {})
    if row is None:
        tx.s.add(
            m.Agent(
                id=tx.new_id(),
                agent_type=state["agent_type"],
                binary=state["binary"],
                topic=state["topic"],
                host=state["host"],
                availability_zone=state.get("availability_zone"),
                admin_state_up=True,
                created_at=tx.now,
                started_at=tx.now,
                heartbeat_timestamp=tx.now,
                configurations=configurations,
                resource_versions=state.get("resource_versions"),
            )
        )
        return NEW
    status = ALIVE if is_alive(tx, row) else REVIVED
    row.heartbeat_timestamp = tx.now
    row.configurations = configurations
    row.binary, row.topic = state["binary"], state["topic"]
    if "availability_zone" in state:
        row.availability_zone = state["availability_zone"]
    if state.get("start_flag"):
        row.started_at = tx.now
    return status


def all_agents(tx: Tx) -> list[m.Agent]:
    return list(tx.s.scalars(select(m.Agent).order_by(m.Agent.created_at, m.Agent.id)))


def bindable(tx: Tx, host: str, segment: m.NetworkSegment | None) -> bool:
    """The Linux bridge mechanism driver can bind on ``host`` for ``segment``."""
    if "linuxbridge" not in tx.conf.mechanism_drivers or not host or segment is None:
        return False
    agent = by_type_and_host(tx, LINUXBRIDGE, host)
    if agent is None or not agent.admin_state_up or not is_alive(tx, agent):
        return False
    conf = agent.configurations or {}
    if segment.network_type in ("flat", "vlan"):
        physnet = segment.physical_network or ""
        return physnet in (conf.get("interface_mappings") or {}) or physnet in (
            conf.get("bridge_mappings") or {}
        )
    if segment.network_type == "vxlan":
        return "vxlan" in (conf.get("tunnel_types") or [])
    return segment.network_type == "local"


def dhcp_agents_for(tx: Tx, network_id: str) -> list[m.Agent]:
    rows = tx.s.scalars(
        select(m.Agent)
        .join(m.NetworkDhcpAgentBinding, m.NetworkDhcpAgentBinding.dhcp_agent_id == m.Agent.id)
        .where(m.NetworkDhcpAgentBinding.network_id == network_id)
        .order_by(m.Agent.host)
    )
    return list(rows)


def schedule_network(tx: Tx, network_id: str) -> list[m.Agent]:
    """The DHCP agents hosting a network, scheduling it to alive ones if it has fewer than
    dhcp_agents_per_network (ChanceScheduler: the least loaded first, by host name here)."""
    hosting = dhcp_agents_for(tx, network_id)
    wanted = tx.conf.dhcp_agents_per_network - len(hosting)
    if wanted > 0:
        taken = {a.id for a in hosting}
        free = [
            a
            for a in all_agents(tx)
            if a.agent_type == DHCP and a.id not in taken and a.admin_state_up and is_alive(tx, a)
        ]
        free.sort(key=lambda a: (_hosted_count(tx, a.id), a.host))
        for agent in free[:wanted]:
            tx.s.add(m.NetworkDhcpAgentBinding(network_id=network_id, dhcp_agent_id=agent.id))
            hosting.append(agent)
        tx.s.flush()
    return hosting


def _hosted_count(tx: Tx, agent_id: str) -> int:
    return len(
        list(
            tx.s.scalars(
                select(m.NetworkDhcpAgentBinding).where(
                    m.NetworkDhcpAgentBinding.dhcp_agent_id == agent_id
                )
            )
        )
    )


def networks_needing_dhcp(tx: Tx) -> list[str]:
    """Networks with at least one DHCP-enabled subnet."""
    return list(
        dict.fromkeys(
            tx.s.scalars(
                select(m.Subnet.network_id)
                .where(m.Subnet.enable_dhcp.is_(True))
                .order_by(m.Subnet.standard_attr_id)
            )
        )
    )


def hosted_by(tx: Tx, agent_id: str) -> list[str]:
    return list(
        tx.s.scalars(
            select(m.NetworkDhcpAgentBinding.network_id).where(
                m.NetworkDhcpAgentBinding.dhcp_agent_id == agent_id
            )
        )
    )
