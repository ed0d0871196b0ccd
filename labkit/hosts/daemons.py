"""The small helper daemons local lab hosts rely on: the apt proxy and the image mirror.

Each runs as ``python -m <module> --name <marker> ...`` on the bridge's gateway address.
They are found again by that marker on their command line (no pid file to go stale), started
only when not already answering, and stopped by SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from labkit.hosts.errors import LocalHostsError


@dataclass(frozen=True)
class HelperDaemon:
    module: str  # e.g. "labkit.hosts.proxy"
    marker: str  # unique per env: how its process is found again
    address: str
    port: int
    log: Path
    args: tuple[str, ...] = ()  # besides --name and --listen
    start_timeout: float = 10.0
    hint: str = ""  # what to check when it does not start

    def pids(self) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if self.module.encode() in cmdline and self.marker.encode() in cmdline:
                found.append(int(entry.name))
        return found

    def answers(self) -> bool:
        return port_open(self.address, self.port)

    def ensure(self) -> tuple[int, bool]:
        """The running daemon's pid, starting it if needed: ``(pid, started_now)``."""
        running = self.pids()
        if running and self.answers():
            return running[0], False
        for pid in running:  # alive but deaf: start over
            os.kill(pid, signal.SIGKILL)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            self.module,
            "--name",
            self.marker,
            "--listen",
            f"{self.address}:{self.port}",
            *self.args,
        ]
        with self.log.open("ab") as log:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd="/",
            )
        deadline = time.monotonic() + self.start_timeout
        while not self.answers():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise LocalHostsError(
                    f"{self.module} did not start on {self.address}:{self.port}:\n{tail(self.log)}",
                    f"{self.hint} See {self.log}.".strip(),
                )
            time.sleep(0.05)
        return proc.pid, True

    def stop(self) -> list[int]:
        """Stop it; return the pids still running (none, normally)."""
        for pid in self.pids():
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and self.pids():
            time.sleep(0.05)
        for pid in self.pids():
            os.kill(pid, signal.SIGKILL)
        return self.pids()


def port_open(address: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
