"""Start, stop and find sim processes (the client side of ``labkit sim up|down|status``).

A sim is one background process per state folder. ``sim.json`` in that folder records its
pid (and when that process started, so a recycled pid is not taken for it), port and URL; a
lock file keeps two notebooks (or a notebook and a terminal) from starting the same sim
twice. How to lock, detach, check and stop a process differs between Linux, macOS and
Windows: :mod:`labkit.portable` makes those choices.

The sim process itself records where its gateway into the guests listens in
``gateway.json`` next to ``sim.json`` (host, port, router address; see
:mod:`labkit.sim.gateway`). Once the sim answers, :func:`start` writes ``ssh_config`` there
too: the OpenSSH client config whose ``ProxyCommand`` goes through that gateway
(:func:`labkit.sim.nc.write_ssh_config`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from labkit import config, portable, probe
from labkit.config import StatePaths
from labkit.envs import SimEnv, with_extra_hosts
from labkit.errors import SimStartFailed
from labkit.sim import nc
from labkit.sim.core.config import SimConfig, SimHost
from labkit.sim.server import stop_request


@dataclass(frozen=True)
class SimHandle:
    env_name: str
    state_dir: Path
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def sim_config(env: SimEnv, paths: StatePaths, port: int | None = None) -> SimConfig:
    """What the sim process of ``paths`` is told (``sim-config.json``): the env's settings
    and hosts, plus the hosts the lab added to itself (:func:`labkit.envs.with_extra_hosts`),
    whoever starts it."""
    env = with_extra_hosts(env, paths.root)
    return SimConfig(
        state_dir=paths.root,
        port=config.sim_port(port, env.sim.port),
        env_name=env.name,
        region=env.region,
        deterministic=config.sim_deterministic(env.sim.deterministic),
        seed=env.sim.seed,
        password_hash_rounds=env.sim.password_hash_rounds,
        pace=env.sim.pace,
        admin_password=env.passwords.admin,
        demo_password=env.passwords.demo,
        network_cidr=env.management_network.cidr,
        network_gateway=env.management_network.gateway,
        guest_pool=env.management_network.guest_pool,
        hosts=tuple(
            SimHost(h.name, h.address, tuple(h.roles), h.cpus, h.ram_gb, h.disk_gb)
            for h in env.hosts
        ),
    )


@contextmanager
def _locked(paths: StatePaths) -> Iterator[None]:
    with portable.exclusive(paths.root / ".sim.lock"):
        yield


def _process_alive(info: dict[str, object]) -> bool:
    """Is the process ``sim.json`` names alive (and not a later one that got its pid)?"""
    started = info.get("started")  # absent in a sim.json from before it was recorded
    pid = int(str(info["pid"]))
    return portable.pid_alive(pid, float(started) if isinstance(started, int | float) else None)


def _answers(url: str, timeout: float = 1.0) -> bool:
    try:
        return probe.get(f"{url}/_sim/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def running(paths: StatePaths) -> SimHandle | None:
    """The sim of this state folder, if its process is alive and answering."""
    try:
        info = json.loads(paths.sim_info.read_text())
    except (OSError, ValueError):
        return None
    handle = SimHandle(info["env"], paths.root, info["port"], info["pid"])
    if _process_alive(info) and _answers(handle.url):
        return handle
    return None


def start(
    env: SimEnv, paths: StatePaths, port: int | None = None, timeout: float = 20.0
) -> SimHandle:
    """Start the sim for ``env`` (or return the one already running)."""
    with _locked(paths):
        handle = running(paths)
        if handle is not None:
            write_ssh_config(env, paths)
            return handle
        cfg = sim_config(env, paths, port)
        cfg.save()
        paths.logs.mkdir(parents=True, exist_ok=True)
        log_path = paths.logs / "sim-process.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "labkit.sim", "serve", "--state-dir", str(paths.root)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=_server_environment(),
                cwd=paths.root,
                **portable.detached(),
            )
        url = cfg.base_url
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SimStartFailed(
                    f"the process exited with status {proc.returncode}", _tail(log_path)
                )
            if _answers(url, timeout=0.5):
                handle = SimHandle(env.name, paths.root, cfg.port, proc.pid)
                info = {
                    "env": env.name,
                    "port": cfg.port,
                    "pid": proc.pid,
                    "started": portable.process_started(proc.pid),
                    "url": url,
                }
                paths.sim_info.write_text(json.dumps(info))
                write_ssh_config(env, paths)
                return handle
            time.sleep(0.05)
        proc.terminate()
        raise SimStartFailed(f"no answer on {url} within {timeout:.0f} s", _tail(log_path))


def write_ssh_config(env: SimEnv, paths: StatePaths) -> Path:
    """``<state folder>/ssh_config``: ``Host`` the env's provider range, ``ProxyCommand``
    through this sim's gateway, host keys from ``<state folder>/known_hosts`` only."""
    return nc.write_ssh_config(paths.root, env.management_network.cidr, env.name)


def _server_environment() -> dict[str, str]:
    """The sim process's environment: ours, plus glibc malloc settings for image streaming,
    and UTF-8 for its text files on every OS.

    Image uploads and downloads pass through buffers of 64 KiB to 4 MiB. glibc serves every
    allocation over 128 KiB with a fresh mmap and returns it on free, so each buffer costs
    page faults and zeroed pages -- measured, more kernel time than hashing the bytes. Above
    that threshold the heap keeps and reuses them instead (trimmed beyond 64 MiB); only glibc
    reads these (:func:`labkit.portable.malloc_tuning`).

    The simulated hosts' files are read and written as text without naming an encoding; a
    Debian host would use UTF-8, and so does Python's UTF-8 mode everywhere (Windows'
    default would be its ANSI code page)."""
    return {**os.environ, "PYTHONUTF8": "1", **portable.malloc_tuning()}


def stop(paths: StatePaths, timeout: float = 10.0) -> bool:
    """Stop the sim of this state folder. Returns False when none was running."""
    with _locked(paths):
        try:
            info = json.loads(paths.sim_info.read_text())
        except (OSError, ValueError):
            return False
        pid = int(info["pid"])
        paths.sim_info.unlink(missing_ok=True)
        if not _process_alive(info):
            paths.gateway_info.unlink(missing_ok=True)  # left by a sim that was killed
            return False
        # Asked politely, the sim flushes its trace and deterministic counters on the way out.
        portable.ask_to_exit(pid, stop_request(paths.root))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _process_alive(info):
            time.sleep(0.05)
        if _process_alive(info):
            portable.kill(pid)
        paths.gateway_info.unlink(missing_ok=True)  # the sim removes it on a clean stop
        return True


def reset(paths: StatePaths) -> None:
    """Stop the sim and delete its whole state folder."""
    stop(paths)
    if paths.root.exists():
        shutil.rmtree(paths.root)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
