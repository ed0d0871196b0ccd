"""Neutron's config files as the sim's Neutron reads them at start.

Debian starts each Neutron daemon with several ``--config-file`` arguments, later files
overriding earlier ones (oslo.config), and so does the sim:

- ``neutron-api`` and ``neutron-rpc-server``: ``/etc/neutron/neutron.conf`` then
  ``/etc/neutron/plugins/ml2/ml2_conf.ini`` (the init scripts add the ML2 file because
  ``core_plugin = ml2``);
- ``neutron-linuxbridge-agent``: neutron.conf, ml2_conf.ini, ``linuxbridge_agent.ini``;
- ``neutron-dhcp-agent``: neutron.conf, ``dhcp_agent.ini``;
- ``neutron-metadata-agent``: neutron.conf, ``metadata_agent.ini``.

Only the options the sim acts on are read, each with Zed's default.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from pathlib import Path

from labkit.sim.core.authtoken import AuthTokenConf
from labkit.sim.core.conf import ConfError, ConfFile

NEUTRON_CONF = "/etc/neutron/neutron.conf"
ML2_CONF = "/etc/neutron/plugins/ml2/ml2_conf.ini"
LINUXBRIDGE_CONF = "/etc/neutron/plugins/ml2/linuxbridge_agent.ini"
DHCP_CONF = "/etc/neutron/dhcp_agent.ini"
METADATA_CONF = "/etc/neutron/metadata_agent.ini"
UWSGI_CONF = "/etc/neutron/neutron-api-uwsgi.ini"

ML2_PLUGIN_NAMES = ("ml2", "neutron.plugins.ml2.plugin.Ml2Plugin")
# Quota options of neutron.conf [quotas] (Zed defaults); subnetpool has no option of its
# own and follows default_quota.
QUOTA_DEFAULTS = {
    "network": 100,
    "subnet": 100,
    "subnetpool": -1,
    "port": 500,
    "router": 10,
    "floatingip": 50,
    "security_group": 10,
    "security_group_rule": 100,
    "rbac_policy": 10,
}
L3_QUOTAS = ("router", "floatingip")


def read_files(paths: list[Path], label: str) -> ConfFile:
    """oslo.config over several --config-file arguments: later files win."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read([p for p in paths if p.is_file()])
    except configparser.Error as exc:
        raise ConfError(f"{label}: cannot parse: {exc}") from None
    return ConfFile(parser, label)


def parse_mappings(value: str, option: str) -> dict[str, str]:
    """neutron's helpers.parse_mappings: ``physnet:interface,...``, unique on both sides."""
    mappings: dict[str, str] = {}
    for item in (i.strip() for i in value.split(",")):
        if not item:
            continue
        key, sep, target = item.partition(":")
        key, target = key.strip(), target.strip()
        if not sep or not key or not target:
            raise ConfError(
                f"Parsing {option} failed: Invalid mapping: '{item}'. Agent terminated!"
            )
        if key in mappings:
            raise ConfError(
                f"Parsing {option} failed: Key {key} in mapping: '{item}' not unique. "
                "Agent terminated!"
            )
        if target in mappings.values():
            raise ConfError(
                f"Parsing {option} failed: Value {target} in mapping: '{item}' not unique. "
                "Agent terminated!"
            )
        mappings[key] = target
    return mappings


@dataclass(frozen=True)
class NeutronConf:
    """neutron.conf + ml2_conf.ini as neutron-api and neutron-rpc-server see them."""

    database_connection: str
    transport_url: str = ""
    core_plugin: str = ""
    service_plugins: tuple[str, ...] = ()
    auth_strategy: str = "keystone"
    agent_down_time: int = 75
    dhcp_agents_per_network: int = 1
    base_mac: str = "fa:16:3e:00:00:00"
    global_physnet_mtu: int = 1500
    notify_nova_on_port_status_changes: bool = True
    notify_nova_on_port_data_changes: bool = True
    type_drivers: tuple[str, ...] = ("local", "flat", "vlan", "gre", "vxlan", "geneve")
    tenant_network_types: tuple[str, ...] = ("local",)
    mechanism_drivers: tuple[str, ...] = ()
    extension_drivers: tuple[str, ...] = ()
    flat_networks: tuple[str, ...] = ("*",)
    network_vlan_ranges: tuple[str, ...] = ()
    vni_ranges: tuple[str, ...] = ()
    experimental_linuxbridge: bool = False
    quotas: dict[str, int] = field(default_factory=dict)
    nova_auth_url: str = ""
    nova_username: str = ""
    nova_password: str = ""
    nova_project_name: str = ""
    nova_region_name: str = ""
    nova_user_domain_name: str = "Default"
    nova_project_domain_name: str = "Default"
    nova_endpoint_type: str = "public"
    authtoken: AuthTokenConf = field(default_factory=AuthTokenConf)

    @property
    def l3_enabled(self) -> bool:
        return "router" in self.service_plugins or any(
            p.endswith("L3RouterPlugin") for p in self.service_plugins
        )

    def quota_resources(self) -> list[str]:
        """The resources with a quota: the core ones, plus router and floatingip when the
        L3 service plugin is loaded (its extension registers them)."""
        return [r for r in QUOTA_DEFAULTS if r not in L3_QUOTAS or self.l3_enabled]

    def default_quota(self, resource: str) -> int:
        return self.quotas.get(resource, QUOTA_DEFAULTS[resource])

    @classmethod
    def read(cls, paths: list[Path]) -> NeutronConf:
        conf = read_files(paths, "neutron.conf")
        quotas: dict[str, int] = {}
        default_quota = conf.get_int("quotas", "default_quota", -1)
        for resource in QUOTA_DEFAULTS:
            option = "quota_rbac_policy" if resource == "rbac_policy" else f"quota_{resource}"
            if resource == "subnetpool":
                quotas[resource] = default_quota
            elif conf.has("quotas", option):
                quotas[resource] = conf.get_int("quotas", option, QUOTA_DEFAULTS[resource])
        return cls(
            database_connection=conf.get("database", "connection"),
            transport_url=conf.get("DEFAULT", "transport_url"),
            core_plugin=conf.get("DEFAULT", "core_plugin"),
            service_plugins=tuple(conf.get_list("DEFAULT", "service_plugins")),
            auth_strategy=conf.get("DEFAULT", "auth_strategy", "keystone"),
            agent_down_time=conf.get_int("DEFAULT", "agent_down_time", 75),
            dhcp_agents_per_network=conf.get_int("DEFAULT", "dhcp_agents_per_network", 1),
            base_mac=conf.get("DEFAULT", "base_mac", "fa:16:3e:00:00:00"),
            global_physnet_mtu=conf.get_int("DEFAULT", "global_physnet_mtu", 1500),
            notify_nova_on_port_status_changes=conf.get_bool(
                "DEFAULT", "notify_nova_on_port_status_changes", True
            ),
            notify_nova_on_port_data_changes=conf.get_bool(
                "DEFAULT", "notify_nova_on_port_data_changes", True
            ),
            type_drivers=tuple(
                conf.get_list("ml2", "type_drivers", "local,flat,vlan,gre,vxlan,geneve")
            ),
            tenant_network_types=tuple(conf.get_list("ml2", "tenant_network_types", "local")),
            mechanism_drivers=tuple(conf.get_list("ml2", "mechanism_drivers")),
            extension_drivers=tuple(conf.get_list("ml2", "extension_drivers")),
            flat_networks=tuple(conf.get_list("ml2_type_flat", "flat_networks", "*")),
            network_vlan_ranges=tuple(conf.get_list("ml2_type_vlan", "network_vlan_ranges")),
            vni_ranges=tuple(conf.get_list("ml2_type_vxlan", "vni_ranges")),
            experimental_linuxbridge=conf.get_bool("experimental", "linuxbridge", False),
            quotas=quotas,
            nova_auth_url=conf.get("nova", "auth_url"),
            nova_username=conf.get("nova", "username"),
            nova_password=conf.get("nova", "password"),
            nova_project_name=conf.get("nova", "project_name"),
            nova_region_name=conf.get("nova", "region_name"),
            nova_user_domain_name=conf.get("nova", "user_domain_name", "Default"),
            nova_project_domain_name=conf.get("nova", "project_domain_name", "Default"),
            nova_endpoint_type=conf.get("nova", "endpoint_type", "public"),
            authtoken=AuthTokenConf.from_conf(conf),
        )


@dataclass(frozen=True)
class AgentConf:
    """What every agent reads: the broker, its host name and how often it reports."""

    transport_url: str = ""
    host: str = ""  # [DEFAULT] host; "" = the machine's host name
    report_interval: int = 30
    availability_zone: str = "nova"
    # linuxbridge agent
    physical_interface_mappings: dict[str, str] = field(default_factory=dict)
    bridge_mappings: dict[str, str] = field(default_factory=dict)
    enable_vxlan: bool = True
    local_ip: str = ""
    l2_population: bool = False
    enable_security_group: bool = True
    firewall_driver: str = ""
    # dhcp agent
    interface_driver: str = ""
    dhcp_driver: str = "neutron.agent.linux.dhcp.Dnsmasq"
    enable_isolated_metadata: bool = False
    force_metadata: bool = False
    dhcp_lease_duration: int = 86400
    # metadata agent
    nova_metadata_host: str = "127.0.0.1"
    nova_metadata_port: int = 8775
    metadata_proxy_shared_secret: str = ""

    @classmethod
    def read(cls, paths: list[Path], label: str) -> AgentConf:
        conf = read_files(paths, label)
        interfaces = parse_mappings(
            conf.get("linux_bridge", "physical_interface_mappings"),
            "physical_interface_mappings",
        )
        bridges = parse_mappings(conf.get("linux_bridge", "bridge_mappings"), "bridge_mappings")
        return cls(
            transport_url=conf.get("DEFAULT", "transport_url"),
            host=conf.get("DEFAULT", "host"),
            report_interval=conf.get_int("agent", "report_interval", 30),
            availability_zone=conf.get("agent", "availability_zone", "nova"),
            physical_interface_mappings=interfaces,
            bridge_mappings=bridges,
            enable_vxlan=conf.get_bool("vxlan", "enable_vxlan", True),
            local_ip=conf.get("vxlan", "local_ip"),
            l2_population=conf.get_bool("vxlan", "l2_population", False),
            enable_security_group=conf.get_bool("securitygroup", "enable_security_group", True),
            firewall_driver=conf.get("securitygroup", "firewall_driver"),
            interface_driver=conf.get("DEFAULT", "interface_driver"),
            dhcp_driver=conf.get("DEFAULT", "dhcp_driver", "neutron.agent.linux.dhcp.Dnsmasq"),
            enable_isolated_metadata=conf.get_bool("DEFAULT", "enable_isolated_metadata", False),
            force_metadata=conf.get_bool("DEFAULT", "force_metadata", False),
            dhcp_lease_duration=conf.get_int("DEFAULT", "dhcp_lease_duration", 86400),
            nova_metadata_host=conf.get("DEFAULT", "nova_metadata_host", "127.0.0.1"),
            nova_metadata_port=conf.get_int("DEFAULT", "nova_metadata_port", 8775),
            metadata_proxy_shared_secret=conf.get("DEFAULT", "metadata_proxy_shared_secret"),
        )
