"""PID 1 of a local lab host, copied into its root as ``/usr/local/sbin/labkit-init``.

It runs with the host's own python3, inside the host's namespaces, right after the machine
side switched the root (pivot_root). A lab host has no systemd, yet something must:

* detach the machine's filesystem, still visible under ``/.labkit-oldroot`` after pivot_root,
  so nothing in the host can reach it;
* drop the capabilities that would let the host change the machine itself -- loading kernel
  modules (CAP_SYS_MODULE) and setting the machine's clock (CAP_SYS_TIME, which chronyd
  would otherwise use: the kernel clock is shared);
* reap orphaned daemons (init scripts background them and they are re-parented to PID 1);
* keep sshd, the only way in, running;
* on SIGTERM (``labkit hosts down``) stop every process of the host, then exit -- the kernel
  then removes the host's PID and mount namespaces with everything mounted in them.

Only the standard library of the host's python3; no labkit imports (labkit is not there).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time

OLD_ROOT = "/.labkit-oldroot"
PR_CAPBSET_DROP = 24
DROPPED_CAPABILITIES = {"CAP_SYS_MODULE": 16, "CAP_SYS_TIME": 25}
SSHD_PIDFILE = "/run/sshd.pid"
SSHD_CHECK_INTERVAL = 5.0
STOP_GRACE = 10.0


def say(message: str) -> None:
    print(f"labkit-init {time.strftime('%H:%M:%S')}: {message}", flush=True)


def detach_old_root() -> None:
    subprocess.run(["umount", "-l", OLD_ROOT], check=True)
    os.rmdir(OLD_ROOT)


def drop_capabilities() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for name, number in DROPPED_CAPABILITIES.items():
        if libc.prctl(PR_CAPBSET_DROP, number, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), f"could not drop {name}")


def sshd_running() -> bool:
    try:
        with open(SSHD_PIDFILE) as fh:
            pid = int(fh.read().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def start_sshd() -> None:
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation folder
    code = subprocess.call(["/usr/sbin/sshd"])  # daemonizes; we become its parent
    say("sshd started" if code == 0 else f"sshd failed to start (exit {code})")


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def stop_everything() -> None:
    """SIGTERM every other process of the host, wait a little, then SIGKILL the rest."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(-1, sig)  # in a PID namespace: every process but this one
        except ProcessLookupError:
            return
        deadline = time.monotonic() + (STOP_GRACE if sig == signal.SIGTERM else 2.0)
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                time.sleep(0.1)


def main() -> int:
    stopping = False

    def on_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    detach_old_root()
    drop_capabilities()
    say(f"host {os.uname().nodename} up; dropped {', '.join(DROPPED_CAPABILITIES)}")
    start_sshd()
    last_check = time.monotonic()
    while not stopping:
        reap()
        if time.monotonic() - last_check > SSHD_CHECK_INTERVAL:
            last_check = time.monotonic()
            if not sshd_running():
                say("sshd is not running: starting it again")
                start_sshd()
        time.sleep(0.5)
    say("stopping every process of the host")
    stop_everything()
    say("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
