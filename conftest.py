"""Repository-level pytest hooks. Only the notebook run (``pytest --nbval notebooks``) uses
them: its kernels get a private sim -- a temporary state folder and a free port -- through
the environment they inherit, and that sim is stopped when the session ends."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

_STATE: dict[str, object] = {}


def _nbval_run(config: pytest.Config) -> bool:
    return bool(
        getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False)
    )


def pytest_configure(config: pytest.Config) -> None:
    if not _nbval_run(config):
        return
    from tests.notebooks import harness

    state_dir = Path(tempfile.mkdtemp(prefix="labkit-nbval-"))
    _STATE["dir"] = state_dir
    _STATE["saved"] = harness.apply(harness.kernel_environment(state_dir, harness.free_port()))


def pytest_unconfigure(config: pytest.Config) -> None:
    if "dir" not in _STATE:
        return
    from tests.notebooks import harness

    state_dir = Path(str(_STATE.pop("dir")))
    try:
        harness.stop_sim(state_dir)
    finally:
        harness.restore(_STATE.pop("saved"))  # type: ignore[arg-type]
        shutil.rmtree(state_dir, ignore_errors=True)
