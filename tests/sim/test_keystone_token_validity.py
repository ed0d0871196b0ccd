"""A token stops working the moment Keystone's data says so, even right after it was checked.

The sim keeps what token checks read in memory until the database changes; these tests
validate a token first (so that it is remembered), then change something through the API
and expect the answers a real Keystone gives: ``GET /v3/auth/tokens`` 404 for the subject
token, 401 for a request made with it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from labkit.install import steps as st
from labkit.install.runner import apply_plan
from tests.conftest import private_sim
from tests.sim.keystone_helpers import admin_password_body


@dataclass
class Member:
    """A user with a password and the member role on a project of their own."""

    user: Any
    project: Any
    password: str


@pytest.fixture()
def member(admin) -> Member:
    identity = admin.identity
    suffix = os.urandom(4).hex()
    project = identity.create_project(name=f"validity-{suffix}", domain_id="default")
    password = f"pw-{suffix}"
    user = identity.create_user(name=f"validity-{suffix}", password=password, domain_id="default")
    identity.assign_project_role_to_user(project, user, identity.find_role("member"))
    return Member(user, project, password)


def _issue(admin, lab, user_id: str, password: str, project_id: str) -> Any:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"id": user_id, "password": password}},
            },
            "scope": {"project": {"id": project_id}},
        }
    }
    url = lab.credentials().auth_url + "auth/tokens"
    return admin.session.post(url, json=body, authenticated=False, raise_exc=False)


def _token(admin, lab, m: Member) -> str:
    response = _issue(admin, lab, m.user.id, m.password, m.project.id)
    assert response.status_code == 201, response.text
    return str(response.headers["X-Subject-Token"])


def _validate(admin, lab, token: str) -> int:
    url = lab.credentials().auth_url + "auth/tokens"
    response = admin.session.get(url, headers={"X-Subject-Token": token}, raise_exc=False)
    return int(response.status_code)


def _use(admin, lab, token: str) -> int:
    """A request made with the token: its own catalog."""
    response = admin.session.get(
        lab.credentials().auth_url + "auth/catalog",
        headers={"X-Auth-Token": token},
        authenticated=False,
        raise_exc=False,
    )
    return int(response.status_code)


def _checked(admin, lab, token: str) -> str:
    """Validate and use the token twice each, so the sim has it in memory."""
    for _ in range(2):
        assert _validate(admin, lab, token) == 200
        assert _use(admin, lab, token) == 200
    return token


def test_a_revoked_token_is_404_to_validate_and_401_to_use(sim_lab, admin, member) -> None:
    token = _checked(admin, sim_lab, _token(admin, sim_lab, member))
    url = sim_lab.credentials().auth_url + "auth/tokens"
    assert admin.session.delete(url, headers={"X-Subject-Token": token}).status_code == 204
    assert _validate(admin, sim_lab, token) == 404
    assert _use(admin, sim_lab, token) == 401


def test_disabling_the_user_invalidates_their_token(sim_lab, admin, member) -> None:
    token = _checked(admin, sim_lab, _token(admin, sim_lab, member))
    admin.identity.update_user(member.user, enabled=False)
    assert _validate(admin, sim_lab, token) == 404
    assert _use(admin, sim_lab, token) == 401
    # ... and a disabled user cannot log in, though the password is right.
    assert (
        _issue(admin, sim_lab, member.user.id, member.password, member.project.id).status_code
        == 401
    )


def test_removing_the_role_invalidates_the_token(sim_lab, admin, member) -> None:
    token = _checked(admin, sim_lab, _token(admin, sim_lab, member))
    identity = admin.identity
    identity.unassign_project_role_from_user(
        member.project, member.user, identity.find_role("member")
    )
    assert _validate(admin, sim_lab, token) == 404
    assert _use(admin, sim_lab, token) == 401
    assert (
        _issue(admin, sim_lab, member.user.id, member.password, member.project.id).status_code
        == 401
    )


def test_deleting_the_project_invalidates_the_token(sim_lab, admin, member) -> None:
    token = _checked(admin, sim_lab, _token(admin, sim_lab, member))
    admin.identity.delete_project(member.project)
    assert _validate(admin, sim_lab, token) == 404
    assert _use(admin, sim_lab, token) == 401


def test_disabling_the_project_invalidates_the_token(sim_lab, admin, member) -> None:
    token = _checked(admin, sim_lab, _token(admin, sim_lab, member))
    admin.identity.update_project(member.project, enabled=False)
    assert _validate(admin, sim_lab, token) == 404
    assert _use(admin, sim_lab, token) == 401


def test_a_new_password_replaces_the_old_one_at_once(sim_lab, admin, member) -> None:
    old = _checked(admin, sim_lab, _token(admin, sim_lab, member))
    admin.identity.update_user(member.user, password="a-new-password")
    assert _validate(admin, sim_lab, old) == 404
    assert (
        _issue(admin, sim_lab, member.user.id, member.password, member.project.id).status_code
        == 401
    )
    fresh = _issue(admin, sim_lab, member.user.id, "a-new-password", member.project.id)
    assert fresh.status_code == 201


def test_a_granted_role_shows_in_the_next_validation(sim_lab, admin, member) -> None:
    token = _checked(admin, sim_lab, _token(admin, sim_lab, member))
    url = sim_lab.credentials().auth_url + "auth/tokens"

    def roles() -> set[str]:
        body = admin.session.get(url, headers={"X-Subject-Token": token}).json()
        return {r["name"] for r in body["token"]["roles"]}

    assert "admin" not in roles()
    identity = admin.identity
    identity.assign_project_role_to_user(member.project, member.user, identity.find_role("admin"))
    assert "admin" in roles()


def test_a_user_granted_a_role_can_scope_to_the_project_at_once(sim_lab, admin, member) -> None:
    identity = admin.identity
    other = identity.create_project(name=f"later-{os.urandom(4).hex()}", domain_id="default")
    assert _issue(admin, sim_lab, member.user.id, member.password, other.id).status_code == 401
    identity.assign_project_role_to_user(other, member.user, identity.find_role("member"))
    assert _issue(admin, sim_lab, member.user.id, member.password, other.id).status_code == 201


# ---- key rotation and expiry change the sim's keys and config: a sim of their own ---------------


@pytest.fixture(scope="module")
def own_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    previous = os.environ.get("LABKIT_STATE_DIR")
    try:
        yield from private_sim(tmp_path_factory, "tokenvalidity")
    finally:
        if previous is None:
            os.environ.pop("LABKIT_STATE_DIR", None)
        else:
            os.environ["LABKIT_STATE_DIR"] = previous


def test_rotating_the_signing_key_out_makes_the_token_unrecognized(own_lab) -> None:
    admin = own_lab.connect("admin")
    creds = own_lab.credentials("admin")
    body = admin_password_body(creds.password)
    issued = admin.session.post(creds.auth_url + "auth/tokens", json=body, authenticated=False)
    token = _checked(admin, own_lab, issued.headers["X-Subject-Token"])
    # fernet_setup left keys 0 (staged) and 1 (primary, which signed the token). A rotation
    # keeps 1 as a secondary; the second one removes it (max_active_keys = 3).
    own_lab.rotate_fernet_keys(show=False)
    assert _validate(admin, own_lab, token) == 200
    own_lab.rotate_fernet_keys(show=False)
    url = creds.auth_url + "auth/tokens"
    gone = admin.session.get(url, headers={"X-Subject-Token": token}, raise_exc=False)
    assert gone.status_code == 404
    assert gone.json()["error"]["message"] == "Could not recognize Fernet token"
    assert _use(admin, own_lab, token) == 401


def test_an_expired_token_is_404_though_it_was_just_validated(own_lab) -> None:
    host = own_lab.plan_context().controller.name
    conf = "/etc/keystone/keystone.conf"
    apply_plan(
        [
            st.IniSet(
                title="Tokens live 3 seconds",
                host=host,
                path=conf,
                settings=(("token", "expiration", "3"),),
            ),
            st.Service(title="Restart keystone", host=host, name="keystone", restart_on=(conf,)),
        ],
        own_lab.runner(),
    )
    admin = own_lab.connect("admin")
    creds = own_lab.credentials("admin")
    body = admin_password_body(creds.password)
    url = creds.auth_url + "auth/tokens"

    def issue() -> str:
        response = admin.session.post(url, json=body, authenticated=False)
        return str(response.headers["X-Subject-Token"])

    token = _checked(admin, own_lab, issue())
    # The steady clock moves a second per state-changing request; a real clock by itself.
    deadline = time.monotonic() + 30
    while _validate(admin, own_lab, token) == 200 and time.monotonic() < deadline:
        issue()
        time.sleep(0.1)
    gone = admin.session.get(url, headers={"X-Subject-Token": token}, raise_exc=False)
    assert gone.status_code == 404
    assert gone.json()["error"]["message"] == "Failed to validate token"
    assert _use(admin, own_lab, token) == 401
