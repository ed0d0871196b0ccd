"""Neutron's errors: the known failures of the networking layer.

Patterns match the error text (what openstacksdk raised, what the CLI printed, or a line of
a Neutron log): Neutron's own answers carry neutron-lib's exception names and texts
("No more IP addresses available on network ...", "Quota exceeded for resources: [...]").
"""

from __future__ import annotations

from labkit.explain import pattern_entries

# (name, pattern over the error text or a Neutron log, layer, title, cause, fix), most
# specific first.
_KNOWN = (
    (
        "neutron.no-ips",
        r"No more IP addresses available on network (?P<network>[0-9a-f-]{36})",
        "networking",
        "The network has no free address left",
        "Every address of the allocation pools of network {network}'s subnets is taken by a "
        "port (servers, the DHCP agent's port ...). Neutron hands out addresses only from the "
        "pools, never the gateway, network or broadcast address.",
        "Delete ports you no longer need (`openstack port list --network NETWORK`), or give "
        "the subnet a larger pool: `openstack subnet set --allocation-pool "
        "start=A,end=B SUBNET` (within its CIDR), or add another subnet to the network.",
    ),
    (
        "neutron.ip-taken",
        r"IP address (?P<ip>\S+) already allocated in subnet (?P<subnet>[0-9a-f-]{36})",
        "networking",
        "That fixed IP is already in use",
        "Another port already has {ip} on subnet {subnet}; one address, one port.",
        "Find its owner with `openstack port list --fixed-ip ip-address={ip}`; pick another "
        "address, or leave --fixed-ip out and let Neutron choose one from the pool.",
    ),
    (
        "neutron.network-not-found",
        r"Network (?P<network>\S+) could not be found",
        "networking",
        "No such network -- or not one you may see",
        "Neutron answers 404 both for networks that do not exist and for other projects' "
        "networks that are neither shared nor external.",
        "`openstack network list` shows what your project sees; the lab's provider network is "
        "shared, so every project sees it once it exists (lab.ensure('networking')).",
    ),
    (
        "neutron.binding-failed",
        r"Binding failed for port (?P<port>[0-9a-f-]{36})|Failed to bind port (?P<port2>\S+) "
        r"on host (?P<host>\S+)|binding_failed",
        "networking",
        "The port could not be bound: no live Linux bridge agent there",
        "ML2 binds a port to a host only through an alive Linux bridge agent on that host "
        "whose physical_interface_mappings include the network's physical network. An agent "
        "that is stopped, cannot log in to RabbitMQ (transport_url), or has not reported for "
        "agent_down_time (75 s) is down, and the binding fails.",
        "`openstack network agent list` (as admin): the host's Linux bridge agent must show "
        ":-) and UP. Start it (`service neutron-linuxbridge-agent start` on that host), check "
        "transport_url in its neutron.conf and physical_interface_mappings in "
        "linuxbridge_agent.ini.",
    ),
    (
        "neutron.over-quota",
        r"Quota exceeded for resources: \[(?P<resources>[^\]]*)\]",
        "networking",
        "The project is at its Networking quota",
        "Creating this would take the project past its limit for {resources}. Neutron counts "
        "the project's own networks, subnets, ports, security groups and rules.",
        "`openstack quota show --usage PROJECT` shows used and limit; delete what is not "
        "needed, or raise the limit as admin: `openstack quota set --ports 100 PROJECT`.",
    ),
    (
        "neutron.no-tenant-network",
        r"No tenant network is available for allocation",
        "networking",
        "This cloud has no self-service networks",
        "With the Install Guide's provider-networks option, tenant_network_types in "
        "ml2_conf.ini is empty: only an admin can create networks, on a physical network "
        "(--provider-network-type flat --provider-physical-network provider).",
        "Use the shared provider network (`openstack network list`); self-service networks "
        "need the guide's option 2 (VXLAN and a router).",
    ),
    (
        "neutron.policy",
        r"\(?rule:(?P<action>(create|update|delete)_\w+)(?: and rule:[\w:]+)*\)? is "
        r"disallowed by policy",
        "networking",
        "Neutron's policy refused this",
        "{action} (or one of the attributes the request sets) needs the admin role or the "
        "owner of the network: shared, router:external and provider:* are for admins, and "
        "only the network's owner picks a fixed IP address.",
        "Leave out the admin-only options, or run the command as admin (`--os-cloud lab-admin`).",
    ),
    (
        "neutron.linuxbridge-experimental",
        r"Feature 'linuxbridge' is experimental",
        "networking",
        "Zed's Linux bridge driver must be switched on",
        "In Zed the linuxbridge mechanism driver is experimental: without [experimental] "
        "linuxbridge = true in neutron.conf a real neutron-api keeps respawning its uwsgi "
        "workers while port 9696 accepts connections that hang.",
        "crudini --set /etc/neutron/neutron.conf experimental linuxbridge true, then restart "
        "neutron-api and neutron-rpc-server; labkit's networking plan does this.",
    ),
    (
        "neutron.interface-missing",
        r"Interface (?P<interface>\S+) for physical network (?P<physnet>\S+) does not exist",
        "networking",
        "The Linux bridge agent's interface mapping names no real interface",
        "physical_interface_mappings = {physnet}:{interface} in linuxbridge_agent.ini, but the "
        "host has no interface {interface}, so the agent exits at start.",
        "`ip -br link` on the host shows its interfaces; set the mapping to the one on the "
        "provider (here: management) network and start neutron-linuxbridge-agent again.",
    ),
    (
        "neutron.flat-in-use",
        r"Unable to create the flat network\. Physical network (?P<physnet>\S+) is in use",
        "networking",
        "A flat network already uses that physical network",
        "One physical network carries one flat network: {physnet} already has one.",
        "Use the existing network (`openstack network list --long`), or delete it first.",
    ),
    (
        "neutron.not-running",
        r"neutron-api is not running on (?P<host>[\w-]+)",
        "networking",
        "Neutron is not installed or not started yet",
        "Requests under /networking get 503 until neutron-api has been installed and "
        "started on {host}.",
        "lab.ensure('networking'); `labkit install sim networking` from a terminal.",
    ),
)

ENTRIES = pattern_entries(_KNOWN)
