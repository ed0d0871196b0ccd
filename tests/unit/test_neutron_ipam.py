"""Neutron's address rules and request checks, as pure functions (no sim needed)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from labkit.sim.neutron import attributes, ipam
from labkit.sim.neutron.errors import NeutronError
from labkit.sim.neutron.policy import Context


def counter_bytes() -> Callable[[int], bytes]:
    counter = itertools.count()
    return lambda n: next(counter).to_bytes(n, "big")


def test_default_pools_leave_out_the_gateway_network_and_broadcast() -> None:
    pools = ipam.default_pools("10.0.0.0/24", "10.0.0.1")
    assert ipam.pools_json(pools) == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    middle = ipam.default_pools("10.0.0.0/29", "10.0.0.4")
    assert ipam.pools_json(middle) == [
        {"start": "10.0.0.1", "end": "10.0.0.3"},
        {"start": "10.0.0.5", "end": "10.0.0.6"},
    ]
    assert ipam.count(ipam.default_pools("10.0.0.0/29", None)) == 6


def test_pool_checks_use_neutrons_texts() -> None:
    with pytest.raises(NeutronError) as outside:
        ipam.check_pools(
            ipam.parse_pools([{"start": "10.0.0.2", "end": "10.0.1.9"}]), "10.0.0.0/24", "10.0.0.1"
        )
    assert outside.value.kind == "OutOfBoundsAllocationPool"
    assert outside.value.message == (
        "The allocation pool 10.0.0.2-10.0.1.9 spans beyond the subnet cidr 10.0.0.0/24."
    )
    with pytest.raises(NeutronError) as gateway:
        ipam.check_pools(
            ipam.parse_pools([{"start": "10.0.0.1", "end": "10.0.0.9"}]), "10.0.0.0/24", "10.0.0.1"
        )
    assert gateway.value.kind == "GatewayConflictWithAllocationPools"
    with pytest.raises(NeutronError) as backwards:
        ipam.parse_pools([{"start": "10.0.0.9", "end": "10.0.0.2"}])
    assert backwards.value.message == (
        "The allocation pool {'start': '10.0.0.9', 'end': '10.0.0.2'} is not valid."
    )
    with pytest.raises(NeutronError) as overlap:
        ipam.check_pools(
            ipam.parse_pools(
                [
                    {"start": "10.0.0.2", "end": "10.0.0.9"},
                    {"start": "10.0.0.5", "end": "10.0.0.20"},
                ]
            ),
            "10.0.0.0/24",
            None,
        )
    assert overlap.value.status == 409 and overlap.value.kind == "OverlappingAllocationPools"


def test_dhcp_ports_take_the_lowest_address_others_pick_from_the_free_ones() -> None:
    pools = ipam.parse_pools([{"start": "10.0.0.100", "end": "10.0.0.199"}])
    used = {"10.0.0.100"}
    assert ipam.pick(pools, used, True, counter_bytes()) == "10.0.0.101"
    picked = ipam.pick(pools, used, False, counter_bytes())
    assert picked is not None and picked != "10.0.0.100"
    full = {f"10.0.0.{n}" for n in range(100, 200)}
    assert ipam.pick(pools, full, False, counter_bytes()) is None


def test_addresses_on_a_subnet_and_gateways() -> None:
    assert ipam.on_subnet("10.0.0.0/24", "10.0.0.5")
    assert not ipam.on_subnet("10.0.0.0/24", "10.0.0.0")
    assert not ipam.on_subnet("10.0.0.0/24", "10.0.0.255")
    assert not ipam.on_subnet("10.0.0.0/24", "10.0.1.5")
    assert ipam.gateway_invalid("10.0.0.0/24", "10.0.0.255")
    assert not ipam.gateway_invalid("10.0.0.0/24", "192.0.2.1")  # outside is allowed


def test_macs_keep_the_base_macs_prefix() -> None:
    mac = ipam.mac_from("fa:16:3e:00:00:00", counter_bytes())
    assert mac.startswith("fa:16:3e:") and len(mac.split(":")) == 6


def test_request_bodies_are_checked_in_neutrons_order() -> None:
    member = Context(request_id="r", project_id="p1", roles=frozenset({"member"}))
    body = attributes.prepare(
        member, {"network": {"name": "n"}}, "network", attributes.NETWORK, True
    )
    assert body["project_id"] == body["tenant_id"] == "p1"
    assert body["shared"] is False and body["admin_state_up"] is True
    with pytest.raises(NeutronError) as other:
        attributes.prepare(
            member, {"network": {"project_id": "p2"}}, "network", attributes.NETWORK, True
        )
    assert other.value.message.startswith("Specifying 'project_id' or 'tenant_id' other than")
    with pytest.raises(NeutronError) as mismatch:
        attributes.prepare(
            member,
            {"network": {"project_id": "p1", "tenant_id": "p2"}},
            "network",
            attributes.NETWORK,
            True,
        )
    assert mismatch.value.message == "'project_id' and 'tenant_id' do not match"
    with pytest.raises(NeutronError) as readonly:
        attributes.prepare(member, {"port": {"status": "ACTIVE"}}, "port", attributes.PORT, False)
    assert readonly.value.message == "Cannot update read-only attribute status"


def test_filters_convert_and_refuse_unknown_keys() -> None:
    got = attributes.filters([("shared", "True"), ("name", "a"), ("name", "b")], attributes.NETWORK)
    assert got == {"shared": [True], "name": ["a", "b"]}
    assert attributes.filters([("tenant_id", "p")], attributes.NETWORK) == {"project_id": ["p"]}
    with pytest.raises(NeutronError) as both:
        attributes.filters([("tenant_id", "p"), ("project_id", "p")], attributes.NETWORK)
    assert both.value.kind == "TenantIdProjectIdFilterConflict"
