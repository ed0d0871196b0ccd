"""The lab network on this machine: a bridge, one veth pair and one network namespace per host.

The machine's end of the bridge holds the management network's gateway address (the seed's
10.64.0.1), so labkit reaches every host directly and the apt proxy listens there. Nothing
else changes on the machine: no ip_forward, no NAT, no firewall rules -- packets from a host
can reach the other hosts and the gateway address, and nothing beyond.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import subprocess
from pathlib import Path

from labkit.hosts.errors import LocalHostsError
from labkit.hosts.layout import LocalHost, LocalLayout

NETNS_DIR = Path("/run/netns")


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise LocalHostsError(
            f"`ip {' '.join(args)}` failed: {done.stderr.strip() or done.stdout.strip()}",
            "Run `labkit hosts down ENV` to clear a half-made lab, then `up` again.",
        )
    return done


def link_exists(name: str) -> bool:
    return ip("link", "show", "dev", name, check=False).returncode == 0


def links_with_prefix(prefix: str) -> list[str]:
    out = ip("-j", "link", "show", check=False).stdout or "[]"
    return [link["ifname"] for link in json.loads(out) if link["ifname"].startswith(prefix)]


def netns_names() -> list[str]:
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir())


def netns_pids(netns: str) -> list[int]:
    if netns not in netns_names():
        return []
    out = ip("netns", "pids", netns, check=False).stdout
    return [int(p) for p in out.split()]


def conflicts(lay: LocalLayout) -> list[str]:
    """Interfaces other than our bridge that already use the lab's network or gateway."""
    net = ipaddress.ip_network(lay.cidr)
    found = []
    routes = json.loads(ip("-j", "route", "show", check=False).stdout or "[]")
    for route in routes:
        dst = route.get("dst", "")
        if dst in ("", "default") or route.get("dev") == lay.bridge:
            continue
        try:
            overlaps = ipaddress.ip_network(dst, strict=False).overlaps(net)
        except ValueError:
            continue
        if overlaps:
            found.append(f"route {dst} on {route.get('dev')}")
    addrs = json.loads(ip("-j", "addr", "show", check=False).stdout or "[]")
    for link in addrs:
        if link["ifname"] == lay.bridge:
            continue
        for info in link.get("addr_info", []):
            if info.get("local") == lay.gateway:
                found.append(f"address {lay.gateway} on {link['ifname']}")
    return found


def ensure_bridge(lay: LocalLayout) -> bool:
    """Create the bridge with the gateway address; returns False if it was already there."""
    if link_exists(lay.bridge):
        ip("link", "set", lay.bridge, "up")
        return False
    clash = conflicts(lay)
    if clash:
        raise LocalHostsError(
            f"The lab network {lay.cidr} is already in use on this machine: {'; '.join(clash)}",
            "Another lab (or something else) uses it. Stop that lab with `labkit hosts down "
            "OTHER_ENV`, or give this env another management_network.",
        )
    ip("link", "add", lay.bridge, "type", "bridge")
    ip("addr", "add", f"{lay.gateway}/{lay.prefixlen}", "dev", lay.bridge)
    ip("link", "set", lay.bridge, "up")
    return True


PROVIDER_INTERFACE = "eth1"


def ensure_host_net(lay: LocalLayout, host: LocalHost) -> None:
    """The host's namespace with lo, eth0 (address, default route via the gateway) and
    eth1, the provider interface.

    The Install Guide's hosts have two interfaces: management (with an address) and provider
    (none: Neutron's Linux bridge agent enslaves it to the bridge of the flat provider
    network, and would move any address it had onto that bridge). Both veths end on the
    lab's one bridge, so the provider network is the management network's segment -- the
    env's provider subnet is its management CIDR, guests get the gateway 10.64.0.1 -- while
    the agent never touches eth0, the interface SSH and every service use.
    """
    if host.netns not in netns_names():
        ip("netns", "add", host.netns)
    if not link_exists(host.veth):
        ip("link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns)
    ip("link", "set", host.veth, "master", lay.bridge, "up")
    if host.provider_veth and not link_exists(host.provider_veth):
        ip(
            "link",
            "add",
            host.provider_veth,
            "type",
            "veth",
            "peer",
            "name",
            PROVIDER_INTERFACE,
            "netns",
            host.netns,
        )
    if host.provider_veth:
        ip("link", "set", host.provider_veth, "master", lay.bridge, "up")
        ip("-n", host.netns, "link", "set", PROVIDER_INTERFACE, "up")
    inside = ["-n", host.netns]
    ip(*inside, "link", "set", "lo", "up")
    addr = f"{host.address}/{lay.prefixlen}"
    if addr not in ip(*inside, "-o", "addr", "show", "dev", "eth0").stdout:
        ip(*inside, "addr", "add", addr, "dev", "eth0")
    ip(*inside, "link", "set", "eth0", "up")
    ip(*inside, "route", "replace", "default", "via", lay.gateway, "dev", "eth0")


def delete_netns(name: str) -> None:
    if name in netns_names():
        ip("netns", "del", name)  # also removes the veth peer inside, hence its pair


def delete_link(name: str) -> None:
    """Delete a link if it is there. A veth whose peer sat in a namespace just deleted goes
    away on its own, but later: ``ip netns del`` returns before the kernel's namespace
    clean-up has run, so the link can vanish between the check and the delete -- that is
    not a failure."""
    if not link_exists(name):
        return
    done = ip("link", "del", name, check=False)
    if done.returncode != 0 and link_exists(name):
        raise LocalHostsError(
            f"`ip link del {name}` failed: {done.stderr.strip() or done.stdout.strip()}",
            "Run `labkit hosts down ENV` to clear a half-made lab, then `up` again.",
        )


def tidy_netns_dir() -> None:
    """``ip netns add`` turns /run/netns into a mount point and leaves it; undo that when no
    namespace is left in it, so the machine's mount table is as before the lab."""
    if not NETNS_DIR.is_dir() or any(NETNS_DIR.iterdir()):
        return
    mounted = any(
        line.split()[4] == str(NETNS_DIR)
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
    )
    if mounted:
        subprocess.run(["umount", str(NETNS_DIR)], check=False, capture_output=True)
    with contextlib.suppress(OSError):
        NETNS_DIR.rmdir()
