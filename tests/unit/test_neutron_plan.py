"""The networking layer's plan as data: what it installs, configures and starts where, and
the explanations of Neutron's errors."""

from __future__ import annotations

from pathlib import Path

from labkit import explain
from labkit.envs import SimEnv, SshEnv, load_env, parse_env
from labkit.install import networking as nw
from labkit.install import steps as st
from labkit.install.context import PlanContext
from labkit.sim.machines.packages import KNOWN

REPO = Path(__file__).resolve().parents[2]


def sim_plan() -> list[st.Step]:
    env = load_env(REPO / "envs" / "sim.yaml")
    assert isinstance(env, SimEnv)
    return nw.plan(PlanContext.for_env(env, sim_port=8642))


def three_host_plan() -> list[st.Step]:
    env = parse_env(
        {
            "kind": "ssh",
            "management_network": {
                "cidr": "192.168.50.0/24",
                "gateway": "192.168.50.254",
                "guest_pool": ["192.168.50.10", "192.168.50.20"],
            },
            "hosts": [
                {"name": "ctl", "address": "192.168.50.2", "roles": ["controller"]},
                {"name": "w1", "address": "192.168.50.3", "roles": ["worker"]},
                {"name": "w2", "address": "192.168.50.4", "roles": ["worker"]},
            ],
        },
        "three.yaml",
    )
    assert isinstance(env, SshEnv)
    return nw.plan(PlanContext.for_env(env))


def test_every_package_is_a_debian_12_package_the_sim_knows() -> None:
    for step in sim_plan() + three_host_plan():
        if isinstance(step, st.Packages):
            assert set(step.names) <= set(KNOWN), step.names
            assert "neutron-plugin-ml2" not in step.names  # Ubuntu's, not Debian's


def test_a_linux_bridge_agent_runs_on_every_host() -> None:
    services = [(s.host, s.name) for s in three_host_plan() if isinstance(s, st.Service)]
    agents = {host for host, name in services if name == "neutron-linuxbridge-agent"}
    assert agents == {"ctl", "w1", "w2"}
    on_controller = {name for host, name in services if host == "ctl"}
    assert on_controller == {
        "neutron-rpc-server",
        "neutron-api",
        "neutron-linuxbridge-agent",
        "neutron-dhcp-agent",
        "neutron-metadata-agent",
    }


def test_the_provider_network_follows_the_env() -> None:
    [network] = [s for s in three_host_plan() if isinstance(s, nw.ProviderNetwork)]
    assert (network.cidr, network.gateway, network.pool) == (
        "192.168.50.0/24",
        "192.168.50.254",
        ("192.168.50.10", "192.168.50.20"),
    )
    assert network.commands() == [
        "openstack network create --share --external --provider-physical-network provider "
        "--provider-network-type flat provider",
        "openstack subnet create --network provider --allocation-pool "
        "start=192.168.50.10,end=192.168.50.20 --gateway 192.168.50.254 --subnet-range "
        "192.168.50.0/24 provider",
    ]


def test_the_settings_the_guide_and_debian_need() -> None:
    settings = {
        (s.host, s.path, section, key): value
        for s in three_host_plan()
        if isinstance(s, st.IniSet)
        for section, key, value in s.settings
    }
    assert settings[("ctl", nw.CONF, "experimental", "linuxbridge")] == "true"
    assert settings[("ctl", nw.CONF, "DEFAULT", "service_plugins")] == ""
    assert settings[("ctl", nw.CONF, "keystone_authtoken", "region_name")] == "RegionOne"
    assert settings[("ctl", nw.ML2, "ml2", "mechanism_drivers")] == "linuxbridge"
    assert settings[("ctl", nw.ML2, "ml2_type_flat", "flat_networks")] == "provider"
    assert settings[("ctl", nw.UWSGI, "uwsgi", "threads")] == "1"
    assert settings[("ctl", nw.DHCP, "DEFAULT", "interface_driver")] == "linuxbridge"
    assert settings[("ctl", nw.METADATA, "DEFAULT", "metadata_proxy_shared_secret")] == (
        "METADATA_SECRET"
    )
    for host in ("ctl", "w1", "w2"):
        key = (host, nw.LINUXBRIDGE, "linux_bridge", "physical_interface_mappings")
        assert settings[key] == "provider:eth0"
        assert settings[(host, nw.LINUXBRIDGE, "vxlan", "enable_vxlan")] == "false"
    assert settings[("w1", nw.CONF, "DEFAULT", "transport_url")] == (
        "rabbit://openstack:RABBIT_PASS@ctl"
    )


def test_neutrons_errors_are_explained() -> None:
    net = "5d1c1f4e-0b47-4a53-9a39-1f2e3d4c5b6a"
    cases = {
        f"ConflictException: 409: No more IP addresses available on network {net}.": (
            "neutron.no-ips"
        ),
        f"NotFoundException: 404: Network {net} could not be found.": "neutron.network-not-found",
        "ConflictException: 409: Quota exceeded for resources: ['port'].": "neutron.over-quota",
        f"Binding failed for port {net}, please check neutron logs for more information.": (
            "neutron.binding-failed"
        ),
        "HttpException: 503: Unable to create the network. No tenant network is available for "
        "allocation.": "neutron.no-tenant-network",
    }
    for text, entry in cases.items():
        found = explain.explain(text)
        assert (found.entry, found.layer) == (entry, "networking"), text
