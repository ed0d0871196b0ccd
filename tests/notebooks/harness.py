"""One way to run the notebooks against a private sim: nbval (root conftest.py), papermill
(test_papermill.py) and the script that refreshes the stored outputs (regenerate.py) all use
it, so the outputs kept in the notebooks are made under the same conditions they are
checked under."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from tests import osc_fork

if TYPE_CHECKING:
    import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
ORDER = (
    "00-welcome",
    "01-hosts",
    "02-keystone",
    "03-glance",
    "04-nova",
    "05-access",
    "06-projects-quotas",
    "07-scale-out",
    "08-beyond",
    "99-cleanup",
)
# Notebooks whose first cell only ensures these layers (``Lab.from_env(env).ensure(...)``,
# which shows nothing) and whose outputs never show installing them: run alone on a fresh
# sim, they start on a copy of the run's template of that layer instead of installing it
# (tests/sim_templates.py). Notebooks that *show* an install (01-04) install, always.
START_FROM = {
    "05-access": "nova-compute",
    "06-projects-quotas": "nova-compute",
    "07-scale-out": "nova-compute",
    "08-beyond": "nova-compute",
}
SANITIZE = REPO / "tests" / "notebooks" / "sanitize.cfg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kernel_environment(state_dir: Path, port: int) -> dict[str, str]:
    """What notebook kernels inherit: a private state folder and port for the sim, the
    default env, and text views (live widgets would make outputs differ from run to run).

    And an ``openstack`` first on PATH that runs each ``!openstack`` as a fork of a process
    that has imported the CLI already (see tests/osc_fork.py): the real CLI on the cell's
    own pty, without 1.6 s of imports per command."""
    environment = {
        "LABKIT_STATE_DIR": str(state_dir),
        "LABKIT_SIM_PORT": str(port),
        "LABKIT_ENV": "sim",
        "LABKIT_WIDGETS": "0",
        "LABKIT_SIM_DETERMINISTIC": "1",
        "LABKIT_HORIZON_PORT": str(free_port()),  # notebook 05's dashboard, this run's own
    }
    shim = osc_fork.shim_dir()
    if shim is not None:
        environment["PATH"] = f"{shim}{os.pathsep}{os.environ.get('PATH', '')}"
        environment[osc_fork.SOCKET_VAR] = osc_fork.socket_path()
    return environment


def apply(environment: dict[str, str]) -> dict[str, str | None]:
    """Set ``environment`` in os.environ (and drop a learner's OS_* variables, which would
    override the lab's clouds.yaml); return what to restore."""
    saved: dict[str, str | None] = {k: os.environ.get(k) for k in environment}
    for key in [k for k in os.environ if k.startswith("OS_")]:
        saved[key] = os.environ.pop(key)
    os.environ.update(environment)
    return saved


def restore(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def start_from_template(
    tmp_path_factory: pytest.TempPathFactory, name: str, state_dir: Path, port: int
) -> None:
    """If ``name`` is in START_FROM: a running sim in ``state_dir`` on ``port`` with its
    layer installed, as the notebook's first cell would leave it. Call it after
    :func:`apply` (the kernel's deterministic mode picks the template)."""
    if name in START_FROM:
        from tests import sim_templates

        sim_templates.lab_from_template(
            tmp_path_factory, name, START_FROM[name], state_root=state_dir, port=port
        )


def stop_sim(state_dir: Path) -> None:
    from labkit.config import StatePaths
    from labkit.sim import process

    process.stop(StatePaths.for_env("sim", state_dir))
