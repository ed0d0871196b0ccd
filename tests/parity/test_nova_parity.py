"""Parity with a real Zed Nova (``shared/reference/parity/nova-*.json``).

Each recording is replayed against the sim -- same method, path, microversion headers and
body -- and the answers compared after normalising ids, times, tokens and base URLs.
Deliberate differences, all listed here:
  - base URLs: the sim serves Nova under ``http://127.0.0.1:PORT/compute``, the recording
    under ``http://controller:8774``; both become ``<nova>`` (Keystone's ``<keystone>``).
  - flavors, hypervisors and services depend on the cloud: the recorded one had a custom
    ``m1.tiny`` (256 MB), a fake second compute ``fake1`` and ran on host ``vm``. Those are
    compared by structure (every key, every value's type) item by item, not by value.
  - the hypervisor's ``uptime`` text and ``cpu_info`` describe the recorded machine.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.parity import recordings as rec

RECORDED = {"http://controller:8774": "<nova>", "http://controller:5000": "<keystone>"}
HEADERS = (
    "content-type",
    "openstack-api-version",
    "x-openstack-nova-api-version",
    "vary",
    "www-authenticate",
)


@pytest.fixture(scope="module")
def world(sim_lab: Any, admin: Any) -> dict[str, Any]:
    sim_lab.ensure("nova-compute")
    conn = sim_lab.connect("admin")
    compute = conn.session.get_endpoint(service_type="compute", interface="public")
    root = compute.rstrip("/").removesuffix("/v2.1")
    identity = conn.session.get_endpoint(service_type="identity", interface="public")
    keystone = identity.rstrip("/").removesuffix("/v3")
    return {
        "conn": conn,
        "root": root,
        "token": conn.session.get_token(),
        "bases": {**RECORDED, root: "<nova>", keystone: "<keystone>", keystone + "/": "<keystone>"},
    }


def replay(
    world: dict[str, Any], recording: rec.Recording, ids: dict[str, str] | None = None
) -> Any:
    request = recording.request
    path = request["url"].removeprefix("http://controller:8774")
    for placeholder, value in (ids or {}).items():
        path = path.replace(placeholder, value)
    headers = {
        k: (world["token"] if k == "X-Auth-Token" else v) for k, v in request["headers"].items()
    }
    body = request["body"]
    return world["conn"].session.request(
        f"{world['root']}{path}",
        request["method"],
        headers=headers,
        data=json.dumps(body).encode() if body is not None else None,
        authenticated=False,
        raise_exc=False,
    )


def check_headers(recording: rec.Recording, response: Any, world: dict[str, Any]) -> None:
    bases = world["bases"]
    assert response.status_code == recording.status, response.text
    got = {k.lower(): v for k, v in response.headers.items()}
    for name in HEADERS:
        if name in recording.headers:
            assert name in got, f"missing header {name}"
            assert rec.normalize_text(got[name], bases) == rec.normalize_text(
                recording.headers[name], bases
            ), name
        else:
            assert name not in got, f"unexpected header {name}: {got[name]}"
    assert "x-compute-request-id" in got
    assert got["x-compute-request-id"] == got["x-openstack-request-id"]


@pytest.mark.parametrize(
    "name",
    [
        "nova-root-200",
        "nova-v21-200",
        "nova-v21-slash-200",
        "nova-v21-mv-latest-200",
        "nova-servers-notoken-401",
        "nova-servers-mv-unsupported-406",
        "nova-servers-bogus-404",
        "nova-servers-create-badflavor-400",
        "nova-servers-create-badflavor-mv21-400",
        "nova-availability-zone-200",
        "nova-keypairs-200",
        "nova-servers-200",
        "nova-limits-200",
    ],
)
def test_same_answer_as_zed(world: dict[str, Any], name: str) -> None:
    recording = rec.load(name)
    if "create-badflavor" in name:  # the recorded image id is the recorded cloud's
        image = world["conn"].image.find_image("cirros")
        recording.request["body"]["server"]["imageRef"] = image.id
    response = replay(world, recording)
    check_headers(recording, response, world)
    want = rec.normalize(recording.body, world["bases"])
    have = rec.normalize(response.json(), world["bases"])
    assert have == want


@pytest.mark.parametrize(
    "name",
    [
        "nova-flavors-200",
        "nova-flavors-detail-200",
        "nova-flavors-detail-mv275-200",
        "nova-hypervisors-200",
        "nova-hypervisors-detail-mv253-200",
        "nova-hypervisors-detail-mv288-200",
        "nova-services-200",
        "nova-services-mv253-200",
    ],
)
def test_same_structure_as_zed(world: dict[str, Any], name: str) -> None:
    recording = rec.load(name)
    response = replay(world, recording)
    check_headers(recording, response, world)
    (key,) = recording.body
    want = rec.strip(recording.body[key], {"cpu_info", "uptime"})
    have = rec.strip(response.json()[key], {"cpu_info", "uptime"})
    assert have, f"the sim listed no {key}"
    for item in have:
        assert rec.shape(item) == rec.shape(want[0]), item
