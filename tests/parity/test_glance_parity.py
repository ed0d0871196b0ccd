"""Parity with a real Zed Glance (``shared/reference/parity/glance-*.json``).

Every recording is replayed against the sim -- same method, path (with the sim's ids),
headers and body -- and the answers compared after normalising ids, times, tokens and base
URLs. Deliberate differences, all listed here:
  - base URLs: the sim serves Glance under ``http://127.0.0.1:PORT/image`` and Keystone under
    ``.../identity``; the recording under ``http://controller:9292`` and ``:5000``. Both are
    normalised to ``<glance>``/``<keystone>`` (version hrefs, ``Location``,
    ``WWW-Authenticate``).
  - the full image list: the recorded cloud held other images (a kernel, a ramdisk, shared
    "big" images). The test makes images of the same names and properties and compares each
    one's structure with its recorded namesake, plus the list's own keys; images other tests
    made are ignored (they may also fill more than a page of 25, adding a ``next`` link).
  - ``?limit=1`` shows the newest image: the test uploads a fresh ``parity-img`` first.
  - Content-Length is not compared (the sim's ids and URLs have other lengths).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.parity import recordings as rec
from tests.sim import glance_helpers as gh

RECORDED = {"http://controller:9292": "<glance>", "http://controller:5000": "<keystone>"}
CLIENT_HEADERS = (
    "content-type",
    "location",
    "openstack-image-import-methods",
    "openstack-image-store-ids",
    "www-authenticate",
    "accept-patch",
    "content-range",
    "content-md5",
)
PARITY_DATA = b"parity-recording\n" * 61681  # what the recording uploaded (1048577 bytes)


@pytest.fixture(scope="module")
def world(glance_lab: Any, admin: Any) -> dict[str, Any]:
    root = gh.base(glance_lab)
    return {
        "lab": glance_lab,
        "token": admin.session.get_token(),
        "bases": {**RECORDED, f"{root}/image": "<glance>", f"{root}/identity": "<keystone>"},
    }


def replay(
    admin: Any,
    world: dict[str, Any],
    recording: rec.Recording,
    ids: dict[str, str] | None = None,
    body: Any = "recorded",
) -> Any:
    request = recording.request
    path = request["url"].removeprefix("http://controller:9292")
    for placeholder, value in (ids or {}).items():
        path = path.replace(placeholder, value)
    headers = {
        k: (world["token"] if k == "X-Auth-Token" else v) for k, v in request["headers"].items()
    }
    payload = request["body"] if body == "recorded" else body
    data = (
        json.dumps(payload).encode()
        if isinstance(payload, dict)
        else (payload.encode() if isinstance(payload, str) else payload)
    )
    return admin.session.request(
        f"{gh.image_url(world['lab'])}{path}",
        request["method"],
        headers=headers,
        data=data,
        authenticated=False,
        raise_exc=False,
    )


def check(
    recording: rec.Recording, response: Any, world: dict[str, Any], compare_body: bool = True
) -> None:
    bases = world["bases"]
    assert response.status_code == recording.status, response.text
    got = {k.lower(): v for k, v in response.headers.items()}
    for name in CLIENT_HEADERS:
        if name in recording.headers:
            assert name in got, f"missing header {name}"
            assert rec.normalize_text(got[name], bases) == rec.normalize_text(
                recording.headers[name], bases
            ), name
        else:
            assert name not in got, f"unexpected header {name}: {got[name]}"
    assert ("x-openstack-request-id" in got) == ("x-openstack-request-id" in recording.headers)
    if not compare_body:
        return
    if recording.response["body_kind"] == "json":
        want = rec.normalize(recording.body, bases)
        have = rec.normalize(response.json(), bases)
        assert have == want
    else:
        assert rec.normalize_text(response.text, bases) == rec.normalize_text(recording.body, bases)


def _parity_image(admin: Any, world: dict[str, Any], upload: bool) -> str:
    response = replay(admin, world, rec.load("glance-images-create-201"))
    image_id = str(response.json()["id"])
    if upload:
        replay(
            admin,
            world,
            rec.load("glance-image-upload-204"),
            {"<uuid:1>": image_id},
            body=PARITY_DATA,
        )
    return image_id


@pytest.mark.parametrize(
    "name",
    [
        "glance-root-300",
        "glance-versions-200",
        "glance-images-notoken-401",
        "glance-info-import-200",
        "glance-info-stores-200",
        "glance-schemas-image-200",
        "glance-images-create-baddiskformat-400-accept-json",
    ],
)
def test_same_answer_as_zed(admin: Any, world: dict[str, Any], name: str) -> None:
    recording = rec.load(name)
    check(recording, replay(admin, world, recording), world)


def test_an_image_from_create_to_delete(admin: Any, world: dict[str, Any]) -> None:
    created = rec.load("glance-images-create-201")
    response = replay(admin, world, created)
    check(created, response, world)
    ids = {"<uuid:1>": response.json()["id"]}
    check(
        rec.load("glance-image-get-queued-200"),
        replay(admin, world, rec.load("glance-image-get-queued-200"), ids),
        world,
    )
    upload = rec.load("glance-image-upload-204")
    check(upload, replay(admin, world, upload, ids, body=PARITY_DATA), world)
    for name in (
        "glance-image-get-active-200",
        "glance-image-download-range-206",
        "glance-image-patch-200",
        "glance-image-patch-badtype-415-accept-json",
        "glance-image-patch-badtype-415-accept-any",
        "glance-image-delete-204",
        "glance-image-deleted-404-accept-json",
    ):
        recording = rec.load(name)
        check(recording, replay(admin, world, recording, ids), world)


def test_unknown_image_is_404_in_json_and_html(admin: Any, world: dict[str, Any]) -> None:
    for name in ("glance-image-bogus-404-accept-json", "glance-image-bogus-404-accept-any"):
        recording = rec.load(name)
        ids = {"<uuid:1>": "6d5b1e8f-2a3c-4b9d-8e7f-0a1b2c3d4e5f"}
        check(recording, replay(admin, world, recording, ids), world)


def test_the_first_page_of_one(admin: Any, world: dict[str, Any]) -> None:
    _parity_image(admin, world, upload=True)
    recording = rec.load("glance-images-limit1-200")
    check(recording, replay(admin, world, recording), world)


def test_the_image_list_has_the_recorded_structure(admin: Any, world: dict[str, Any]) -> None:
    recording = rec.load("glance-images-list-200")
    wanted = {image["name"]: image for image in recording.body["images"]}
    made: dict[str, str] = {}
    for name, image in reversed(wanted.items()):  # oldest first, as they were made
        if name == "parity-img":
            continue
        extra = {k: v for k, v in image.items() if k not in recording.body["images"][0]}
        extra.pop("kernel_id", None), extra.pop("ramdisk_id", None)
        body = {
            "name": name,
            "disk_format": image["disk_format"],
            "container_format": image["container_format"],
            "visibility": image["visibility"],
            **extra,
        }
        if name == "tiny":
            body["kernel_id"], body["ramdisk_id"] = made["tiny-kernel"], made["tiny-ramdisk"]
        created = gh.request(admin, world["lab"], "POST", "/v2/images", json=body).json()
        made[name] = created["id"]
        gh.request(
            admin,
            world["lab"],
            "PUT",
            f"/v2/images/{created['id']}/file",
            data=b"\0" * 4096,
            headers={"Content-Type": "application/octet-stream"},
        )
    _parity_image(admin, world, upload=True)
    response = replay(admin, world, recording)
    check(recording, response, world, compare_body=False)
    body = response.json()
    # Other tests' images may fill more than the first page of 25: then there is a "next".
    assert set(body) - {"next"} == set(recording.body)
    ours: dict[str, Any] = {}
    for image in body["images"]:
        ours.setdefault(image["name"], image)
    for name, image in wanted.items():
        assert rec.shape(ours[name]) == rec.shape(image), name
