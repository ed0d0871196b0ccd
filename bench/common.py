"""Helpers shared by the benchmarks."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def repo_env(name: str) -> Path:
    return REPO / "envs" / f"{name}.yaml"


@dataclass(frozen=True)
class Latency:
    """Percentiles of a series of timed calls, in milliseconds."""

    count: int
    p50: float
    p95: float
    p99: float

    def line(self, label: str, target_ms: float | None = None) -> str:
        text = (
            f"{label:<44} p50 {self.p50:6.2f} ms  p95 {self.p95:6.2f} ms  "
            f"p99 {self.p99:6.2f} ms  (n={self.count})"
        )
        if target_ms is not None:
            text += f"  p50 = {self.p50 / target_ms:.2f}x of the {target_ms:g} ms target"
        return text


def latency(samples_ms: list[float]) -> Latency:
    ordered = sorted(samples_ms)
    n = len(ordered)

    def at(q: float) -> float:
        return ordered[min(n - 1, max(0, round(q * n) - 1))]

    return Latency(count=n, p50=at(0.50), p95=at(0.95), p99=at(0.99))


def time_calls(call: Callable[[], object], count: int, warmup: int = 20) -> Latency:
    """Run ``call`` ``warmup`` times untimed, then ``count`` times, one after the other."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(count):
        t0 = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t0) * 1000)
    return latency(samples)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux ``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_note() -> str:
    """The 1-minute load average against the cores: figures from a busy machine mislead."""
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    quiet = "quiet" if load < 0.5 * cores else "BUSY -- figures are inflated"
    return f"load average {load:.2f} on {cores} cores ({quiet})"
