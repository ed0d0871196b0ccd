"""A server's security groups through Nova, kept in Neutron: ``openstack server add/remove
security group``, ``GET /servers/{id}/os-security-groups``, the ``security_groups`` a server
shows (its ports' groups), Nova's errors, and the groups asked for at ``server create``.

What Nova says is checked against what Neutron holds: the ports of the server
(``openstack port list --server``) carry the groups.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable
from typing import Any

import openstack
import pytest

from tests.conftest import openstack_cli
from tests.sim.nova_helpers import compute_raw, fault

pytestmark = pytest.mark.slow
Osc = Callable[..., subprocess.CompletedProcess[str]]
WAIT = {"interval": 0.2, "wait": 60}


@pytest.fixture(scope="module")
def admin(nova_lab: Any) -> Any:
    return nova_lab.connect("admin")


@pytest.fixture(scope="module")
def cli(nova_lab: Any) -> Osc:
    run = openstack_cli(nova_lab)
    return lambda *args, check=True: run(shlex.join(args), check=check)


def _json(cli: Osc, *args: str) -> Any:
    return json.loads(cli(*args, "-f", "json").stdout)


_raw = compute_raw("2.93")


def _boot(conn: Any, name: str, networks: Any = "auto", **extra: Any) -> Any:
    server = conn.compute.create_server(
        name=name,
        flavor_id=conn.compute.find_flavor("m1.nano").id,
        image_id=conn.image.find_image("cirros").id,
        networks=networks,
        **extra,
    )
    return conn.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], **WAIT)


def _shown_groups(conn: Any, server: Any) -> list[str] | None:
    """The server's ``security_groups`` names, or None when the server has no such key."""
    body = _raw(conn, "GET", f"/servers/{server.id}").json()["server"]
    groups = body.get("security_groups")
    return None if groups is None else [g["name"] for g in groups]


def _port_groups(conn: Any, server: Any) -> list[set[str]]:
    return [set(p.security_group_ids) for p in conn.network.ports(device_id=server.id)]


def _action(conn: Any, server: Any, body: Any) -> Any:
    return _raw(conn, "POST", f"/servers/{server.id}/action", json=body)


@pytest.fixture(scope="module")
def web(admin: Any) -> Any:
    """A group of the admin project with an SSH rule and a rule from another group."""
    group = admin.network.create_security_group(name="web", description="web servers")
    admin.network.create_security_group_rule(
        security_group_id=group.id,
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="10.0.0.0/8",
    )
    admin.network.create_security_group_rule(
        security_group_id=group.id,
        direction="ingress",
        ethertype="IPv4",
        protocol="icmp",
        remote_group_id=group.id,
    )
    return admin.network.get_security_group(group.id)


@pytest.fixture(scope="module")
def server(admin: Any) -> Any:
    """A server on the provider network (one port), in the default group."""
    return _boot(admin, "sg-server")


def test_add_and_remove_from_the_cli_change_the_ports_and_what_the_server_shows(
    admin: Any, cli: Osc, server: Any, web: Any
) -> None:
    default = admin.network.find_security_group("default", project_id=admin.current_project_id)
    assert _shown_groups(admin, server) == ["default"]
    assert _port_groups(admin, server) == [{default.id}]
    cli("server", "add", "security", "group", server.id, "web")
    assert _port_groups(admin, server) == [{default.id, web.id}]
    assert sorted(_shown_groups(admin, server) or []) == ["default", "web"]
    shown = _json(cli, "server", "show", server.id)
    assert {g["name"] for g in shown["security_groups"]} == {"default", "web"}
    listed = [s for s in admin.compute.servers(details=True) if s.id == server.id]
    assert sorted(g["name"] for g in listed[0].security_groups) == ["default", "web"]
    cli("server", "remove", "security", "group", server.id, "web")
    assert _port_groups(admin, server) == [{default.id}]
    assert _shown_groups(admin, server) == ["default"]


def test_os_security_groups_lists_the_servers_groups_in_novas_shape(
    admin: Any, server: Any, web: Any
) -> None:
    assert _action(admin, server, {"addSecurityGroup": {"name": web.id}}).status_code == 202
    try:
        answer = _raw(admin, "GET", f"/servers/{server.id}/os-security-groups")
        assert answer.status_code == 200
        groups = answer.json()["security_groups"]
        assert [g["name"] for g in groups] == ["default", "web"]  # by project, then name
        shown = groups[1]
        assert shown["id"] == web.id
        assert shown["description"] == "web servers"
        assert shown["tenant_id"] == admin.current_project_id
        rules = {r["ip_protocol"]: r for r in shown["rules"]}  # ingress rules only
        assert set(rules) == {"tcp", "icmp"}
        assert rules["tcp"]["from_port"] == 22 and rules["tcp"]["to_port"] == 22
        assert rules["tcp"]["ip_range"] == {"cidr": "10.0.0.0/8"}
        assert rules["tcp"]["group"] == {}
        assert rules["tcp"]["parent_group_id"] == web.id
        assert (rules["icmp"]["from_port"], rules["icmp"]["to_port"]) == (-1, -1)
        assert rules["icmp"]["group"] == {"name": "web", "tenant_id": admin.current_project_id}
        assert rules["icmp"]["ip_range"] == {}
    finally:
        _action(admin, server, {"removeSecurityGroup": {"name": "web"}})


def test_bad_requests_get_novas_errors_and_change_nothing(
    admin: Any, server: Any, web: Any
) -> None:
    project = admin.current_project_id
    before = _port_groups(admin, server)
    cases = [
        ({"addSecurityGroup": None}, 400, "Missing parameter dict"),
        ({"addSecurityGroup": {}}, 400, "Security group not specified"),
        ({"addSecurityGroup": {"name": "  "}}, 400, "Security group name cannot be empty"),
        (
            {"addSecurityGroup": {"name": "nosuch"}},
            404,
            f"Security group nosuch is not found for project {project}",
        ),
        (
            {"removeSecurityGroup": {"name": "web"}},
            404,
            f"Security group web not associated with the instance {server.id}",
        ),
    ]
    for body, status, message in cases:
        code, _, text = fault(_action(admin, server, body))
        assert (code, text) == (status, message), body
    # adding a group the ports already have: Neutron refuses the duplicate, Nova says 400
    code, key, text = fault(_action(admin, server, {"addSecurityGroup": {"name": "default"}}))
    assert (code, key) == (400, "badRequest")
    assert "Duplicate" in text
    assert _port_groups(admin, server) == before


def test_a_name_two_groups_share_is_a_409_and_an_id_settles_it(
    admin: Any, server: Any, unique: Callable[[str], str]
) -> None:
    name = unique("twin")
    first = admin.network.create_security_group(name=name)
    second = admin.network.create_security_group(name=name)
    try:
        code, _, text = fault(_action(admin, server, {"addSecurityGroup": {"name": name}}))
        assert (code, text) == (
            409,
            f"Multiple security_group matches found for name '{name}', use an ID to be more "
            "specific.",
        )
        assert _action(admin, server, {"addSecurityGroup": {"name": second.id}}).status_code == 202
        assert name in (_shown_groups(admin, server) or [])
        assert any(second.id in groups for groups in _port_groups(admin, server))
        answer = _action(admin, server, {"removeSecurityGroup": {"name": second.id}})
        assert answer.status_code == 202
    finally:
        admin.network.delete_security_group(first)
        admin.network.delete_security_group(second)


def test_a_server_without_ports_has_no_security_groups_to_change(
    admin: Any, unique: Callable[[str], str]
) -> None:
    bare = _boot(admin, unique("no-ports"), networks="none")
    try:
        assert _shown_groups(admin, bare) is None  # no ports: no "security_groups" at all
        code, _, text = fault(_action(admin, bare, {"addSecurityGroup": {"name": "default"}}))
        assert (code, text) == (
            404,
            f"instance_id {bare.id} could not be found as device id on any ports",
        )
        answer = _raw(admin, "GET", f"/servers/{bare.id}/os-security-groups")
        assert answer.json() == {"security_groups": []}
    finally:
        admin.compute.delete_server(bare)


def test_create_resolves_the_groups_it_is_given_in_neutron(
    admin: Any, web: Any, unique: Callable[[str], str]
) -> None:
    with pytest.raises(
        openstack.exceptions.BadRequestException,
        match=r"Unable to find security_group with name or id 'nosuch'",
    ):
        admin.compute.create_server(
            name="x",
            flavor_id=admin.compute.find_flavor("m1.nano").id,
            image_id=admin.image.find_image("cirros").id,
            networks="auto",
            security_groups=[{"name": "nosuch"}],
        )
    booted = _boot(admin, unique("in-web"), security_groups=[{"name": "web"}])
    try:
        assert _shown_groups(admin, booted) == ["web"]
        assert _port_groups(admin, booted) == [{web.id}]
    finally:
        admin.compute.delete_server(booted)


def test_two_ports_show_each_group_twice_and_a_refusal_on_one_undoes_the_other(
    admin: Any, web: Any, unique: Callable[[str], str]
) -> None:
    network = admin.network.find_network("provider")
    twice = _boot(admin, unique("two-nics"), networks=[{"uuid": network.id}] * 2)
    try:
        assert _shown_groups(admin, twice) == ["default", "default"]  # one per port, as Nova
        first, second = admin.network.ports(device_id=twice.id)
        default = first.security_group_ids[0]
        # the second port (Nova's order too) already has "web": adding it again is refused
        # there after the first port took it -- and the first port gets its list back
        admin.network.update_port(second, security_group_ids=[default, web.id])
        code, _, text = fault(_action(admin, twice, {"addSecurityGroup": {"name": "web"}}))
        assert code == 400 and "Duplicate" in text
        assert _port_groups(admin, twice) == [{default}, {default, web.id}]
        # removing takes it from the ports that have it
        assert _action(admin, twice, {"removeSecurityGroup": {"name": "web"}}).status_code == 202
        assert _port_groups(admin, twice) == [{default}, {default}]
        # a port without port security cannot take groups: nothing changes anywhere
        admin.network.update_port(second, security_group_ids=[], port_security_enabled=False)
        code, _, text = fault(_action(admin, twice, {"addSecurityGroup": {"name": "web"}}))
        assert (code, text) == (
            400,
            "Network requires port_security_enabled and subnet associated in order to apply "
            "security groups.",
        )
        assert _port_groups(admin, twice) == [{default}, set()]
    finally:
        admin.compute.delete_server(twice)
