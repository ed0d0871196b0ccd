"""The hostile-input sweep, second half: Neutron's and Nova's routes (see
test_hostile_input.py for what is sent and checked), then a server still boots."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.sim.hostile_sweep import World, every_route, run_route, world_on_its_own_sim

pytestmark = pytest.mark.slow
ROUTES = every_route()
MINE = [ref for ref in ROUTES if ref.room in ("neutron", "nova")]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from world_on_its_own_sim(tmp_path_factory, "hostile-compute")


@pytest.mark.parametrize("ref", MINE, ids=[ref.id for ref in MINE])
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
    print(f"hostile sweep (neutron, nova): {world.sent} requests")
