"""Parity with a real Zed Placement (``shared/reference/parity/placement-*.json``).

Each recording is replayed against the sim -- same method, path, headers -- and the answers
compared after normalising ids and tokens. Deliberate differences, all listed here:
  - mount point: the recorded Placement answered at the root of ``controller:8778``; the sim
    serves it under ``/placement`` (DevStack style), so its links read
    ``/placement/resource_providers/...`` -- Placement's own behaviour under a WSGI
    SCRIPT_NAME. Links are normalised to the recorded form.
  - the provider list: the recorded cloud held two providers, ``controller`` (a libvirt
    compute) and ``fake1`` (a fake-driver compute), with their generations. The test makes
    providers of those names if they are missing and compares each one's structure with its
    recorded namesake (other tests may have made more providers).
  - uwsgi's ``Connection: close`` is not sent; Content-Length is not compared.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.parity import recordings as rec
from tests.sim import placement_helpers as ph

HEADERS = ("content-type", "openstack-api-version", "vary")
BASES = {"/placement/resource_providers": "/resource_providers"}


@pytest.fixture(scope="module")
def placement(sim_lab: Any, admin: Any) -> Any:
    sim_lab.ensure("placement")
    return admin


def replay(conn: Any, recording: rec.Recording, token: bool) -> Any:
    request = recording.request
    path = request["url"].removeprefix("http://controller:8778")
    headers = {k: v for k, v in request["headers"].items() if k != "X-Auth-Token"}
    return conn.session.request(
        conn.placement.get_endpoint().rstrip("/") + path,
        request["method"],
        headers=headers,
        authenticated=token,
        raise_exc=False,
    )


def check_headers(recording: rec.Recording, response: Any) -> None:
    assert response.status_code == recording.status, response.text
    got = {k.lower(): v for k, v in response.headers.items()}
    for name in HEADERS:
        if name in recording.headers:
            assert got.get(name) == recording.headers[name], name
        else:
            assert name not in got, f"unexpected header {name}: {got[name]}"
    assert ("x-openstack-request-id" in got) == ("x-openstack-request-id" in recording.headers)


def test_the_version_document_is_zeds(placement: Any) -> None:
    recording = rec.load("placement-root-200")
    response = replay(placement, recording, token=False)
    check_headers(recording, response)
    assert response.json() == recording.body


def test_the_provider_list_has_the_recorded_structure(placement: Any) -> None:
    recording = rec.load("placement-resource-providers-200")
    wanted = {p["name"]: p for p in recording.body["resource_providers"]}
    for name in wanted:
        found = ph.request(placement, "GET", "/resource_providers", "1.14", params={"name": name})
        if not found.json()["resource_providers"]:
            ph.new_provider(placement, name)
    response = replay(placement, recording, token=True)
    check_headers(recording, response)
    body = response.json()
    assert set(body) == set(recording.body)
    ours = {p["name"]: p for p in body["resource_providers"]}
    for name, provider in wanted.items():
        mine = rec.normalize(ours[name], BASES)
        theirs = rec.normalize(provider, BASES)
        assert rec.shape(mine) == rec.shape(theirs), name
        assert mine["links"] == theirs["links"]
        assert mine["parent_provider_uuid"] is None
        assert mine["root_provider_uuid"] == mine["uuid"]


def test_an_unknown_provider_is_placements_404(placement: Any) -> None:
    missing = str(uuid.uuid4())
    response = ph.request(placement, "GET", f"/resource_providers/{missing}", "1.14")
    assert response.status_code == 404
    assert response.headers["openstack-api-version"] == "placement 1.14"
    assert ph.error(response) == {
        "status": 404,
        "title": "Not Found",
        "detail": "The resource could not be found.\n\n No resource provider with uuid "
        f"{missing} found  ",
        "request_id": response.headers["x-openstack-request-id"],
    }
