"""Parity with a real Zed Keystone (``shared/reference/parity/keystone-*.json``).

Deliberate differences, all listed here:
  - base URLs: the sim serves Keystone under ``http://127.0.0.1:PORT/identity``, the
    recording under ``http://controller:5000``; both are normalised to ``<keystone>``.
  - collection *contents* differ (the recorded cloud had more projects, users, services);
    collections are compared by the structure of their items, not by their items.
  - schema-validation 400s: the first line of jsonschema's message is compared; the rest
    quotes the schema, which the sim mirrors property for property but not byte for byte.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.parity import recordings as rec

RECORDED_BASE = "http://controller:5000"
CLIENT_HEADERS = ("content-type", "x-subject-token", "vary", "www-authenticate", "location")


@pytest.fixture(scope="module")
def world(sim_lab, admin):
    """The recorded cloud's objects that some requests name: myproject, a member user."""
    identity = admin.identity
    project = identity.find_project("myproject") or identity.create_project(
        name="myproject", domain_id="default", description="Demo Project"
    )
    user = identity.find_user("demo")
    member = identity.find_role("member")
    identity.assign_project_role_to_user(project, user, member)
    if not [s for s in identity.services() if s.type == "parity"]:
        # The recorded cloud's services had descriptions (``service create --description``).
        identity.create_service(name="parity", type="parity", description="Parity check")
    return {
        "admin_token": admin.session.get_token(),
        "member_token": sim_lab.connect("demo").session.get_token(),
        "demo_user_id": user.id,
        "base": sim_lab.credentials().auth_url.removesuffix("/v3/"),
        "password": sim_lab.secrets["ADMIN_PASS"],
    }


def replay(
    admin: Any,
    world: dict[str, Any],
    recording: rec.Recording,
    token: str = "admin",
    path_ids: dict[str, str] | None = None,
    body: Any = "recorded",
) -> Any:
    request = recording.request
    path = request["url"].removeprefix(RECORDED_BASE)
    for placeholder, value in (path_ids or {}).items():
        path = path.replace(placeholder, value)
    headers = {}
    for name, value in request["headers"].items():
        if name == "X-Auth-Token":
            value = world[f"{token}_token"]
        elif name == "X-Subject-Token":
            value = world["admin_token"] if value.startswith("<token len=183") else value
        headers[name] = value
    payload = request["body"] if body == "recorded" else body
    kwargs: dict[str, Any] = {}
    if isinstance(payload, dict):
        text = rec.json.dumps(payload).replace("<password>", world["password"])
        kwargs["data"] = text.encode()
    elif isinstance(payload, str):
        kwargs["data"] = payload.encode()
    elif isinstance(payload, bytes):
        kwargs["data"] = payload
    return admin.session.request(
        world["base"] + path,
        request["method"],
        headers=headers,
        authenticated=False,
        raise_exc=False,
        **kwargs,
    )


def check(
    recording: rec.Recording,
    response: Any,
    world: dict[str, Any],
    exact_message: bool = True,
    first_line_only: bool = False,
) -> None:
    bases = {RECORDED_BASE: "<keystone>", world["base"]: "<keystone>"}
    assert response.status_code == recording.status, response.text
    got_headers = {k.lower(): v for k, v in response.headers.items()}
    for name in CLIENT_HEADERS:
        if name in recording.headers:
            assert name in got_headers, f"missing header {name}"
            assert rec.normalize_text(got_headers[name], bases) == rec.normalize_text(
                recording.headers[name], bases
            ), name
    assert got_headers["x-openstack-request-id"].startswith("req-")
    if recording.response["body_kind"] != "json":
        if recording.body:
            assert rec.normalize_text(response.text, bases) == rec.normalize_text(
                recording.body, bases
            )
        return
    want = rec.normalize(recording.body, bases)
    got = rec.normalize(response.json(), bases)
    assert rec.shape(got) == rec.shape(want)
    if "error" in want:
        if first_line_only:
            assert (
                got["error"]["message"].splitlines()[0] == want["error"]["message"].splitlines()[0]
            )
            assert {**got["error"], "message": ""} == {**want["error"], "message": ""}
        elif exact_message:
            assert got == want
    elif "message" in want and exact_message:
        assert got == want


SIMPLE = [
    "keystone-root-300",
    "keystone-v3-200",
    "keystone-auth-tokens-201",
    "keystone-auth-tokens-401",
    "keystone-auth-tokens-nouser-401",
    "keystone-auth-tokens-badjson-400",
    "keystone-auth-tokens-unscoped-201",
    "keystone-auth-tokens-head-200",
    "keystone-auth-tokens-validate-200",
    "keystone-auth-tokens-validate-bogus-404",
    "keystone-auth-catalog-200",
    "keystone-domains-name-default-200",
    "keystone-endpoints-200",
    "keystone-projects-200",
    "keystone-roles-200",
    "keystone-services-200",
    "keystone-users-200",
    "keystone-projects-notoken-401",
]


@pytest.mark.parametrize("name", SIMPLE)
def test_same_answer_as_zed(name, admin, world) -> None:
    recording = rec.load(name)
    check(recording, replay(admin, world, recording), world)


def test_huge_body_json_and_html(admin, world) -> None:
    for name in (
        "keystone-auth-tokens-huge-413-accept-json",
        "keystone-auth-tokens-huge-413-accept-any",
    ):
        recording = rec.load(name)
        response = replay(admin, world, recording, body=b"x" * 2097152)
        check(recording, response, world)


def test_bogus_project_is_404(admin, world) -> None:
    recording = rec.load("keystone-projects-bogus-404")
    response = replay(admin, world, recording, path_ids={"<uuid:1>": uuid.uuid4().hex})
    check(recording, response, world)


def test_duplicate_project_is_409(admin, world) -> None:
    recording = rec.load("keystone-projects-create-duplicate-409")
    check(recording, replay(admin, world, recording), world)


def test_member_is_forbidden(admin, world) -> None:
    for name in ("keystone-projects-list-member-403", "keystone-users-create-member-403"):
        recording = rec.load(name)
        check(recording, replay(admin, world, recording, token="member"), world)


def test_user_without_name_is_400(admin, world) -> None:
    recording = rec.load("keystone-users-create-noname-400")
    check(recording, replay(admin, world, recording), world, first_line_only=True)


def test_role_assignments_with_names(admin, world) -> None:
    recording = rec.load("keystone-users-myuser-roles-200")
    response = replay(admin, world, recording, path_ids={"<uuid:1>": world["demo_user_id"]})
    check(recording, response, world)
