"""A password login, every way it can end: the bcrypt check decides first.

These tests send the logins whose other steps would fail too -- no role on the scope, a
disabled user, no scope at all -- and expect what Keystone answers when it checks the
password before anything else: the generic 401 for a wrong password whatever else is wrong,
and for a right one the answer of the steps after it. (They pinned these answers while the
sim tried making the token alongside the check; see ``labkit.sim.keystone.tokens``.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest

GENERIC_401 = "The request you have made requires authentication."


@dataclass
class Learner:
    """A user with a password, a default project, and (at first) no role anywhere."""

    user: Any
    project: Any
    password: str


@pytest.fixture()
def learner(admin) -> Learner:
    identity = admin.identity
    suffix = os.urandom(4).hex()
    project = identity.create_project(name=f"login-{suffix}", domain_id="default")
    password = f"pw-{suffix}"
    user = identity.create_user(
        name=f"login-{suffix}",
        password=password,
        domain_id="default",
        default_project_id=project.id,
    )
    return Learner(user, project, password)


def _login(admin, lab, user_id: str, password: str, scope: Any) -> Any:
    """POST /v3/auth/tokens with a password; ``scope`` None sends none."""
    auth: dict[str, Any] = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"id": user_id, "password": password}},
        }
    }
    if scope is not None:
        auth["scope"] = scope
    url = lab.credentials().auth_url + "auth/tokens"
    return admin.session.post(url, json={"auth": auth}, authenticated=False, raise_exc=False)


def _is_generic_401(response: Any) -> bool:
    return response.status_code == 401 and response.json() == {
        "error": {"code": 401, "message": GENERIC_401, "title": "Unauthorized"}
    }


def test_no_role_on_the_project_is_401_with_or_without_the_right_password(
    sim_lab, admin, learner
) -> None:
    scope = {"project": {"id": learner.project.id}}
    assert _is_generic_401(_login(admin, sim_lab, learner.user.id, learner.password, scope))
    assert _is_generic_401(_login(admin, sim_lab, learner.user.id, "wrong", scope))
    member = admin.identity.find_role("member")
    admin.identity.assign_project_role_to_user(learner.project, learner.user, member)
    right = _login(admin, sim_lab, learner.user.id, learner.password, scope)
    assert right.status_code == 201, right.text
    assert right.json()["token"]["project"]["id"] == learner.project.id
    assert _is_generic_401(_login(admin, sim_lab, learner.user.id, "wrong", scope))


def test_a_disabled_user_is_401_with_or_without_the_right_password(sim_lab, admin, learner) -> None:
    member = admin.identity.find_role("member")
    admin.identity.assign_project_role_to_user(learner.project, learner.user, member)
    scope = {"project": {"id": learner.project.id}}
    assert _login(admin, sim_lab, learner.user.id, learner.password, scope).status_code == 201
    admin.identity.update_user(learner.user, enabled=False)
    assert _is_generic_401(_login(admin, sim_lab, learner.user.id, learner.password, scope))
    assert _is_generic_401(_login(admin, sim_lab, learner.user.id, "wrong", scope))
    admin.identity.update_user(learner.user, enabled=True)
    assert _login(admin, sim_lab, learner.user.id, learner.password, scope).status_code == 201


def test_a_login_without_a_scope_gets_the_default_project_where_the_user_has_a_role(
    sim_lab, admin, learner
) -> None:
    # No role on the default project yet: an unscoped token, without a catalog.
    unscoped = _login(admin, sim_lab, learner.user.id, learner.password, None)
    assert unscoped.status_code == 201, unscoped.text
    assert "project" not in unscoped.json()["token"]
    assert "catalog" not in unscoped.json()["token"]
    member = admin.identity.find_role("member")
    admin.identity.assign_project_role_to_user(learner.project, learner.user, member)
    scoped = _login(admin, sim_lab, learner.user.id, learner.password, None)
    assert scoped.status_code == 201, scoped.text
    body = scoped.json()["token"]
    assert body["project"]["id"] == learner.project.id
    assert "member" in [r["name"] for r in body["roles"]]
    assert body["catalog"], "a project-scoped token carries the catalog"
    assert _is_generic_401(_login(admin, sim_lab, learner.user.id, "wrong", None))
    # "unscoped" asks for no project even though there is a default one.
    explicit = _login(admin, sim_lab, learner.user.id, learner.password, "unscoped")
    assert explicit.status_code == 201, explicit.text
    assert "project" not in explicit.json()["token"]


def test_nocatalog_leaves_the_catalog_out_of_a_password_login(sim_lab, admin, learner) -> None:
    member = admin.identity.find_role("member")
    admin.identity.assign_project_role_to_user(learner.project, learner.user, member)
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"id": learner.user.id, "password": learner.password}},
            },
            "scope": {"project": {"id": learner.project.id}},
        }
    }
    url = sim_lab.credentials().auth_url + "auth/tokens?nocatalog"
    response = admin.session.post(url, json=body, authenticated=False, raise_exc=False)
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert "catalog" not in token
    assert token["project"]["id"] == learner.project.id
    assert token["methods"] == ["password"]
