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

from tests.sim.hostile_sweep import World, every_route, run_route, slot

pytestmark = pytest.mark.slow
ROUTES = every_route()


@pytest.fixture(scope="module")
def world(nova_lab: Any) -> Iterator[World]:
    made = World(nova_lab).build()
    yield made
    made.close()


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


@pytest.mark.parametrize("ref", ROUTES, ids=[ref.id for ref in ROUTES])
def test_hostile_input(world: World, ref: Any) -> None:
    problems = run_route(world, ref, ROUTES)
    assert not problems, f"{ref.id}:\n" + "\n".join(problems)


def test_the_sim_still_boots_a_server_after_the_sweep(world: World) -> None:
    demo = world.demo
    image = demo.image.find_image("cirros", ignore_missing=False)
    flavor = demo.compute.find_flavor("m1.tiny", ignore_missing=False)
    server = demo.compute.create_server(
        name="after-the-sweep",
        flavor_id=flavor.id,
        image_id=image.id,
        networks=[{"uuid": world.ids["neutron"]["networks/{network_id}"]}],
    )
    server = demo.compute.wait_for_server(
        server, status="ACTIVE", failures=["ERROR"], interval=0.2, wait=120
    )
    assert server.status == "ACTIVE"
    demo.compute.delete_server(server)
    assert world.lab.sim.health()["internal_errors"] == 0
