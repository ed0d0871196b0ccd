"""The provider network as packets see it: who is at which address, and what each compute
host's firewall lets through.

In a real Zed cloud with the Linux bridge agent, a guest's NIC is a tap device on its
compute host, plugged into the network's bridge; the agent on that host turns the port's
security groups into iptables chains (``neutron-linuxbri-i<port>`` for what may come in,
``-o<port>`` for what may go out), and conntrack lets replies back. Nothing reaches a guest
whose tap is not plugged, and a port whose rules say nothing about a packet drops it -- the
sender sees a timeout, not a refusal.

:class:`Wire` is that, for the sim, at the level of connections rather than packets:

- **endpoints** (:class:`Endpoint`): an address on a network -- a guest's NIC (attached by
  the hypervisor when the guest boots, detached when it stops), a service in a namespace
  (the metadata proxy at ``169.254.169.254`` that the DHCP agent runs), or the router at
  the network's gateway, through which the learner's own machine reaches the guests;
- **firewalls** (:class:`Firewall`): one per host, holding a :class:`PortFilter` per port the
  host's L2 agent has plugged and programmed -- nobody else writes them;
- **verdicts** (:meth:`Wire.connect`, :meth:`Wire.ping`): the source's egress rules, then the
  destination's ingress rules, then whether anything listens -- ``OPEN``, ``REFUSED`` (a
  TCP reset: the guest is up, nothing listens), ``FILTERED`` (dropped: the sender times
  out), ``UNREACHABLE`` (no one has the address: "No route to host").

The wire moves no bytes: a caller that got ``OPEN`` talks to the listener it was handed (the
guests' SSH servers take the learner's socket; HTTP listeners are called in-process). It
imports nothing above :mod:`labkit.sim.core`.
"""

from __future__ import annotations

import enum
import ipaddress
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# IANA numbers Neutron accepts by name as well (neutron-lib constants.IP_PROTOCOL_MAP, the
# ones that matter here); rules may carry either form.
PROTOCOL_NUMBERS = {"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58, "ipv6-icmp": 58}
METADATA_ADDRESS = "169.254.169.254"


def protocol_number(protocol: str | int | None) -> int | None:
    """``"tcp"`` -> 6, ``"6"`` -> 6, ``None``/``"any"`` -> None (every protocol)."""
    if protocol is None or protocol in ("", "any"):
        return None
    if isinstance(protocol, int):
        return protocol
    if protocol.isdigit():
        return int(protocol)
    return PROTOCOL_NUMBERS.get(protocol.lower(), -1)


class Verdict(enum.Enum):
    OPEN = "open"
    REFUSED = "refused"  # errno ECONNREFUSED: "Connection refused"
    FILTERED = "filtered"  # dropped: the sender's connect times out
    UNREACHABLE = "unreachable"  # errno EHOSTUNREACH: "No route to host"

    @property
    def error(self) -> str:
        """The text a client prints for this outcome (``ssh: connect to host ...: <error>``)."""
        return {
            Verdict.OPEN: "",
            Verdict.REFUSED: "Connection refused",
            Verdict.FILTERED: "Connection timed out",
            Verdict.UNREACHABLE: "No route to host",
        }[self]


@dataclass(frozen=True)
class Rule:
    """One security-group rule as the L2 agent resolved it for one port.

    ``remote_ips`` is set for a rule with a remote group: the addresses of that group's
    member ports (what Neutron's ``security_group_info_for_devices`` returns as
    ``sg_member_ips``); a rule with neither a prefix nor a remote group matches any peer.
    For ICMP, ``port_min``/``port_max`` are the ICMP type and code, as in Neutron.
    """

    direction: str  # "ingress" | "egress"
    ethertype: str = "IPv4"  # "IPv4" | "IPv6"
    protocol: str | None = None  # None = any; a name ("tcp") or a number ("6")
    port_min: int | None = None
    port_max: int | None = None
    remote_prefix: str | None = None
    remote_group_id: str | None = None
    remote_ips: frozenset[str] | None = None

    def matches(self, direction: str, protocol: str, peer: str, port: int | None) -> bool:
        """Does this rule let a ``protocol`` packet to/from ``peer`` (dst ``port``) pass?"""
        if direction != self.direction:
            return False
        address = ipaddress.ip_address(peer)
        if self.ethertype != f"IPv{address.version}":
            return False
        wanted = protocol_number(self.protocol)
        if wanted is not None and wanted != protocol_number(protocol):
            return False
        if self.remote_ips is not None and peer not in self.remote_ips:
            return False
        if self.remote_prefix and address not in ipaddress.ip_network(
            self.remote_prefix, strict=False
        ):
            return False
        if protocol_number(protocol) == 1:  # icmp: port_min is the type (8 = echo request)
            return self.port_min is None or port is None or self.port_min == port
        if self.port_min is None or port is None:
            return True
        return self.port_min <= port <= (self.port_max or self.port_min)


@dataclass(frozen=True)
class PortFilter:
    """What a host's iptables hold for one plugged port: its addresses and its rules.

    ``port_security`` False (``port_security_enabled=false`` in Neutron) means no filtering
    at all: everything passes both ways.
    """

    port_id: str
    network_id: str
    mac: str
    ips: tuple[str, ...]
    rules: tuple[Rule, ...] = ()
    port_security: bool = True

    @property
    def device(self) -> str:
        """The tap device's name on the host (Linux bridge agent: ``tap`` + 11 id chars)."""
        return f"tap{self.port_id[:11]}"

    def allows(self, direction: str, protocol: str, peer: str, port: int | None) -> bool:
        if not self.port_security:
            return True
        return any(rule.matches(direction, protocol, peer, port) for rule in self.rules)


class Firewall:
    """One host's security-group firewall, programmed only by that host's L2 agent."""

    def __init__(self, host: str) -> None:
        self.host = host
        self._ports: dict[str, PortFilter] = {}
        self._lock = threading.Lock()

    def apply(self, port: PortFilter) -> None:
        """Install (or replace) the chains of one port: it is plugged from now on."""
        with self._lock:
            self._ports[port.port_id] = port

    def remove(self, port_id: str) -> None:
        with self._lock:
            self._ports.pop(port_id, None)

    def get(self, port_id: str) -> PortFilter | None:
        with self._lock:
            return self._ports.get(port_id)

    def ports(self) -> list[PortFilter]:
        with self._lock:
            return sorted(self._ports.values(), key=lambda p: p.port_id)

    def iptables_save(self) -> list[str]:
        """The rules as ``iptables -S`` would list the agent's chains (for a host's shell)."""
        lines: list[str] = []
        for port in self.ports():
            for direction, chain in (("ingress", "i"), ("egress", "o")):
                name = f"neutron-linuxbri-{chain}{port.port_id[:10]}"
                lines.append(f"-N {name}")
                lines.append(f"-A {name} -m state --state RELATED,ESTABLISHED -j RETURN")
                for rule in port.rules if port.port_security else ():
                    if rule.direction == direction:
                        lines.append(f"-A {name}{_iptables_match(rule, direction)} -j RETURN")
                lines.append(f"-A {name} -j neutron-linuxbri-sg-fallback")
        return lines


def _iptables_match(rule: Rule, direction: str) -> str:
    out = ""
    if rule.remote_prefix:
        out += f" {'-s' if direction == 'ingress' else '-d'} {rule.remote_prefix}"
    number = protocol_number(rule.protocol)
    if number is not None:
        name = next((k for k, v in PROTOCOL_NUMBERS.items() if v == number), str(number))
        out += f" -p {name}"
        if name in ("tcp", "udp") and rule.port_min is not None:
            top = rule.port_max or rule.port_min
            span = str(rule.port_min) if top == rule.port_min else f"{rule.port_min}:{top}"
            out += f" -m {name} --dport {span}"
    if rule.remote_group_id is not None:  # an ipset of the group's member addresses
        side = "src" if direction == "ingress" else "dst"
        out += f" -m set --match-set N{rule.ethertype}{rule.remote_group_id[:20]} {side}"
    return out


# An HTTP listener on the wire (the metadata proxy): request -> response.
HttpHandler = Callable[["WireRequest"], "WireResponse"]


@dataclass(frozen=True)
class WireRequest:
    source: str  # the sender's address on the network
    network_id: str
    method: str
    path: str  # with its query string
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class WireResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Endpoint:
    """An address on a network and what answers there.

    ``host`` and ``port_id`` are set for a Neutron port plugged on a host (a guest's NIC):
    its traffic is filtered by that host's firewall. ``listeners`` maps ``("tcp", 22)`` to
    whatever serves it (the wire never looks inside); ``http`` maps a TCP port to an
    in-process HTTP handler. ``answers_ping``: the address replies to ICMP echo.
    """

    address: str
    network_id: str
    host: str | None = None
    port_id: str | None = None
    listeners: dict[tuple[str, int], Any] = field(default_factory=dict)
    http: dict[int, HttpHandler] = field(default_factory=dict)
    answers_ping: bool = True


class Wire:
    """Every network's endpoints and every host's firewall."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._firewalls: dict[str, Firewall] = {}
        # (network_id, address) -> endpoint; "" as network_id: reachable from any network
        self._endpoints: dict[tuple[str, str], Endpoint] = {}

    # ---- firewalls (written by L2 agents) ------------------------------------------------
    def firewall(self, host: str) -> Firewall:
        with self._lock:
            return self._firewalls.setdefault(host, Firewall(host))

    def firewalls(self) -> list[Firewall]:
        with self._lock:
            return [self._firewalls[h] for h in sorted(self._firewalls)]

    # ---- endpoints (attached by hypervisors, agents, the router) -------------------------
    def attach(self, endpoint: Endpoint) -> None:
        with self._lock:
            self._endpoints[(endpoint.network_id, endpoint.address)] = endpoint

    def detach(self, network_id: str, address: str) -> None:
        with self._lock:
            self._endpoints.pop((network_id, address), None)

    def endpoint(self, address: str, network_id: str | None = None) -> Endpoint | None:
        """Who has ``address`` -- on ``network_id`` if given, else on any network."""
        with self._lock:
            if network_id is not None:
                return self._endpoints.get((network_id, address)) or self._endpoints.get(
                    ("", address)
                )
            return next((e for (_, a), e in self._endpoints.items() if a == address), None)

    def endpoints(self) -> list[Endpoint]:
        with self._lock:
            return list(self._endpoints.values())

    # ---- verdicts --------------------------------------------------------------------------
    def _passes(
        self, endpoint: Endpoint, direction: str, protocol: str, peer: str, port: int | None
    ) -> bool:
        """Does the firewall in front of ``endpoint`` let this packet through? Endpoints
        that are no Neutron port (namespaces, the router) have none; a port whose host has
        no filter for it is not plugged, and nothing passes."""
        if endpoint.host is None or endpoint.port_id is None:
            return True
        found = self.firewall(endpoint.host).get(endpoint.port_id)
        return found is not None and found.allows(direction, protocol, peer, port)

    def connect(
        self, source: str, destination: str, protocol: str, port: int | None, network_id: str
    ) -> tuple[Verdict, Endpoint | None]:
        """Would a ``protocol`` connection from ``source`` to ``destination:port`` on
        ``network_id`` be established? Egress of the sender's port first, then ingress of
        the receiver's, then whether anything listens there."""
        src = self.endpoint(source, network_id)
        if src is not None and not self._passes(src, "egress", protocol, destination, port):
            return Verdict.FILTERED, None
        dst = self.endpoint(destination, network_id)
        if dst is None:
            return Verdict.UNREACHABLE, None
        if not self._passes(dst, "ingress", protocol, source, port):
            return Verdict.FILTERED, None
        if protocol_number(protocol) == 1:
            return (Verdict.OPEN if dst.answers_ping else Verdict.FILTERED), dst
        if port is not None and ((protocol, port) in dst.listeners or port in dst.http):
            return Verdict.OPEN, dst
        return Verdict.REFUSED, dst

    def ping(self, source: str, destination: str, network_id: str) -> Verdict:
        """ICMP echo (type 8) from ``source`` to ``destination``."""
        return self.connect(source, destination, "icmp", 8, network_id)[0]

    def http(self, request: WireRequest, destination: str, port: int = 80) -> WireResponse:
        """An HTTP request from ``request.source`` to ``destination:port``. Raises
        :class:`WireError` carrying the verdict when the connection is not established."""
        verdict, endpoint = self.connect(
            request.source, destination, "tcp", port, request.network_id
        )
        handler = endpoint.http.get(port) if endpoint is not None else None
        if verdict is not Verdict.OPEN or handler is None:
            raise WireError(verdict if verdict is not Verdict.OPEN else Verdict.REFUSED)
        return handler(request)

    def addresses(self, network_id: str) -> Iterable[str]:
        with self._lock:
            return [a for (n, a) in self._endpoints if n == network_id]


class WireError(Exception):
    """A connection that was not established; ``verdict`` says how it failed."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.error)
        self.verdict = verdict
