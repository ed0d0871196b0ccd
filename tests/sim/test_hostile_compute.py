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


# ---- Nova's query-string schemas (labkit/sim/nova/api/query.py) ------------------------------

_NOT_ONE_OF = "Invalid input for query parameters {0}. Value: {1}. '{1}' is not one of"
# (path below /compute/v2.1, microversion, user, status, the message or its start)
QUERY_CASES = [
    # 2.75: unknown parameters refused; the server list's schema has patternProperties,
    # which jsonschema words differently; several names are sorted and joined.
    ("/servers?foo=bar", "2.75", "demo", 400, "'foo' does not match any of the regexes: '^_'"),
    (
        "/servers/detail?zeta=1&alpha=2",
        "2.75",
        "admin",
        400,
        "'alpha', 'zeta' do not match any of the regexes: '^_'",
    ),
    ("/servers?foo=bar", "2.74", "demo", 200, ""),
    ("/flavors?foo=bar", "2.75", "demo", 400, "Additional properties are not allowed ('foo' "),
    ("/flavors/detail?b=1&a=2", "2.75", "demo", 400, "Additional properties are not allowed "
     "('a', 'b' were unexpected)"),
    ("/flavors/detail?foo=bar", "2.74", "demo", 200, ""),
    ("/limits?foo=1", "2.75", "demo", 400, "Additional properties are not allowed ('foo' "),
    ("/limits?foo=1", "2.1", "demo", 200, ""),
    ("/os-services?foo=1", "2.75", "admin", 400, "Additional properties are not allowed"),
    ("/os-server-groups?foo=1", "2.75", "demo", 400, "Additional properties are not allowed"),
    ("/os-simple-tenant-usage?foo=1", "2.75", "admin", 400,
     "Additional properties are not allowed ('foo' was unexpected)"),
    ("/os-quota-sets/{project}?foo=1", "2.75", "demo", 400,
     "Additional properties are not allowed"),
    ("/os-quota-sets/{project}/detail?foo=1", "2.74", "demo", 200, ""),
    ("/servers/{server}/os-volume_attachments?foo=1", "2.75", "demo", 400,
     "Additional properties are not allowed"),
    # strict from the version that brought the schema
    ("/os-hypervisors?foo=1", "2.53", "admin", 400, "Additional properties are not allowed"),
    ("/os-hypervisors?foo=1", "2.52", "admin", 200, ""),
    ("/servers/{server}/os-instance-actions?foo=1", "2.58", "demo", 400,
     "Additional properties are not allowed ('foo' was unexpected)"),
    # known parameters with bad values: at every version
    ("/servers?limit=abc", "2.1", "demo", 400,
     "Invalid input for query parameters limit. Value: abc. 'abc' does not match '^[0-9]*$'"),
    ("/servers?limit=-1", "2.1", "demo", 400,
     "Invalid input for query parameters limit. Value: -1. '-1' does not match '^[0-9]*$'"),
    ("/flavors?limit=", "2.1", "demo", 400,
     "Invalid input for query parameters limit. Value: . '' is too short"),
    ("/flavors?sort_key=zz", "2.1", "demo", 400, _NOT_ONE_OF.format("sort_key", "zz")),
    ("/flavors?sort_dir=up", "2.1", "demo", 400, _NOT_ONE_OF.format("sort_dir", "up")),
    ("/servers?sort_key=zz", "2.1", "demo", 400, _NOT_ONE_OF.format("sort_key", "zz")),
    ("/servers?sort_key=deleted", "2.74", "admin", 200, ""),  # ignored up to 2.74
    ("/servers?sort_key=deleted", "2.75", "admin", 400, _NOT_ONE_OF.format("sort_key", "deleted")),
    ("/servers?changes-since=yesterday", "2.1", "demo", 400,
     "Invalid input for query parameters changes-since. Value: yesterday. 'yesterday' is not "
     "a 'date-time'"),
    ("/servers?changes-since=2026-13-01", "2.1", "demo", 400, "Invalid input for query "
     "parameters changes-since. Value: 2026-13-01. '2026-13-01' is not a 'date-time'"),
    ("/servers?changes-since=2026-01-01T00:00:00Z", "2.1", "demo", 200, ""),
    ("/servers?changes-since=2026-02-01&changes-before=2026-01-01", "2.66", "demo", 400,
     "The value of changes-since must be less than or equal to changes-before."),
    ("/servers?name=(", "2.1", "demo", 400,
     "Invalid input for query parameters name. Value: (. '(' is not a 'regex'"),
    ("/servers?metadata=x", "2.1", "admin", 400, "Invalid filter field: metadata."),
    ("/servers?_secret=x", "2.75", "admin", 400, "Invalid filter field: _secret."),
    ("/servers?_secret=x", "2.75", "demo", 200, ""),  # a member's unknown filters are dropped
    ("/servers?limit=%FF", "2.1", "demo", 400, "Query string is not UTF-8 encoded"),
    ("/os-hypervisors?limit=1&limit=2", "2.53", "admin", 400,
     "Invalid input for query parameters limit. Value: ['1', '2']. ['1', '2'] is too long"),
    ("/os-hypervisors?with_servers=maybe", "2.53", "admin", 400,
     _NOT_ONE_OF.format("with_servers", "maybe")),
    ("/os-server-groups?offset=x", "2.1", "demo", 400,
     "Invalid input for query parameters offset. Value: x. 'x' does not match '^[0-9]*$'"),
]  # fmt: skip


def test_nova_query_schemas(world: World) -> None:
    """Each list's query string as Nova's query_schema checks it: unknown parameters refused
    from 2.75 (ignored before), bad values of known ones refused at every version, with
    Nova's messages -- before the handler looks anything up."""
    wrong = []
    for path, version, user, status, message in QUERY_CASES:
        url = "/compute/v2.1" + path.format(project=world.demo_project, server=world.server_id)
        answer = world.send(
            user, "GET", url, headers={"OpenStack-API-Version": f"compute {version}"}
        )
        got = answer.json()
        if status == 200:
            if answer.status_code != 200:
                wrong.append(f"{url} {version}: {answer.status_code} {answer.text[:200]}")
            continue
        text = got.get("badRequest", {}).get("message", "") if isinstance(got, dict) else ""
        if answer.status_code != status or not text.startswith(message):
            wrong.append(f"{url} {version} as {user}: {answer.status_code} {answer.text[:300]}")
    assert not wrong, "\n".join(wrong)
