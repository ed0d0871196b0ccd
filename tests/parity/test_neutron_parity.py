"""Parity with a real Zed Neutron (``shared/reference/parity/neutron-*.json``).

Every recording is replayed against the sim -- same method, path and headers -- and the
answers compared after normalising ids, times, tokens and base URLs. Deliberate
differences, all listed here:
  - base URLs: the sim serves Neutron under ``http://127.0.0.1:PORT/networking``, the
    recording under ``http://controller:9696``; both are normalised to ``<neutron>``;
  - ``GET /v2.0/networks``: the recording was made before any network existed, the sim's
    lab already has its provider network. The list's own keys are compared, and an empty
    list is compared exactly with a filter that matches nothing;
  - Content-Length and ``Connection: close`` (uwsgi's ``add-header``) are not compared.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.parity import recordings as rec

RECORDED = {"http://controller:9696": "<neutron>"}
CLIENT_HEADERS = ("content-type", "www-authenticate", "location")


@pytest.fixture(scope="module")
def world(sim_lab: Any, admin: Any) -> dict[str, Any]:
    sim_lab.ensure("networking")
    root = f"http://127.0.0.1:{sim_lab.sim_port}/networking"
    return {
        "root": root,
        "token": admin.session.get_token(),
        "bases": {**RECORDED, root: "<neutron>"},
    }


def replay(
    admin: Any, world: dict[str, Any], recording: rec.Recording, path: str | None = None
) -> Any:
    request = recording.request
    path = path or request["url"].removeprefix("http://controller:9696")
    headers = {
        k: (world["token"] if k == "X-Auth-Token" else v) for k, v in request["headers"].items()
    }
    return admin.session.request(
        f"{world['root']}{path}",
        request["method"],
        headers=headers,
        authenticated=False,
        raise_exc=False,
    )


def check_headers(recording: rec.Recording, response: Any, world: dict[str, Any]) -> None:
    assert response.status_code == recording.status, response.text
    got = {k.lower(): v for k, v in response.headers.items()}
    for name in CLIENT_HEADERS:
        if name in recording.headers:
            assert rec.normalize_text(got[name], world["bases"]) == rec.normalize_text(
                recording.headers[name], world["bases"]
            ), name
        else:
            assert name not in got, f"unexpected header {name}: {got[name]}"
    assert ("x-openstack-request-id" in got) == ("x-openstack-request-id" in recording.headers)


def same_body(recording: rec.Recording, response: Any, world: dict[str, Any]) -> None:
    want = rec.normalize(recording.body, world["bases"])
    have = rec.normalize(response.json(), world["bases"])
    assert have == want


@pytest.mark.parametrize("name", ["neutron-root-200", "neutron-v20-404", "neutron-extensions-200"])
def test_exactly_as_recorded(admin: Any, world: dict[str, Any], name: str) -> None:
    recording = rec.load(name)
    response = replay(admin, world, recording)
    check_headers(recording, response, world)
    same_body(recording, response, world)


def test_unknown_network(admin: Any, world: dict[str, Any]) -> None:
    recording = rec.load("neutron-networks-bogus-404")
    response = replay(admin, world, recording, f"/v2.0/networks/{uuid.uuid4()}")
    check_headers(recording, response, world)
    same_body(recording, response, world)


def test_network_list(admin: Any, world: dict[str, Any]) -> None:
    recording = rec.load("neutron-networks-200")
    response = replay(admin, world, recording)
    check_headers(recording, response, world)
    assert set(response.json()) == set(recording.body)
    assert [n["name"] for n in response.json()["networks"]] == ["provider"]
    empty = replay(admin, world, recording, "/v2.0/networks?name=nothing-by-that-name")
    check_headers(recording, empty, world)
    same_body(recording, empty, world)


def test_every_recording_is_replayed() -> None:
    covered = {
        "neutron-root-200",
        "neutron-v20-404",
        "neutron-extensions-200",
        "neutron-networks-bogus-404",
        "neutron-networks-200",
    }
    assert set(rec.names("neutron-")) == covered
