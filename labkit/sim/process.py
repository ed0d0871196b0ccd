"""Start, stop and find sim processes (the client side of ``labkit sim up|down|status``).

A sim is one background process per state folder. ``sim.json`` in that folder records its
pid, port and URL; a lock file keeps two notebooks (or a notebook and a terminal) from
starting the same sim twice.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from labkit import config
from labkit.config import StatePaths
from labkit.envs import SimEnv
from labkit.errors import SimStartFailed
from labkit.sim.core.config import SimConfig, SimHost


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
    return SimConfig(
        state_dir=paths.root,
        port=config.sim_port(port, env.sim.port),
        env_name=env.name,
        region=env.region,
        deterministic=config.sim_deterministic(env.sim.deterministic),
        seed=env.sim.seed,
        password_hash_rounds=env.sim.password_hash_rounds,
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
    paths.root.mkdir(parents=True, exist_ok=True)
    with open(paths.root / ".sim.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:  # a zombie child of ours is not alive
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True


def _answers(url: str, timeout: float = 1.0) -> bool:
    try:
        return httpx.get(f"{url}/_sim/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def running(paths: StatePaths) -> SimHandle | None:
    """The sim of this state folder, if its process is alive and answering."""
    try:
        info = json.loads(paths.sim_info.read_text())
    except (OSError, ValueError):
        return None
    handle = SimHandle(info["env"], paths.root, info["port"], info["pid"])
    if _alive(handle.pid) and _answers(handle.url):
        return handle
    return None


def start(
    env: SimEnv, paths: StatePaths, port: int | None = None, timeout: float = 20.0
) -> SimHandle:
    """Start the sim for ``env`` (or return the one already running)."""
    with _locked(paths):
        handle = running(paths)
        if handle is not None:
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
                start_new_session=True,
                cwd=paths.root,
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
                paths.sim_info.write_text(
                    json.dumps({"env": env.name, "port": cfg.port, "pid": proc.pid, "url": url})
                )
                return handle
            time.sleep(0.05)
        proc.terminate()
        raise SimStartFailed(f"no answer on {url} within {timeout:.0f} s", _tail(log_path))


def _server_environment() -> dict[str, str]:
    """The sim process's environment: ours, plus glibc malloc settings for image streaming.

    Image uploads and downloads pass through buffers of 64 KiB to 4 MiB. glibc serves every
    allocation over 128 KiB with a fresh mmap and returns it on free, so each buffer costs
    page faults and zeroed pages -- measured, more kernel time than hashing the bytes. Above
    that threshold the heap keeps and reuses them instead (trimmed beyond 64 MiB)."""
    return {
        **os.environ,
        "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
        "MALLOC_TRIM_THRESHOLD_": str(64 << 20),
    }


def stop(paths: StatePaths, timeout: float = 10.0) -> bool:
    """Stop the sim of this state folder. Returns False when none was running."""
    with _locked(paths):
        try:
            info = json.loads(paths.sim_info.read_text())
        except (OSError, ValueError):
            return False
        pid = int(info["pid"])
        paths.sim_info.unlink(missing_ok=True)
        if not _alive(pid):
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
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
