"""Start and stop one local lab host: its own mount, UTS and PID namespaces in its netns.

The launcher is ``nsenter --net=<netns> unshare --mount --uts --pid --fork --kill-child
--propagation private sh -c BOOT_SCRIPT``. The boot script runs as PID 1 of the new PID
namespace and, inside the new (private) mount namespace:

* bind-mounts the root onto itself (pivot_root needs a mount point; so does libvirt's own
  mount namespace later -- the real-install notes' "Failed disable mount propagation");
* mounts the host's own proc (read-only /proc/sys except /proc/sys/net, which is per
  network namespace) and a read-only sysfs, so a package script cannot retune the machine;
* builds a minimal /dev on a tmpfs: null, zero, full, random, urandom, tty, net/tun, a new
  devpts instance with ptmx -> pts/ptmx, shm, fd/stdin/stdout/stderr links. The machine's
  /dev is NEVER bind-mounted: the real-install notes saw udev's postinst change the
  machine's /dev/kvm through such a bind mount;
* mounts a tmpfs on /run, sets the hostname (UTS namespace: hostname = host name),
* pivot_roots into the root and execs labkit-init (see :mod:`labkit.hosts.guest_init`).

Every mount lives only in the host's mount namespace: the machine's mount table never sees
them, and they vanish when the host's last process exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from labkit.hosts import netns
from labkit.hosts.layout import LocalHost

BOOT_SCRIPT = r"""
set -eu
root=$1
name=$2
mount --make-rprivate /
mount --bind "$root" "$root"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount --bind "$root/proc/sys" "$root/proc/sys"
mount --bind "$root/proc/sys/net" "$root/proc/sys/net"
mount -o remount,bind,ro "$root/proc/sys"
if [ -e "$root/proc/sysrq-trigger" ]; then
    mount --bind "$root/proc/sysrq-trigger" "$root/proc/sysrq-trigger"
    mount -o remount,bind,ro "$root/proc/sysrq-trigger"
fi
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount -t tmpfs -o mode=755,nosuid,size=1m labkit-dev "$root/dev"
cd "$root/dev"
mknod -m 666 null c 1 3
mknod -m 666 zero c 1 5
mknod -m 666 full c 1 7
mknod -m 666 random c 1 8
mknod -m 666 urandom c 1 9
mknod -m 666 tty c 5 0
mkdir -m 755 net pts shm
mknod -m 666 net/tun c 10 200
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec devpts pts
ln -s pts/ptmx ptmx
mount -t tmpfs -o mode=1777,nosuid,nodev shm shm
ln -s /proc/self/fd fd
ln -s /proc/self/fd/0 stdin
ln -s /proc/self/fd/1 stdout
ln -s /proc/self/fd/2 stderr
mount -t tmpfs -o mode=755,nosuid,nodev labkit-run "$root/run"
mkdir -m 1777 "$root/run/lock"
hostname "$name"
cd "$root"
mkdir -p .labkit-oldroot
pivot_root . .labkit-oldroot
cd /
exec /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 HOME=/root /usr/bin/python3 /usr/local/sbin/labkit-init
"""


def launch_command(host: LocalHost) -> list[str]:
    return [
        "nsenter",
        f"--net={netns.NETNS_DIR / host.netns}",
        "--",
        "unshare",
        "--mount",
        "--uts",
        "--pid",
        "--fork",
        "--kill-child",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        BOOT_SCRIPT,
        "labkit-boot",
        str(host.root),
        host.name,
    ]


def launch(host: LocalHost) -> subprocess.Popen[bytes]:
    """Start the host in the background (its own session: it outlives this process)."""
    host.console_log.parent.mkdir(parents=True, exist_ok=True)
    with host.console_log.open("ab") as log:
        log.write(f"--- labkit: booting {host.name} at {time.ctime()} ---\n".encode())
        log.flush()
        return subprocess.Popen(
            launch_command(host),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd="/",
        )


def _nspids(pid: int | str) -> list[int]:
    """A process's pid in each PID namespace it belongs to, outermost first."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                return [int(p) for p in line.split()[1:]]
    except (OSError, ValueError):
        return []
    return []


def find_init(host: LocalHost) -> int | None:
    """The machine's pid of the host's labkit-init, or None when the host is not running.

    That is the process of the host's network namespace that is PID 1 exactly one PID
    namespace below ours (a learner's own container inside the host would be deeper).
    """
    depth = len(_nspids("self"))
    for pid in netns.netns_pids(host.netns):
        ids = _nspids(pid)
        if len(ids) == depth + 1 and ids[-1] == 1:
            return pid
    return None


def _alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            out.append(pid)
    return out


def stop(host: LocalHost, grace: float = 15.0) -> list[int]:
    """Stop every process of the host; returns the pids still alive afterwards (leftovers).

    Asks labkit-init first (it SIGTERMs the host's processes, then exits, and the kernel
    kills whatever remains in the PID namespace); SIGKILLs whatever is left in the host's
    network namespace after ``grace`` seconds.
    """
    init = find_init(host)
    if init is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(init, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _alive(netns.netns_pids(host.netns)):
        time.sleep(0.2)
    for pid in _alive(netns.netns_pids(host.netns)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and _alive(netns.netns_pids(host.netns)):
        time.sleep(0.1)
    return _alive(netns.netns_pids(host.netns))
