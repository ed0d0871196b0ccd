"""Security groups and rules in Neutron, through openstacksdk and the ``openstack`` CLI: the
CRUD the Install Guide's seed uses, every refusal with Neutron's status and error type, the
quotas, ports carrying groups, and the Linux bridge agents hearing about changes.

Runs on the session's sim with the networking layer. Everything a test makes it removes
again (other modules count the demo project's groups and the default group's rules).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.sim.neutron_helpers import neutron_error, raw

AGENT = "neutron-linuxbridge-agent"


@pytest.fixture(scope="module", autouse=True)
def lab(sim_lab: Any) -> Any:
    return sim_lab.ensure("networking")


@pytest.fixture(scope="module")
def provider(lab: Any, admin: Any) -> Any:
    return admin.network.find_network("provider", ignore_missing=False)


@pytest.fixture(scope="module")
def demo_default(lab: Any, demo: Any) -> str:
    groups = list(demo.network.security_groups(name="default"))
    assert len(groups) == 1
    return str(groups[0].id)


def osc_json(osc: Callable[..., Any], command: str, cloud: str = "lab-demo") -> Any:
    return json.loads(osc(f"{command} -f json", cloud=cloud).stdout)


@pytest.fixture()
def cleanup(admin: Any) -> Iterator[list[tuple[str, str]]]:
    """(kind, id) pairs removed after the test, newest first: ports before groups."""
    made: list[tuple[str, str]] = []
    yield made
    for kind, ident in reversed(made):
        if kind == "port":
            admin.network.delete_port(ident, ignore_missing=True)
        elif kind == "group":
            admin.network.delete_security_group(ident, ignore_missing=True)
        elif kind == "rule":
            admin.network.delete_security_group_rule(ident, ignore_missing=True)


def make_group(
    conn: Any, lab: Any, cleanup: list[tuple[str, str]], name: str, **extra: Any
) -> dict[str, Any]:
    made = raw(
        conn, lab, "POST", "/security-groups", json={"security_group": {"name": name, **extra}}
    )
    assert made.status_code == 201, made.text
    group = made.json()["security_group"]
    cleanup.append(("group", group["id"]))
    return dict(group)


def add_rule(conn: Any, lab: Any, group_id: str, **fields: Any) -> Any:
    """POST an ingress rule into the group; the raw answer."""
    rule = {"security_group_id": group_id, "direction": "ingress", **fields}
    return raw(conn, lab, "POST", "/security-group-rules", json={"security_group_rule": rule})


def rules_of(conn: Any, group_id: str) -> list[Any]:
    return list(conn.network.security_group_rules(security_group_id=group_id))


def bound_port(
    admin: Any, network_id: str, project_id: str, groups: list[str], host: str = "worker1"
) -> Any:
    """A VM's port as Nova makes it: created in the project with its groups, bound to a host."""
    port = admin.network.create_port(
        network_id=network_id, project_id=project_id, security_group_ids=groups
    )
    return admin.network.update_port(
        port, binding_host_id=host, device_owner="compute:nova", device_id=port.id
    )


# ---- the CLI -----------------------------------------------------------------------------------


def test_security_group_crud_through_the_cli(osc: Any, demo: Any, unique: Any) -> None:
    name = unique("web")
    made = osc_json(osc, f"security group create --description 'web servers' {name}")
    try:
        assert (made["name"], made["description"], made["stateful"]) == (
            name,
            "web servers",
            True,
        )
        rules = rules_of(demo, made["id"])
        assert sorted((r.direction, r.ether_type, r.remote_ip_prefix) for r in rules) == [
            ("egress", "IPv4", None),
            ("egress", "IPv6", None),
        ]
        listed = osc_json(osc, "security group list")
        assert name in [g["Name"] for g in listed]
        assert osc_json(osc, f"security group show {name}")["id"] == made["id"]
        osc(
            f"security group set --name {name}-2 --description renamed --stateless {name}",
            cloud="lab-demo",
        )
        shown = osc_json(osc, f"security group show {made['id']}")
        assert (shown["name"], shown["description"], shown["stateful"]) == (
            f"{name}-2",
            "renamed",
            False,
        )
        assert shown["revision_number"] > made["revision_number"]
    finally:
        osc(f"security group delete {made['id']}", cloud="lab-demo")
    gone = osc(f"security group show {made['id']}", cloud="lab-demo", check=False)
    assert gone.returncode != 0
    assert demo.network.find_security_group(made["id"]) is None


def test_the_seeds_two_rules(osc: Any, demo: Any, demo_default: str) -> None:
    """The seed's ``rule create --protocol icmp default`` and ``--dst-port 22``."""
    icmp = osc_json(osc, "security group rule create --protocol icmp default")
    ssh = osc_json(osc, "security group rule create --protocol tcp --dst-port 22 default")
    try:
        assert (icmp["protocol"], icmp["direction"], icmp["ether_type"]) == (
            "icmp",
            "ingress",
            "IPv4",
        )
        assert icmp["remote_ip_prefix"] == "0.0.0.0/0"
        assert (icmp["port_range_min"], icmp["port_range_max"]) == (None, None)
        assert (ssh["protocol"], ssh["port_range_min"], ssh["port_range_max"]) == ("tcp", 22, 22)
        assert ssh["security_group_id"] == icmp["security_group_id"] == demo_default
        listed = osc_json(osc, "security group rule list default")
        assert {icmp["id"], ssh["id"]} <= {r["ID"] for r in listed}
        shown = osc_json(osc, f"security group rule show {ssh['id']}")
        assert shown["normalized_cidr"] == "0.0.0.0/0"
        again = osc(
            "security group rule create --protocol tcp --dst-port 22 default",
            cloud="lab-demo",
            check=False,
        )
        assert again.returncode != 0
        assert f"Security group rule already exists. Rule id is {ssh['id']}." in again.stderr
    finally:
        osc(f"security group rule delete {icmp['id']} {ssh['id']}", cloud="lab-demo")
    assert {r.id for r in rules_of(demo, demo_default)}.isdisjoint({icmp["id"], ssh["id"]})
    assert len(rules_of(demo, demo_default)) == 4


def test_a_new_projects_default_group_and_its_rules(demo: Any, demo_default: str) -> None:
    rules = rules_of(demo, demo_default)
    shape = sorted(
        (r.direction, r.ether_type, r.remote_group_id == demo_default, r.protocol) for r in rules
    )
    assert shape == [
        ("egress", "IPv4", False, None),
        ("egress", "IPv6", False, None),
        ("ingress", "IPv4", True, None),
        ("ingress", "IPv6", True, None),
    ]


# ---- rules: canonical forms and refusals --------------------------------------------------------


def test_rules_are_made_canonical(demo: Any, lab: Any, cleanup: Any, unique: Any) -> None:
    group = make_group(demo, lab, cleanup, unique("canon"))

    def post(**rule: Any) -> dict[str, Any]:
        made = raw(
            demo,
            lab,
            "POST",
            "/security-group-rules",
            json={"security_group_rule": {"security_group_id": group["id"], **rule}},
        )
        assert made.status_code == 201, made.text
        return dict(made.json()["security_group_rule"])

    host_bits = post(direction="ingress", remote_ip_prefix="10.1.2.3/24", protocol="UDP")
    assert (host_bits["remote_ip_prefix"], host_bits["normalized_cidr"]) == (
        "10.1.2.3/24",
        "10.1.2.0/24",
    )
    assert host_bits["protocol"] == "udp"
    single = post(direction="ingress", remote_ip_prefix="192.0.2.7", ethertype="ipv4")
    assert (single["remote_ip_prefix"], single["ethertype"]) == ("192.0.2.7/32", "IPv4")
    v6 = post(direction="egress", ethertype="IPv6", protocol="icmp")
    assert v6["protocol"] == "ipv6-icmp"
    whole = post(direction="ingress", protocol="6", port_range_min=1, port_range_max=65535)
    assert (whole["protocol"], whole["port_range_min"], whole["port_range_max"]) == (
        "6",
        None,
        None,
    )
    same_as_tcp = raw(
        demo,
        lab,
        "POST",
        "/security-group-rules",
        json={
            "security_group_rule": {
                "security_group_id": group["id"],
                "direction": "ingress",
                "protocol": "tcp",
                "remote_ip_prefix": "0.0.0.0/0",
            }
        },
    )
    assert neutron_error(same_as_tcp) == (
        409,
        "SecurityGroupRuleExists",
        f"Security group rule already exists. Rule id is {whole['id']}.",
    )
    icmp = post(direction="ingress", protocol="icmp", port_range_min=8, port_range_max=0)
    assert (icmp["port_range_min"], icmp["port_range_max"]) == (8, 0)


BAD_RULES: list[tuple[dict[str, Any], tuple[int, str, str]]] = [
    (
        {"protocol": "any"},
        (
            400,
            "SecurityGroupRuleInvalidProtocol",
            "Security group rule protocol any not supported. Only protocol values [None, "
            "'ah', 'dccp', 'egp', 'esp', 'gre', 'hopopt', 'icmp', 'igmp', 'ip', 'ipip', "
            "'ipv6-encap', 'ipv6-frag', 'ipv6-icmp', 'icmpv6', 'ipv6-nonxt', 'ipv6-opts', "
            "'ipv6-route', 'ospf', 'pgm', 'rsvp', 'sctp', 'tcp', 'udp', 'udplite', 'vrrp'] "
            "and integer representations [0 to 255] are supported.",
        ),
    ),
    ({"protocol": "256"}, (400, "SecurityGroupRuleInvalidProtocol", "")),
    (
        {"protocol": "tcp", "port_range_min": 100, "port_range_max": 99},
        (
            400,
            "SecurityGroupInvalidPortRange",
            "For TCP/UDP protocols, port_range_min must be <= port_range_max",
        ),
    ),
    (
        {"protocol": "tcp", "port_range_min": 22},
        (
            400,
            "SecurityGroupInvalidPortRange",
            "For TCP/UDP protocols, port_range_min must be <= port_range_max",
        ),
    ),
    (
        {"protocol": "udp", "port_range_min": 0, "port_range_max": 53},
        (400, "SecurityGroupInvalidPortValue", "Invalid value for port 0"),
    ),
    (
        {"protocol": "tcp", "port_range_min": 70000, "port_range_max": 70000},
        (400, "SecurityGroupInvalidPortValue", "Invalid value for port 70000"),
    ),
    (
        {"protocol": "tcp", "port_range_min": "ssh", "port_range_max": 22},
        (400, "SecurityGroupInvalidPortValue", "Invalid value for port ssh"),
    ),
    (
        {"port_range_min": 22, "port_range_max": 22},
        (
            400,
            "SecurityGroupProtocolRequiredWithPorts",
            "Must also specify protocol if port range is given.",
        ),
    ),
    (
        {"protocol": "gre", "port_range_min": 22, "port_range_max": 22},
        (
            400,
            "SecurityGroupInvalidProtocolForPort",
            "Ports cannot be specified for protocol 47. Ports are only supported for DCCP, "
            "SCTP, TCP, UDP, UDPLITE.",
        ),
    ),
    (
        {"protocol": "icmp", "port_range_min": 256},
        (
            400,
            "SecurityGroupInvalidIcmpValue",
            "Invalid value for ICMP type (port_range_min) 256. It must be 0 to 255.",
        ),
    ),
    (
        {"protocol": "icmp", "port_range_max": 3},
        (
            400,
            "SecurityGroupMissingIcmpType",
            "ICMP code (port-range-max) 3 is provided but ICMP type (port-range-min) is missing.",
        ),
    ),
    (
        {"remote_ip_prefix": "10.0.0.300/24"},
        (400, "InvalidCIDR", "Invalid CIDR 10.0.0.300/24 given as IP prefix."),
    ),
    (
        {"ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"},
        (
            400,
            "SecurityGroupRuleParameterConflict",
            "Conflicting value ethertype IPv6 for CIDR 10.0.0.0/8",
        ),
    ),
    (
        {"ethertype": "IPv5"},
        (
            400,
            "SecurityGroupRuleInvalidEtherType",
            "Security group rule for ethertype 'IPv5' not supported. Allowed values are "
            "['IPv4', 'IPv6'].",
        ),
    ),
    (
        {"protocol": "ipv6-icmp"},
        (
            400,
            "SecurityGroupEthertypeConflictWithProtocol",
            "Invalid ethertype IPv4 for protocol ipv6-icmp.",
        ),
    ),
    (
        {"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": "SELF"},
        (
            400,
            "SecurityGroupMultipleRemoteEntites",
            "Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may "
            "be provided.",
        ),
    ),
    (
        {"remote_group_id": "5b2b0e1e-0000-4000-8000-000000000000"},
        (
            404,
            "SecurityGroupNotFound",
            "Security group 5b2b0e1e-0000-4000-8000-000000000000 does not exist",
        ),
    ),
    (
        {"remote_address_group_id": "5b2b0e1e-0000-4000-8000-000000000001"},
        (
            404,
            "AddressGroupNotFound",
            "Address group 5b2b0e1e-0000-4000-8000-000000000001 could not be found.",
        ),
    ),
    (
        {"direction": "sideways"},
        (
            400,
            "HTTPBadRequest",
            "Invalid input for direction. Reason: sideways is not in valid_values.",
        ),
    ),
    (
        {"security_group_id": "not-a-group"},
        (404, "SecurityGroupNotFound", "Security group not-a-group does not exist"),
    ),
    ({"frobnicate": 1}, (400, "HTTPBadRequest", "Unrecognized attribute(s) 'frobnicate'")),
]


@pytest.mark.parametrize(("rule", "expected"), BAD_RULES)
def test_bad_rules_get_neutrons_errors_and_change_nothing(
    demo: Any,
    lab: Any,
    demo_default: str,
    rule: dict[str, Any],
    expected: tuple[int, str, str],
) -> None:
    body = {"security_group_id": demo_default, "direction": "ingress", **rule}
    if body.get("remote_group_id") == "SELF":
        body["remote_group_id"] = demo_default
    before = sorted(r.id for r in rules_of(demo, demo_default))
    refused = raw(demo, lab, "POST", "/security-group-rules", json={"security_group_rule": body})
    status, kind, message = neutron_error(refused)
    assert (status, kind) == expected[:2]
    if expected[2]:
        assert message == expected[2]
    assert sorted(r.id for r in rules_of(demo, demo_default)) == before


def test_another_projects_group_is_not_there(
    admin: Any, demo: Any, lab: Any, cleanup: Any, unique: Any
) -> None:
    theirs = make_group(admin, lab, cleanup, unique("admins"))
    missing = f"Security group {theirs['id']} does not exist"
    assert neutron_error(raw(demo, lab, "GET", f"/security-groups/{theirs['id']}")) == (
        404,
        "SecurityGroupNotFound",
        missing,
    )
    for method, body in (
        ("PUT", {"security_group": {"description": "mine now"}}),
        ("DELETE", None),
    ):
        answer = raw(demo, lab, method, f"/security-groups/{theirs['id']}", json=body)
        assert neutron_error(answer)[:2] == (404, "SecurityGroupNotFound")
    rule = {"direction": "ingress", "protocol": "tcp"}
    into = raw(
        demo,
        lab,
        "POST",
        "/security-group-rules",
        json={"security_group_rule": {**rule, "security_group_id": theirs["id"]}},
    )
    assert neutron_error(into) == (404, "SecurityGroupNotFound", missing)
    egress = theirs["security_group_rules"][0]["id"]
    assert neutron_error(raw(demo, lab, "DELETE", f"/security-group-rules/{egress}"))[:2] == (
        404,
        "SecurityGroupRuleNotFound",
    )
    assert admin.network.get_security_group(theirs["id"]).description == ""
    # the admin sees (and may change) every project's groups
    demo_groups = {g.id for g in demo.network.security_groups()}
    assert demo_groups <= {g.id for g in admin.network.security_groups()}


def test_an_admins_rule_in_a_members_group_is_seen_but_not_deleted_by_the_member(
    admin: Any, demo: Any, lab: Any, cleanup: Any, unique: Any
) -> None:
    group = make_group(demo, lab, cleanup, unique("shared-rules"))
    made = raw(
        admin,
        lab,
        "POST",
        "/security-group-rules",
        json={
            "security_group_rule": {
                "security_group_id": group["id"],
                "direction": "ingress",
                "protocol": "udp",
                "port_range_min": 53,
                "port_range_max": 53,
            }
        },
    )
    assert made.status_code == 201, made.text
    rule = made.json()["security_group_rule"]
    assert rule["project_id"] == admin.current_project_id  # the caller's project, as in Zed
    assert rule["id"] in {r.id for r in rules_of(demo, group["id"])}
    assert neutron_error(raw(demo, lab, "DELETE", f"/security-group-rules/{rule['id']}")) == (
        403,
        "PolicyNotAuthorized",
        "rule:delete_security_group_rule is disallowed by policy",
    )
    assert raw(admin, lab, "DELETE", f"/security-group-rules/{rule['id']}").status_code == 204


# ---- groups: the rules Neutron enforces --------------------------------------------------------


def test_default_group_names_are_refused(
    demo: Any, lab: Any, cleanup: Any, unique: Any, demo_default: str
) -> None:
    for name in ("default", "Default"):
        refused = raw(
            demo, lab, "POST", "/security-groups", json={"security_group": {"name": name}}
        )
        assert neutron_error(refused) == (
            409,
            "SecurityGroupDefaultAlreadyExists",
            "Default security group already exists.",
        )
    group = make_group(demo, lab, cleanup, unique("plain"))
    renamed = raw(
        demo,
        lab,
        "PUT",
        f"/security-groups/{group['id']}",
        json={"security_group": {"name": "default"}},
    )
    assert neutron_error(renamed)[:2] == (409, "SecurityGroupDefaultAlreadyExists")
    rename_default = raw(
        demo,
        lab,
        "PUT",
        f"/security-groups/{demo_default}",
        json={"security_group": {"name": "mine"}},
    )
    assert neutron_error(rename_default) == (
        409,
        "SecurityGroupCannotUpdateDefault",
        "Updating default security group not allowed.",
    )
    described = raw(
        demo,
        lab,
        "PUT",
        f"/security-groups/{demo_default}",
        json={"security_group": {"description": "Default security group"}},
    )
    assert described.status_code == 200
    read_only = raw(
        demo,
        lab,
        "PUT",
        f"/security-groups/{group['id']}",
        json={"security_group": {"security_group_rules": []}},
    )
    assert neutron_error(read_only) == (
        400,
        "HTTPBadRequest",
        "Cannot update read-only attribute security_group_rules",
    )
    assert [g.name for g in demo.network.security_groups(name="default")] == ["default"]


def test_groups_in_use_and_the_default_group_cannot_go(
    admin: Any, demo: Any, lab: Any, provider: Any, cleanup: Any, unique: Any, demo_default: str
) -> None:
    project = demo.current_project_id
    group = make_group(demo, lab, cleanup, unique("used"))
    port = admin.network.create_port(
        network_id=provider.id, project_id=project, security_group_ids=[group["id"], demo_default]
    )
    cleanup.append(("port", port.id))
    in_use = f"Security Group {group['id']} in use."
    assert neutron_error(raw(demo, lab, "DELETE", f"/security-groups/{group['id']}")) == (
        409,
        "SecurityGroupInUse",
        in_use,
    )
    stateless = raw(
        demo,
        lab,
        "PUT",
        f"/security-groups/{group['id']}",
        json={"security_group": {"stateful": False}},
    )
    assert neutron_error(stateless) == (409, "SecurityGroupInUse", in_use)
    assert neutron_error(raw(demo, lab, "DELETE", f"/security-groups/{demo_default}"))[:2] == (
        409,
        "SecurityGroupInUse",
    )
    admin.network.delete_port(port.id)
    assert neutron_error(raw(demo, lab, "DELETE", f"/security-groups/{demo_default}")) == (
        409,
        "SecurityGroupCannotRemoveDefault",
        "Insufficient rights for removing default security group.",
    )
    assert raw(demo, lab, "DELETE", f"/security-groups/{group['id']}").status_code == 204
    assert demo.network.find_security_group(demo_default) is not None


def test_the_admin_may_delete_a_default_group_and_the_next_list_makes_a_new_one(
    admin: Any, lab: Any
) -> None:
    project = admin.identity.create_project(name="sg-default-test", domain_id="default")
    try:
        listed = raw(admin, lab, "GET", f"/security-groups?project_id={project.id}")
        first = listed.json()["security_groups"]
        assert [g["name"] for g in first] == ["default"]
        assert len(first[0]["security_group_rules"]) == 4
        assert raw(admin, lab, "DELETE", f"/security-groups/{first[0]['id']}").status_code == 204
        again = raw(admin, lab, "GET", f"/security-groups?project_id={project.id}").json()
        assert [g["name"] for g in again["security_groups"]] == ["default"]
        assert again["security_groups"][0]["id"] != first[0]["id"]
        for group in again["security_groups"]:
            raw(admin, lab, "DELETE", f"/security-groups/{group['id']}")
    finally:
        admin.identity.delete_project(project.id)


# ---- quotas -----------------------------------------------------------------------------------


def test_group_and_rule_quotas(
    admin: Any, demo: Any, lab: Any, osc: Any, cleanup: Any, unique: Any
) -> None:
    project = demo.current_project_id
    details = raw(admin, lab, "GET", f"/quotas/{project}/details").json()["quota"]
    groups_used = details["security_group"]["used"]
    rules_used = details["security_group_rule"]["used"]
    osc(f"quota set --secgroups {groups_used + 1} --secgroup-rules {rules_used + 3} {project}")
    try:
        group = make_group(demo, lab, cleanup, unique("quota"))  # + 2 egress rules
        over = raw(demo, lab, "POST", "/security-groups", json={"security_group": {"name": "x"}})
        assert neutron_error(over) == (
            409,
            "OverQuota",
            "Quota exceeded for resources: ['security_group'].",
        )
        rule = {"security_group_id": group["id"], "direction": "ingress", "protocol": "tcp"}
        ok = raw(demo, lab, "POST", "/security-group-rules", json={"security_group_rule": rule})
        assert ok.status_code == 201
        rule["protocol"] = "udp"
        refused = raw(
            demo, lab, "POST", "/security-group-rules", json={"security_group_rule": rule}
        )
        assert neutron_error(refused) == (
            409,
            "OverQuota",
            "Quota exceeded for resources: ['security_group_rule'].",
        )
        assert len(rules_of(demo, group["id"])) == 3
    finally:
        assert raw(admin, lab, "DELETE", f"/quotas/{project}").status_code == 204
    assert [g.name for g in demo.network.security_groups(name="x")] == []


# ---- ports carry groups -------------------------------------------------------------------------


def test_port_set_security_group_and_port_security(
    osc: Any,
    admin: Any,
    demo: Any,
    lab: Any,
    provider: Any,
    cleanup: Any,
    unique: Any,
    demo_default: str,
) -> None:
    group = make_group(demo, lab, cleanup, unique("extra"))
    port = osc_json(osc, f"port create --network provider {unique('sgport')}")
    cleanup.append(("port", port["id"]))
    assert port["security_group_ids"] == [demo_default]
    osc(f"port set --security-group {group['name']} {port['id']}", cloud="lab-demo")
    shown = osc_json(osc, f"port show {port['id']}")
    assert sorted(shown["security_group_ids"]) == sorted([demo_default, group["id"]])
    # port security is the network owner's to change: the provider network is the admin's
    mine = osc(f"port set --disable-port-security {port['id']}", cloud="lab-demo", check=False)
    assert "(rule:update_port and rule:update_port:port_security_enabled) is disallowed" in (
        mine.stderr
    )
    keep = osc(f"port set --disable-port-security {port['id']}", check=False)
    assert keep.returncode != 0 and "Port has security group associated" in keep.stderr
    assert osc_json(osc, f"port show {port['id']}")["port_security_enabled"] is True
    osc(f"port set --no-security-group --disable-port-security {port['id']}")
    shown = osc_json(osc, f"port show {port['id']}")
    assert (shown["security_group_ids"], shown["port_security_enabled"]) == ([], False)
    refused = raw(
        demo,
        lab,
        "PUT",
        f"/ports/{port['id']}",
        json={"port": {"security_groups": [group["id"]]}},
    )
    assert neutron_error(refused) == (
        400,
        "PortSecurityAndIPRequiredForSecurityGroups",
        "Port security must be enabled and port must have an IP address in order to use "
        "security groups.",
    )
    unsecured = raw(
        admin,
        lab,
        "POST",
        "/ports",
        json={
            "port": {
                "network_id": provider.id,
                "port_security_enabled": False,
                "security_groups": [group["id"]],
            }
        },
    )
    assert neutron_error(unsecured)[:2] == (400, "PortSecurityAndIPRequiredForSecurityGroups")
    unknown = raw(
        demo,
        lab,
        "PUT",
        f"/ports/{port['id']}",
        json={"port": {"security_groups": [demo_default, "x" * 36]}},
    )
    assert neutron_error(unknown)[:2] == (400, "HTTPBadRequest")  # not a UUID
    shown = osc_json(osc, f"port show {port['id']}")
    assert (shown["security_group_ids"], shown["port_security_enabled"]) == ([], False)


def test_stateful_and_stateless_groups_do_not_mix_on_a_port(
    demo: Any, lab: Any, provider: Any, cleanup: Any, unique: Any, demo_default: str
) -> None:
    loose = make_group(demo, lab, cleanup, unique("stateless"), stateful=False)
    assert loose["stateful"] is False
    mixed = raw(
        demo,
        lab,
        "POST",
        "/ports",
        json={"port": {"network_id": provider.id, "security_groups": [loose["id"], demo_default]}},
    )
    assert neutron_error(mixed) == (
        409,
        "SecurityGroupConflict",
        "Error Cannot apply both stateful and stateless security groups on the same port at "
        "the same time while attempting the operation.",
    )
    assert [p.id for p in demo.network.ports(security_group_ids=[loose["id"]])] == []


# ---- the agents hear about it --------------------------------------------------------------------


def hops(lab: Any, response: Any) -> list[dict[str, Any]]:
    assert lab.sim.quiesce()
    request_id = response.headers["x-openstack-request-id"]
    return [e for e in lab.sim.trace(request_id=request_id) if e["kind"].startswith("rpc")]


def test_rule_changes_reach_the_agents_and_the_host_firewall(
    admin: Any, demo: Any, lab: Any, provider: Any, cleanup: Any, unique: Any
) -> None:
    project = demo.current_project_id
    group = make_group(demo, lab, cleanup, unique("fw"))
    port = bound_port(admin, provider.id, project, [group["id"]])
    cleanup.append(("port", port.id))
    assert admin.network.get_port(port.id).status == "ACTIVE"
    device = f"tap{port.id[:11]}"
    assert f"Update port filter for {device} (4 rules)" in "\n".join(lab.sim.log(AGENT, 200))

    made = add_rule(demo, lab, group["id"], protocol="tcp", port_range_min=22, port_range_max=22)
    assert made.status_code == 201
    seen = {(e["kind"], e["action"], e["target"], e["target_host"]) for e in hops(lab, made)}
    for host in ("controller", "worker1"):
        assert ("rpc-cast", "security_groups_rule_updated", AGENT, host) in seen
    assert (
        "rpc-call",
        "security_group_info_for_devices",
        "neutron-rpc-server",
        "controller",
    ) in seen
    callers = {
        e["source_host"]
        for e in hops(lab, made)
        if e["action"] == "security_group_info_for_devices"
    }
    assert callers == {"worker1"}  # only the host with a port in the group asks
    assert f"Update port filter for {device} (5 rules)" in "\n".join(lab.sim.log(AGENT, 200))

    removed = raw(
        demo, lab, "DELETE", f"/security-group-rules/{made.json()['security_group_rule']['id']}"
    )
    assert removed.status_code == 204
    assert any(e["action"] == "security_group_info_for_devices" for e in hops(lab, removed))


def test_a_port_joining_a_group_tells_the_agents(
    admin: Any, demo: Any, lab: Any, provider: Any, cleanup: Any, unique: Any, osc: Any
) -> None:
    project = demo.current_project_id
    group = make_group(demo, lab, cleanup, unique("members"))
    rule = add_rule(demo, lab, group["id"], remote_group_id=group["id"])
    assert rule.status_code == 201
    first = bound_port(admin, provider.id, project, [group["id"]])
    cleanup.append(("port", first.id))
    second = admin.network.create_port(network_id=provider.id, project_id=project)
    cleanup.append(("port", second.id))
    joined = raw(
        demo,
        lab,
        "PUT",
        f"/ports/{second.id}",
        json={"port": {"security_groups": [group["id"]]}},
    )
    assert joined.status_code == 200
    events = hops(lab, joined)
    casts = [e for e in events if e["action"] == "security_groups_member_updated"]
    assert {e["target_host"] for e in casts} == {"controller", "worker1"}
    # worker1 filters the first port, whose rule names the group: it asks again
    assert {
        e["source_host"] for e in events if e["action"] == "security_group_info_for_devices"
    } == {"worker1"}


def test_the_networks_own_ports_are_plugged_unfiltered(
    admin: Any, lab: Any, provider: Any, cleanup: Any
) -> None:
    """The server leaves ``network:*`` ports out of its answer; the agent lets everything
    through them (process_trusted_ports)."""
    port = admin.network.create_port(network_id=provider.id, device_owner="network:router_gateway")
    cleanup.append(("port", port.id))
    assert port.security_group_ids == []
    bound = raw(
        admin, lab, "PUT", f"/ports/{port.id}", json={"port": {"binding:host_id": "worker1"}}
    )
    assert bound.status_code == 200
    asked = [e for e in hops(lab, bound) if e["action"] == "security_group_info_for_devices"]
    assert [e["source_host"] for e in asked] == ["worker1"]
    log = "\n".join(lab.sim.log(AGENT, 100))
    assert f"Update port filter for tap{port.id[:11]} (unfiltered)" in log


# ---- narrowed lists ------------------------------------------------------------------------------


def test_lists_narrowed_by_id_name_and_project_are_the_full_list_filtered(
    admin: Any, demo: Any, lab: Any, cleanup: Any, unique: Any, provider: Any, demo_default: str
) -> None:
    """The id, name and project filters of a group list and the id / device_id filters of a
    port list go into the database query (Nova sends them at every server status poll):
    what comes back must be exactly the unfiltered list, filtered -- for an admin, who sees
    every project's, and for a member, who sees their own."""
    name = unique("twin")
    first = make_group(demo, lab, cleanup, name)
    second = make_group(admin, lab, cleanup, name)
    ports = [bound_port(admin, provider.id, demo.current_project_id, [first["id"]])]
    ports.append(bound_port(admin, provider.id, demo.current_project_id, [demo_default]))
    for port in ports:
        cleanup.append(("port", port.id))

    def groups(conn: Any, query: str) -> list[dict[str, Any]]:
        answer = raw(conn, lab, "GET", f"/security-groups{query}")
        assert answer.status_code == 200, answer.text
        return list(answer.json()["security_groups"])

    def port_list(conn: Any, query: str) -> list[dict[str, Any]]:
        answer = raw(conn, lab, "GET", f"/ports{query}")
        assert answer.status_code == 200, answer.text
        return list(answer.json()["ports"])

    for conn in (admin, demo):
        every = groups(conn, "")
        assert groups(conn, f"?id={first['id']}") == [g for g in every if g["id"] == first["id"]]
        both = f"?id={first['id']}&id={second['id']}"
        assert groups(conn, both) == [g for g in every if g["id"] in (first["id"], second["id"])]
        assert groups(conn, f"?name={name}") == [g for g in every if g["name"] == name]
        mine = f"?name={name}&tenant_id={demo.current_project_id}"
        assert groups(conn, mine) == [
            g for g in every if g["name"] == name and g["project_id"] == demo.current_project_id
        ]
        brief = groups(conn, f"?id={first['id']}&fields=id&fields=name")
        assert brief == [{"id": first["id"], "name": name}]
        all_ports = port_list(conn, "")
        ids = [p.id for p in ports]
        by_device = "&".join(f"device_id={i}" for i in ids)
        assert port_list(conn, f"?{by_device}") == [p for p in all_ports if p["device_id"] in ids]
        assert port_list(conn, f"?id={ids[1]}") == [p for p in all_ports if p["id"] == ids[1]]
    assert [g["id"] for g in groups(demo, f"?name={name}")] == [first["id"]]
    assert {g["id"] for g in groups(admin, f"?name={name}")} == {first["id"], second["id"]}


def test_an_address_group_rule_filters_by_the_groups_addresses(
    admin: Any, demo: Any, lab: Any, provider: Any, cleanup: Any, unique: Any
) -> None:
    """A rule naming an address group is one firewall rule per CIDR of the group (the
    iptables driver expands it); changing the group's addresses reaches the agents."""
    project = demo.current_project_id
    group = make_group(demo, lab, cleanup, unique("ag"))
    addresses = demo.network.create_address_group(
        name=unique("ag"), addresses=["192.0.2.0/24", "198.51.100.7/32"]
    )
    made = add_rule(demo, lab, group["id"], remote_address_group_id=addresses.id)
    assert made.status_code == 201
    port = bound_port(admin, provider.id, project, [group["id"]])
    cleanup.append(("port", port.id))
    device = f"tap{port.id[:11]}"
    # the two egress rules, the two DHCP provider rules, and one rule per CIDR
    assert f"Update port filter for {device} (6 rules)" in "\n".join(lab.sim.log(AGENT, 200))
    grown = raw(
        demo,
        lab,
        "PUT",
        f"/address-groups/{addresses.id}/add_addresses",
        json={"addresses": ["203.0.113.0/24"]},
    )
    assert grown.status_code == 200
    assert any(e["action"] == "security_groups_rule_updated" for e in hops(lab, grown))
    assert f"Update port filter for {device} (7 rules)" in "\n".join(lab.sim.log(AGENT, 200))
