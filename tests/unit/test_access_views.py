"""The pieces of lab.ssh / lab.why_no_ssh that need no cloud: which rule lets SSH in, which
address is the server's, how a diagnosis and a command's output show, and what explain()
says about the messages ssh prints."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from labkit import explain
from labkit.errors import GuestConnectFailed
from labkit.lab.access import Check, Output, SshDiagnosis, _rule_lets_in, fixed_address


def rule(**kw: Any) -> SimpleNamespace:
    base = {
        "direction": "ingress",
        "ether_type": "IPv4",
        "protocol": "tcp",
        "port_range_min": 22,
        "port_range_max": 22,
        "remote_ip_prefix": None,
        "remote_group_id": None,
    }
    return SimpleNamespace(**{**base, **kw})


@pytest.mark.parametrize(
    "kw, lets_in",
    [
        ({}, True),
        ({"remote_ip_prefix": "0.0.0.0/0"}, True),
        ({"remote_ip_prefix": "10.64.0.0/24"}, True),
        ({"remote_ip_prefix": "192.168.0.0/16"}, False),  # not from the router
        ({"port_range_min": 20, "port_range_max": 30}, True),
        ({"port_range_min": 80, "port_range_max": 80}, False),
        ({"port_range_min": None, "port_range_max": None}, True),  # every port
        ({"protocol": None, "port_range_min": None, "port_range_max": None}, True),
        ({"protocol": "6"}, True),
        ({"protocol": "udp"}, False),
        ({"direction": "egress"}, False),
        ({"ether_type": "IPv6", "remote_ip_prefix": None}, False),
        ({"remote_group_id": "group-1"}, False),  # members of a group: not the router
    ],
)
def test_which_rules_let_ssh_in_from_the_router(kw: dict[str, Any], lets_in: bool) -> None:
    assert _rule_lets_in(rule(**kw), "tcp", 22, "10.64.0.1") is lets_in


def test_icmp_rules() -> None:
    icmp = rule(protocol="icmp", port_range_min=None, port_range_max=None)
    assert _rule_lets_in(icmp, "icmp", None, "10.64.0.1")
    assert _rule_lets_in(rule(protocol="icmp", port_range_min=8), "icmp", None, "10.64.0.1")
    assert not _rule_lets_in(rule(protocol="icmp", port_range_min=0), "icmp", None, "10.64.0.1")
    assert not _rule_lets_in(rule(), "icmp", None, "10.64.0.1")  # tcp/22 is no ping rule


def test_fixed_address_prefers_fixed_ipv4() -> None:
    server = SimpleNamespace(
        addresses={
            "provider": [
                {"addr": "fd00::5", "version": 6, "OS-EXT-IPS:type": "fixed"},
                {"addr": "203.0.113.9", "version": 4, "OS-EXT-IPS:type": "floating"},
                {"addr": "10.64.0.105", "version": 4, "OS-EXT-IPS:type": "fixed"},
            ]
        }
    )
    assert fixed_address(server) == "10.64.0.105"
    assert fixed_address(SimpleNamespace(addresses={})) is None


def test_a_diagnosis_names_the_first_failure_with_its_fix() -> None:
    report = SshDiagnosis("server1", "10.64.0.105", "ubuntu")
    report.checks += [
        Check("the server is ACTIVE", True, "ACTIVE on worker1"),
        Check("a security group lets tcp/22 in", False, "no rule", "`openstack ... default`"),
        Check("the guest's SSH server answers", None, "not checked"),
    ]
    report.extra.append(Check("(ping) a security group lets icmp in", False, "no rule", "x"))
    assert not report.ok
    assert report.failed is report.checks[1]
    text = str(report)
    assert text.splitlines()[0] == (
        "SSH to ubuntu@10.64.0.105 (server1) fails at: a security group lets tcp/22 in."
    )
    assert "  ✗ a security group lets tcp/22 in: no rule" in text
    assert "      fix: `openstack ... default`" in text
    assert "  - the guest's SSH server answers: not checked" in text
    html = report._repr_html_()
    assert "<table>" in html and "✓" in html and "✗" in html
    assert "&lt;" not in report.summary


def test_output_unpacks_and_shows_like_a_terminal() -> None:
    out = Output("hostname", 0, "server1\n", "")
    code, stdout, stderr = out
    assert (code, stdout, stderr) == (0, "server1\n", "")
    assert repr(out) == "$ hostname\nserver1"
    failed = Output("nosuch", 127, "", "-bash: nosuch: command not found\n")
    assert not failed.ok
    assert repr(failed).endswith("[exit status 127]")
    assert "<pre>" in failed._repr_html_()


@pytest.mark.parametrize(
    "text, entry",
    [
        ("ssh: connect to host 10.64.0.105 port 22: Connection timed out", "access.ssh-timeout"),
        (
            str(GuestConnectFailed("server1", "10.64.0.105", 22, "filtered", "timed out")),
            "access.ssh-timeout",
        ),
        ("ssh: connect to host 10.64.0.105 port 22: Connection refused", "access.ssh-refused"),
        ("ssh: connect to host 10.64.0.150 port 22: No route to host", "access.ssh-no-route"),
        ("ubuntu@10.64.0.105: Permission denied (publickey).", "access.publickey"),
        ("Host key verification failed.", "access.host-key"),
    ],
)
def test_explain_reads_what_ssh_printed(text: str, entry: str) -> None:
    found = explain.explain(text)
    assert found.entry == entry
    assert "lab.why_no_ssh" in found.fix or "labkit ssh" in found.fix


def test_the_error_of_a_filtered_port_says_what_to_run() -> None:
    error = GuestConnectFailed("server1", "10.64.0.105", 22, "filtered", "Connection timed out")
    assert error.message == (
        "SSH to 10.64.0.105:22 (server1) timed out: the port is filtered "
        "(no security-group rule lets it in)."
    )
    assert error.hint == "Run lab.why_no_ssh('server1') to check each hop."


def test_wait_for_boot_names_a_guest_whose_cloud_init_never_ends() -> None:
    """lab.wait_for_boot: a real guest prints cloud-init's end some seconds after ACTIVE."""
    from labkit.lab.access import Access, GuestAccessError

    target = SimpleNamespace(name="server1", server=SimpleNamespace(id="srv-id"))
    stuck = SimpleNamespace(target=lambda server: target, console=lambda ident: "Booting...\n")
    stuck._poll_console = lambda *args: Access._poll_console(stuck, *args)  # type: ignore[arg-type]
    with pytest.raises(GuestAccessError, match="server1's console shows no end of cloud-init"):
        Access.wait_for_boot(stuck, "server1", wait=0.6)  # type: ignore[arg-type]
