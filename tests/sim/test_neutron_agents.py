"""Neutron's agents as processes: heartbeats over RabbitMQ, what stopping or misconfiguring
them does, and how the server's own processes fail to start. A private sim (services are
stopped and configs broken here), restored after each test."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from labkit.install import steps as st
from tests.conftest import openstack_cli, private_sim

NEUTRON_CONF = "/etc/neutron/neutron.conf"
LINUXBRIDGE = "/etc/neutron/plugins/ml2/linuxbridge_agent.ini"
DOWN_AFTER = 80  # agent_down_time is 75 s


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    for lab in private_sim(tmp_path_factory, "neutronagents"):
        lab.ensure("networking")
        yield lab


@pytest.fixture(scope="module")
def admin(lab: Any) -> Any:
    return lab.connect("admin")


@pytest.fixture(scope="module")
def osc(lab: Any) -> Callable[..., Any]:
    return openstack_cli(lab)


@contextmanager
def configured(
    lab: Any, host: str, path: str, service: str, *settings: tuple[str, str, str]
) -> Iterator[dict[str, Any]]:
    """Change a config file on a host and restart a service; put both back afterwards."""
    before = lab.sim.file(host, path)["content"]
    step = st.IniSet(title="test", host=host, path=path, settings=settings)
    lab.sim.step(host, step.to_dict(), "apply", lab.secrets, set())
    answer = lab.sim.service(host, service, "restart")
    try:
        yield answer
    finally:
        restore = st.WriteFile(title="restore", host=host, path=path, content=before)
        lab.sim.step(host, restore.to_dict(), "apply", lab.secrets, set())
        assert lab.sim.service(host, service, "restart")["ok"]


def alive(admin: Any, agent_type: str, host: str) -> bool | None:
    for agent in admin.network.agents(agent_type=agent_type, host=host):
        return bool(agent.is_alive)
    return None


def bind(admin: Any, network_id: str, host: str) -> Any:
    port = admin.network.create_port(network_id=network_id)
    port = admin.network.update_port(
        port, binding_host_id=host, device_owner="compute:nova", device_id=port.id
    )
    return admin.network.get_port(port.id)


@pytest.fixture(scope="module")
def provider(admin: Any) -> Any:
    return admin.network.find_network("provider", ignore_missing=False)


def test_a_stopped_agent_stays_alive_until_agent_down_time(
    lab: Any, admin: Any, osc: Any, provider: Any
) -> None:
    assert lab.sim.service("worker1", "neutron-linuxbridge-agent", "stop")["ok"]
    try:
        assert alive(admin, "Linux bridge agent", "worker1") is True
        lab.advance_clock(DOWN_AFTER)
        assert alive(admin, "Linux bridge agent", "worker1") is False
        assert alive(admin, "Linux bridge agent", "controller") is True
        table = json.loads(osc("network agent list --host worker1 -f json").stdout)
        assert [a["Alive"] for a in table] == [False]
        port = bind(admin, provider.id, "worker1")
        assert (port.binding_vif_type, port.status) == ("binding_failed", "DOWN")
        admin.network.delete_port(port.id)
        log = lab.sim.log("neutron-api", tail=50)
        assert any(f"Failed to bind port {port.id} on host worker1" in line for line in log)
    finally:
        assert lab.sim.service("worker1", "neutron-linuxbridge-agent", "start")["ok"]
    assert alive(admin, "Linux bridge agent", "worker1") is True
    port = bind(admin, provider.id, "worker1")
    assert (port.binding_vif_type, port.status) == ("bridge", "ACTIVE")
    admin.network.delete_port(port.id)


def test_a_wrong_rabbitmq_password_keeps_the_agent_down(
    lab: Any, admin: Any, provider: Any
) -> None:
    wrong = ("DEFAULT", "transport_url", "rabbit://openstack:wrong@controller")
    with configured(lab, "worker1", NEUTRON_CONF, "neutron-linuxbridge-agent", wrong) as started:
        assert started["ok"]  # the process runs; its reports never reach the queue
        lab.advance_clock(DOWN_AFTER)
        assert alive(admin, "Linux bridge agent", "worker1") is False
        log = lab.sim.log("neutron-linuxbridge-agent", tail=20)
        assert any("ACCESS_REFUSED" in line for line in log)
        port = bind(admin, provider.id, "worker1")
        assert port.binding_vif_type == "binding_failed"
        admin.network.delete_port(port.id)
    assert alive(admin, "Linux bridge agent", "worker1") is True


def test_without_the_rpc_server_every_agent_goes_down(lab: Any, admin: Any) -> None:
    assert lab.sim.service("controller", "neutron-rpc-server", "stop")["ok"]
    try:
        lab.advance_clock(DOWN_AFTER)
        assert {a.is_alive for a in admin.network.agents()} == {False}
    finally:
        assert lab.sim.service("controller", "neutron-rpc-server", "start")["ok"]
    assert {a.is_alive for a in admin.network.agents()} == {True}


def test_the_dhcp_agent_serves_a_new_subnet_once_it_runs(
    lab: Any, admin: Any, provider: Any
) -> None:
    def dhcp_addresses() -> list[str]:
        ports = admin.network.ports(network_id=provider.id, device_owner="network:dhcp")
        return sorted(ip["ip_address"] for p in ports for ip in p.fixed_ips)

    assert dhcp_addresses() == ["10.64.0.100"]
    assert lab.sim.service("controller", "neutron-dhcp-agent", "stop")["ok"]
    extra = admin.network.create_subnet(
        network_id=provider.id, name="extra", ip_version=4, cidr="192.168.88.0/28"
    )
    try:
        assert dhcp_addresses() == ["10.64.0.100"]  # the agent's message waits in its queue
        assert lab.sim.service("controller", "neutron-dhcp-agent", "start")["ok"]
        assert lab.sim.quiesce()
        assert dhcp_addresses() == ["10.64.0.100", "192.168.88.2"]
    finally:
        admin.network.delete_subnet(extra.id)
    assert lab.sim.quiesce()
    assert dhcp_addresses() == ["10.64.0.100"]


def test_neutron_api_answers_503_while_stopped(lab: Any, admin: Any) -> None:
    assert lab.sim.service("controller", "neutron-api", "stop")["ok"]
    try:
        url = f"http://127.0.0.1:{lab.sim_port}/networking/v2.0/networks"
        response = admin.session.get(url, raise_exc=False)
        assert response.status_code == 503
        assert response.json()["NeutronError"]["type"] == "HTTPServiceUnavailable"
        assert "neutron-api is not running on controller" in response.text
    finally:
        assert lab.sim.service("controller", "neutron-api", "start")["ok"]


def test_zeds_experimental_linuxbridge_flag_is_required(lab: Any) -> None:
    off = ("experimental", "linuxbridge", "false")
    with configured(lab, "controller", NEUTRON_CONF, "neutron-api", off) as started:
        assert not started["ok"]
        assert "Feature 'linuxbridge' is experimental" in started["output"][0]


def test_a_mapping_to_a_missing_interface_stops_the_agent(lab: Any) -> None:
    mapping = ("linux_bridge", "physical_interface_mappings", "provider:eth9")
    with configured(lab, "worker1", LINUXBRIDGE, "neutron-linuxbridge-agent", mapping) as answer:
        assert not answer["ok"]
        assert answer["output"] == [
            "Interface eth9 for physical network provider does not exist. Agent terminated!"
        ]


def test_vxlan_without_local_ip_stops_the_agent(lab: Any) -> None:
    vxlan = ("vxlan", "enable_vxlan", "true")
    with configured(lab, "worker1", LINUXBRIDGE, "neutron-linuxbridge-agent", vxlan) as answer:
        assert not answer["ok"]
        assert "Tunneling cannot be enabled without the local_ip" in answer["output"][0]


def test_a_plugged_vm_port_is_reported_to_nova(lab: Any, admin: Any, provider: Any) -> None:
    port = bind(admin, provider.id, "worker1")
    try:
        assert port.status == "ACTIVE"
        log = lab.sim.log("neutron-rpc-server", tail=30)
        # Nova is not installed in this lab: Neutron tries, logs, and carries on.
        assert any(
            "Failed to notify nova on events" in line and "network-vif-plugged" in line
            for line in log
        )
    finally:
        admin.network.delete_port(port.id)


def test_neutron_db_manage_current(lab: Any) -> None:
    step = st.Command(
        title="test",
        host="controller",
        command="neutron-db-manage --config-file /etc/neutron/neutron.conf current",
    )
    answer = lab.sim.step("controller", step.to_dict(), "apply", lab.secrets, set())
    assert answer["exit_code"] == 0
    assert "5881373af7f5 (head)" in answer["output"]


def test_running_agents_keep_reporting_while_only_reads_happen(lab: Any, admin: Any) -> None:
    """The server skips reading the agents' table while no report can be due: time passing
    with nothing written (only reads) must still bring each report when it is due."""
    first = {a.id: a.last_heartbeat_at for a in admin.network.agents()}
    for _ in range(3):
        lab.advance_clock(DOWN_AFTER)  # longer than agent_down_time each time
        assert all(a.is_alive for a in admin.network.agents())
    later = {a.id: a.last_heartbeat_at for a in admin.network.agents()}
    assert set(later) == set(first)
    assert all(later[i] != first[i] for i in first)  # every heartbeat moved


def test_a_deleted_agent_registers_again_at_its_next_report(lab: Any, admin: Any) -> None:
    """Deleting an agent's row (``network agent delete``) is a write: the next request sees
    the running agent as due and records its report, as before the server kept anything."""
    before = {(a.agent_type, a.host) for a in admin.network.agents()}
    target = next(iter(admin.network.agents(agent_type="Linux bridge agent", host="worker1")))
    admin.network.delete_agent(target)
    again = list(admin.network.agents(agent_type="Linux bridge agent", host="worker1"))
    assert len(again) == 1 and again[0].id != target.id and again[0].is_alive
    assert {(a.agent_type, a.host) for a in admin.network.agents()} == before
