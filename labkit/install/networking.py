"""Layer 6 -- Neutron with provider networks (Install Guide "neutron-install", option 1:
provider networks, Zed, Debian).

Neutron gives servers their network: a port (MAC, IP address, security groups) on a network
the cloud knows. With the guide's *provider networks* option every server sits on one flat
network that is a real physical network -- here the lab's management network, whose router
is the guests' gateway and whose guest pool Neutron hands addresses from. The server side
(``neutron-api``, ``neutron-rpc-server``) runs on the controller with ML2 and the Linux
bridge driver; a Linux bridge agent on every host plugs ports into a bridge on the provider
interface; the DHCP agent gives each guest its address; the metadata agent passes guests
their metadata.

Why Linux bridge and not Open vSwitch (Debian's default): the Linux bridge agent needs
nothing but the kernel's bridges, veths and iptables, which every host -- a local lab host
in a network namespace without an init system included -- already has. OVS needs its own
daemons (ovsdb-server, ovs-vswitchd) started and kept alive first, and a kernel datapath the
lab hosts share with the machine. The price: in Zed the Linux bridge driver is marked
experimental and must be enabled explicitly (``[experimental] linuxbridge = true``).

The provider interface is ``eth0`` on the sim's hosts and ``eth1`` on local lab hosts: those
get a second, address-less interface on the lab's bridge, as the Install Guide's hosts have
a management and a provider interface. The agent enslaves the provider interface to the
network's bridge (brq...) and would move an address it found there onto that bridge; with
eth1, eth0 -- SSH, RabbitMQ, every API -- is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from labkit.install import steps as st
from labkit.install.context import PlanContext
from labkit.install.service_auth import keystone_authtoken, login

NAME = "networking"
REQUIRES = ("keystone",)
CONF = "/etc/neutron/neutron.conf"
ML2 = "/etc/neutron/plugins/ml2/ml2_conf.ini"
LINUXBRIDGE = "/etc/neutron/plugins/ml2/linuxbridge_agent.ini"
DHCP = "/etc/neutron/dhcp_agent.ini"
METADATA = "/etc/neutron/metadata_agent.ini"
UWSGI = "/etc/neutron/neutron-api-uwsgi.ini"
PHYSNET = "provider"  # the guide's name for the physical network, and for the network
DB_URL = "mysql+pymysql://neutron:NEUTRON_DBPASS@{host}/neutron"
# A Linux bridge agent restarts when one of these changed in the same run.
AGENT_RESTARTS = (CONF, ML2, LINUXBRIDGE)
DB_MANAGE = f"neutron-db-manage --config-file {CONF} --config-file {ML2} upgrade heads"


@dataclass(frozen=True)
class ProviderNetwork(st.Step):
    """The flat provider network and its subnet, made through the Networking API (what the
    guide does with ``openstack network create`` and ``openstack subnet create``)."""

    kind: ClassVar[str] = "provider-network"
    network: str = PHYSNET
    physical_network: str = PHYSNET
    cidr: str = ""
    gateway: str = ""
    pool: tuple[str, str] = ("", "")

    def commands(self) -> list[str]:
        return [
            "openstack network create --share --external --provider-physical-network "
            f"{self.physical_network} --provider-network-type flat {self.network}",
            f"openstack subnet create --network {self.network} --allocation-pool "
            f"start={self.pool[0]},end={self.pool[1]} --gateway {self.gateway} "
            f"--subnet-range {self.cidr} {self.network}",
        ]


def _find_network(conn: Any, step: ProviderNetwork) -> Any:
    return next(iter(conn.network.networks(name=step.network)), None)


def _find_subnet(conn: Any, step: ProviderNetwork, network_id: str) -> Any:
    for subnet in conn.network.subnets(network_id=network_id):
        if subnet.cidr == step.cidr:
            return subnet
    return None


def provider_network_exists(conn: Any, step: ProviderNetwork) -> bool:
    """Client-side check: the network exists and has the subnet."""
    network = _find_network(conn, step)
    return network is not None and _find_subnet(conn, step, network.id) is not None


def create_provider_network(conn: Any, step: ProviderNetwork) -> tuple[int, list[str]]:
    """Client-side apply: make whichever of the two is missing."""
    lines = []
    network = _find_network(conn, step)
    if network is None:
        network = conn.network.create_network(
            name=step.network,
            is_shared=True,
            is_router_external=True,
            provider_network_type="flat",
            provider_physical_network=step.physical_network,
        )
        lines.append(f"network {network.name} ({network.id}): flat on {step.physical_network}")
    if _find_subnet(conn, step, network.id) is None:
        subnet = conn.network.create_subnet(
            name=step.network,
            network_id=network.id,
            ip_version=4,
            cidr=step.cidr,
            gateway_ip=step.gateway,
            allocation_pools=[{"start": step.pool[0], "end": step.pool[1]}],
        )
        lines.append(
            f"subnet {subnet.name} ({subnet.id}): {subnet.cidr}, gateway {subnet.gateway_ip}, "
            f"addresses {step.pool[0]} to {step.pool[1]}"
        )
    return 0, lines or ["the provider network and its subnet exist"]


def _agent_settings(ctx: PlanContext) -> tuple[tuple[str, str, str], ...]:
    return (
        ("linux_bridge", "physical_interface_mappings", f"{PHYSNET}:{ctx.provider_interface}"),
        ("vxlan", "enable_vxlan", "false"),
        ("securitygroup", "enable_security_group", "true"),
        (
            "securitygroup",
            "firewall_driver",
            "neutron.agent.linux.iptables_firewall.IptablesFirewallDriver",
        ),
    )


def _transport(ctx: PlanContext) -> tuple[str, str, str]:
    return ("DEFAULT", "transport_url", f"rabbit://openstack:RABBIT_PASS@{ctx.controller.name}")


def server_steps(ctx: PlanContext) -> list[st.Step]:
    c = ctx.controller.name
    url = ctx.network_url
    return [
        st.Database(
            title="Create the neutron database",
            host=c,
            name="neutron",
            user="neutron",
            password="NEUTRON_DBPASS",
        ),
        st.IdentityObjects(
            title="Create the neutron user, the network service and its endpoints",
            host=c,
            users=(("neutron", "NEUTRON_PASS"),),
            grants=(("service", "neutron", "admin"),),
            services=(("neutron", "network", "OpenStack Networking"),),
            endpoints=(
                ("network", "public", url),
                ("network", "internal", url),
                ("network", "admin", url),
            ),
            region=ctx.region,
            why="Neutron checks every caller's token as the user neutron; Nova finds Neutron "
            "through the catalog's network endpoints.",
        ),
        st.Packages(
            title="Install the Neutron server and the agents on the controller",
            host=c,
            names=(
                "neutron-server",
                "neutron-linuxbridge-agent",
                "neutron-dhcp-agent",
                "neutron-metadata-agent",
            ),
            why="Debian's neutron-server is two services, neutron-api (uwsgi, port 9696) and "
            "neutron-rpc-server (what the agents talk to); ML2 ships in neutron-common, so "
            "the guide's neutron-plugin-ml2 package does not exist on Debian 12.",
        ),
        st.IniSet(
            title="Configure neutron.conf: database, ML2, RabbitMQ, Keystone, Nova",
            host=c,
            path=CONF,
            settings=(
                ("database", "connection", DB_URL.format(host=c)),
                ("DEFAULT", "core_plugin", "ml2"),
                ("DEFAULT", "service_plugins", ""),
                _transport(ctx),
                ("DEFAULT", "auth_strategy", "keystone"),
                ("DEFAULT", "notify_nova_on_port_status_changes", "true"),
                ("DEFAULT", "notify_nova_on_port_data_changes", "true"),
                *keystone_authtoken(ctx, "neutron", "NEUTRON_PASS"),
                *login(ctx, "nova", "nova", "NOVA_PASS"),
                ("oslo_concurrency", "lock_path", "/var/lib/neutron/tmp"),
                ("experimental", "linuxbridge", "true"),
            ),
            why="Debian ships SQLite, Open vSwitch defaults, the router/metering/qos service "
            "plugins and region_name = regionOne; the provider-networks option needs none "
            "of them (service_plugins is empty). In Zed the Linux bridge driver is "
            "experimental: without [experimental] linuxbridge = true neutron-api's workers "
            "die at start and port 9696 hangs. [nova] is the login Neutron uses to tell Nova "
            "a server's port is plugged.",
        ),
        st.IniSet(
            title="Configure ML2: flat provider networks, the Linux bridge driver",
            host=c,
            path=ML2,
            settings=(
                ("ml2", "type_drivers", "flat,vlan"),
                ("ml2", "tenant_network_types", ""),
                ("ml2", "mechanism_drivers", "linuxbridge"),
                ("ml2", "extension_drivers", "port_security"),
                ("ml2_type_flat", "flat_networks", PHYSNET),
                ("securitygroup", "enable_ipset", "true"),
            ),
            why="No self-service networks (tenant_network_types is empty): only an admin "
            f"makes networks, on the physical network called {PHYSNET}.",
        ),
        st.IniSet(
            title="Run neutron-api with 2 uwsgi processes of one thread each",
            host=c,
            path=UWSGI,
            settings=(("uwsgi", "processes", "2"), ("uwsgi", "threads", "1")),
            why="Debian ships 8 processes x 32 threads; with 32 threads neutron-api deadlocks "
            "as soon as two clients talk to it at once, and 8 processes cost RAM a small lab "
            "host does not have.",
        ),
        st.IniSet(
            title="Configure the DHCP agent",
            host=c,
            path=DHCP,
            settings=(
                ("DEFAULT", "interface_driver", "linuxbridge"),
                ("DEFAULT", "dhcp_driver", "neutron.agent.linux.dhcp.Dnsmasq"),
                ("DEFAULT", "enable_isolated_metadata", "true"),
            ),
            why="Debian's dhcp_agent.ini plugs ports into Open vSwitch; this lab's L2 agent is "
            "the Linux bridge agent. Isolated metadata lets guests on a network without a "
            "router reach the metadata service through the DHCP server.",
        ),
        st.IniSet(
            title="Configure the metadata agent",
            host=c,
            path=METADATA,
            settings=(
                ("DEFAULT", "nova_metadata_host", c),
                ("DEFAULT", "metadata_proxy_shared_secret", "METADATA_SECRET"),
            ),
            why="The metadata agent forwards guests' metadata requests to Nova, signed with "
            "a secret Nova's [neutron] section will share.",
        ),
        st.ProbeDatabase(
            title="Check that neutron's database answers",
            host=c,
            url=DB_URL.format(host=c),
        ),
        st.Command(
            title="Create Neutron's tables",
            host=c,
            user="neutron",
            command=DB_MANAGE,
            done_when=st.Check("db-has-tables", "neutron"),
        ),
    ]


def agent_steps(ctx: PlanContext, host: str) -> list[st.Step]:
    """The Linux bridge agent's configuration on one host (the controller too)."""
    steps: list[st.Step] = []
    if host != ctx.controller.name:
        steps += [
            st.Packages(
                title=f"Install the Linux bridge agent on {host}",
                host=host,
                names=("neutron-linuxbridge-agent",),
            ),
            st.IniSet(
                title=f"Point neutron.conf on {host} at RabbitMQ",
                host=host,
                path=CONF,
                settings=(
                    _transport(ctx),
                    ("oslo_concurrency", "lock_path", "/var/lib/neutron/tmp"),
                ),
                why="Agents need no database and no Keystone: only the message queue.",
            ),
        ]
    steps.append(
        st.IniSet(
            title=f"Map the provider network to {ctx.provider_interface} on {host}",
            host=host,
            path=LINUXBRIDGE,
            settings=_agent_settings(ctx),
            why=f"Ports on the flat network {PHYSNET} go into a bridge on "
            f"{ctx.provider_interface}, the interface on the management network. VXLAN is "
            "off: the provider-networks option has no overlay networks.",
        )
    )
    return steps


def host_steps(ctx: PlanContext, host: str) -> list[st.Step]:
    """The Linux bridge agent on a host other than the controller, configured and started:
    what the guide's "Install and configure compute node" does for Neutron, and what a
    worker added later (notebooks/07-scale-out) gets."""
    return [
        *agent_steps(ctx, host),
        st.Service(
            title=f"Start the Linux bridge agent on {host}",
            host=host,
            name="neutron-linuxbridge-agent",
            restart_on=AGENT_RESTARTS,
        ),
    ]


def plan(ctx: PlanContext) -> list[st.Step]:
    c = ctx.controller.name
    others = [h.name for h in ctx.hosts if h.name != c]
    steps = server_steps(ctx) + agent_steps(ctx, c)
    steps += [
        st.Service(
            title="Start neutron-rpc-server",
            host=c,
            name="neutron-rpc-server",
            restart_on=(CONF, ML2),
        ),
        st.Service(
            title="Start neutron-api", host=c, name="neutron-api", restart_on=(CONF, ML2, UWSGI)
        ),
        st.WaitHttp(title="Wait until Neutron answers", host=c, url=ctx.network_url, timeout=90),
        st.Service(
            title=f"Start the Linux bridge agent on {c}",
            host=c,
            name="neutron-linuxbridge-agent",
            restart_on=AGENT_RESTARTS,
        ),
        st.Service(
            title="Start the DHCP agent", host=c, name="neutron-dhcp-agent", restart_on=(CONF, DHCP)
        ),
        st.Service(
            title="Start the metadata agent",
            host=c,
            name="neutron-metadata-agent",
            restart_on=(CONF, METADATA),
        ),
    ]
    for host in others:
        steps += host_steps(ctx, host)
    steps.append(
        st.ServicesUp(
            title="Verify: every agent is alive",
            host=c,
            api="network",
            expect=(
                *(("neutron-linuxbridge-agent", h.name) for h in ctx.hosts),
                ("neutron-dhcp-agent", c),
                ("neutron-metadata-agent", c),
            ),
            timeout=120,
            why="The guide's `openstack network agent list`. Agents report every 30 s over "
            "RabbitMQ; one that died at start (a missing tool, a wrong option) is not alive.",
        )
    )
    steps.append(
        ProviderNetwork(
            title=f"Create the provider network {PHYSNET} and its subnet",
            host=c,
            network=PHYSNET,
            physical_network=PHYSNET,
            cidr=ctx.network_cidr,
            gateway=ctx.network_gateway,
            pool=ctx.guest_pool,
            why=f"One flat, shared, external network on the physical network {PHYSNET}: the "
            f"management network {ctx.network_cidr} itself. Guests get addresses "
            f"{ctx.guest_pool[0]}-{ctx.guest_pool[1]} and reach the world through "
            f"{ctx.network_gateway}, like the hosts.",
        )
    )
    return steps
