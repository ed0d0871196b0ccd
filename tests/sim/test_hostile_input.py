"""The hostile-input sweep: every route of every room, sent what no real client sends.

For each route of the rooms' route tables (the ones ``COVERAGE.md`` lists; a new route is
swept without editing this file, and :func:`test_every_route_has_its_targets` fails if the
sweep does not know what to aim a new path parameter at), a battery of requests
(:mod:`tests.sim.hostile_sweep`): no or bad tokens, bad microversions, bogus ids in the
path, another project's resource, odd query strings and headers, methods the path does not
serve, bodies that are not JSON, not objects, or objects with wrong-typed, huge, NUL or
unicode fields. Each answer must be a 4xx (or a 2xx where the input is merely unusual) in
the service's own error envelope, and a request that failed must leave every database of
the sim as it was. Afterwards the sim still boots a server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.sim.hostile_sweep import World, every_route, run_route, slot, world_on_its_own_sim

pytestmark = pytest.mark.slow
ROUTES = every_route()
# This module sweeps the identity, image and placement rooms; test_hostile_compute.py the
# network and compute ones (two modules, so that two workers share the sweep).
MINE = [ref for ref in ROUTES if ref.room in ("keystone", "glance", "placement")]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from world_on_its_own_sim(tmp_path_factory, "hostile-identity")


def test_every_route_has_its_targets(world: World) -> None:
    """Every path parameter of every route has a real object to aim at (a new route with a
    new parameter must be added to :meth:`World.build`, or it would go unswept)."""
    missing = [
        f"{ref.id}: {slot(ref.template, param)}"
        for ref in ROUTES
        for param in ref.params
        if slot(ref.template, param) not in world.ids.get(ref.room, {})
    ]
    assert not missing, missing
    served = {(ref.room, ref.method, ref.template) for ref in ROUTES}
    assert not set(world.bodies) - served, "base bodies for routes no room serves"
    assert {ref.room for ref in ROUTES} == {"keystone", "glance", "placement", "neutron", "nova"}


@pytest.mark.parametrize("ref", MINE, ids=[ref.id for ref in MINE])
def test_hostile_input(world: World, ref: Any) -> None:
    problems = run_route(world, ref, ROUTES)
    assert not problems, f"{ref.id}:\n" + "\n".join(problems)


def test_no_internal_error_in_the_sweep(world: World) -> None:
    """The sim counts every exception that escaped a handler: none may have."""
    assert world.lab.sim.health()["internal_errors"] == 0
    print(f"hostile sweep (keystone, glance, placement): {world.sent} requests")
