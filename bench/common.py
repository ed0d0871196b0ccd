"""Helpers shared by the benchmarks."""

from __future__ import annotations

import socket
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def repo_env(name: str) -> Path:
    return REPO / "envs" / f"{name}.yaml"
