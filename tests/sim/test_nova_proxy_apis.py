"""Nova's APIs of the nova-network era as Zed answers them: the security group proxy
(``/os-security-groups``, ``/os-security-group-rules``) and ``/os-networks`` /
``/os-tenant-networks`` reading Neutron up to 2.35, the 410s of what only nova-network and
cells v1 served, and ``/os-hosts`` up to 2.42 -- through openstacksdk's session, checked
against what Neutron and the other compute APIs hold."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import openstack
import pytest

from tests.sim.nova_helpers import compute_raw, fault, fault_message

pytestmark = pytest.mark.slow
_raw = compute_raw("2.1")


# ---- security groups --------------------------------------------------------------------------


def _new_group(conn: Any, unique: Callable[[str], str]) -> dict[str, Any]:
    body = {"security_group": {"name": unique("sg"), "description": "proxy"}}
    answer = _raw(conn, "POST", "/os-security-groups", json=body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["security_group"])


def test_security_group_proxy_reads_and_writes_neutron(
    nova_demo: Any, unique: Callable[[str], str]
) -> None:
    group = _new_group(nova_demo, unique)
    assert group["rules"] == [] and group["tenant_id"] == nova_demo.current_project_id
    # Neutron holds it (with its two egress rules, which Nova does not show)
    held = nova_demo.network.get_security_group(group["id"])
    assert held.name == group["name"] and len(held.security_group_rules) == 2
    listed = _raw(nova_demo, "GET", "/os-security-groups").json()["security_groups"]
    assert group["id"] in [g["id"] for g in listed]
    assert listed == sorted(listed, key=lambda g: (g["tenant_id"], g["name"]))

    rule_body = {
        "parent_group_id": group["id"],
        "ip_protocol": "tcp",
        "from_port": 22,
        "to_port": 22,
        "cidr": "10.0.0.0/8",
    }
    answer = _raw(
        nova_demo, "POST", "/os-security-group-rules", json={"security_group_rule": rule_body}
    )
    assert answer.status_code == 200, answer.text
    rule = answer.json()["security_group_rule"]
    assert rule["ip_range"] == {"cidr": "10.0.0.0/8"} and rule["group"] == {}
    made = nova_demo.network.get_security_group_rule(rule["id"])
    assert (made.direction, made.port_range_min, made.port_range_max) == ("ingress", 22, 22)
    # the same rule again is Nova's own 400, before Neutron is asked
    again = _raw(
        nova_demo, "POST", "/os-security-group-rules", json={"security_group_rule": rule_body}
    )
    assert fault_message(again) == (400, f"This rule already exists in group {group['id']}")
    shown = _raw(nova_demo, "GET", f"/os-security-groups/{group['id']}").json()["security_group"]
    assert [r["id"] for r in shown["rules"]] == [rule["id"]]

    renamed = _raw(
        nova_demo,
        "PUT",
        f"/os-security-groups/{group['id']}",
        json={"security_group": {"name": group["name"] + "-x", "description": "d"}},
    )
    assert renamed.json()["security_group"]["name"] == group["name"] + "-x"
    assert nova_demo.network.get_security_group(group["id"]).description == "d"

    assert _raw(nova_demo, "DELETE", f"/os-security-group-rules/{rule['id']}").status_code == 202
    assert _raw(nova_demo, "DELETE", f"/os-security-groups/{group['id']}").status_code == 202
    with pytest.raises(openstack.exceptions.NotFoundException):
        nova_demo.network.get_security_group(group["id"])
    status, message = fault_message(_raw(nova_demo, "GET", f"/os-security-groups/{group['id']}"))
    assert status == 404 and group["id"] in message


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"ip_protocol": "xyz", "from_port": 1, "to_port": 2}, "Invalid IP protocol xyz."),
        (
            {"ip_protocol": "tcp", "from_port": 30, "to_port": 20},
            "Invalid port range 30:20. Former value cannot be greater than the later",
        ),
        (
            {"ip_protocol": "udp", "from_port": 0, "to_port": 70000},
            "Invalid port range 0:70000. Valid UDP ports should be between 1-65535",
        ),
        (
            {"ip_protocol": "tcp", "from_port": "a", "to_port": 2},
            "Invalid input received: To and From ports must be integers",
        ),
        (
            {"ip_protocol": "tcp", "cidr": "10.0.0.300/8", "from_port": 1, "to_port": 2},
            "10.0.0.300/8 is not a valid IP network.",
        ),
        ({"ip_protocol": "tcp"}, "Not enough parameters to build a valid rule."),
    ],
)
def test_security_group_rule_checks_are_novas(
    nova_demo: Any, unique: Callable[[str], str], rule: dict[str, Any], message: str
) -> None:
    group = _new_group(nova_demo, unique)
    body = {"security_group_rule": {"parent_group_id": group["id"], **rule}}
    assert fault_message(_raw(nova_demo, "POST", "/os-security-group-rules", json=body)) == (
        400,
        message,
    )
    assert nova_demo.network.get_security_group(group["id"]).security_group_rules[0][
        "direction"
    ] == ("egress")
    assert len(nova_demo.network.get_security_group(group["id"]).security_group_rules) == 2
    _raw(nova_demo, "DELETE", f"/os-security-groups/{group['id']}")


def test_security_group_proxy_errors(nova_demo: Any) -> None:
    bad_id = _raw(nova_demo, "GET", "/os-security-groups/not-a-uuid")
    assert fault_message(bad_id) == (400, "Security group id should be uuid")
    missing = _raw(nova_demo, "POST", "/os-security-groups", json={"security_group": {"name": "x"}})
    assert fault_message(missing) == (400, "description is not a string or unicode")
    empty = _raw(nova_demo, "POST", "/os-security-groups", json={})
    assert fault_message(empty) == (400, "The request body can't be empty")
    # the default group cannot go: Neutron's 409 is Nova's 400
    default = nova_demo.network.find_security_group(
        "default", project_id=nova_demo.current_project_id
    )
    status, _ = fault_message(_raw(nova_demo, "DELETE", f"/os-security-groups/{default.id}"))
    assert status == 400
    # a proxy API ends at 2.35
    later = _raw(nova_demo, "GET", "/os-security-groups", version="2.36")
    assert fault(later) == (404, "itemNotFound", "The resource could not be found.")


# ---- networks and what is gone ----------------------------------------------------------------


def test_networks_read_neutron_in_the_old_shape(nova_admin: Any, nova_demo: Any) -> None:
    network = nova_admin.network.find_network("provider")
    listed = _raw(nova_admin, "GET", "/os-networks").json()["networks"]
    (mine,) = [n for n in listed if n["id"] == network.id]
    assert mine["label"] == "provider" and mine["cidr"] is None and "vlan" in mine
    shown = _raw(nova_demo, "GET", f"/os-networks/{network.id}").json()["network"]
    assert shown["label"] == "provider" and "vlan" not in shown  # admin fields: admins only
    tenant = _raw(nova_demo, "GET", f"/os-tenant-networks/{network.id}").json()["network"]
    assert tenant == {"id": network.id, "cidr": "None", "label": "provider"}
    unknown = _raw(nova_demo, "GET", f"/os-tenant-networks/{uuid.uuid4()}")
    assert fault_message(unknown) == (404, "Network not found")
    assert _raw(nova_demo, "GET", "/os-networks", version="2.36").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/os-networks", {"network": {"label": "x"}}),
        ("DELETE", "/os-tenant-networks/{net}", None),
        ("POST", "/os-networks/{net}/action", {"associate_host": "worker1"}),
        ("GET", "/os-fping", None),
        ("GET", "/os-cells", None),
        ("POST", "/os-floating-ips-bulk", {"floating_ips_bulk_create": {}}),
    ],
)
def test_what_only_nova_network_served_is_gone(
    nova_admin: Any, method: str, path: str, body: Any
) -> None:
    net = nova_admin.network.find_network("provider").id
    answer = _raw(nova_admin, method, path.format(net=net), json=body, version="2.90")
    assert fault(answer) == (
        410,
        "computeFault",
        "This resource is no longer available. No forwarding address is given.",
    )
    assert nova_admin.network.find_network("provider").id == net


def test_an_unknown_network_action_is_a_400(nova_admin: Any) -> None:
    net = nova_admin.network.find_network("provider").id
    answer = _raw(nova_admin, "POST", f"/os-networks/{net}/action", json={"explode": None})
    assert fault_message(answer) == (400, "There is no such action: explode")


# ---- os-hosts ---------------------------------------------------------------------------------


def test_hosts_list_and_show(nova_admin: Any, unique: Callable[[str], str]) -> None:
    hosts = _raw(nova_admin, "GET", "/os-hosts").json()["hosts"]
    computes = {h["host_name"] for h in hosts if h["service"] == "compute"}
    assert computes == {s.host for s in nova_admin.compute.services() if s.binary == "nova-compute"}
    assert {h["zone"] for h in hosts if h["service"] == "scheduler"} == {"internal"}
    in_nova = _raw(nova_admin, "GET", "/os-hosts?zone=nova").json()["hosts"]
    assert {h["host_name"] for h in in_nova} == computes
    assert _raw(nova_admin, "GET", "/os-hosts?zone=xxx").json()["hosts"] == []

    server = nova_admin.compute.create_server(
        name=unique("host"),
        flavor_id=nova_admin.compute.find_flavor("m1.tiny").id,
        image_id=nova_admin.image.find_image("cirros").id,
        networks="auto",
    )
    server = nova_admin.compute.wait_for_server(server, status="ACTIVE", interval=0.2, wait=60)
    host = nova_admin.compute.get_server(server.id).compute_host
    lines = [x["resource"] for x in _raw(nova_admin, "GET", f"/os-hosts/{host}").json()["host"]]
    assert [x["project"] for x in lines[:3]] == ["(total)", "(used_now)", "(used_max)"]
    flavor = nova_admin.compute.find_flavor("m1.tiny")
    mine = [x for x in lines if x["project"] == nova_admin.current_project_id]
    assert mine and mine[0]["memory_mb"] >= flavor.ram and lines[2]["cpu"] >= flavor.vcpus
    nova_admin.compute.delete_server(server.id)


def test_host_actions_are_not_supported_by_libvirt(nova_admin: Any, nova_demo: Any) -> None:
    host = next(s.host for s in nova_admin.compute.services() if s.binary == "nova-compute")
    body = {"status": "enable"}
    answer = _raw(nova_admin, "PUT", f"/os-hosts/{host}", json=body)
    assert fault_message(answer) == (501, "The requested functionality is not supported.")
    assert fault_message(_raw(nova_admin, "GET", f"/os-hosts/{host}/reboot"))[0] == 501
    assert fault_message(_raw(nova_admin, "GET", "/os-hosts/nowhere/startup")) == (
        404,
        "Host 'nowhere' is not mapped to any cell",
    )
    invalid = _raw(nova_admin, "PUT", f"/os-hosts/{host}", json={"status": "on"})
    assert fault_message(invalid)[0] == 400
    assert fault_message(_raw(nova_demo, "PUT", f"/os-hosts/{host}", json=body)) == (
        403,
        "Policy doesn't allow os_compute_api:os-hosts:update to be performed.",
    )
    assert _raw(nova_admin, "GET", "/os-hosts", version="2.43").status_code == 404
