"""Neutron v2.0 in the sim: the Install Guide's provider networks, as Zed ML2 behaves.

What openstacksdk and the ``openstack`` CLI see is what a real Zed Neutron (Debian 12, ML2
with the Linux bridge mechanism driver) shows: the version documents, the extension list,
networks, subnets, ports, agents, quotas and security groups with their Zed attributes, the
``{"NeutronError": {"type", "message", "detail"}}`` error bodies with neutron-lib's type
names and texts, policy as Zed's defaults, 404 for what the caller may not see (checked
against recordings in ``tests/parity``).

Behind the API are the processes of a real deployment: ``neutron-api`` and
``neutron-rpc-server`` on the controller (one database), a Linux bridge agent on every host,
the DHCP and metadata agents on the controller. Agents report over the message bus and need
RabbitMQ credentials; a port bound to a host is plugged by that host's agent and only then
becomes ``ACTIVE``; the DHCP agent asks the server for its port on each network with a DHCP
subnet.

LIMITATIONS (not emulated, or emulated differently):
  - L3: no routers, floating IPs, self-service routing, segments, trunks, QoS, port
    forwarding, DNS integration, IPv6 prefix delegation; a network has exactly one segment.
    Subnet pools are served (the core plugin's: CRUD, the prefix actions, subnets cut from a
    pool, address scopes, ``onboard_network_subnets``); address scopes route nothing (no
    routers);
  - RBAC policies are served for networks (shared and external), subnet pools, address
    scopes, address groups and security groups, with Zed's checks, texts and quota; the
    failed-callback texts inside ``InvalidInput`` / ``RbacPolicyInUse`` messages carry a
    made-up callback hash (Neutron's is the process's ``hash()`` of the callback);
  - service flavors and profiles are served (CRUD, binding a profile to a flavor) but pick
    nothing (no routers); ``GET`` of a flavor's binding and ``next_providers`` are not
    served (404);
  - bulk create (``{"networks": [...]}``) is emulated for networks, subnets, subnet pools,
    ports, security groups and their rules, all or nothing in one transaction;
  - type drivers: flat, vlan and vxlan; mechanism driver: only ``linuxbridge`` binds ports
    (``openvswitch``, ``ovn`` ... load but never bind);
  - security groups: groups and rules are created, changed and deleted with Zed's checks,
    texts and quotas, and each host's Linux bridge agent programs its firewall (the sim's
    wire) from ``security_group_info_for_devices``; a rule naming an address group
    filters by the group's CIDRs, as the iptables driver expands it; a group shared by RBAC
    is seen and used on ports by its target, whose rules only its owner adds. Not emulated:
    ``PUT`` on a rule (405: Zed's plugin has no rule update); the agents' fanout is one cast
    per Linux bridge agent the server knows (the bus has no fanout exchange), and an agent
    does not resync at start -- what was sent while it was stopped waits in its queue; the
    firewall judges connections, not packets: stateless groups filter like stateful ones, no
    source ports, no anti-spoofing; under the noop driver an agent plugs ports unfiltered
    without asking the server anything;
  - nothing moves packets: no bridges, no dnsmasq; the DHCP port exists and is ``ACTIVE``
    but answers nobody. The simulated hosts have one interface, ``eth0``;
  - metadata: the DHCP agent's proxy (haproxy at 169.254.169.254:80 on each network with a
    DHCP subnet, under ``enable_isolated_metadata`` or ``force_metadata``) and the metadata
    agent behind it (``get_ports`` over RPC, the signed request to nova-api-metadata) are
    emulated over the wire, HTTP only; no router-side proxies (no routers), no IPv6
    metadata address, no agent-side cache (``[cache]``), no ``nova_metadata_protocol =
    https`` or client certificates; the proxies stop with the DHCP agent (real haproxy
    processes outlive it), and ``nova_metadata_host`` on the loopback means this host;
  - agents report on their first start over the bus; later heartbeats are recorded when due
    (every ``report_interval``) whenever neutron-api serves a request or an agent or the RPC
    server stops, not by a timer -- a RabbitMQ outage is noticed at the next of those;
  - Zed's experimental Linux bridge driver without ``[experimental] linuxbridge = true``
    stops neutron-api at start (a real one keeps respawning uwsgi workers and hangs);
    ``neutron-api-uwsgi.ini`` (processes, threads) is not read;
  - tags are set through the ``/tags`` sub-resource of networks, subnets, subnet pools,
    ports and security groups, not in a create body; sorting and paging work on any
    attribute, not only indexed ones;
  - quotas: the ``DbQuotaNoLockDriver`` without reservations (``reserved`` is always 0);
    ``router`` and ``floatingip`` are listed when ``service_plugins`` loads ``router``;
  - keystonemiddleware: the service login and catalog are cached for 10 minutes, user tokens
    are validated over in-process HTTP (``GET /v3/auth/tokens``) and cached as
    keystonemiddleware caches them (see :mod:`labkit.sim.core.authtoken`).
"""

from __future__ import annotations

from labkit.sim.core.service import Command, Room, RoomContext
from labkit.sim.neutron import manage
from labkit.sim.neutron import models as m
from labkit.sim.neutron.agent_procs import DhcpAgent, LinuxBridgeAgent, MetadataAgent, NeutronAgent
from labkit.sim.neutron.api import all_routes
from labkit.sim.neutron.config import NeutronConf
from labkit.sim.neutron.rpc import NeutronRpcServer
from labkit.sim.neutron.service import NeutronApi, NeutronApp

USAGE = (
    "usage: neutron-db-manage [-h] [--config-file PATH] [--subproject SUBPROJECT] "
    "{current,upgrade,...} ..."
)


def build(ctx: RoomContext) -> Room:
    """neutron-api and neutron-rpc-server on the controller, a Linux bridge agent on every
    host, DHCP and metadata agents on the controller; neutron-db-manage (neutron-common)."""
    controller = ctx.runtime.config.controller.name
    api = NeutronApi(ctx, controller)
    api.http = NeutronApp(api, all_routes())
    rpc = NeutronRpcServer(ctx, controller)
    agents: list[NeutronAgent] = [LinuxBridgeAgent(ctx, h.name) for h in ctx.runtime.config.hosts]
    dhcp, metadata = DhcpAgent(ctx, controller), MetadataAgent(ctx, controller)
    dhcp.metadata_agent = metadata  # its metadata proxies' backend (a unix socket)
    agents += [dhcp, metadata]
    rpc.agents = agents
    api.refresh_agents = rpc.catch_up
    for agent in agents:
        agent.before_stop = rpc.catch_up
    return Room(
        name="neutron",
        processes=[api, rpc, *agents],
        commands=[
            Command(
                "neutron-db-manage",
                "neutron-common",
                lambda host, argv, user: neutron_db_manage(ctx, host, argv),
            )
        ],
    )


def neutron_db_manage(ctx: RoomContext, host: str, argv: list[str]) -> tuple[int, list[str]]:
    """``neutron-db-manage --config-file F ... upgrade heads|head | current``."""
    files: list[str] = []
    words: list[str] = []
    args = iter(argv[1:])
    for arg in args:
        if arg == "--config-file":
            files.append(next(args, ""))
        elif arg.startswith("--config-file="):
            files.append(arg.split("=", 1)[1])
        elif not arg.startswith("-"):
            words.append(arg)
    command = " ".join(words)
    if command not in ("upgrade heads", "upgrade head", "current"):
        return 2, [USAGE, "neutron-db-manage: error: choose from 'upgrade heads', 'current'"]
    if not files:
        files = ["/etc/neutron/neutron.conf"]
    missing = [f for f in files if not ctx.hosts.path(host, f).is_file()]
    if missing:
        return 1, [f"ConfigFilesNotFoundError: Failed to find some config files: {missing[0]}"]
    try:
        conf = NeutronConf.read([ctx.hosts.path(host, f) for f in files])
    except ValueError as exc:
        return 1, [str(exc)]
    if not conf.database_connection:
        return 1, ["ERROR: [database] connection is not set in the config files given"]
    db = ctx.hosts.open_database(host, conf.database_connection, m.Base.metadata)
    try:
        return 0, manage.upgrade(db) if command.startswith("upgrade") else manage.current(db)
    finally:
        db.dispose()
