"""The wire's verdicts: security-group rules on both ends, plugged and unplugged ports."""

from __future__ import annotations

import pytest

from labkit.sim.core.wire import (
    METADATA_ADDRESS,
    Endpoint,
    PortFilter,
    Rule,
    Verdict,
    Wire,
    WireError,
    WireRequest,
    WireResponse,
)

NET = "net-1"
EGRESS_ANY = (Rule("egress", "IPv4"), Rule("egress", "IPv6"))
SSH = Rule("ingress", "IPv4", "tcp", 22, 22, "0.0.0.0/0")
ICMP = Rule("ingress", "IPv4", "icmp", None, None, "0.0.0.0/0")


def guest(wire: Wire, address: str, port: str, *rules: Rule, host: str = "worker1") -> Endpoint:
    endpoint = Endpoint(address, NET, host=host, port_id=port, listeners={("tcp", 22): object()})
    wire.attach(endpoint)
    wire.firewall(host).apply(PortFilter(port, NET, "fa:16:3e:00:00:01", (address,), rules))
    return endpoint


def test_default_rules_filter_ssh_from_outside_until_a_tcp22_rule() -> None:
    wire = Wire()
    guest(wire, "10.64.0.105", "p1", *EGRESS_ANY)
    assert wire.connect("10.64.0.1", "10.64.0.105", "tcp", 22, NET)[0] is Verdict.FILTERED
    assert wire.ping("10.64.0.1", "10.64.0.105", NET) is Verdict.FILTERED
    wire.firewall("worker1").apply(
        PortFilter("p1", NET, "fa:16:3e:00:00:01", ("10.64.0.105",), (*EGRESS_ANY, SSH, ICMP))
    )
    assert wire.connect("10.64.0.1", "10.64.0.105", "tcp", 22, NET)[0] is Verdict.OPEN
    assert wire.connect("10.64.0.1", "10.64.0.105", "tcp", 80, NET)[0] is Verdict.FILTERED
    assert wire.ping("10.64.0.1", "10.64.0.105", NET) is Verdict.OPEN


def test_allowed_port_without_listener_is_refused_and_nobody_is_unreachable() -> None:
    wire = Wire()
    guest(wire, "10.64.0.105", "p1", Rule("ingress", "IPv4", "tcp", 1, 65535))
    assert wire.connect("10.64.0.1", "10.64.0.105", "tcp", 80, NET)[0] is Verdict.REFUSED
    assert wire.connect("10.64.0.1", "10.64.0.199", "tcp", 22, NET)[0] is Verdict.UNREACHABLE


def test_an_unplugged_port_passes_nothing() -> None:
    wire = Wire()
    wire.attach(Endpoint("10.64.0.105", NET, host="worker1", port_id="p1"))
    assert wire.ping("10.64.0.1", "10.64.0.105", NET) is Verdict.FILTERED


def test_remote_group_rules_admit_only_members() -> None:
    wire = Wire()
    members = frozenset({"10.64.0.105", "10.64.0.106"})
    same_group = Rule("ingress", "IPv4", remote_group_id="sg", remote_ips=members)
    guest(wire, "10.64.0.105", "p1", *EGRESS_ANY, same_group)
    guest(wire, "10.64.0.106", "p2", *EGRESS_ANY, same_group)
    guest(wire, "10.64.0.107", "p3", *EGRESS_ANY)
    assert wire.ping("10.64.0.106", "10.64.0.105", NET) is Verdict.OPEN
    assert wire.ping("10.64.0.107", "10.64.0.105", NET) is Verdict.FILTERED


def test_egress_rules_govern_what_a_guest_reaches() -> None:
    wire = Wire()
    guest(wire, "10.64.0.105", "p1")  # no egress rule at all
    guest(wire, "10.64.0.106", "p2", *EGRESS_ANY, ICMP)
    assert wire.ping("10.64.0.105", "10.64.0.106", NET) is Verdict.FILTERED
    assert wire.ping("10.64.0.106", "10.64.0.106", NET) is Verdict.OPEN


def test_port_security_disabled_passes_everything() -> None:
    wire = Wire()
    wire.attach(Endpoint("10.64.0.105", NET, host="worker1", port_id="p1"))
    wire.firewall("worker1").apply(PortFilter("p1", NET, "m", ("10.64.0.105",), (), False))
    assert wire.ping("10.64.0.1", "10.64.0.105", NET) is Verdict.OPEN


def test_http_to_the_metadata_proxy_obeys_egress() -> None:
    wire = Wire()
    seen: list[WireRequest] = []

    def proxy(request: WireRequest) -> WireResponse:
        seen.append(request)
        return WireResponse(200, b"{}")

    wire.attach(Endpoint(METADATA_ADDRESS, NET, http={80: proxy}))
    guest(wire, "10.64.0.105", "p1", *EGRESS_ANY)
    request = WireRequest("10.64.0.105", NET, "GET", "/openstack")
    assert wire.http(request, METADATA_ADDRESS).status == 200
    assert seen[0].source == "10.64.0.105"
    guest(wire, "10.64.0.106", "p2")
    with pytest.raises(WireError) as failed:
        wire.http(WireRequest("10.64.0.106", NET, "GET", "/openstack"), METADATA_ADDRESS)
    assert failed.value.verdict is Verdict.FILTERED


def test_iptables_save_names_the_agent_chains() -> None:
    wire = Wire()
    guest(wire, "10.64.0.105", "0123456789abcdef", *EGRESS_ANY, SSH)
    lines = wire.firewall("worker1").iptables_save()
    assert "-N neutron-linuxbri-i0123456789" in lines
    assert (
        "-A neutron-linuxbri-i0123456789 -s 0.0.0.0/0 -p tcp -m tcp --dport 22 -j RETURN" in lines
    )
