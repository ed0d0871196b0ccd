"""Parity tests get a sim of their own.

Collections are compared by the structure of their items, and the shared session sim holds
whatever other tests made (users with a default project, roles with options ...). A fresh
sim holds what a freshly installed cloud holds, like the recorded one: every layer up to
nova-compute, as the recorded cloud had (copied from the run's template, see
tests/sim_templates.py; the tests' own ``ensure`` calls then find it all done).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import private_sim


@pytest.fixture(scope="session")
def sim_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    yield from private_sim(tmp_path_factory, "paritystate", layer="nova-compute")


# Session fixtures that depend on sim_lab are redefined here too: pytest caches one instance
# per definition, so the root definitions would keep pointing at the shared sim.
@pytest.fixture(scope="session")
def admin(sim_lab: object) -> object:
    from tests.conftest import CurrentConnection

    return CurrentConnection(sim_lab, "admin")  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def glance_lab(sim_lab: object) -> object:
    sim_lab.ensure("glance")  # type: ignore[attr-defined]
    return sim_lab
