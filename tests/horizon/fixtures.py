"""The dashboard for tests: the real Horizon 23.0.0 against a sim of the test session.

Importable by other test folders (``tests/browser``)::

    from tests.horizon.fixtures import horizon_lab, horizon_url, horizon_users  # noqa: F401

``horizon_lab``   a Lab with every layer through nova-compute (from this run's template)
                  and the ``horizon`` layer installed: Horizon runs on a free loopback port
``horizon_url``   its base URL, ``http://127.0.0.1:PORT`` (no trailing slash)
``horizon_users`` ``{"admin": Login, "demo": Login}``: user, password, domain, project

Horizon runs from ``.venv-horizon`` (``make horizon``, which ``make test`` runs first). When
it is missing the fixture builds it (1.5-3 min from PyPI) and fails, saying what to run,
when that cannot be done.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from labkit.horizon import server, venv
from labkit.lab import Lab
from tests.conftest import free_port, private_sim

# How long the fixture took (venv check or build, Horizon's start): read by the tests'
# report (test_pages.py prints them with -s) and by bench/horizon.py.
TIMINGS: dict[str, float] = {}


@dataclass(frozen=True)
class Login:
    user: str
    password: str
    project: str
    domain: str = "Default"


@pytest.fixture(scope="session")
def horizon_venv() -> str:
    started = time.perf_counter()
    was_ready = venv.is_ready()
    try:
        path = venv.ensure(log=False)
    except venv.HorizonVenvError as exc:
        pytest.fail(
            f"The dashboard tests need Horizon's virtual environment and it could not be "
            f"built:\n{exc}\nRun `make horizon` on a machine with PyPI access (or set "
            "LABKIT_HORIZON_VENV to a prepared one).",
            pytrace=False,
        )
    TIMINGS["venv ready" if was_ready else "venv built"] = time.perf_counter() - started
    return str(path)


@pytest.fixture(scope="session")
def horizon_lab(tmp_path_factory: pytest.TempPathFactory, horizon_venv: str) -> Iterator[Lab]:
    sims = private_sim(tmp_path_factory, "horizon", layer="nova-compute")
    lab = next(sims)
    port = free_port()
    previous = os.environ.get("LABKIT_HORIZON_PORT")
    os.environ["LABKIT_HORIZON_PORT"] = str(port)
    try:
        started = time.perf_counter()
        lab.install("horizon", show=False)
        TIMINGS["horizon start"] = time.perf_counter() - started
    finally:
        if previous is None:
            os.environ.pop("LABKIT_HORIZON_PORT", None)
        else:
            os.environ["LABKIT_HORIZON_PORT"] = previous
    try:
        yield lab
    finally:
        server.stop(lab.paths.root)
        next(sims, None)  # stops the sim; fails if it ever answered with a 500


@pytest.fixture(scope="session")
def horizon_url(horizon_lab: Lab) -> str:
    handle = server.running(horizon_lab.paths.root)
    assert handle is not None, (
        f"Horizon is not running; its log: {server.log_path(horizon_lab.paths.root)}"
    )
    return handle.url.rstrip("/")


@pytest.fixture(scope="session")
def horizon_users(horizon_lab: Lab) -> dict[str, Login]:
    out = {}
    for user in ("admin", "demo"):
        credentials: Any = horizon_lab.backend.credentials(user)
        out[user] = Login(user, credentials.password, credentials.project)
    return out
