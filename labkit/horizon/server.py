"""Start, stop and find the dashboard of a sim: the real Horizon in a process of its own.

On a real controller Apache runs Horizon; next to the sim, labkit runs it with waitress from
Horizon's own virtual environment (:mod:`labkit.horizon.venv`,
:mod:`labkit.horizon.serve`). Everything it needs sits in the sim's state folder:

    <state folder>/horizon/local/local_settings.py   the controller's file + labkit's lines
    <state folder>/horizon/secret_key                Django's SECRET_KEY (made once)
    <state folder>/horizon.json                      pid, port, url of the running process
    <state folder>/logs/horizon.log                  its output (tracebacks land here)

It listens on loopback only, on ``$LABKIT_HORIZON_PORT`` or 8080 (:func:`port`), and it
watches the sim's process: when the sim stops (``labkit sim down``), the dashboard exits too.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from labkit import portable, probe
from labkit.errors import LabkitError
from labkit.horizon import settings, venv

DEFAULT_PORT = 8080
INFO_NAME = "horizon.json"


@dataclass(frozen=True)
class DashboardHandle:
    state_dir: Path
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


class DashboardStartFailed(LabkitError):
    layer = "horizon"


def port(explicit: int | None = None, current: int | None = None) -> int:
    """The dashboard's port: ``explicit``, else ``$LABKIT_HORIZON_PORT``, else the one it
    runs on now (``current``), else 8080 -- or, when another lab's dashboard (or anything
    else) has 8080, the next free port above it, so many labs on one machine (``labkit sims
    up``, a JupyterHub) each get their own without being told."""
    if explicit:
        return explicit
    raw = os.environ.get("LABKIT_HORIZON_PORT", "")
    if raw.strip():
        return int(raw)
    if current:
        return current
    return next((p for p in range(DEFAULT_PORT, DEFAULT_PORT + 200) if _free(p)), DEFAULT_PORT)


def _free(candidate: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", candidate))
        except OSError:
            return False
        return True


def _info_path(state_dir: Path) -> Path:
    return state_dir / INFO_NAME


def settings_dir(state_dir: Path) -> Path:
    return state_dir / "horizon"


def log_path(state_dir: Path) -> Path:
    return state_dir / "logs" / "horizon.log"


def _login_status(url: str, timeout: float = 2.0) -> int:
    """The HTTP status of the login page (0: no answer yet)."""
    try:
        return probe.get(f"{url}auth/login/", timeout=timeout).status_code
    except httpx.HTTPError:
        return 0


def _answers(url: str, timeout: float = 2.0) -> bool:
    return _login_status(url, timeout) == 200


def running(state_dir: Path) -> DashboardHandle | None:
    """The dashboard of this state folder, if its process is alive."""
    try:
        info = json.loads(_info_path(state_dir).read_text())
    except (OSError, ValueError):
        return None
    if not portable.pid_alive(int(info["pid"]), info.get("started")):
        return None
    return DashboardHandle(state_dir, int(info["port"]), int(info["pid"]))


def settings_text(state_dir: Path, controller_file: str) -> str:
    """What the running Horizon reads: the controller's ``local_settings.py`` and labkit's
    additions (:func:`labkit.horizon.settings.live_overrides`)."""
    return (
        controller_file.rstrip()
        + "\n"
        + settings.live_overrides(
            str(settings_dir(state_dir) / "secret_key"), str(venv.static_root())
        )
    )


def is_current(state_dir: Path, controller_file: str, wanted_port: int) -> bool:
    """Is a dashboard running here on ``wanted_port`` with these settings (nothing to do)?"""
    handle = running(state_dir)
    if handle is None or handle.port != wanted_port:
        return False
    current = settings_dir(state_dir) / "local" / "local_settings.py"
    fresh = current.is_file() and current.read_text() == settings_text(state_dir, controller_file)
    return fresh and _answers(handle.url)


def start(
    state_dir: Path,
    controller_file: str,
    wanted_port: int | None = None,
    watch_pid: int | None = None,
    timeout: float = 90.0,
) -> DashboardHandle:
    """(Re)start the dashboard with ``controller_file`` as its ``local_settings.py``."""
    wanted = port(wanted_port)
    venv.ensure()
    stop(state_dir)
    folder = settings_dir(state_dir)
    (folder / "local").mkdir(parents=True, exist_ok=True)
    (folder / "local" / "__init__.py").write_text("")
    (folder / "local" / "local_settings.py").write_text(settings_text(state_dir, controller_file))
    log = log_path(state_dir)
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(venv.python()),
        "-W",
        "ignore::DeprecationWarning",
        str(venv.SERVE),
        "--settings-dir",
        str(folder),
        "--port",
        str(wanted),
    ]
    if watch_pid:
        command += ["--watch-pid", str(watch_pid)]
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=folder,
            env={**os.environ, "PYTHONUTF8": "1"},
            **portable.detached(),
        )
    handle = DashboardHandle(state_dir, wanted, proc.pid)
    info = {
        "pid": proc.pid,
        "started": portable.process_started(proc.pid),
        "port": wanted,
        "url": handle.url,
    }
    _info_path(state_dir).write_text(json.dumps(info))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DashboardStartFailed(
                f"Horizon exited with status {proc.returncode} before answering:\n{_tail(log)}",
                f"Is port {wanted} taken? Set LABKIT_HORIZON_PORT to another port.",
            )
        status = _login_status(handle.url, timeout=2.0)
        if status == 200:
            return handle
        if status >= 500:  # it runs, but Horizon itself fails: waiting will not help
            stop(state_dir)
            raise DashboardStartFailed(
                f"Horizon answers its login page with HTTP {status}:\n{_tail(log)}",
                f"Its log: {log}",
            )
        time.sleep(0.2)
    stop(state_dir)
    raise DashboardStartFailed(
        f"Horizon did not answer on {handle.url} within {timeout:.0f} s:\n{_tail(log)}",
        f"Its log: {log}",
    )


def stop(state_dir: Path, timeout: float = 10.0) -> bool:
    """Stop the dashboard of this state folder; False if none was running."""
    handle = running(state_dir)
    _info_path(state_dir).unlink(missing_ok=True)
    if handle is None:
        return False
    portable.ask_to_exit(handle.pid, settings_dir(state_dir) / "stop")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and portable.pid_alive(handle.pid):
        time.sleep(0.05)
    if portable.pid_alive(handle.pid):
        portable.kill(handle.pid)
    return True


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
