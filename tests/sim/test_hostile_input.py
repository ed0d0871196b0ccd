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

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
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


def test_405_allow_headers_as_upstream_spells_them(world: World) -> None:
    """A method the path does not serve: Glance's reject controller answers with the
    ``allowed_methods`` its router spells out, Placement's ``handle_405`` with its
    ROUTE_DECLARATIONS' order (a single provider's is GET, DELETE, PUT)."""
    image = world.ids["glance"]["images/{image_id}"]
    rp = world.ids["placement"]["resource_providers/{uuid}"]
    consumer = world.ids["placement"]["allocations/{consumer_uuid}"]
    expected = {
        ("PUT", "/image/v2/images"): "GET, POST",
        ("POST", f"/image/v2/images/{image}"): "GET, PATCH, DELETE",
        ("POST", f"/image/v2/images/{image}/file"): "GET, PUT",
        ("DELETE", f"/image/v2/images/{image}/members"): "GET, POST",
        ("POST", f"/image/v2/images/{image}/tags/t1"): "PUT, DELETE",
        ("PATCH", "/placement/resource_providers"): "GET, POST",
        ("POST", f"/placement/resource_providers/{rp}"): "GET, DELETE, PUT",
        ("POST", f"/placement/allocations/{consumer}"): "GET, PUT, DELETE",
        ("PATCH", f"/placement/resource_providers/{rp}/inventories"): "GET, POST, PUT, DELETE",
    }
    got = {}
    for (method, path), _ in expected.items():
        answer = world.send("admin", method, path, headers={"Accept": "application/json"})
        got[(method, path)] = f"{answer.status_code} {answer.headers.get('allow')}"
    assert got == {key: f"405 {allow}" for key, allow in expected.items()}


def test_json_bodies_are_utf8_as_oslo_reads_them(world: World) -> None:
    """Glance and Placement read bodies with oslo.serialization (UTF-8 first): a byte-order
    mark or a UTF-16 body is malformed JSON, with their own texts; so is nesting deeper than
    the parser goes."""
    body = {"name": "bom-or-utf16"}
    encoded = {
        "bom": (b"\xef\xbb\xbf" + json.dumps(body).encode(), "Unexpected UTF-8 BOM"),
        "utf-16": (json.dumps(body).encode("utf-16"), "'utf-8' codec can't decode byte 0xff"),
        "deep": (b"[" * 100_000, "maximum recursion depth exceeded"),
    }
    for name, (content, why) in encoded.items():
        glance = world.send("demo", "POST", "/image/v2/images", content)
        assert glance.status_code == 400, (name, glance.text)
        assert "Malformed JSON in request body." in glance.text
        placement = world.send(
            "admin",
            "POST",
            "/placement/resource_providers",
            content,
            headers={"OpenStack-API-Version": "placement 1.20", "Accept": "application/json"},
        )
        assert placement.status_code == 400, (name, placement.text)
        assert placement.json()["errors"][0]["detail"].startswith(
            f"The server could not comply with the request since it is either malformed or "
            f"otherwise incorrect.\n\n Malformed JSON: {why}"
        ), placement.text


def test_placement_repeated_version_header_folds(world: World) -> None:
    """A repeated ``OpenStack-API-Version`` reaches Placement folded with ',' (WSGI), and
    microversion_parse takes the last ``placement`` item."""
    sent = [
        ("X-Auth-Token", world.tokens["admin"]),
        ("OpenStack-API-Version", "placement 1.10"),
        ("OpenStack-API-Version", "compute 2.5, placement 1.20"),
    ]
    answer = world.http.get("/placement/resource_providers", headers=sent)
    assert answer.status_code == 200, answer.text
    assert answer.headers["OpenStack-API-Version"] == "placement 1.20"


def test_a_client_that_hangs_up_mid_body_is_no_sim_error(world: World) -> None:
    """A request whose Content-Length promises more than the client sends before it hangs
    up: nobody gets an answer, and the sim must not count it as one of its own bugs; a
    Content-Length past the body limit is the service's 413 at once."""
    url = httpx.URL(world.base)
    before = world.lab.sim.health()["internal_errors"]
    for path in ("/identity/v3/projects", "/image/v2/images", "/placement/resource_providers"):
        for declared, expected in ((100_000, b""), (10**12, b"HTTP/1.1 413 ")):
            with socket.create_connection((url.host, url.port or 80), timeout=10) as sock:
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: {url.host}\r\n"
                    f"X-Auth-Token: {world.tokens['admin']}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {declared}\r\n\r\n"
                )
                sock.sendall(head.encode() + b"{}")
                if expected:
                    assert sock.recv(64).startswith(expected), path
    # The sim notices each hang-up on its own; give it until a later request is answered
    # (and at most a few seconds) to count an error, if it would.
    for _ in range(20):
        world.send("admin", "GET", "/identity/v3/projects")
        if world.lab.sim.health()["internal_errors"] != before:
            break
        time.sleep(0.1)
    assert world.lab.sim.health()["internal_errors"] == before
