"""Deterministic mode: the same scripted requests against a fresh sim give the same trace,
ids and times, although the sim answers them with several threads (uvicorn's pool, Glance's
import workers, the bus)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit import tracing
from labkit.lab import Lab
from tests.conftest import REPO, free_port

pytestmark = pytest.mark.slow


def _scenario(state_root: Path) -> tuple[list[tuple[Any, ...]], list[str], str]:
    lab = Lab.from_env(REPO / "envs" / "sim.yaml", state_root=state_root, sim_port=free_port())
    try:
        lab.ensure("glance")
        mark = lab.sim.trace(limit=5000)[-1]["id"]
        conn = lab.connect("admin")
        project = conn.identity.create_project(name="det-project", domain_id="default")
        image = conn.image.create_image(
            name="det-image", disk_format="raw", container_format="bare", data=b"x" * 4096
        )
        conn.image.get_image(image.id)
        ids = [project.id, image.id]
        assert lab.sim.quiesce(30)
        events = lab.sim.trace(after=mark, limit=5000)
    finally:
        from labkit.sim import process

        process.stop(lab.paths)
    # Request ids are random on purpose (see labkit/sim/core/ids.py); everything else is not.
    shape = [
        (
            e["span"],
            e["parent"],
            e["kind"],
            e["source"],
            e["target"],
            e["target_host"],
            e["action"].split("?")[0],
            e["status"],
            e["sim_time"],
        )
        for e in events
    ]
    return shape, ids, tracing.render(tracing.tree(events))


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Any]]:
    yield [_scenario(tmp_path_factory.mktemp(f"det{n}")) for n in (1, 2)]


def test_the_same_scenario_gives_the_same_trace(two_runs: list[Any]) -> None:
    (first, _, _), (second, _, _) = two_runs
    assert len(first) > 10
    assert first == second


def test_the_same_scenario_gives_the_same_ids(two_runs: list[Any]) -> None:
    (_, first, _), (_, second, _) = two_runs
    assert first == second


def test_service_to_service_calls_sit_under_the_request_that_made_them(
    two_runs: list[Any],
) -> None:
    (_, _, text), _ = two_runs
    # Glance validated the user's token with Keystone while answering its first request
    # (later ones find it in auth_token's cache): that call hangs under the client's request.
    lines = text.splitlines()
    nested = [
        (above, below)
        for above, below in itertools.pairwise(lines)
        if below.startswith("  http     glance-api -> keystone@controller: GET")
    ]
    assert nested, text
    assert nested[0][0].startswith("http     client -> glance-api@controller"), text
