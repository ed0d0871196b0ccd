"""Addresses: subnets' pools, gateways and which address a port gets (Neutron's IPAM).

Pure functions over :mod:`ipaddress` values, so they are easy to test on their own:

- :func:`default_pools` -- the pools Neutron makes when a subnet is created without any:
  the whole range minus the network, broadcast (IPv4) and gateway addresses;
- :func:`check_pools` -- a subnet's own pools: inside the CIDR, not overlapping, not
  holding the gateway, with Neutron's error texts;
- :func:`pick` -- the next address from a subnet's pools. DHCP ports take the lowest free
  address (Neutron's ``PreferNextAddressRequest``); other ports a free address chosen at
  random among the first 1000 free ones, as Neutron's database IPAM driver does -- from the
  sim's id source, so a deterministic sim hands out the same addresses every run.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from typing import Any

from labkit.sim.neutron.errors import (
    NeutronError,
    gateway_conflicts_with_pool,
    invalid_allocation_pool,
    invalid_input,
    out_of_bounds_pool,
    overlapping_pools,
)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Range = tuple[Address, Address]
MAX_WINDOW = 1000


def network(cidr: str) -> Network:
    return ipaddress.ip_network(cidr, strict=False)


def address(text: str) -> Address:
    return ipaddress.ip_address(text)


def range_text(pool: Range) -> str:
    """How netaddr prints an IPRange: ``10.0.0.2-10.0.0.254``."""
    return f"{pool[0]}-{pool[1]}"


def default_gateway(cidr: str) -> str:
    net = network(cidr)
    return str(net.network_address + (1 if net.version == 4 else 0))


def _usable(net: Network) -> Range:
    first, last = net.network_address, net.broadcast_address
    if first == last:
        return first, last
    if net.version == 4:
        if net.prefixlen <= 30:
            return first + 1, last - 1
        return first, last
    return first + 1, last


def default_pools(cidr: str, gateway: str | None) -> list[Range]:
    """ipam.utils.generate_pools: the usable range with the gateway cut out."""
    net = network(cidr)
    start, end = _usable(net)
    if gateway is None:
        return [(start, end)]
    gw = address(gateway)
    if gw.version != net.version or not int(start) <= int(gw) <= int(end):
        return [(start, end)]
    pools: list[Range] = []
    if int(gw) > int(start):
        pools.append((start, gw - 1))
    if int(gw) < int(end):
        pools.append((gw + 1, end))
    return pools


def parse_pools(pools: list[dict[str, str]]) -> list[Range]:
    """pools_to_ip_range: a pool whose end comes before its start is not valid."""
    out: list[Range] = []
    for pool in pools:
        start, end = address(pool["start"]), address(pool["end"])
        if start.version != end.version or int(start) > int(end):
            raise invalid_allocation_pool(str(pool))
        out.append((start, end))
    return out


def check_pools(pools: list[Range], cidr: str, gateway: str | None) -> None:
    """validate_allocation_pools + validate_gw_out_of_pools."""
    net = network(cidr)
    first, last = _usable(net)
    for pool in pools:
        if pool[0].version != net.version or pool[1].version != net.version:
            raise invalid_allocation_pool(range_text(pool))
        if int(pool[0]) < int(first) or int(pool[1]) > int(last):
            raise out_of_bounds_pool(range_text(pool), cidr)
    for i, left in enumerate(pools):
        for right in pools[i + 1 :]:
            if int(left[0]) <= int(right[1]) and int(right[0]) <= int(left[1]):
                raise overlapping_pools(range_text(left), range_text(right), cidr)
    if gateway:
        gw = address(gateway)
        for pool in pools:
            if gw.version == net.version and int(pool[0]) <= int(gw) <= int(pool[1]):
                raise gateway_conflicts_with_pool(gateway, range_text(pool))


def gateway_invalid(cidr: str, gateway: str) -> bool:
    """check_gateway_invalid_in_subnet: the network or broadcast address of an IPv4 subnet
    (a gateway outside the subnet is allowed)."""
    net, gw = network(cidr), address(gateway)
    return gw in net and net.version == 4 and gw in (net.network_address, net.broadcast_address)


def on_subnet(cidr: str, ip: str) -> bool:
    """check_subnet_ip: in the subnet, and not its network or (IPv4) broadcast address."""
    net, addr = network(cidr), address(ip)
    if addr not in net:
        return False
    if net.version == 4:
        return addr not in (net.network_address, net.broadcast_address) or net.prefixlen >= 31
    return addr != net.network_address


def free_addresses(pools: list[Range], used: set[str]) -> Iterator[Address]:
    for start, end in pools:
        current = start
        while int(current) <= int(end):
            if str(current) not in used:
                yield current
            current += 1


def pick(
    pools: list[Range], used: set[str], prefer_next: bool, random_bytes: Callable[[int], bytes]
) -> str | None:
    """The address a new port gets, or None when the pools are full."""
    window: list[Address] = []
    for candidate in free_addresses(pools, used):
        if prefer_next:
            return str(candidate)
        window.append(candidate)
        if len(window) >= MAX_WINDOW:
            break
    if not window:
        return None
    index = int.from_bytes(random_bytes(4), "big") % len(window)
    return str(window[index])


def count(pools: list[Range]) -> int:
    return sum(int(end) - int(start) + 1 for start, end in pools)


def pools_json(pools: list[Range]) -> list[dict[str, str]]:
    return [{"start": str(s), "end": str(e)} for s, e in pools]


def version_mismatch(ip_version: int, addr: str, name: str) -> NeutronError | None:
    """_validate_ip_version: an address or CIDR of the other IP version."""
    version = network(addr).version if "/" in addr else address(addr).version
    if version == ip_version:
        return None
    return invalid_input(f"{name} '{addr}' does not match the ip_version '{ip_version}'")


def overlaps(cidr_a: str, cidr_b: str) -> bool:
    a, b = network(cidr_a), network(cidr_b)
    if a.version != b.version:
        return False
    return int(a.network_address) <= int(b.broadcast_address) and int(b.network_address) <= int(
        a.broadcast_address
    )


def mac_from(base: str, random_bytes: Callable[[int], bytes]) -> str:
    """A MAC from ``base_mac`` (fa:16:3e:00:00:00): the non-zero octets kept, the rest
    random (neutron's get_random_mac)."""
    octets = base.lower().split(":")
    if len(octets) != 6:
        octets = ["fa", "16", "3e", "00", "00", "00"]
    fixed = 3 if octets[3] == "00" else 4
    tail = random_bytes(6 - fixed)
    return ":".join(octets[:fixed] + [f"{b:02x}" for b in tail])


def sort_key(ip: str) -> Any:
    addr = address(ip)
    return (addr.version, int(addr))
