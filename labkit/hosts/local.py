"""Local lab hosts: an ssh env's hosts made on this Linux machine (``labkit hosts up ENV``).

For people without spare machines, and for the real-host test tier. Each host of an env with
``local: true`` becomes a Debian 12 root (:mod:`~labkit.hosts.rootfs`) running in its own
network, mount, UTS and PID namespaces (:mod:`~labkit.hosts.boot`), on a bridge carrying
the env's management network (:mod:`~labkit.hosts.netns`), with sshd accepting only the
lab's key. apt reaches the machine's mirrors through a caching proxy on the gateway address
(:mod:`~labkit.hosts.proxy`). Nothing a host does reaches the machine outside its root, its
namespaces and the bridge; ``down`` removes all of it and checks that nothing is left.

``up`` is idempotent: running hosts are left alone, a stopped host whose root exists is
booted again with its installed packages kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from labkit.envs import SshEnv
from labkit.hosts import (
    aptsources,
    boot,
    guest_image,
    image_mirror,
    keys,
    known_hosts,
    netns,
    rootfs,
    targets,
)
from labkit.hosts.daemons import HelperDaemon, tail
from labkit.hosts.errors import Leftovers, LocalHostsError, NeedsRoot
from labkit.hosts.layout import LocalHost, LocalLayout, layout
from labkit.hosts.progress import Say, Steps
from labkit.hosts.ssh import HostConnection

BOOT_TIMEOUT = 30.0
PROXY_START_TIMEOUT = 10.0
# machine tool -> Debian package that provides it
_TOOLS = {
    "ip": "iproute2",
    "nsenter": "util-linux",
    "unshare": "util-linux",
    "mount": "mount",
    "pivot_root": "util-linux",
    "mknod": "coreutils",
    "hostname": "hostname",
    "tar": "tar",
    "zstd": "zstd",
}

HostStateName = Literal["running", "stopped", "starting", "absent"]


@dataclass(frozen=True)
class HostState:
    name: str
    address: str
    netns: str
    state: HostStateName
    detail: str


@dataclass(frozen=True)
class LabStatus:
    env: str
    bridge: str
    bridge_up: bool
    proxy: str  # "running (pid N) on URL" or "stopped"
    hosts: tuple[HostState, ...]
    ssh_hint: str


@dataclass
class UpReport:
    hosts: list[HostState] = field(default_factory=list)
    timings: list[tuple[str, float]] = field(default_factory=list)


# -- checks -----------------------------------------------------------------------------------


def require_local(env: SshEnv) -> None:
    if not env.local:
        raise LocalHostsError(
            f"Env {env.name} has `local: false`: its hosts are real machines, not made here.",
            "Use an env with `local: true` (e.g. envs/lab-local.yaml) for `labkit hosts up`.",
        )


def require_root(action: str) -> None:
    if not sys.platform.startswith("linux"):
        raise LocalHostsError(
            "Local lab hosts need Linux (network namespaces).",
            "Use the sim, or real hosts over SSH (an env of kind ssh).",
        )
    if os.geteuid() != 0:
        raise NeedsRoot(action)


def ensure_tools(say: Say) -> None:
    missing = sorted({pkg for tool, pkg in _TOOLS.items() if not shutil.which(tool)})
    if missing:
        raise LocalHostsError(
            f"Tools missing on this machine (packages: {', '.join(missing)}).",
            f"Install them: `apt-get install -y {' '.join(missing)}`.",
        )
    if shutil.which("debootstrap"):
        return
    if not shutil.which("apt-get"):
        raise LocalHostsError(
            "debootstrap is missing and there is no apt-get to install it.",
            "Install debootstrap with this machine's package manager.",
        )
    say("    debootstrap is missing: installing it with `apt-get install -y debootstrap`")
    done = subprocess.run(
        ["apt-get", "install", "-y", "-q", "debootstrap"], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise LocalHostsError(
            f"`apt-get install -y debootstrap` failed:\n{done.stderr[-2000:]}",
            "Run `apt-get update` and try again.",
        )


@contextmanager
def _locked(lay: LocalLayout) -> Iterator[None]:
    """One up/down at a time per env (two would fight over the same namespaces)."""
    lay.base.parent.mkdir(parents=True, exist_ok=True)
    with (lay.base.parent / ".hosts.lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LocalHostsError(
                f"Another `labkit hosts` command is working on {lay.env_name}.",
                "Wait for it to finish, then try again.",
            ) from None
        yield


# -- the apt proxy process --------------------------------------------------------------------


def proxy(lay: LocalLayout, sources: list[aptsources.AptSource] | None = None) -> HelperDaemon:
    """This env's apt proxy (``sources`` only matter when it has to be started)."""
    args: list[str] = ["--cache", str(lay.apt_cache)]
    for host, scheme in aptsources.upstreams(sources or []).items():
        args += ["--upstream", f"{host}={scheme}"]
    return HelperDaemon(
        "labkit.hosts.proxy",
        lay.proxy_name,
        lay.gateway,
        lay.proxy_port,
        lay.proxy_log,
        tuple(args),
        PROXY_START_TIMEOUT,
        f"Is port {lay.proxy_port} taken on {lay.gateway}?",
    )


def proxy_pids(lay: LocalLayout) -> list[int]:
    """Processes of this env's apt proxy, found by the marker on their command line."""
    return proxy(lay).pids()


def ensure_proxy(lay: LocalLayout, sources: list[aptsources.AptSource]) -> tuple[int, bool]:
    """The running apt proxy's pid, starting it if needed; ``(pid, started_now)``."""
    lay.apt_cache.mkdir(parents=True, exist_ok=True)
    pid, started = proxy(lay, sources).ensure()
    if started:
        lay.proxy_pidfile.write_text(f"{pid}\n")
    return pid, started


def stop_proxy(lay: LocalLayout) -> list[int]:
    left = proxy(lay).stop()
    lay.proxy_pidfile.unlink(missing_ok=True)
    return left


# -- up -----------------------------------------------------------------------------------------


def _ssh_port(env: SshEnv, name: str) -> int:
    host = env.host(name)
    return host.ssh.port or env.ssh.port or 22


def _ssh_answers(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1.0) as sock:
            sock.settimeout(2.0)
            return sock.recv(8).startswith(b"SSH-")
    except OSError:
        return False


def _lab_keys(env: SshEnv, state_root: Path | None, steps: Steps) -> dict[str, str]:
    """Host name -> public key line allowed to log in (the lab's key, made if missing)."""
    out: dict[str, str] = {}
    for host in env.hosts:
        target = targets.resolve(env, host.name, state_root)
        if target.user != "root":
            raise LocalHostsError(
                f"Local lab host {host.name} is set to log in as {target.user!r}.",
                "Local lab hosts are reached as root: set ssh.user: root (or remove it).",
            )
        assert target.key is not None  # local envs always have a key path
        public, created = keys.ensure_pair(target.key, f"labkit-{env.name}")
        if created:
            steps.note(f"made the lab's SSH key {target.key} (ed25519)")
        out[host.name] = public
    return out


def _wait_for_sshd(host: LocalHost, port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    while not _ssh_answers(host.address, port):
        if proc.poll() is not None:
            raise LocalHostsError(
                f"{host.name} stopped while booting (exit {proc.returncode}); last lines of "
                f"{host.console_log}:\n{tail(host.console_log)}",
                f"Read {host.console_log}; then `labkit hosts down ENV` and `up` again.",
            )
        if time.monotonic() > deadline:
            raise LocalHostsError(
                f"{host.name}: sshd did not answer on {host.address}:{port} within "
                f"{BOOT_TIMEOUT:.0f} s; last lines of {host.console_log}:\n"
                f"{tail(host.console_log)}",
                f"Read {host.console_log}; then `labkit hosts down ENV` and `up` again.",
            )
        time.sleep(0.1)


def up(
    env: SshEnv,
    *,
    state_root: Path | None = None,
    cache_dir: Path | None = None,
    say: Say = print,
) -> UpReport:
    """Make (or start again) every host of ``env`` on this machine; see the module doc."""
    require_local(env)
    require_root("up")
    lay = layout(env, state_root, cache_dir)
    steps = Steps(say)
    report = UpReport()
    with _locked(lay):
        with steps.step("check this machine (root, tools)"):
            ensure_tools(steps.say)
            sources = aptsources.for_suite(aptsources.machine_sources(), rootfs.SUITES[env.distro])
            mirror = aptsources.main_mirror(sources, rootfs.SUITES[env.distro])
        with steps.step("lab SSH key"):
            public_keys = _lab_keys(env, state_root, steps)
        with steps.step(f"bridge {lay.bridge} with {lay.gateway}/{lay.prefixlen}"):
            if not netns.ensure_bridge(lay):
                steps.note("already there")
        with steps.step(f"apt proxy on {lay.gateway}:{lay.proxy_port}"):
            pid, started = ensure_proxy(lay, sources)
            steps.note(
                f"{'started' if started else 'already running'} (pid {pid}); "
                f"cache {lay.apt_cache}; mirrors: {', '.join(s.uri for s in sources)}"
            )
        with steps.step("bootable guest images for Nova (users cirros and ubuntu)"):
            for user in sorted(set(image_mirror.GUEST_USERS.values())):
                image, built = guest_image.ensure(lay.rootfs_cache, user, say=steps.say)
                steps.note(f"{'built' if built else 'cached'}: {image.path.name}")
        with steps.step(f"image mirror on {lay.gateway}:{image_mirror.MIRROR_PORT}"):
            pid, started = image_mirror.ensure(lay)
            steps.note(f"{'started' if started else 'already running'} (pid {pid})")
        known_hosts_file = targets.known_hosts_path(env, state_root)
        tarball: Path | None = None
        for host in lay.hosts:
            port = _ssh_port(env, host.name)
            if boot.find_init(host) is not None and _ssh_answers(host.address, port):
                steps.note(f"{host.name}: already running")
            else:
                tarball = _start_host(
                    env, lay, host, port, sources, mirror, public_keys[host.name], steps, tarball
                )
            host_key_line = (host.root / "etc/ssh/ssh_host_ed25519_key.pub").read_text()
            key = keys.public_key_from_line(host_key_line)
            pattern = known_hosts.host_pattern(host.address, port)
            status = known_hosts.record(known_hosts_file, pattern, key)
            if status != "same":
                steps.note(
                    f"{host.name}: host key {known_hosts.describe(key)} recorded in "
                    f"{known_hosts_file} (labkit generated this key itself, so it is "
                    "trusted without `labkit hosts trust`)"
                )
        _record_pid_namespaces(lay)
        with steps.step("strict SSH login to every host"):
            for host in lay.hosts:
                with HostConnection.for_host(env, host.name, state_root=state_root) as conn:
                    name = conn.run("hostname", timeout=30).stdout.strip()
                if name != host.name:
                    raise LocalHostsError(
                        f"{host.address} answers as {name!r}, not {host.name!r}.",
                        "Run `labkit hosts down ENV` and `up` again.",
                    )
                report.hosts.append(
                    HostState(
                        host.name,
                        host.address,
                        host.netns,
                        "running",
                        f"ssh root@{host.address} -p {_ssh_port(env, host.name)}",
                    )
                )
    report.timings = steps.timings
    say(
        f"{len(lay.hosts)} local lab host(s) of {env.name} up. Log in with:\n"
        f"  {ssh_command(env, lay.hosts[0].name, state_root)}"
    )
    return report


def _start_host(
    env: SshEnv,
    lay: LocalLayout,
    host: LocalHost,
    port: int,
    sources: list[aptsources.AptSource],
    mirror: str,
    public_key: str,
    steps: Steps,
    tarball: Path | None,
) -> Path | None:
    if boot.find_init(host) is not None or netns.netns_pids(host.netns):
        with steps.step(f"{host.name}: stop a half-started host"):
            left = boot.stop(host)
            if left:
                raise LocalHostsError(
                    f"{host.name}: processes {left} would not stop.",
                    "Kill them by pid, then run `labkit hosts up` again.",
                )
    if host.root.is_dir():
        steps.note(f"{host.name}: reusing its root {host.root} (installed packages kept)")
    else:
        if tarball is None:
            suite = rootfs.SUITES[env.distro]
            name = rootfs.tarball_name(suite, mirror, rootfs.PACKAGES, rootfs.debian_arch())
            cached = (lay.rootfs_cache / name).is_file()
            title = (
                "Debian root from the cache"
                if cached
                else "debootstrap a Debian 12 root (first time only; cached afterwards)"
            )
            with steps.step(title):
                tarball, _ = rootfs.ensure_tarball(lay, env, mirror, steps.note)
        with steps.step(f"{host.name}: unpack its root"):
            rootfs.extract(tarball, host)
    with steps.step(f"{host.name}: write hostname, /etc/hosts, apt proxy, sshd config, keys"):
        init_program = Path(__file__).with_name("guest_init.py").read_text()
        rootfs.configure(host.root, env, host, lay, sources, public_key, init_program, port)
    with steps.step(
        f"{host.name}: network namespace {host.netns} ({host.address} on {lay.bridge})"
    ):
        netns.ensure_host_net(lay, host)
    with steps.step(f"{host.name}: boot (own mount/UTS/PID namespaces) and wait for sshd"):
        proc = boot.launch(host)
        _wait_for_sshd(host, port, proc)
    return tarball


def ssh_command(env: SshEnv, host: str, state_root: Path | None = None) -> str:
    """The plain OpenSSH command line that logs in the way labkit does (strict keys)."""
    target = targets.resolve(env, host, state_root)
    return (
        f"ssh -i {target.key} -o UserKnownHostsFile={target.known_hosts} "
        f"-o StrictHostKeyChecking=yes -p {target.port} {target.user}@{target.address}"
    )


# -- down -------------------------------------------------------------------------------------


def down(
    env: SshEnv,
    *,
    state_root: Path | None = None,
    cache_dir: Path | None = None,
    say: Say = print,
) -> list[tuple[str, float]]:
    """Remove every host of ``env`` from this machine, then check that nothing is left.

    Stops the hosts' processes, the apt proxy, deletes the namespaces, veths and bridge and
    the hosts' folders (the cache stays). Raises :class:`~labkit.hosts.errors.Leftovers`
    naming whatever is still there. Returns the steps' timings.
    """
    require_local(env)
    require_root("down")
    lay = layout(env, state_root, cache_dir)
    steps = Steps(say)
    alive: list[int] = []
    with _locked(lay):
        for host in lay.hosts:
            with steps.step(f"{host.name}: stop its processes"):
                left = boot.stop(host)
                if left:
                    steps.note(f"still alive: {left}")
                alive += left
        with steps.step("wait until no process of the hosts' PID namespaces is left"):
            # dnsmasq and haproxy (in Neutron's qdhcp-* namespaces) and QEMU (libvirt's
            # guests) run in a host's PID namespace but not in its network namespace: the
            # kernel kills them when the host's init exits; wait for that, then check.
            left_behind = _wait_for_pid_namespaces(lay, grace=15.0)
            if left_behind:
                steps.note(f"still alive: {left_behind}")
            alive += left_behind
        strays = [
            n
            for n in netns.netns_names()
            if n.startswith(lay.prefix) and n not in {h.netns for h in lay.hosts}
        ]
        for name in strays:  # hosts since removed from the env file
            with steps.step(f"stray namespace {name}: stop its processes"):
                for pid in netns.netns_pids(name):
                    os.kill(pid, signal.SIGKILL)
        with steps.step("apt proxy and image mirror: stop"):
            stop_proxy(lay)
            image_mirror.stop(lay)
        with steps.step(f"network: namespaces, veths, bridge {lay.bridge}"):
            for name in netns.netns_names():
                if name.startswith(lay.prefix):
                    netns.delete_netns(name)
            for link in netns.links_with_prefix(lay.prefix):
                if link != lay.bridge:
                    netns.delete_link(link)
            netns.delete_link(lay.bridge)
            netns.tidy_netns_dir()
        if alive:  # never delete a root under running processes; report them instead
            steps.note(f"NOT removing {lay.base}: processes {alive} are still running")
        else:
            with steps.step(f"remove the hosts' roots under {lay.base} (cache kept: {lay.cache})"):
                rootfs.remove_tree(lay.base)
        known_hosts_file = targets.known_hosts_path(env, state_root)
        for host in lay.hosts:
            known_hosts.forget(
                known_hosts_file, known_hosts.host_pattern(host.address, _ssh_port(env, host.name))
            )
    remaining = leftovers(env, state_root=state_root, cache_dir=cache_dir)
    if remaining:
        raise Leftovers(env.name, remaining)
    _pidns_file(lay).unlink(missing_ok=True)  # inode numbers are reused once freed
    say(f"Local lab hosts of {env.name} removed; nothing left on this machine.")
    return steps.timings


def leftovers(
    env: SshEnv, *, state_root: Path | None = None, cache_dir: Path | None = None
) -> list[str]:
    """Everything of the env's local lab still on this machine (empty after a clean down)."""
    lay = layout(env, state_root, cache_dir)
    found = [f"network namespace {n}" for n in netns.netns_names() if n.startswith(lay.prefix)]
    found += [f"network link {n}" for n in netns.links_with_prefix(lay.prefix)]
    found += [f"mount {m}" for m in rootfs.mounts_under(lay.base)] if lay.base.exists() else []
    found += [f"apt proxy process {p}" for p in proxy_pids(lay)]
    found += [f"image mirror process {p}" for p in image_mirror.pids(lay)]
    found += [f"process {p} working in {lay.base}" for p in _processes_using(lay.base)]
    found += [
        f"process {pid} ({name}) in the PID namespace of a lab host"
        for pid, name in processes_in_pid_namespaces(recorded_pid_namespaces(lay))
    ]
    if lay.base.exists():
        found.append(f"folder {lay.base}")
    return found


# -- the hosts' PID namespaces ------------------------------------------------------------------
# A host's own processes are found through its network namespace, but not all of them live
# there: the DHCP agent's dnsmasq and the metadata proxy's haproxy run in Neutron's qdhcp-*
# namespaces, made inside the host. Every one of them is in the host's PID namespace, though,
# so `up` records each host's PID namespace (its inode, as /proc/PID/ns/pid names it) and
# `down` checks that no process of any of them is left.


def _pidns_file(lay: LocalLayout) -> Path:
    return lay.base.parent / "hosts-pid-namespaces"


def _record_pid_namespaces(lay: LocalLayout) -> None:
    found = set(recorded_pid_namespaces(lay))
    for host in lay.hosts:
        init = boot.find_init(host)
        if init is not None:
            try:
                found.add(os.readlink(f"/proc/{init}/ns/pid"))
            except OSError:
                continue
    _pidns_file(lay).parent.mkdir(parents=True, exist_ok=True)
    _pidns_file(lay).write_text("".join(f"{ns}\n" for ns in sorted(found)))


def recorded_pid_namespaces(lay: LocalLayout) -> set[str]:
    try:
        return set(_pidns_file(lay).read_text().split())
    except OSError:
        return set()


def processes_in_pid_namespaces(namespaces: set[str]) -> list[tuple[int, str]]:
    """(pid, command name) of every process on the machine in one of ``namespaces``."""
    if not namespaces:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "ns/pid") not in namespaces:
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            name = (entry / "comm").read_text().strip()
        except (OSError, IndexError):
            continue
        if state != "Z":
            found.append((int(entry.name), name))
    return found


def _wait_for_pid_namespaces(lay: LocalLayout, grace: float) -> list[int]:
    namespaces = recorded_pid_namespaces(lay)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and processes_in_pid_namespaces(namespaces):
        time.sleep(0.2)
    for pid, _ in processes_in_pid_namespaces(namespaces):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    return [pid for pid, _ in processes_in_pid_namespaces(namespaces)]


def _processes_using(folder: Path) -> list[int]:
    prefix = str(folder.resolve()) + "/"
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        for link in ("root", "cwd"):
            try:
                where = os.readlink(entry / link) + "/"
            except OSError:
                continue
            if where.startswith(prefix):
                pids.append(int(entry.name))
                break
    return pids


# -- status ---------------------------------------------------------------------------------


def status(
    env: SshEnv, *, state_root: Path | None = None, cache_dir: Path | None = None
) -> LabStatus:
    """What runs of the env's local lab, without changing anything."""
    require_local(env)
    lay = layout(env, state_root, cache_dir)
    hosts = []
    for host in lay.hosts:
        port = _ssh_port(env, host.name)
        init = boot.find_init(host) if host.netns in netns.netns_names() else None
        state: HostStateName
        if init is not None and _ssh_answers(host.address, port):
            state, detail = "running", f"init pid {init}, sshd on {host.address}:{port}"
        elif init is not None:
            state, detail = "starting", f"init pid {init}, sshd not answering yet"
        elif host.root.is_dir():
            state, detail = "stopped", f"root kept at {host.root}; `labkit hosts up` boots it"
        else:
            state, detail = "absent", "not made yet"
        hosts.append(HostState(host.name, host.address, host.netns, state, detail))
    pids = proxy_pids(lay)
    proxy = f"running (pid {pids[0]}) on {lay.proxy_url}" if pids else "stopped"
    return LabStatus(
        env.name,
        lay.bridge,
        netns.link_exists(lay.bridge),
        proxy,
        tuple(hosts),
        ssh_command(env, lay.hosts[0].name, state_root),
    )
