"""The shell commands that send packets: ``ip``, ``curl`` and ``ping``.

They use the guest's :class:`~.commands.Network`, which sends through the wire from the
NIC that routes the destination -- so the port's security groups apply to the guest's own
traffic: without an egress rule ``curl http://169.254.169.254/...`` fails to connect, and
``ping`` of another guest gets no answer unless that guest's groups let ICMP in. Messages
and exit statuses are iputils' ``ping`` and curl 7.35's (the trusty era).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re

from labkit.sim.core.hypervisor import GuestNic
from labkit.sim.core.wire import Verdict, WireError
from labkit.sim.guests.commands import Result, Session, command


@command("ip")
def _ip(sh: Session, args: list[str], stdin: str | None) -> Result:
    words = [a for a in args if not a.startswith("-")]
    what = words[0] if words else ""
    if what in ("a", "addr", "address"):
        return Result(out=_ip_addr(sh))
    if what in ("r", "route", "ro"):
        return Result(out=_ip_route(sh))
    if what in ("l", "link"):
        return Result(out="".join(_link_lines(sh, with_addresses=False)))
    return Result(
        255,
        "",
        "Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }\n"
        "where  OBJECT := { link | address | route | ... }\n",
    )


def _link_lines(sh: Session, with_addresses: bool) -> list[str]:
    lines = [
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default "
        "qlen 1000\n",
        "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n",
    ]
    if with_addresses:
        lines += [
            "    inet 127.0.0.1/8 scope host lo\n",
            "       valid_lft forever preferred_lft forever\n",
            "    inet6 ::1/128 scope host \n",
            "       valid_lft forever preferred_lft forever\n",
        ]
    for n, nic in enumerate(sh.ctx.nics):
        name = f"eth{n}"
        lines += [
            f"{n + 2}: {name}: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu {nic.mtu} qdisc pfifo_fast "
            "state UP group default qlen 1000\n",
            f"    link/ether {nic.mac} brd ff:ff:ff:ff:ff:ff\n",
        ]
        if with_addresses:
            net = ipaddress.ip_network(nic.cidr, strict=False)
            lines += [
                f"    inet {nic.address}/{net.prefixlen} brd {net.broadcast_address} scope "
                f"global {name}\n",
                "       valid_lft forever preferred_lft forever\n",
                f"    inet6 {link_local(nic.mac)}/64 scope link \n",
                "       valid_lft forever preferred_lft forever\n",
            ]
    return lines


def _ip_addr(sh: Session) -> str:
    return "".join(_link_lines(sh, with_addresses=True))


def _ip_route(sh: Session) -> str:
    lines = []
    for n, nic in enumerate(sh.ctx.nics):
        if nic.gateway and n == 0:
            lines.append(f"default via {nic.gateway} dev eth{n} \n")
    for n, nic in enumerate(sh.ctx.nics):
        net = ipaddress.ip_network(nic.cidr, strict=False)
        lines.append(f"{net} dev eth{n}  proto kernel  scope link  src {nic.address} \n")
    return "".join(lines)


def link_local(mac: str) -> str:
    """The IPv6 link-local address the kernel derives from a MAC (modified EUI-64)."""
    octets = [int(o, 16) for o in mac.split(":")]
    octets[0] ^= 0x02
    eui = [*octets[:3], 255, 254, *octets[3:]]
    groups = [f"{eui[i] << 8 | eui[i + 1]:x}" for i in range(0, 8, 2)]
    return str(ipaddress.IPv6Address("fe80::" + ":".join(groups)))


@command("curl")
def _curl(sh: Session, args: list[str], stdin: str | None) -> Result:
    flags = {a for a in args if a.startswith("-") and not a.startswith("--")}
    letters = {ch for flag in flags for ch in flag[1:]}
    urls = [a for a in args if not a.startswith("-")]
    if not urls:
        return Result(2, "", "curl: try 'curl --help' or 'curl --manual' for more information\n")
    match = re.match(r"^(?:(\w+)://)?([^/:]+)(?::(\d+))?(/.*)?$", urls[0])
    if match is None:
        return Result(3, "", "curl: (3) URL using bad/illegal format or missing URL\n")
    scheme = (match[1] or "http").lower()
    host, path = match[2], match[4] or "/"
    if scheme not in ("http", "https"):
        return Result(
            1, "", f'curl: (1) Protocol "{scheme}" not supported or disabled in libcurl\n'
        )
    port = int(match[3]) if match[3] else (443 if scheme == "https" else 80)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return Result(6, "", f"curl: (6) Could not resolve host: {host}\n")
    try:
        answer = sh.ctx.net.http("GET", host, port, path)
    except WireError as exc:
        return Result(
            7, "", f"curl: (7) Failed to connect to {host} port {port}: {exc.verdict.error}\n"
        )
    if "f" in letters and answer.status >= 400:
        return Result(
            22,
            "",
            f"curl: (22) The requested URL returned error: {answer.status}"
            f" {_REASONS.get(answer.status, '')}\n".rstrip()
            + "\n",
        )
    head = ""
    if "i" in letters:
        head = (
            f"HTTP/1.1 {answer.status} {_REASONS.get(answer.status, '')}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in answer.headers.items())
            + "\r\n"
        )
    return Result(out=head + answer.body.decode("utf-8", "replace"))


_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@command("ping")
def _ping(sh: Session, args: list[str], stdin: str | None) -> Result:
    count = 4  # a real ping runs until Ctrl-C; here it stops after 4 like "-c 4"
    target = ""
    skip = False
    for n, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg in ("-c", "-W", "-i", "-w", "-s"):
            if arg == "-c" and n + 1 < len(args) and args[n + 1].isdigit():
                count = max(1, int(args[n + 1]))
            skip = True
        elif arg.startswith("-c") and arg[2:].isdigit():
            count = max(1, int(arg[2:]))
        elif not arg.startswith("-"):
            target = arg
    if not target:
        return Result(2, "", "ping: usage error: Destination address required\n")
    try:
        ipaddress.ip_address(target)
    except ValueError:
        return Result(2, "", f"ping: unknown host {target}\n")
    nic = _nic_for(sh, target)
    if nic is None:
        return Result(2, "", "connect: Network is unreachable\n")
    lines = [f"PING {target} ({target}) 56(84) bytes of data."]
    times: list[float] = []
    errors = 0
    for seq in range(1, count + 1):
        verdict = _echo_verdict(sh, target)
        if verdict is Verdict.OPEN:
            took = _rtt(target, seq)
            times.append(took)
            lines.append(f"64 bytes from {target}: icmp_seq={seq} ttl=64 time={took:.3f} ms")
        elif verdict is Verdict.UNREACHABLE:
            errors += 1
            reporter = nic.address if _on_link(nic, target) else (nic.gateway or nic.address)
            lines.append(f"From {reporter} icmp_seq={seq} Destination Host Unreachable")
        if seq < count:
            sh.ctx.sleep(1.0)
    received = len(times)
    loss = 100 * (count - received) // count
    elapsed = (count - 1) * 1000 + int(_rtt(target, 0) * 3)
    summary = f"{count} packets transmitted, {received} received, "
    summary += f"+{errors} errors, " if errors else ""
    summary += f"{loss}% packet loss, time {elapsed}ms"
    lines += ["", f"--- {target} ping statistics ---", summary]
    if times:
        mean = sum(times) / len(times)
        mdev = (sum((t - mean) ** 2 for t in times) / len(times)) ** 0.5
        lines.append(
            f"rtt min/avg/max/mdev = {min(times):.3f}/{mean:.3f}/{max(times):.3f}/{mdev:.3f} ms"
        )
    elif errors:
        lines.append(f"pipe {min(errors, 3)}")
    return Result(0 if received else 1, "\n".join(lines) + "\n")


def _on_link(nic: GuestNic, address: str) -> bool:
    return ipaddress.ip_address(address) in ipaddress.ip_network(nic.cidr, strict=False)


def _nic_for(sh: Session, address: str) -> GuestNic | None:
    """The NIC a packet to ``address`` leaves by: on-link first, else the default route."""
    for nic in sh.ctx.nics:
        if _on_link(nic, address):
            return nic
    return next((nic for nic in sh.ctx.nics if nic.gateway), None)


def _echo_verdict(sh: Session, target: str) -> Verdict:
    if target.startswith("127.") or any(n.address == target for n in sh.ctx.nics):
        return Verdict.OPEN
    return sh.ctx.net.ping(target)


def _rtt(target: str, seq: int) -> float:
    """A believable round-trip time in ms, the same for the same packet every run."""
    digest = hashlib.sha256(f"{target}/{seq}".encode()).digest()
    return 0.25 + digest[0] / 255 * 0.6
