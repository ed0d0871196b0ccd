"""Neutron with the Install Guide's provider network, through openstacksdk and the CLI.

The session's sim gets the networking layer (its install plan: the provider network
``provider`` on the management network, its subnet with the guest pool, the DHCP port).
Tests that add things remove them again; nothing here stops a service.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from openstack import exceptions as sdk_exc

from tests.sim.neutron_helpers import neutron_error, raw

PROVIDER_CIDR = "10.64.0.0/24"
GUEST_POOL = ("10.64.0.100", "10.64.0.199")


@pytest.fixture(scope="module")
def lab(sim_lab: Any) -> Any:
    return sim_lab.ensure("networking")


@pytest.fixture(scope="module")
def provider(lab: Any, admin: Any) -> Any:
    return admin.network.find_network("provider", ignore_missing=False)


@pytest.fixture(scope="module")
def provider_subnet(provider: Any, admin: Any) -> Any:
    return next(iter(admin.network.subnets(network_id=provider.id)))


def osc_json(osc: Callable[..., Any], command: str, cloud: str = "lab-admin") -> Any:
    return json.loads(osc(f"{command} -f json", cloud=cloud).stdout)


@pytest.fixture()
def ports_to_delete(admin: Any) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for port_id in made:
        admin.network.delete_port(port_id, ignore_missing=True)


# ---- what the install plan made -----------------------------------------------------------------


def test_the_provider_network_is_flat_shared_and_external(osc: Any, lab: Any) -> None:
    shown = osc_json(osc, "network show provider")
    assert shown["provider:network_type"] == "flat"
    assert shown["provider:physical_network"] == "provider"
    assert shown["provider:segmentation_id"] is None
    assert shown["shared"] is True and shown["router:external"] is True
    assert (shown["mtu"], shown["status"], shown["admin_state_up"]) == (1500, "ACTIVE", True)
    assert shown["availability_zones"] == ["nova"]  # hosted by the DHCP agent
    names = [n["Name"] for n in osc_json(osc, "network list")]
    assert "provider" in names


def test_the_provider_subnet_hands_out_the_guest_pool(osc: Any, lab: Any) -> None:
    subnet = osc_json(osc, "subnet show provider")
    assert subnet["cidr"] == PROVIDER_CIDR and subnet["gateway_ip"] == "10.64.0.1"
    assert subnet["allocation_pools"] == [{"start": GUEST_POOL[0], "end": GUEST_POOL[1]}]
    assert subnet["enable_dhcp"] is True and subnet["ip_version"] == 4
    assert subnet["host_routes"] == [] and subnet["dns_nameservers"] == []


def test_the_dhcp_agent_took_the_first_address_and_its_port_is_active(
    admin: Any, provider: Any, provider_subnet: Any
) -> None:
    ports = list(admin.network.ports(network_id=provider.id, device_owner="network:dhcp"))
    assert len(ports) == 1
    port = ports[0]
    assert port.fixed_ips == [{"subnet_id": provider_subnet.id, "ip_address": GUEST_POOL[0]}]
    assert port.status == "ACTIVE"
    assert (port.binding_host_id, port.binding_vif_type) == ("controller", "bridge")
    assert port.device_id.startswith("dhcp") and port.device_id.endswith(provider.id)
    assert port.security_group_ids == []  # the network's own ports are never filtered


def test_agent_list_shows_every_agent_alive(osc: Any, lab: Any) -> None:
    agents = osc_json(osc, "network agent list")
    seen = {(a["Agent Type"], a["Host"], a["Binary"]) for a in agents}
    assert seen == {
        ("Linux bridge agent", "controller", "neutron-linuxbridge-agent"),
        ("Linux bridge agent", "worker1", "neutron-linuxbridge-agent"),
        ("DHCP agent", "controller", "neutron-dhcp-agent"),
        ("Metadata agent", "controller", "neutron-metadata-agent"),
    }
    assert all(a["Alive"] is True and a["State"] is True for a in agents)
    zones = {a["Agent Type"]: a["Availability Zone"] for a in agents}
    assert zones["DHCP agent"] == "nova" and zones["Metadata agent"] is None


def test_agent_details(admin: Any, lab: Any) -> None:
    bridge = next(admin.network.agents(agent_type="Linux bridge agent", host="worker1"))
    assert bridge.configuration["interface_mappings"] == {"provider": "eth0"}
    assert bridge.topic == "N/A"
    dhcp = next(admin.network.agents(binary="neutron-dhcp-agent"))
    assert dhcp.topic == "dhcp_agent"
    assert dhcp.configuration["dhcp_driver"] == "neutron.agent.linux.dhcp.Dnsmasq"
    hosted = raw(admin, lab, "GET", f"/agents/{dhcp.id}/dhcp-networks").json()["networks"]
    assert [n["name"] for n in hosted] == ["provider"]


def test_a_member_sees_no_agents(demo: Any, lab: Any) -> None:
    assert list(demo.network.agents()) == []


def test_the_second_install_changes_nothing(lab: Any) -> None:
    results = lab.installs.install("networking", show=False)
    assert {r.status for r in results} <= {"already done", "ok"}


# ---- ports --------------------------------------------------------------------------------------


def test_port_create_with_a_fixed_ip_and_the_duplicate_refused(
    osc: Any, provider_subnet: Any, ports_to_delete: list[str]
) -> None:
    port = osc_json(
        osc,
        "port create --network provider "
        "--fixed-ip subnet=provider,ip-address=10.64.0.150 fixed-150",
    )
    ports_to_delete.append(port["id"])
    assert port["fixed_ips"] == [{"subnet_id": provider_subnet.id, "ip_address": "10.64.0.150"}]
    assert port["mac_address"].startswith("fa:16:3e:")
    assert (port["status"], port["binding_vif_type"]) == ("DOWN", "unbound")
    again = osc(
        "port create --network provider --fixed-ip ip-address=10.64.0.150 fixed-dup", check=False
    )
    assert again.returncode == 1
    assert (
        f"IP address 10.64.0.150 already allocated in subnet {provider_subnet.id}" in again.stderr
    )
    listed = osc_json(osc, "port list --fixed-ip ip-address=10.64.0.150")
    assert [p["ID"] for p in listed] == [port["id"]]
    osc(f"port delete {port['id']}")
    assert osc_json(osc, "port list --fixed-ip ip-address=10.64.0.150") == []


def test_an_address_comes_from_the_pool(
    admin: Any, provider: Any, ports_to_delete: list[str]
) -> None:
    port = admin.network.create_port(network_id=provider.id, name="from-pool")
    ports_to_delete.append(port.id)
    address = port.fixed_ips[0]["ip_address"]
    last = int(address.rsplit(".", 1)[1])
    assert 101 <= last <= 199  # .100 is the DHCP port's
    assert port.project_id == admin.current_project_id
    assert port.device_owner == "" and port.device_id == ""
    default = admin.network.find_security_group(
        "default", project_id=admin.current_project_id, ignore_missing=False
    )
    assert port.security_group_ids == [default.id]


def test_an_address_outside_the_subnets_and_a_bad_subnet_are_refused(
    admin: Any, lab: Any, provider: Any
) -> None:
    outside = raw(
        admin,
        lab,
        "POST",
        "/ports",
        json={"port": {"network_id": provider.id, "fixed_ips": [{"ip_address": "192.0.2.5"}]}},
    )
    assert neutron_error(outside) == (
        400,
        "InvalidIpForNetwork",
        "IP address 192.0.2.5 is not a valid IP for any of the subnets on the specified network.",
    )
    missing = "3f0c6a7e-0000-4000-8000-000000000000"
    bad = raw(
        admin,
        lab,
        "POST",
        "/ports",
        json={"port": {"network_id": provider.id, "fixed_ips": [{"subnet_id": missing}]}},
    )
    assert neutron_error(bad) == (404, "SubnetNotFound", f"Subnet {missing} could not be found.")


def test_pool_exhaustion_on_a_small_subnet(
    admin: Any, osc: Any, lab: Any, provider: Any, ports_to_delete: list[str]
) -> None:
    small = admin.network.create_subnet(
        network_id=provider.id,
        name="small",
        ip_version=4,
        cidr="192.168.77.0/29",
        is_dhcp_enabled=False,
    )
    try:
        assert small.allocation_pools == [{"start": "192.168.77.2", "end": "192.168.77.6"}]
        got = []
        for i in range(5):
            port = admin.network.create_port(
                network_id=provider.id, name=f"small-{i}", fixed_ips=[{"subnet_id": small.id}]
            )
            ports_to_delete.append(port.id)
            got.append(port.fixed_ips[0]["ip_address"])
        assert sorted(got) == [f"192.168.77.{n}" for n in range(2, 7)]
        before = len(list(admin.network.ports(network_id=provider.id)))
        full = osc(
            f"port create --network provider --fixed-ip subnet={small.id} one-too-many",
            check=False,
        )
        assert full.returncode == 1
        assert f"No more IP addresses available on network {provider.id}." in full.stderr
        assert len(list(admin.network.ports(network_id=provider.id))) == before  # nothing left
        # The network's other subnet still has room for a port that names no subnet.
        port = admin.network.create_port(network_id=provider.id, name="still-room")
        ports_to_delete.append(port.id)
        assert port.fixed_ips[0]["ip_address"].startswith("10.64.0.")
        in_use = raw(admin, lab, "DELETE", f"/subnets/{small.id}")
        assert neutron_error(in_use)[:2] == (409, "SubnetInUse")
    finally:
        for port_id in list(ports_to_delete):
            admin.network.delete_port(port_id, ignore_missing=True)
        admin.network.delete_subnet(small.id, ignore_missing=True)
    with pytest.raises(sdk_exc.NotFoundException):
        admin.network.get_subnet(small.id)


def test_nova_style_port_lifecycle(
    admin: Any, lab: Any, provider: Any, provider_subnet: Any, ports_to_delete: list[str]
) -> None:
    """What nova-compute sends for a server: create with device_id and security groups,
    bind to a host, find by device_id, delete."""
    demo_project = admin.identity.find_project("demo", ignore_missing=False).id
    groups = raw(admin, lab, "GET", f"/security-groups?project_id={demo_project}&name=default")
    default_id = groups.json()["security_groups"][0]["id"]
    networks = raw(admin, lab, "GET", "/networks?shared=True").json()["networks"]
    assert [n["id"] for n in networks] == [provider.id]
    own = raw(admin, lab, "GET", f"/networks?project_id={demo_project}").json()["networks"]
    assert own == []
    server = "0f3c2a55-7b4e-4b5e-9d7a-5a1d3c2b1a00"
    created = raw(
        admin,
        lab,
        "POST",
        "/ports",
        json={
            "port": {
                "network_id": provider.id,
                "project_id": demo_project,
                "device_id": server,
                "security_groups": [default_id],
            }
        },
    )
    assert created.status_code == 201, created.text
    port = created.json()["port"]
    ports_to_delete.append(port["id"])
    assert port["tenant_id"] == port["project_id"] == demo_project
    assert port["security_groups"] == [default_id]
    bound = raw(
        admin,
        lab,
        "PUT",
        f"/ports/{port['id']}",
        json={
            "port": {
                "device_owner": "compute:nova",
                "binding:host_id": "worker1",
                "device_id": server,
            }
        },
    )
    assert bound.status_code == 200, bound.text
    assert bound.json()["port"]["binding:vif_type"] == "bridge"
    assert bound.json()["port"]["binding:vif_details"] == {
        "connectivity": "l2",
        "port_filter": True,
    }
    assert bound.json()["port"]["revision_number"] > port["revision_number"]
    found = raw(admin, lab, "GET", f"/ports?device_id={server}").json()["ports"]
    assert [p["id"] for p in found] == [port["id"]]
    assert found[0]["status"] == "ACTIVE"  # worker1's Linux bridge agent plugged it
    subnet = raw(admin, lab, "GET", f"/subnets?id={provider_subnet.id}").json()["subnets"]
    assert [s["cidr"] for s in subnet] == [PROVIDER_CIDR]
    assert raw(admin, lab, "DELETE", f"/ports/{port['id']}").status_code == 204
    assert raw(admin, lab, "GET", f"/ports?device_id={server}").json()["ports"] == []


def test_binding_to_a_host_without_an_agent_fails(
    admin: Any, provider: Any, ports_to_delete: list[str]
) -> None:
    port = admin.network.create_port(network_id=provider.id, binding_host_id="nowhere")
    ports_to_delete.append(port.id)
    assert (port.binding_vif_type, port.status) == ("binding_failed", "DOWN")


# ---- who sees what -------------------------------------------------------------------------------


def test_a_member_sees_the_shared_network_without_its_provider_attributes(
    osc: Any, lab: Any
) -> None:
    shown = osc_json(osc, "network show provider", cloud="lab-demo")
    assert shown["shared"] is True
    assert shown["provider:network_type"] is None and shown["provider:physical_network"] is None


def test_a_member_sees_only_its_own_ports(
    admin: Any, demo: Any, lab: Any, provider: Any, ports_to_delete: list[str]
) -> None:
    mine = demo.network.create_port(network_id=provider.id, name="demo-port")
    ports_to_delete.append(mine.id)
    theirs = admin.network.create_port(network_id=provider.id, name="admin-port")
    ports_to_delete.append(theirs.id)
    seen = {p.id for p in demo.network.ports()}
    assert mine.id in seen and theirs.id not in seen
    assert all(p.device_owner != "network:dhcp" for p in demo.network.ports())
    hidden = raw(demo, lab, "GET", f"/ports/{theirs.id}")
    assert neutron_error(hidden) == (404, "PortNotFound", f"Port {theirs.id} could not be found.")
    assert mine.binding_host_id is None  # binding:* is for admins only
    assert {p.id for p in admin.network.ports(project_id=demo.current_project_id)} >= {mine.id}


def test_a_member_may_not_pick_an_address_on_the_admins_network(
    demo: Any, lab: Any, provider: Any
) -> None:
    refused = raw(
        demo,
        lab,
        "POST",
        "/ports",
        json={"port": {"network_id": provider.id, "fixed_ips": [{"ip_address": "10.64.0.160"}]}},
    )
    assert neutron_error(refused) == (
        403,
        "PolicyNotAuthorized",
        "(rule:create_port and (rule:create_port:fixed_ips and "
        "(rule:create_port:fixed_ips:ip_address))) is disallowed by policy",
    )


def test_members_cannot_make_networks_with_provider_networks_only(osc: Any, lab: Any) -> None:
    plain = osc("network create demo-net", cloud="lab-demo", check=False)
    assert plain.returncode == 1
    assert "No tenant network is available for allocation" in plain.stderr
    shared = osc("network create --share demo-shared", cloud="lab-demo", check=False)
    assert shared.returncode == 1
    assert (
        "(rule:create_network and rule:create_network:shared) is disallowed by policy"
        in shared.stderr
    )
    names = {n["Name"] for n in osc_json(osc, "network list")}
    assert not names & {"demo-net", "demo-shared"}


# ---- errors --------------------------------------------------------------------------------------


def test_unknown_network_is_networknotfound(admin: Any, lab: Any, osc: Any) -> None:
    bogus = "b0b0b0b0-0000-4000-8000-000000000000"
    assert neutron_error(raw(admin, lab, "GET", f"/networks/{bogus}")) == (
        404,
        "NetworkNotFound",
        f"Network {bogus} could not be found.",
    )
    shown = osc("network show no-such-network", check=False)
    assert shown.returncode == 1 and "No Network found for no-such-network" in shown.stderr
    port = raw(admin, lab, "POST", "/ports", json={"port": {"network_id": bogus}})
    assert neutron_error(port)[:2] == (404, "NetworkNotFound")


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        (
            "/subnets",
            {"subnet": {"network_id": "NET", "ip_version": 4, "cidr": "10.9.0.0/33"}},
            (
                400,
                "HTTPBadRequest",
                "Invalid input for cidr. Reason: '10.9.0.0/33' is not a valid IP subnet.",
            ),
        ),
        (
            "/subnets",
            {"subnet": {"network_id": "NET", "cidr": "10.9.0.0/24"}},
            (
                400,
                "HTTPBadRequest",
                "Failed to parse request. Required attribute 'ip_version' not specified",
            ),
        ),
        (
            "/subnets",
            {"subnet": {"network_id": "NET", "ip_version": 4, "cidr": "10.64.0.128/25"}},
            (
                400,
                "InvalidInput",
                "Invalid input for operation: Requested subnet with cidr: "
                "10.64.0.128/25 for network: NET overlaps with another subnet.",
            ),
        ),
        (
            "/ports",
            {"port": {"network_id": "NET", "frobnicate": 1}},
            (400, "HTTPBadRequest", "Unrecognized attribute(s) 'frobnicate'"),
        ),
        (
            "/ports",
            {"port": {"network_id": "NET", "admin_state_up": "maybe"}},
            (
                400,
                "InvalidInput",
                "Invalid input for operation: 'maybe' cannot be converted to boolean.",
            ),
        ),
        (
            "/ports",
            {"port": {"network_id": "NET", "security_groups": ["default"]}},
            (
                400,
                "HTTPBadRequest",
                "Invalid input for security_groups. Reason: 'default' is not a valid UUID.",
            ),
        ),
        (
            "/networks",
            {
                "network": {
                    "name": "x",
                    "provider:network_type": "flat",
                    "provider:physical_network": "provider",
                }
            },
            (
                409,
                "FlatNetworkInUse",
                "Unable to create the flat network. Physical network provider is in use.",
            ),
        ),
        (
            "/networks",
            {"network": {"name": "x", "provider:network_type": "gre"}},
            (
                400,
                "InvalidInput",
                "Invalid input for operation: network_type value 'gre' not supported.",
            ),
        ),
        (
            "/networks",
            ["not", "an", "object"],
            (400, "HTTPBadRequest", "Body contains invalid data"),
        ),
        (
            "/networks",
            {"net": {}},
            (400, "HTTPBadRequest", "Unable to find 'network' in request body"),
        ),
    ],
)
def test_bad_input_gets_neutrons_400s_and_409s(
    admin: Any, lab: Any, provider: Any, path: str, body: Any, expected: tuple[int, str, str]
) -> None:
    text = json.dumps(body).replace("NET", provider.id)
    before = len(list(admin.network.ports())) + len(list(admin.network.subnets()))
    response = raw(
        admin, lab, "POST", path, data=text, headers={"Content-Type": "application/json"}
    )
    status, kind, message = expected
    assert neutron_error(response) == (status, kind, message.replace("NET", provider.id))
    assert len(list(admin.network.ports())) + len(list(admin.network.subnets())) == before


def test_malformed_json_and_unknown_filters(admin: Any, lab: Any) -> None:
    broken = raw(
        admin, lab, "POST", "/networks", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert neutron_error(broken) == (400, "HTTPBadRequest", "Body contains invalid data")
    unknown = raw(admin, lab, "GET", "/ports?colour=blue")
    assert neutron_error(unknown) == (
        400,
        "HTTPBadRequest",
        "['colour'] is invalid attribute for filtering",
    )


# ---- lists ---------------------------------------------------------------------------------------


def test_filters_and_fields(admin: Any, lab: Any, provider: Any) -> None:
    listed = raw(
        admin,
        lab,
        "GET",
        f"/ports?network_id={provider.id}&device_owner=network:dhcp&fields=id&fields=fixed_ips",
    ).json()["ports"]
    assert len(listed) == 1 and set(listed[0]) == {"id", "fixed_ips"}
    by_ip = raw(admin, lab, "GET", "/ports?fixed_ips=ip_address=10.64.0.100").json()["ports"]
    assert [p["device_owner"] for p in by_ip] == ["network:dhcp"]
    shared = raw(admin, lab, "GET", "/networks?shared=true&router:external=True").json()
    assert [n["name"] for n in shared["networks"]] == ["provider"]
    project = admin.current_project_id
    for key in ("project_id", "tenant_id"):
        named = raw(admin, lab, "GET", f"/networks?{key}={project}&name=provider").json()
        assert [n["id"] for n in named["networks"]] == [provider.id]
    network = raw(admin, lab, "GET", f"/networks/{provider.id}?fields=name&fields=mtu").json()
    assert network == {"network": {"name": "provider", "mtu": 1500}}


def test_network_shape(admin: Any, lab: Any, provider: Any) -> None:
    network = raw(admin, lab, "GET", f"/networks/{provider.id}").json()["network"]
    assert network["tenant_id"] == network["project_id"]
    assert network["tags"] == [] and network["description"] == ""
    assert network["created_at"].endswith("Z") and network["updated_at"].endswith("Z")
    assert isinstance(network["revision_number"], int)
    assert network["port_security_enabled"] is True
    assert network["ipv4_address_scope"] is None


# ---- quotas and security groups ------------------------------------------------------------------


def test_quota_show_and_over_quota(
    admin: Any, demo: Any, osc: Any, lab: Any, provider: Any, ports_to_delete: list[str]
) -> None:
    project = demo.current_project_id
    list(demo.network.security_groups())  # the project's default group, whatever ran before
    quota = osc_json(osc, f"quota show --network {project}")
    by_name = {q["Resource"]: q["Limit"] for q in quota} if isinstance(quota, list) else quota
    assert by_name.get("networks", by_name.get("network")) == 100
    details = raw(admin, lab, "GET", f"/quotas/{project}/details").json()["quota"]
    assert set(details) == {
        "network",
        "subnet",
        "subnetpool",
        "port",
        "security_group",
        "security_group_rule",
        "rbac_policy",
    }
    assert details["security_group"]["used"] >= 1 and details["port"]["reserved"] == 0
    used = details["port"]["used"]
    osc(f"quota set --ports {used + 1} {project}")
    try:
        first = demo.network.create_port(network_id=provider.id, name="quota-1")
        ports_to_delete.append(first.id)
        refused = raw(demo, lab, "POST", "/ports", json={"port": {"network_id": provider.id}})
        assert neutron_error(refused) == (
            409,
            "OverQuota",
            "Quota exceeded for resources: ['port'].",
        )
        assert raw(admin, lab, "GET", f"/quotas/{project}").json()["quota"]["port"] == used + 1
    finally:
        assert raw(admin, lab, "DELETE", f"/quotas/{project}").status_code == 204
    defaults = raw(admin, lab, "GET", f"/quotas/{project}/default").json()["quota"]
    assert defaults["port"] == 500
    other = raw(demo, lab, "GET", f"/quotas/{admin.current_project_id}")
    assert neutron_error(other) == (
        403,
        "PolicyNotAuthorized",
        "rule:get_quota is disallowed by policy",
    )
    assert raw(demo, lab, "GET", f"/quotas/{project}").status_code == 200


def test_the_default_security_group(osc: Any, demo: Any, lab: Any) -> None:
    groups = osc_json(osc, "security group list", cloud="lab-demo")
    assert [g["Name"] for g in groups] == ["default"]
    group = groups[0]
    assert group["Description"] == "Default security group"
    rules = raw(demo, lab, "GET", f"/security-group-rules?security_group_id={group['ID']}").json()
    shape = sorted(
        (r["direction"], r["ethertype"], r["remote_group_id"] is not None, r["protocol"])
        for r in rules["security_group_rules"]
    )
    assert shape == [
        ("egress", "IPv4", False, None),
        ("egress", "IPv6", False, None),
        ("ingress", "IPv4", True, None),
        ("ingress", "IPv6", True, None),
    ]
    one = rules["security_group_rules"][0]
    shown = raw(demo, lab, "GET", f"/security-group-rules/{one['id']}").json()
    assert shown["security_group_rule"]["id"] == one["id"]
    full = raw(demo, lab, "GET", f"/security-groups/{group['ID']}").json()["security_group"]
    assert len(full["security_group_rules"]) == 4 and full["stateful"] is True
