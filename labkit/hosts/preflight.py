"""Preflight of an ssh env's hosts: the table behind ``labkit check ENV``.

Per host: reachable, host key known, root or sudo, OS release, CPU/RAM/disk against the
seed's requirements (1 CPU, 8 GB RAM, 250 GB disk), name resolution of ``controller``, clock
offset from this machine; on the controller, the ports the base services and Keystone/Glance
will take. Each check is a pure function of command output (tested without hosts); the
:func:`check` driver only gathers the output over strict SSH.

Thresholds come from the real-install notes: the whole minimal cloud used ~5.5 GB of disk and
~3 GB of RAM with ``processes = 2`` for the uwsgi services (7.5 GB without).
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from labkit.envs import Host, SshEnv
from labkit.errors import LabkitError
from labkit.hosts import known_hosts
from labkit.hosts.errors import HostKeyChanged, HostKeyUnknown, HostUnreachable, SshAuthFailed
from labkit.hosts.ssh import HostConnection

Status = Literal["ok", "warn", "fail"]

SEED_CPUS = 1
SEED_RAM_GB = 8.0
SEED_DISK_GB = 250.0
MIN_RAM_GB = 3.0  # measured: the minimal cloud with processes = 2 in the uwsgi ini files
MIN_FREE_DISK_GB = 6.0  # measured: all-in-one root 5.5 GB
CLOCK_OK_S = 3.0
CLOCK_WARN_S = 30.0
OS_PROFILES = {"debian-12-zed": ("debian", "12", "Debian 12 (bookworm)")}
# port -> (service, words that identify its process on the command line)
SERVICE_PORTS: dict[int, tuple[str, tuple[str, ...]]] = {
    3306: ("MariaDB", ("mariadbd", "mysqld")),
    5672: ("RabbitMQ", ("rabbit", "beam.smp")),
    11211: ("memcached", ("memcached",)),
    5000: ("Keystone", ("keystone",)),
    9292: ("Glance", ("glance",)),
}


@dataclass(frozen=True)
class CheckRow:
    host: str
    check: str
    status: Status
    detail: str


Verdict = tuple[Status, str]
Adder = Callable[[str, Verdict], None]


def failed(rows: Iterable[CheckRow]) -> bool:
    """Whether any row failed (``labkit check`` then exits non-zero)."""
    return any(r.status == "fail" for r in rows)


# -- pure evaluators ----------------------------------------------------------------------------


def parse_os_release(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip().strip('"')
    return out


def eval_os(text: str, distro: str) -> Verdict:
    want_id, want_version, label = OS_PROFILES[distro]
    info = parse_os_release(text)
    seen = info.get("PRETTY_NAME") or f"{info.get('ID', '?')} {info.get('VERSION_ID', '?')}"
    if info.get("ID") == want_id and info.get("VERSION_ID") == want_version:
        return "ok", seen
    return "fail", (
        f"{seen}; the profile {distro} needs {label}. Other distributions are not tested by labkit"
    )


def eval_cpus(count: int, shared_by: int = 1) -> Verdict:
    note = f" (this machine's, shared by {shared_by} local hosts)" if shared_by > 1 else ""
    if count >= SEED_CPUS:
        return "ok", f"{count} CPU{'s' if count != 1 else ''}{note}; the seed asks {SEED_CPUS}"
    return "fail", f"no CPU count readable (nproc said {count})"


def parse_meminfo_gb(text: str) -> float:
    match = re.search(r"^MemTotal:\s+(\d+)\s+kB", text, re.M)
    if not match:
        raise ValueError("no MemTotal in /proc/meminfo")
    return int(match.group(1)) / 1024 / 1024


def eval_ram(total_gb: float, shared_by: int = 1) -> Verdict:
    share = total_gb / shared_by
    what = (
        f"{share:.1f} GB per host ({total_gb:.1f} GB of this machine shared by {shared_by} "
        "local hosts)"
        if shared_by > 1
        else f"{total_gb:.1f} GB"
    )
    if share >= SEED_RAM_GB:
        return "ok", f"{what}; the seed asks {SEED_RAM_GB:.0f} GB"
    if share >= MIN_RAM_GB:
        return "warn", (
            f"{what}: below the seed's {SEED_RAM_GB:.0f} GB; enough for the minimal "
            f"lab (~{MIN_RAM_GB:.0f} GB with processes = 2), tight for more layers"
        )
    return "fail", f"{what}: below the ~{MIN_RAM_GB:.0f} GB the minimal cloud needs"


def parse_df_gb(text: str) -> tuple[float, float]:
    """``df -Pk PATH`` output -> (total GB, available GB)."""
    fields = text.strip().splitlines()[-1].split()
    return int(fields[1]) / 1024 / 1024, int(fields[3]) / 1024 / 1024


def eval_disk(total_gb: float, free_gb: float, local: bool = False) -> Verdict:
    where = "this machine's disk, shared with it and the other local hosts; " if local else ""
    what = f"{where}{free_gb:.0f} GB free of {total_gb:.0f} GB"
    if free_gb < MIN_FREE_DISK_GB:
        return "fail", f"{what}: the minimal cloud needs ~{MIN_FREE_DISK_GB:.0f} GB free"
    if total_gb < SEED_DISK_GB or local:
        return "warn", (
            f"{what}; the seed asks {SEED_DISK_GB:.0f} GB per host, the minimal lab "
            f"uses ~{MIN_FREE_DISK_GB:.0f} GB"
        )
    return "ok", f"{what}; the seed asks {SEED_DISK_GB:.0f} GB"


def eval_resolution(getent_output: str, expected: str) -> Verdict:
    addresses = [line.split()[0] for line in getent_output.splitlines() if line.split()]
    if not addresses:
        return "fail", (
            f"`controller` does not resolve: add it to /etc/hosts ({expected} controller)"
        )
    if addresses[0] != expected:
        return "fail", (
            f"`controller` resolves to {addresses[0]}, not {expected}: fix "
            "/etc/hosts (RabbitMQ and every service config use the name)"
        )
    return "ok", f"controller -> {expected}"


def eval_clock(remote_epoch: float, sent: float, received: float) -> Verdict:
    offset = remote_epoch - (sent + received) / 2  # the host read its clock mid-way
    slack = (received - sent) / 2
    what = f"{offset:+.2f} s from this machine (+/- {slack:.2f} s)"
    if abs(offset) <= CLOCK_OK_S + slack:
        return "ok", what
    if abs(offset) <= CLOCK_WARN_S:
        return "warn", f"{what}: start chrony/NTP (base layer) before installing"
    return "fail", f"{what}: tokens and service heartbeats go wrong; fix the clock (chrony)"


_SS_USERS = re.compile(r'\("([^"]+)",pid=(\d+)')


def parse_listeners(ss_output: str) -> dict[int, list[tuple[str, int]]]:
    """``ss -ltnpH`` -> {port: [(process name, pid), ...]} (empty list: owner not visible)."""
    out: dict[int, list[tuple[str, int]]] = {}
    for line in ss_output.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        local = fields[3]
        port_text = local.rsplit(":", 1)[-1]
        if not port_text.isdigit():
            continue
        owners = [(name, int(pid)) for name, pid in _SS_USERS.findall(line)]
        out.setdefault(int(port_text), []).extend(owners)
    return out


def eval_port(port: int, owners: list[tuple[str, int]] | None, cmdlines: dict[int, str]) -> Verdict:
    service, words = SERVICE_PORTS[port]
    if owners is None:
        return "ok", f"free (for {service})"
    described = "; ".join(cmdlines.get(pid) or name for name, pid in owners) or "a process"
    if any(w in (cmdlines.get(pid, "") + " " + name) for name, pid in owners for w in words):
        return "ok", f"in use by {service} itself (installed already): {described[:80]}"
    if not owners:
        return "warn", f"in use, owner not visible without root; {service} needs it"
    return "fail", f"in use by {described[:80]}; {service} needs it: stop that process"


# -- the driver -----------------------------------------------------------------------------------


def check(
    env: SshEnv, *, state_root: Path | None = None, connect_timeout: float = 10.0
) -> list[CheckRow]:
    """Every check on every host of ``env``; unreachable hosts get one failing row each."""
    rows: list[CheckRow] = []
    for host in env.hosts:
        rows += check_host(env, host, state_root=state_root, connect_timeout=connect_timeout)
    return rows


def check_host(
    env: SshEnv, host: Host, *, state_root: Path | None = None, connect_timeout: float = 10.0
) -> list[CheckRow]:
    rows: list[CheckRow] = []

    def add(check_name: str, verdict: Verdict) -> None:
        rows.append(CheckRow(host.name, check_name, verdict[0], verdict[1]))

    conn = HostConnection.for_host(
        env, host.name, state_root=state_root, connect_timeout=connect_timeout
    )
    where = f"{conn.target.address}:{conn.target.port}"
    try:
        conn.connect()
    except HostUnreachable as exc:
        hint = (
            f"run `labkit hosts up {env.name}`"
            if env.local
            else "is it up? is its address right in the env file?"
        )
        add("reachable", ("fail", f"{exc.endpoint}: {exc.reason} ({hint})"))
        return rows
    except (HostKeyUnknown, HostKeyChanged) as exc:
        add("reachable", ("ok", where))
        add("host key known", ("fail", f"{exc.message.splitlines()[0]} -> {exc.hint}"))
        return rows
    except SshAuthFailed as exc:
        add("reachable", ("ok", where))
        add("host key known", ("ok", "matches known_hosts"))
        add("login", ("fail", exc.message))
        return rows
    with conn:
        add("reachable", ("ok", where))
        key = known_hosts.describe(conn.host_key) if conn.host_key else "?"
        add("host key known", ("ok", f"{key} (in {conn.target.known_hosts})"))
        try:
            _gather(env, host, conn, add)
        except LabkitError as exc:
            add("commands", ("fail", str(exc).splitlines()[0]))
    return rows


def _gather(env: SshEnv, host: Host, conn: HostConnection, add: Adder) -> None:
    login = conn.target.user
    shared = len(env.hosts) if env.local else 1

    def read(command: str) -> str:  # as the login user: no sudo needed to read
        return conn.run(command, user=login, timeout=30, check=False).stdout

    uid = read("id -u").strip()
    if uid == "0":
        add("root or sudo", ("ok", f"logged in as {login} (root)"))
        as_root = True
    else:
        sudo = conn.run("true", timeout=30, check=False)
        as_root = sudo.ok
        add(
            "root or sudo",
            ("ok", f"{login} has passwordless sudo")
            if sudo.ok
            else ("fail", f"{login} is not root and `sudo -n true` fails: give it NOPASSWD sudo"),
        )
    add("os release", eval_os(read("cat /etc/os-release"), env.distro))
    nproc = read("nproc").strip()
    add("cpu", eval_cpus(int(nproc) if nproc.isdigit() else 0, shared))
    try:
        add("ram", eval_ram(parse_meminfo_gb(read("cat /proc/meminfo")), shared))
    except ValueError as exc:
        add("ram", ("fail", str(exc)))
    try:
        add("disk", eval_disk(*parse_df_gb(read("df -Pk /")), local=env.local))
    except (ValueError, IndexError):
        add("disk", ("fail", "could not read `df -Pk /`"))
    add(
        "resolves controller",
        eval_resolution(read("getent hosts controller"), env.controller.address),
    )
    sent = time.time()
    remote = read("date +%s.%N").strip()
    received = time.time()
    try:
        add("clock", eval_clock(float(remote), sent, received))
    except ValueError:
        add("clock", ("fail", f"could not read the host's clock ({remote!r})"))
    if "controller" in host.roles:
        _ports(conn, as_root, add)


def _ports(conn: HostConnection, as_root: bool, add: Adder) -> None:
    result = conn.run(
        "ss -ltnpH", timeout=30, check=False, user=None if as_root else conn.target.user
    )
    if not result.ok:
        add("ports", ("warn", "`ss` failed (iproute2 missing?); ports not checked"))
        return
    listeners = parse_listeners(result.stdout)
    pids = sorted({pid for port in SERVICE_PORTS for _, pid in listeners.get(port, [])})
    cmdlines: dict[int, str] = {}
    if pids:
        script = "; ".join(
            f"echo {pid} $(tr '\\0' ' ' < /proc/{pid}/cmdline 2>/dev/null)" for pid in pids
        )
        out = conn.run(f"sh -c {shlex.quote(script)}", timeout=30, check=False).stdout
        for line in out.splitlines():
            pid_text, _, cmd = line.partition(" ")
            if pid_text.isdigit():
                cmdlines[int(pid_text)] = cmd.strip()
    for port in SERVICE_PORTS:
        add(f"port {port}", eval_port(port, listeners.get(port), cmdlines))
