"""The sim process settles CPython's garbage collector once it serves (its first periodic
flush): what exists is frozen out of the collector's walks and the young generation is
collected less often. A runtime that is only closed (a script, a test) leaves the collector
as it found it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.sim.core.config import SimConfig
from labkit.sim.core.runtime import GC_YOUNG_THRESHOLD, Runtime


@pytest.fixture()
def collector() -> Iterator[None]:
    """Give the test process its collector back afterwards."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.fixture()
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    found = Runtime(SimConfig(state_dir=tmp_path, port=1))
    yield found
    found.close()


def test_the_first_periodic_flush_settles_the_collector(collector: None, runtime: Runtime) -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    runtime.flush()
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
    assert gc.get_freeze_count() > 0
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    runtime.flush()  # once only
    assert gc.get_threshold()[0] == 700
    assert gc.get_freeze_count() == 0


def test_a_shutdown_flush_leaves_the_collector_alone(collector: None, runtime: Runtime) -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    runtime.flush(clean_shutdown=True)
    assert gc.get_threshold()[0] == 700
    assert gc.get_freeze_count() == 0
