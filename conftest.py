"""Repository-level pytest hooks. Only the notebook run (``pytest --nbval notebooks``) uses
them: its kernels get a private sim -- a temporary state folder and a free port -- through
the environment they inherit, and that sim is stopped when the session ends.

The notebook run may use two xdist workers (``make test`` does: ``-n 2``). Then the arc --
nbval's pass over notebooks/ and arc_again.py's second pass, which must see the same sim in
that order -- is one xdist scope, run by one worker on that worker's private sim, while the
other worker runs the notebooks' other checks (test_papermill.py: each notebook alone on a
fresh sim of its own), which share nothing with the arc."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

_STATE: dict[str, object] = {}
# Modules that belong to the arc: the second pass runs on the lab nbval's pass left.
ARC_MODULES = ("tests/notebooks/arc_again.py",)


def _nbval_run(config: pytest.Config) -> bool:
    return bool(
        getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False)
    )


def _xdist_controller(config: pytest.Config) -> bool:
    """The process that only hands tests to xdist workers (and runs no kernel)."""
    return not hasattr(config, "workerinput") and getattr(config.option, "dist", "no") != "no"


def pytest_configure(config: pytest.Config) -> None:
    if not _nbval_run(config) or _xdist_controller(config):
        return
    from tests.notebooks import harness

    state_dir = Path(tempfile.mkdtemp(prefix="labkit-nbval-"))
    _STATE["dir"] = state_dir
    _STATE["saved"] = harness.apply(harness.kernel_environment(state_dir, harness.free_port()))


@pytest.hookimpl(optionalhook=True)  # only when pytest-xdist is loaded
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """In the notebook run under xdist: the arc is one scope (one worker, in the order
    collected: notebooks/ as nbval sorts them, then arc_again.py); every other test module
    is a scope of its own. Whatever ``--dist`` asked for, the arc must not be split up.

    A scheduler rather than ``xdist_group`` marks: pytest-xdist 3.8 renames a marked
    item's node id through ``Item._nodeid``, which pytest 9 no longer reads, so the marks
    would silently send a notebook's cells to both workers."""
    if not _nbval_run(config):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ArcScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::")[0]
            return "arc" if module.endswith(".ipynb") or module in ARC_MODULES else module

    return ArcScheduling(config, log)


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
