"""Neutron API conformance found by tempest's ``tempest.api.network``: bulk create, subnet
pools, tags, service providers -- through openstacksdk and the ``openstack`` CLI.

A private sim with the networking layer, whose ML2 also has VLANs 100-199 on the provider
physical network (``[ml2_type_vlan] network_vlan_ranges``): the Install Guide's option
gives an admin no second network to make, and bulk create wants several.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from openstack import exceptions as sdk_exc
from openstack.network.v2.network import Network
from openstack.network.v2.subnet import Subnet

from tests.conftest import openstack_cli
from tests.sim.neutron_helpers import neutron_error, osc_json, raw, vlan_lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from vlan_lab(tmp_path_factory, "networkapi")


@pytest.fixture(scope="module")
def admin(lab: Any) -> Any:
    return lab.connect("admin")


@pytest.fixture(scope="module")
def demo(lab: Any) -> Any:
    return lab.connect("demo")


@pytest.fixture(scope="module")
def osc(lab: Any) -> Callable[..., Any]:
    return openstack_cli(lab)


def vlan(name: str, vid: int) -> dict[str, Any]:
    return {
        "name": name,
        "provider:network_type": "vlan",
        "provider:physical_network": "provider",
        "provider:segmentation_id": vid,
    }


@pytest.fixture()
def cleanup(admin: Any) -> Iterator[list[Any]]:
    """Resources to delete after the test: ports, subnets, networks, then subnet pools."""
    made: list[Any] = []
    yield made
    order = {
        "Port": admin.network.delete_port,
        "Subnet": admin.network.delete_subnet,
        "Network": admin.network.delete_network,
        "SubnetPool": admin.network.delete_subnet_pool,
    }
    for kind, remove in order.items():
        for item in made:
            if type(item).__name__ == kind:
                remove(item, ignore_missing=True)


# ---- bulk create -------------------------------------------------------------------------------


def test_bulk_create_makes_every_network_subnet_and_port(admin: Any, cleanup: list[Any]) -> None:
    nets = list(Network.bulk_create(admin.network, [vlan("bulk-a", 101), vlan("bulk-b", 102)]))
    cleanup.extend(nets)
    assert [n.name for n in nets] == ["bulk-a", "bulk-b"]
    assert [n.provider_segmentation_id for n in nets] == [101, 102]
    subnets = list(
        Subnet.bulk_create(
            admin.network,
            [
                {"network_id": nets[0].id, "ip_version": 4, "cidr": "192.168.101.0/24"},
                {"network_id": nets[1].id, "ip_version": 4, "cidr": "192.168.102.0/24"},
            ],
        )
    )
    cleanup.extend(subnets)
    assert [s.cidr for s in subnets] == ["192.168.101.0/24", "192.168.102.0/24"]
    ports = list(admin.network.create_ports([{"network_id": n.id} for n in nets]))
    cleanup.extend(ports)
    assert [p.network_id for p in ports] == [n.id for n in nets]
    assert ports[0].fixed_ips[0]["ip_address"].startswith("192.168.101.")
    listed = {n.id for n in admin.network.networks(name="bulk-a")}
    assert listed == {nets[0].id}


def test_bulk_create_is_all_or_nothing(admin: Any, lab: Any) -> None:
    before = {n.id for n in admin.network.networks()}
    # the second VLAN id is outside network_vlan_ranges' physnet limits: 4095 is refused
    answer = raw(
        admin,
        lab,
        "POST",
        "/networks",
        json={"networks": [vlan("ok", 110), vlan("bad", 4095)]},
    )
    assert neutron_error(answer) == (
        400,
        "InvalidInput",
        "Invalid input for operation: segmentation_id out of range (1 through 4094).",
    )
    assert {n.id for n in admin.network.networks()} == before
    empty = raw(admin, lab, "POST", "/networks", json={"networks": []})
    assert neutron_error(empty) == (400, "HTTPBadRequest", "Resources required")


def test_a_project_bulk_create_gets_no_tenant_network(demo: Any, lab: Any) -> None:
    answer = raw(demo, lab, "POST", "/networks", json={"networks": [{"name": "x"}]})
    assert answer.status_code == 503
    assert neutron_error(answer)[1] == "NoNetworkAvailable"


# ---- subnet pools ------------------------------------------------------------------------------


def test_subnet_pool_crud_through_the_cli(osc: Any, demo: Any) -> None:
    made = osc_json(
        osc,
        "subnet pool create --pool-prefix 10.80.0.0/16 --pool-prefix 10.80.0.0/20 "
        "--default-prefix-length 26 --max-prefix-length 28 cli-pool",
        cloud="lab-demo",
    )
    try:
        assert made["prefixes"] == ["10.80.0.0/16"]  # overlapping prefixes merged
        assert (made["ip_version"], made["is_default"], made["shared"]) == (4, False, False)
        shown = demo.network.get_subnet_pool(made["id"])
        assert (shown.default_prefix_length, shown.minimum_prefix_length) == (26, 8)
        assert shown.maximum_prefix_length == 28
        osc(
            f"subnet pool set --name cli-pool-2 --pool-prefix 10.81.0.0/24 {made['id']}",
            cloud="lab-demo",
        )
        shown = demo.network.get_subnet_pool(made["id"])
        assert shown.name == "cli-pool-2"
        assert shown.prefixes == ["10.80.0.0/16", "10.81.0.0/24"]
        assert shown.revision_number == 1
        names = [p["Name"] for p in osc_json(osc, "subnet pool list", cloud="lab-demo")]
        assert "cli-pool-2" in names
    finally:
        osc(f"subnet pool delete {made['id']}", cloud="lab-demo")
    with pytest.raises(sdk_exc.NotFoundException):
        demo.network.get_subnet_pool(made["id"])


def test_subnet_pool_checks_and_policy(demo: Any, lab: Any, admin: Any) -> None:
    cases = [
        (
            {"name": "p", "prefixes": ["10.0.0.0/8", "fd00::/48"]},
            (400, "PrefixVersionMismatch", "Cannot mix IPv4 and IPv6 prefixes in a subnet pool."),
        ),
        (
            {"name": "p", "prefixes": ["10.0.0.0/8"], "min_prefixlen": 24, "max_prefixlen": 16},
            (
                400,
                "IllegalSubnetPoolPrefixBounds",
                "Illegal prefix bounds: min_prefixlen=24, max_prefixlen=16.",
            ),
        ),
        (
            {"name": "p", "prefixes": []},
            (400, "EmptySubnetPoolPrefixList", "Empty subnet pool prefix list."),
        ),
        (
            {"prefixes": ["10.0.0.0/8"]},
            (
                400,
                "HTTPBadRequest",
                "Failed to parse request. Required attribute 'name' not specified",
            ),
        ),
        (
            {"name": "p", "prefixes": ["10.0.0.0/8"], "shared": True},
            (
                403,
                "PolicyNotAuthorized",
                "(rule:create_subnetpool and rule:create_subnetpool:shared) is disallowed by "
                "policy",
            ),
        ),
    ]
    for pool, expected in cases:
        answer = raw(demo, lab, "POST", "/subnetpools", json={"subnetpool": pool})
        assert neutron_error(answer) == expected, pool
    own = demo.network.create_subnet_pool(name="mine", prefixes=["10.82.0.0/16"])
    try:
        shrink = raw(
            demo,
            lab,
            "PUT",
            f"/subnetpools/{own.id}",
            json={"subnetpool": {"prefixes": ["10.82.0.0/24"]}},
        )
        assert neutron_error(shrink) == (
            400,
            "IllegalSubnetPoolPrefixUpdate",
            "Illegal update to prefixes: Existing prefixes must be a subset of the new prefixes.",
        )
        # the admin's pools are not the member's to see, unless shared
        hidden = admin.network.create_subnet_pool(name="admins", prefixes=["10.83.0.0/16"])
        shared = admin.network.create_subnet_pool(
            name="shared", prefixes=["10.84.0.0/16"], is_shared=True
        )
        try:
            seen = {p.id for p in demo.network.subnet_pools()}
            assert own.id in seen and shared.id in seen and hidden.id not in seen
            assert neutron_error(raw(demo, lab, "GET", f"/subnetpools/{hidden.id}")) == (
                404,
                "SubnetPoolNotFound",
                f"Subnet pool {hidden.id} could not be found.",
            )
        finally:
            admin.network.delete_subnet_pool(hidden)
            admin.network.delete_subnet_pool(shared)
    finally:
        demo.network.delete_subnet_pool(own)


def test_subnets_are_cut_from_a_pool(osc: Any, admin: Any, lab: Any, cleanup: list[Any]) -> None:
    net = admin.network.create_network(**vlan("pooled", 120))
    cleanup.append(net)
    pool = admin.network.create_subnet_pool(
        name="cut", prefixes=["10.90.0.0/24"], default_prefix_length=26, maximum_prefix_length=27
    )
    cleanup.append(pool)
    first = osc_json(osc, f"subnet create --subnet-pool cut --network {net.id} first")
    assert (first["cidr"], first["subnetpool_id"]) == ("10.90.0.0/26", pool.id)
    assert first["gateway_ip"] == "10.90.0.1"
    second = admin.network.create_subnet(
        network_id=net.id, ip_version=4, subnetpool_id=pool.id, prefixlen=27
    )
    assert second.cidr == "10.90.0.64/27"  # the smallest free block that fits
    too_big = raw(
        admin,
        lab,
        "POST",
        "/subnets",
        json={
            "subnet": {
                "network_id": net.id,
                "ip_version": 4,
                "subnetpool_id": pool.id,
                "prefixlen": 28,
            }
        },
    )
    assert neutron_error(too_big) == (
        400,
        "MaxPrefixSubnetAllocationError",
        "Unable to allocate subnet with prefix length 28, maximum allowed prefix is 27.",
    )
    in_use = raw(admin, lab, "DELETE", f"/subnetpools/{pool.id}")
    assert neutron_error(in_use) == (
        400,
        "SubnetPoolDeleteError",
        "Unable to delete subnet pool: Subnet pool has existing allocations.",
    )
    removed = raw(
        admin,
        lab,
        "PUT",
        f"/subnetpools/{pool.id}/remove_prefixes",
        json={"prefixes": ["10.90.0.0/26"]},
    )
    assert neutron_error(removed)[1] == "IllegalSubnetPoolPrefixUpdate"
    added = raw(
        admin,
        lab,
        "PUT",
        f"/subnetpools/{pool.id}/add_prefixes",
        json={"prefixes": ["10.91.0.0/24"]},
    )
    assert added.json() == {"prefixes": ["10.90.0.0/24", "10.91.0.0/24"]}
    admin.network.delete_subnet(second)
    admin.network.delete_subnet(first["id"])


# ---- tags, service providers -------------------------------------------------------------------


def test_tags_on_a_network(osc: Any, admin: Any, lab: Any, cleanup: list[Any]) -> None:
    net = admin.network.create_network(**vlan("tagged", 130))
    cleanup.append(net)
    osc(f"network set --tag red --tag blue {net.id}")
    shown = admin.network.get_network(net.id)
    assert sorted(shown.tags) == ["blue", "red"]
    assert shown.revision_number > net.revision_number
    assert [n.id for n in admin.network.networks(tags="red")] == [net.id]
    admin.network.remove_tag(shown, "red")
    assert admin.network.get_network(net.id).tags == ["blue"]
    missing = raw(admin, lab, "DELETE", f"/networks/{net.id}/tags/red")
    assert neutron_error(missing) == (404, "TagNotFound", "Tag red could not be found.")
    assert raw(admin, lab, "GET", f"/networks/{net.id}/tags/blue").status_code == 204
    replaced = raw(admin, lab, "PUT", f"/networks/{net.id}/tags", json={"tags": ["a", "b"]})
    assert (replaced.status_code, replaced.json()) == (200, {"tags": ["a", "b"]})
    dupes = raw(admin, lab, "PUT", f"/networks/{net.id}/tags", json={"tags": ["a", "a"]})
    assert neutron_error(dupes) == (
        400,
        "InvalidInput",
        "Invalid input for operation: Duplicate items in the list: 'a'.",
    )
    nobody = raw(admin, lab, "PUT", "/networks/5f8d3c2e-9b1a-4c7d-8e6f-0a1b2c3d4e5f/tags/x")
    assert neutron_error(nobody) == (
        404,
        "TagResourceNotFound",
        "Resource network 5f8d3c2e-9b1a-4c7d-8e6f-0a1b2c3d4e5f could not be found.",
    )


def test_service_providers_list_is_empty_without_service_plugins(osc: Any, demo: Any) -> None:
    assert list(demo.network.service_providers()) == []
    assert osc_json(osc, "network service provider list", cloud="lab-demo") == []


def test_bulk_security_group_rules_are_all_or_nothing(demo: Any, lab: Any) -> None:
    group = demo.network.create_security_group(name="bulk-rules")
    try:
        rules = list(
            demo.network.create_security_group_rules(
                [
                    {
                        "security_group_id": group.id,
                        "direction": "ingress",
                        "protocol": "tcp",
                        "port_range_min": 22,
                        "port_range_max": 22,
                    },
                    {"security_group_id": group.id, "direction": "ingress", "protocol": "icmp"},
                ]
            )
        )
        assert [(r.protocol, r.port_range_min) for r in rules] == [("tcp", 22), ("icmp", None)]
        same = {"security_group_id": group.id, "direction": "ingress", "protocol": "udp"}
        answer = raw(
            demo, lab, "POST", "/security-group-rules", json={"security_group_rules": [same, same]}
        )
        assert answer.status_code == 409
        assert neutron_error(answer)[1] == "SecurityGroupRuleExists"
        kept = {r.protocol for r in demo.network.security_group_rules(security_group_id=group.id)}
        assert "udp" not in kept and {"tcp", "icmp"} <= kept
    finally:
        demo.network.delete_security_group(group)


def test_if_match_revision_number_guards_changes(admin: Any, lab: Any, cleanup: list[Any]) -> None:
    net = admin.network.create_network(**vlan("guarded", 140))
    cleanup.append(net)
    first = net.revision_number
    renamed = admin.network.update_network(net.id, name="guarded-2", if_revision=first)
    assert renamed.revision_number == first + 1
    with pytest.raises(sdk_exc.HttpException) as stale:
        admin.network.update_network(net.id, name="guarded-3", if_revision=first)
    assert stale.value.status_code == 412
    assert admin.network.get_network(net.id).name == "guarded-2"  # nothing changed
    answer = raw(
        admin, lab, "DELETE", f"/networks/{net.id}", headers={"If-Match": "revision_number=0"}
    )
    assert neutron_error(answer) == (
        412,
        "RevisionNumberConstraintFailed",
        f"Constrained to 0, but current revision is {renamed.revision_number}",
    )
    bad = raw(admin, lab, "GET", f"/networks/{net.id}", headers={"If-Match": "revision_number=x"})
    assert neutron_error(bad) == (
        400,
        "BadRequest",
        "Bad if-match request: Revision number etag must be in the format of "
        "revision_number=<int>.",
    )
    gone = raw(
        admin,
        lab,
        "DELETE",
        f"/networks/{net.id}",
        headers={"If-Match": f'"revision_number={renamed.revision_number}"'},
    )
    assert gone.status_code == 204


def test_availability_zones_are_the_dhcp_agents(osc: Any, demo: Any, lab: Any) -> None:
    zones = [(z.name, z.resource, z.state) for z in demo.network.availability_zones()]
    assert zones == [("nova", "network", "available")]
    listed = osc_json(osc, "availability zone list --network", cloud="lab-demo")
    assert [(z["Zone Name"], z["Zone Status"]) for z in listed] == [("nova", "available")]
    none = raw(demo, lab, "GET", "/availability_zones?resource=router")
    assert none.json() == {"availability_zones": []}
    bad = raw(demo, lab, "GET", "/availability_zones?zone=nova")
    assert neutron_error(bad) == (
        400,
        "HTTPBadRequest",
        "['zone'] is invalid attribute for filtering",
    )
