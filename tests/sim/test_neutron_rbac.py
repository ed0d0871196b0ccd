"""Neutron's RBAC policies, network IP availability, address scopes, address groups and
service flavors (extensions Zed lists), through openstacksdk, the ``openstack`` CLI and raw
requests.

A private sim with the networking layer and VLANs 100-199 on the provider physical network,
so the admin can make networks to share with the demo project.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from openstack import exceptions as sdk_exc

from tests.conftest import openstack_cli
from tests.sim.neutron_helpers import neutron_error, osc_json, raw, vlan_lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from vlan_lab(tmp_path_factory, "neutronrbac")


@pytest.fixture(scope="module")
def admin(lab: Any) -> Any:
    return lab.connect("admin")


@pytest.fixture(scope="module")
def demo(lab: Any) -> Any:
    return lab.connect("demo")


@pytest.fixture(scope="module")
def osc(lab: Any) -> Callable[..., Any]:
    return openstack_cli(lab)


_vids = iter(range(120, 200))


@pytest.fixture()
def network(admin: Any) -> Iterator[Any]:
    """An admin's VLAN network with a /28 subnet (pool .2-.14), removed after the test."""
    net = admin.network.create_network(
        name="rbac-net",
        provider_network_type="vlan",
        provider_physical_network="provider",
        provider_segmentation_id=next(_vids),
    )
    admin.network.create_subnet(network_id=net.id, ip_version=4, cidr="192.168.50.0/28")
    yield net
    for port in admin.network.ports(network_id=net.id):
        if not port.device_owner.startswith("network:"):
            admin.network.delete_port(port)
    for entry in admin.network.rbac_policies(object_id=net.id):
        admin.network.delete_rbac_policy(entry, ignore_missing=True)
    admin.network.delete_network(net, ignore_missing=True)


# ---- RBAC policies -----------------------------------------------------------------------------


def test_sharing_a_network_with_one_project(
    osc: Any, admin: Any, demo: Any, lab: Any, network: Any
) -> None:
    demo_project = demo.current_project_id
    assert raw(demo, lab, "GET", f"/networks/{network.id}").status_code == 404
    entry = osc_json(
        osc,
        f"network rbac create --type network --action access_as_shared "
        f"--target-project {demo_project} {network.id}",
    )
    assert entry["target_project_id"] == demo_project
    assert entry["object_type"] == "network"
    body = raw(admin, lab, "GET", f"/rbac-policies/{entry['id']}").json()["rbac_policy"]
    assert set(body) == {
        "id",
        "object_type",
        "object_id",
        "target_tenant",
        "action",
        "project_id",
        "tenant_id",
    }
    assert body["tenant_id"] == admin.current_project_id
    # the demo project now sees the network (shared, to it) and its subnet, and may use it
    seen = demo.network.get_network(network.id)
    assert seen.is_shared is True
    assert admin.network.get_network(network.id).is_shared is False  # not shared with admin
    assert [s.network_id for s in demo.network.subnets(network_id=network.id)] == [network.id]
    port = demo.network.create_port(network_id=network.id)
    assert port.project_id == demo_project
    # the demo project's port depends on the entry: it cannot go
    answer = raw(admin, lab, "DELETE", f"/rbac-policies/{entry['id']}")
    status, kind, message = neutron_error(answer)
    assert (status, kind) == (409, "RbacPolicyInUse")
    assert message.startswith(
        f"RBAC policy on object {network.id} cannot be removed because other objects depend "
        "on it.\nDetails: Callback "
    )
    assert f"Unable to reconfigure sharing settings for network {network.id}" in message
    demo.network.delete_port(port)
    osc(f"network rbac delete {entry['id']}")
    assert raw(demo, lab, "GET", f"/networks/{network.id}").status_code == 404


def test_shared_flag_is_the_wildcard_entry(admin: Any, demo: Any, network: Any) -> None:
    admin.network.update_network(network, shared=True)
    entries = list(admin.network.rbac_policies(object_id=network.id))
    assert [(e.target_project_id, e.action) for e in entries] == [("*", "access_as_shared")]
    assert demo.network.get_network(network.id).is_shared is True
    admin.network.update_network(network, shared=False)
    assert list(admin.network.rbac_policies(object_id=network.id)) == []
    # and the other way round: a '*' entry makes the network shared
    admin.network.create_rbac_policy(
        object_type="network",
        object_id=network.id,
        target_project_id="*",
        action="access_as_shared",
    )
    assert admin.network.get_network(network.id).is_shared is True


def test_unsharing_a_network_a_project_uses(admin: Any, demo: Any, lab: Any, network: Any) -> None:
    admin.network.update_network(network, shared=True)
    port = demo.network.create_port(network_id=network.id)
    answer = raw(admin, lab, "PUT", f"/networks/{network.id}", json={"network": {"shared": False}})
    assert neutron_error(answer) == (
        409,
        "InvalidSharedSetting",
        f"Unable to reconfigure sharing settings for network {network.name}. Multiple tenants "
        "are using it.",
    )
    assert admin.network.get_network(network.id).is_shared is True  # unchanged
    # an entry of the demo project's own keeps its access: now the '*' entry may go
    admin.network.create_rbac_policy(
        object_type="network",
        object_id=network.id,
        target_project_id=demo.current_project_id,
        action="access_as_shared",
    )
    admin.network.update_network(network, shared=False)
    assert demo.network.get_network(network.id).is_shared is True
    demo.network.delete_port(port)


def test_access_as_external_makes_the_network_external(admin: Any, demo: Any, network: Any) -> None:
    assert admin.network.get_network(network.id).is_router_external is False
    entry = admin.network.create_rbac_policy(
        object_type="network",
        object_id=network.id,
        target_project_id=demo.current_project_id,
        action="access_as_external",
    )
    assert admin.network.get_network(network.id).is_router_external is True
    seen = demo.network.get_network(network.id)  # visible to the target, not shared with it
    assert (seen.is_router_external, seen.is_shared) == (True, False)
    assert list(demo.network.subnets(network_id=network.id)) == []
    admin.network.delete_rbac_policy(entry)
    assert admin.network.get_network(network.id).is_router_external is False


def test_rbac_checks_and_policy(admin: Any, demo: Any, lab: Any, network: Any) -> None:
    def post(conn: Any, **entry: Any) -> Any:
        return raw(conn, lab, "POST", "/rbac-policies", json={"rbac_policy": entry})

    base = {"object_type": "network", "object_id": network.id, "action": "access_as_shared"}
    demo_project = demo.current_project_id
    # a network the demo project cannot see is not found; an unknown type is no RBAC type
    assert neutron_error(post(demo, **base, target_tenant=demo_project)) == (
        404,
        "NetworkNotFound",
        f"Network {network.id} could not be found.",
    )
    assert neutron_error(post(admin, **{**base, "object_type": "router"}, target_tenant="x")) == (
        400,
        "InvalidInput",
        "Invalid input for operation: 'router' is not a valid RBAC object type.",
    )
    assert neutron_error(post(admin, **{**base, "action": "access_as_x"}, target_tenant="x")) == (
        400,
        "InvalidActionForType",
        "Invalid action 'access_as_x' for object type 'network'. Valid actions: "
        "('access_as_shared', 'access_as_external')",
    )
    missing = post(admin, object_type="network", object_id=network.id, target_tenant="x")
    assert neutron_error(missing) == (
        400,
        "HTTPBadRequest",
        "Failed to parse request. Required attribute 'action' not specified",
    )
    first = post(admin, **base, target_tenant=demo_project)
    assert first.status_code == 201
    assert neutron_error(post(admin, **base, target_tenant=demo_project)) == (
        409,
        "DuplicateRbacPolicy",
        "An RBAC policy already exists with those values.",
    )
    entry_id = first.json()["rbac_policy"]["id"]
    # the entry is the admin project's: the demo project neither sees nor removes it
    assert neutron_error(raw(demo, lab, "GET", f"/rbac-policies/{entry_id}")) == (
        404,
        "RbacPolicyNotFound",
        f"RBAC policy of type unknown with ID {entry_id} not found",
    )
    assert [e["id"] for e in raw(demo, lab, "GET", "/rbac-policies").json()["rbac_policies"]] == []
    # a member may share what it owns with a project, never with everyone
    pool = demo.network.create_subnet_pool(name="rbac-pool", prefixes=["10.90.0.0/16"])
    try:
        mine = {"object_type": "subnetpool", "object_id": pool.id, "action": "access_as_shared"}
        assert neutron_error(post(demo, **mine, target_tenant="*")) == (
            403,
            "PolicyNotAuthorized",
            "((((rule:create_rbac_policy and rule:create_rbac_policy:object_type) and "
            "rule:create_rbac_policy:object_id) and rule:create_rbac_policy:target_tenant) "
            "and rule:create_rbac_policy:action) is disallowed by policy",
        )
        assert neutron_error(
            post(demo, **{**mine, "action": "access_as_external"}, target_tenant="p")
        )[:2] == (
            400,
            "InvalidActionForType",
        )
        shared = post(demo, **mine, target_tenant=admin.current_project_id)
        assert shared.status_code == 201
        assert admin.network.get_subnet_pool(pool.id).is_shared is True
        # target_tenant is the only attribute an update changes; to '*' only for an admin
        url = f"/rbac-policies/{shared.json()['rbac_policy']['id']}"
        widen = raw(demo, lab, "PUT", url, json={"rbac_policy": {"target_tenant": "*"}})
        assert neutron_error(widen) == (
            403,
            "PolicyNotAuthorized",
            "(rule:update_rbac_policy and rule:update_rbac_policy:target_tenant) is disallowed "
            "by policy",
        )
        moved = raw(demo, lab, "PUT", url, json={"rbac_policy": {"target_tenant": "other"}})
        assert moved.json()["rbac_policy"]["target_tenant"] == "other"
        assert admin.network.get_subnet_pool(pool.id).is_shared is False
        # the pool's entries go with it
        demo.network.delete_subnet_pool(pool)
        assert raw(demo, lab, "GET", url).status_code == 404
    finally:
        demo.network.delete_subnet_pool(pool, ignore_missing=True)


def test_rbac_policies_are_counted_by_quota(admin: Any, demo: Any, lab: Any) -> None:
    project = demo.current_project_id
    pool = demo.network.create_subnet_pool(name="quota-pool", prefixes=["10.91.0.0/16"])
    admin.network.update_quota(project, rbac_policies=1)
    try:
        demo.network.create_rbac_policy(
            object_type="subnetpool",
            object_id=pool.id,
            target_project_id="p1",
            action="access_as_shared",
        )
        details = admin.network.get_quota(project, details=True)
        assert details.rbac_policies["used"] == 1
        answer = raw(
            demo,
            lab,
            "POST",
            "/rbac-policies",
            json={
                "rbac_policy": {
                    "object_type": "subnetpool",
                    "object_id": pool.id,
                    "target_tenant": "p2",
                    "action": "access_as_shared",
                }
            },
        )
        assert neutron_error(answer) == (
            409,
            "OverQuota",
            "Quota exceeded for resources: ['rbac_policy'].",
        )
    finally:
        admin.network.delete_quota(project)
        demo.network.delete_subnet_pool(pool)


def test_a_security_group_shared_with_a_project(
    admin: Any, demo: Any, lab: Any, network: Any
) -> None:
    group = admin.network.create_security_group(name="rbac-sg")
    demo_project = demo.current_project_id
    try:
        assert raw(demo, lab, "GET", f"/security-groups/{group.id}").status_code == 404
        entry = admin.network.create_rbac_policy(
            object_type="security_group",
            object_id=group.id,
            target_project_id=demo_project,
            action="access_as_shared",
        )
        seen = demo.network.get_security_group(group.id)
        assert seen.is_shared is True
        assert group.id in [g.id for g in demo.network.security_groups(shared=True)]
        assert admin.network.get_security_group(group.id).is_shared is False
        # the target uses it on its ports, but neither changes nor deletes it
        admin.network.update_network(network, shared=True)
        port = demo.network.create_port(network_id=network.id, security_group_ids=[group.id])
        assert port.security_group_ids == [group.id]
        assert neutron_error(raw(demo, lab, "DELETE", f"/security-groups/{group.id}")) == (
            403,
            "PolicyNotAuthorized",
            "rule:delete_security_group is disallowed by policy",
        )
        in_use = raw(admin, lab, "DELETE", f"/rbac-policies/{entry.id}")
        status, kind, message = neutron_error(in_use)
        assert (status, kind) == (409, "RbacPolicyInUse")
        assert message.endswith(f'Details: project_id={demo_project}"')
        demo.network.delete_port(port)
        admin.network.delete_rbac_policy(entry)
        assert raw(demo, lab, "GET", f"/security-groups/{group.id}").status_code == 404
    finally:
        admin.network.delete_security_group(group)


# ---- network IP availability -------------------------------------------------------------------


def test_ip_availability_counts_pools_and_allocations(
    osc: Any, admin: Any, demo: Any, lab: Any, network: Any
) -> None:
    subnet = next(admin.network.subnets(network_id=network.id))
    ports = [admin.network.create_port(network_id=network.id) for _ in range(2)]
    allocated = [
        ip
        for p in admin.network.ports(network_id=network.id)
        for ip in p.fixed_ips
        if ip["subnet_id"] == subnet.id
    ]
    pool = subnet.allocation_pools[0]
    size = int(pool["end"].rsplit(".", 1)[1]) - int(pool["start"].rsplit(".", 1)[1]) + 1
    shown = osc_json(osc, f"ip availability show {network.id}")
    assert shown["network_name"] == network.name
    assert (shown["total_ips"], shown["used_ips"]) == (size, len(allocated))
    assert len(allocated) >= len(ports)
    body = raw(admin, lab, "GET", f"/network-ip-availabilities/{network.id}").json()
    entry = body["network_ip_availability"]
    assert entry["subnet_ip_availability"] == [
        {
            "subnet_id": subnet.id,
            "ip_version": 4,
            "cidr": "192.168.50.0/28",
            "subnet_name": subnet.name,
            "used_ips": len(allocated),
            "total_ips": size,
        }
    ]
    listed = osc_json(osc, "ip availability list --ip-version 4")
    assert network.id in [n["Network ID"] for n in listed]
    only_v6 = raw(admin, lab, "GET", "/network-ip-availabilities?ip_version=6").json()
    assert network.id not in [n["network_id"] for n in only_v6["network_ip_availabilities"]]
    bad = raw(admin, lab, "GET", "/network-ip-availabilities?cidr=x")
    assert neutron_error(bad) == (
        400,
        "HTTPBadRequest",
        "['cidr'] is invalid attribute for filtering",
    )
    # admins only: a member lists nothing and finds nothing
    member = raw(demo, lab, "GET", "/network-ip-availabilities").json()
    assert member == {"network_ip_availabilities": []}
    assert neutron_error(raw(demo, lab, "GET", f"/network-ip-availabilities/{network.id}")) == (
        404,
        "NetworkNotFound",
        f"Network {network.id} could not be found.",
    )
    for port in ports:
        admin.network.delete_port(port)


# ---- address scopes ----------------------------------------------------------------------------


def scoped_pool(conn: Any, lab: Any, prefix: str, scope_id: str) -> Any:
    """POST a subnet pool of one prefix in an address scope; the raw answer."""
    pool = {"name": "scoped", "prefixes": [prefix], "address_scope_id": scope_id}
    return raw(conn, lab, "POST", "/subnetpools", json={"subnetpool": pool})


def test_address_scopes_and_the_pools_in_them(osc: Any, admin: Any, demo: Any, lab: Any) -> None:
    scope = osc_json(osc, "address scope create --ip-version 4 demo-scope", cloud="lab-demo")
    assert (scope["ip_version"], scope["shared"], scope["name"]) == (4, False, "demo-scope")
    body = raw(demo, lab, "GET", f"/address-scopes/{scope['id']}").json()["address_scope"]
    assert set(body) == {"id", "name", "tenant_id", "project_id", "shared", "ip_version"}
    pool = demo.network.create_subnet_pool(
        name="scoped", prefixes=["10.92.0.0/16"], address_scope_id=scope["id"]
    )
    try:
        assert pool.address_scope_id == scope["id"]
        clash = scoped_pool(demo, lab, "10.92.5.0/24", scope["id"])
        assert neutron_error(clash) == (
            409,
            "AddressScopePrefixConflict",
            "Failed to associate address scope: subnetpools within an address scope must have "
            "unique prefixes.",
        )
        v6 = scoped_pool(demo, lab, "fd00:1::/48", scope["id"])
        status, kind, message = neutron_error(v6)
        assert (status, kind) == (400, "IllegalSubnetPoolIpVersionAssociationToAddressScope")
        assert message.endswith(
            f"address scope {scope['id']} because subnetpool ip_version is not 4."
        )
        in_use = raw(demo, lab, "DELETE", f"/address-scopes/{scope['id']}")
        assert neutron_error(in_use) == (
            409,
            "AddressScopeInUse",
            f"Unable to complete operation on address scope {scope['id']}. There are one or "
            "more subnet pools in use on the address scope.",
        )
        # only an admin shares a scope; the admin sees the member's scope, others do not
        share = raw(
            demo,
            lab,
            "PUT",
            f"/address-scopes/{scope['id']}",
            json={"address_scope": {"shared": True}},
        )
        assert neutron_error(share) == (
            403,
            "PolicyNotAuthorized",
            "(rule:update_address_scope and rule:update_address_scope:shared) is disallowed by "
            "policy",
        )
        osc(f"address scope set --share {scope['id']}")
        unshare = raw(
            admin,
            lab,
            "PUT",
            f"/address-scopes/{scope['id']}",
            json={"address_scope": {"shared": False}},
        )
        assert neutron_error(unshare) == (
            400,
            "AddressScopeUpdateError",
            f"Unable to update address scope {scope['id']} : Shared address scope can't be "
            "unshared.",
        )
        names = [s["Name"] for s in osc_json(osc, "address scope list --share")]
        assert "demo-scope" in names
    finally:
        demo.network.delete_subnet_pool(pool)
    osc(f"address scope delete {scope['id']}", cloud="lab-demo")
    assert raw(demo, lab, "GET", f"/address-scopes/{scope['id']}").status_code == 404


def test_a_network_shows_its_pools_address_scope(admin: Any, network: Any) -> None:
    scope = admin.network.create_address_scope(name="net-scope", ip_version=4)
    pool = admin.network.create_subnet_pool(
        name="net-pool", prefixes=["10.93.0.0/16"], address_scope_id=scope.id
    )
    subnet = admin.network.create_subnet(
        network_id=network.id, ip_version=4, subnet_pool_id=pool.id, prefixlen=24
    )
    try:
        shown = admin.network.get_network(network.id)
        assert (shown.ipv4_address_scope_id, shown.ipv6_address_scope_id) == (scope.id, None)
    finally:
        admin.network.delete_subnet(subnet)
        admin.network.delete_subnet_pool(pool)
        admin.network.delete_address_scope(scope)


def test_onboarding_a_networks_subnets_into_a_pool(
    admin: Any, demo: Any, lab: Any, network: Any
) -> None:
    subnet = next(admin.network.subnets(network_id=network.id))
    pool = admin.network.create_subnet_pool(name="onboard", prefixes=["10.94.0.0/16"])
    url = f"/subnetpools/{pool.id}/onboard_network_subnets"
    try:
        assert neutron_error(raw(admin, lab, "PUT", url, json={})) == (
            400,
            "InvalidInput",
            "Invalid input for operation: network_id must be specified..",  # sic: Neutron's
        )
        assert raw(demo, lab, "PUT", url, json={"network_id": network.id}).status_code == 404
        done = raw(admin, lab, "PUT", url, json={"network_id": network.id})
        assert done.json() == [{"id": subnet.id, "cidr": "192.168.50.0/28"}]
        assert admin.network.get_subnet(subnet.id).subnet_pool_id == pool.id
        assert admin.network.get_subnet_pool(pool.id).prefixes == [
            "10.94.0.0/16",
            "192.168.50.0/28",
        ]
        again = raw(admin, lab, "PUT", url, json={"network_id": network.id})
        assert neutron_error(again) == (
            400,
            "IllegalSubnetPoolUpdate",
            f"Illegal subnetpool update : Onboarding subnet {subnet.id}: 192.168.50.0/28 "
            f"conflicts with allocated prefixes in subnet pool {pool.id}.",
        )
    finally:
        admin.network.delete_subnet(subnet)
        admin.network.delete_subnet_pool(pool)


# ---- address groups ----------------------------------------------------------------------------


def test_address_groups_add_and_remove_addresses(osc: Any, demo: Any, admin: Any, lab: Any) -> None:
    group = osc_json(
        osc,
        "address group create --address 10.0.0.5/24 --address 192.0.2.1 --description web web",
        cloud="lab-demo",
    )
    gid = group["id"]
    assert sorted(group["addresses"]) == ["10.0.0.0/24", "192.0.2.1/32"]
    body = raw(demo, lab, "GET", f"/address-groups/{gid}").json()["address_group"]
    assert set(body) == {"id", "name", "project_id", "addresses", "description", "tenant_id"}

    def act(conn: Any, action: str, addresses: list[str]) -> Any:
        return raw(
            conn, lab, "PUT", f"/address-groups/{gid}/{action}", json={"addresses": addresses}
        )

    assert neutron_error(act(demo, "add_addresses", ["10.0.0.9/24"])) == (
        400,
        "AddressesAlreadyExist",
        f"Addresses ['10.0.0.0/24'] already exist in the address group {gid}.",
    )
    assert neutron_error(act(demo, "remove_addresses", ["198.51.100.0/24"])) == (
        404,
        "AddressesNotFound",
        f"Addresses ['198.51.100.0/24'] not found in the address group {gid}.",
    )
    added = act(demo, "add_addresses", ["198.51.100.0/24"]).json()["address_group"]
    assert "198.51.100.0/24" in added["addresses"]
    osc(f"address group unset --address 192.0.2.1 {gid}", cloud="lab-demo")
    left = demo.network.get_address_group(gid).addresses
    assert sorted(left) == ["10.0.0.0/24", "198.51.100.0/24"]
    # a rule may name it; then it cannot be deleted
    sg = demo.network.create_security_group(name="ag-sg")
    rule = demo.network.create_security_group_rule(
        security_group_id=sg.id, direction="ingress", remote_address_group_id=gid
    )
    assert rule.remote_address_group_id == gid
    assert neutron_error(raw(demo, lab, "DELETE", f"/address-groups/{gid}")) == (
        409,
        "AddressGroupInUse",
        f"Address group {gid} is in use on one or more security group rules.",
    )
    assert raw(admin, lab, "GET", f"/address-groups/{gid}").status_code == 200
    demo.network.delete_security_group(sg)
    osc(f"address group delete {gid}", cloud="lab-demo")
    with pytest.raises(sdk_exc.NotFoundException):
        demo.network.get_address_group(gid)


# ---- service flavors and profiles --------------------------------------------------------------


def test_flavors_and_service_profiles(osc: Any, admin: Any, demo: Any, lab: Any) -> None:
    flavor = osc_json(
        osc, "network flavor create --service-type FLAVORS --description 'for tests' gold"
    )
    fid = flavor["id"]
    body = raw(demo, lab, "GET", f"/flavors/{fid}").json()["flavor"]
    assert body == {
        "id": fid,
        "name": "gold",
        "description": "for tests",
        "service_type": "FLAVORS",
        "enabled": True,
        "service_profiles": [],
    }
    # the router plugin is not loaded in this lab: its type is no service type here
    wrong = raw(admin, lab, "POST", "/flavors", json={"flavor": {"service_type": "L3_ROUTER_NAT"}})
    assert neutron_error(wrong) == (
        400,
        "InvalidServiceType",
        "Invalid service type: L3_ROUTER_NAT.",
    )
    by_member = raw(demo, lab, "POST", "/flavors", json={"flavor": {"service_type": "FLAVORS"}})
    assert neutron_error(by_member) == (
        403,
        "PolicyNotAuthorized",
        "rule:create_flavor is disallowed by policy",
    )
    empty = raw(admin, lab, "POST", "/service_profiles", json={"service_profile": {}})
    assert neutron_error(empty) == (
        400,
        "ServiceProfileEmpty",
        "Service Profile needs either a driver or metainfo.",
    )
    unknown = raw(
        admin, lab, "POST", "/service_profiles", json={"service_profile": {"driver": "x.Y"}}
    )
    assert neutron_error(unknown) == (
        404,
        "ServiceProfileDriverNotFound",
        "Service Profile driver x.Y could not be found.",
    )
    profile = osc_json(osc, "network flavor profile create --metainfo '{\"a\": 1}'")
    pid = profile["id"]
    assert raw(demo, lab, "GET", "/service_profiles").json() == {"service_profiles": []}
    osc(f"network flavor add profile {fid} {pid}")
    assert admin.network.get_flavor(fid).service_profile_ids == [pid]
    again = raw(
        admin,
        lab,
        "POST",
        f"/flavors/{fid}/service_profiles",
        json={"service_profile": {"id": pid}},
    )
    assert neutron_error(again) == (
        409,
        "FlavorServiceProfileBindingExists",
        f"Service Profile {pid} is already associated with flavor {fid}.",
    )
    assert neutron_error(raw(admin, lab, "DELETE", f"/service_profiles/{pid}")) == (
        409,
        "ServiceProfileInUse",
        f"Service Profile {pid} is used by some service instance.",
    )
    osc(f"network flavor remove profile {fid} {pid}")
    gone = raw(admin, lab, "DELETE", f"/flavors/{fid}/service_profiles/{pid}")
    assert neutron_error(gone) == (
        404,
        "FlavorServiceProfileBindingNotFound",
        f"Service Profile {pid} is not associated with flavor {fid}.",
    )
    osc(f"network flavor profile delete {pid}")
    osc(f"network flavor delete {fid}")
    assert neutron_error(raw(demo, lab, "GET", f"/flavors/{fid}")) == (
        404,
        "FlavorNotFound",
        f"Flavor {fid} could not be found.",
    )
