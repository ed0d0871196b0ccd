"""Keystone authentication and tokens, through the openstack CLI and keystoneauth/openstacksdk."""

from __future__ import annotations

import json

import pytest
from keystoneauth1 import exceptions as ka_exc
from keystoneauth1 import session as ka_session
from keystoneauth1.identity import v3

GENERIC_401 = "The request you have made requires authentication."


def _session(lab, **kwargs):
    creds = lab.credentials("admin")
    auth = v3.Password(auth_url=creds.auth_url, user_domain_name="Default", **kwargs)
    return ka_session.Session(auth=auth)


def test_token_issue_with_the_cli(osc) -> None:
    out = json.loads(osc("token issue -f json").stdout)
    assert set(out) == {"expires", "id", "project_id", "user_id"}
    assert out["id"].startswith("gAAAAA")
    # Project-scoped token with uuid ids: 183 characters, as a real Keystone's.
    assert len(out["id"]) == 183


def test_wrong_password_is_401_with_keystones_generic_message(osc) -> None:
    result = osc("--os-password wrong token issue", check=False)
    assert result.returncode == 1
    assert GENERIC_401 in result.stderr and "HTTP 401" in result.stderr


def test_unknown_user_and_unknown_project_look_the_same_as_a_wrong_password(sim_lab) -> None:
    for kwargs in (
        {
            "username": "nosuchuser",
            "password": "x",
            "project_name": "admin",
            "project_domain_name": "Default",
        },
        {
            "username": "admin",
            "password": sim_lab.secrets["ADMIN_PASS"],
            "project_name": "nosuchproject",
            "project_domain_name": "Default",
        },
    ):
        with pytest.raises(ka_exc.Unauthorized) as caught:
            _session(sim_lab, **kwargs).get_token()
        assert caught.value.http_status == 401


def test_error_body_and_headers_of_a_failed_login(admin, sim_lab) -> None:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "admin", "domain": {"name": "Default"}, "password": "WRONG"}
                },
            }
        }
    }
    url = sim_lab.credentials().auth_url + "auth/tokens"
    response = admin.session.post(url, json=body, authenticated=False, raise_exc=False)
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": 401, "message": GENERIC_401, "title": "Unauthorized"}
    }
    assert response.headers["WWW-Authenticate"].startswith('Keystone uri="http://127.0.0.1:')
    assert response.headers["x-openstack-request-id"].startswith("req-")


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"{", "Expecting to find valid JSON in request body."),
        (b'{"auth": {}}', "'identity' is a required property"),
        (
            b'{"auth": {"identity": {"methods": ["password"]}}}',
            "Expecting to find password in identity.",
        ),
        (
            b'{"auth": {"identity": {"methods": ["password"], '
            b'"password": {"user": {"password": "x"}}}}}',
            "Invalid input for field identity/password/user: id or name must be present.",
        ),
    ],
)
def test_malformed_auth_requests_are_400(admin, sim_lab, payload, message) -> None:
    url = sim_lab.credentials().auth_url + "auth/tokens"
    response = admin.session.post(
        url,
        data=payload,
        authenticated=False,
        raise_exc=False,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 400 and error["title"] == "Bad Request"
    assert error["message"].startswith(message)


def test_unsupported_auth_method_is_401(admin, sim_lab) -> None:
    url = sim_lab.credentials().auth_url + "auth/tokens"
    body = {"auth": {"identity": {"methods": ["totp"], "totp": {}}}}
    response = admin.session.post(url, json=body, authenticated=False, raise_exc=False)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == (
        "Attempted to authenticate with an unsupported method."
    )


def test_huge_body_is_refused_before_keystone_reads_it(admin, sim_lab) -> None:
    url = sim_lab.credentials().auth_url + "auth/tokens"
    response = admin.session.post(
        url,
        data=b"x" * 200_000,
        authenticated=False,
        raise_exc=False,
        headers={"Accept": "application/json", "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "413 Request Entity Too Large"


def test_unscoped_token_has_no_catalog_and_cannot_list_it(sim_lab, admin) -> None:
    session = _session(
        sim_lab, username="admin", password=sim_lab.secrets["ADMIN_PASS"], unscoped=True
    )
    access = session.auth.get_access(session)
    assert access.project_id is None and not access.service_catalog.catalog
    response = session.get(sim_lab.credentials().auth_url + "auth/catalog", raise_exc=False)
    assert response.status_code == 403
    projects = session.get(sim_lab.credentials().auth_url + "auth/projects").json()["projects"]
    assert "admin" in {p["name"] for p in projects}


def test_domain_and_system_scoped_tokens(sim_lab) -> None:
    password = sim_lab.secrets["ADMIN_PASS"]
    domain = _session(sim_lab, username="admin", password=password, domain_name="Default")
    with pytest.raises(ka_exc.Unauthorized):
        # admin has no role on the Default domain itself: Keystone refuses the scope
        domain.get_token()
    system = _session(sim_lab, username="admin", password=password, system_scope="all")
    access = system.auth.get_access(system)
    assert access.system_scoped and "admin" in access.role_names


def test_validate_check_and_revoke_a_token(admin, sim_lab) -> None:
    url = sim_lab.credentials().auth_url + "auth/tokens"
    victim = _session(
        sim_lab,
        username="admin",
        password=sim_lab.secrets["ADMIN_PASS"],
        project_name="admin",
        project_domain_name="Default",
    )
    token = victim.get_token()
    validated = admin.session.get(url, headers={"X-Subject-Token": token})
    assert validated.headers["X-Subject-Token"] == token
    assert validated.json()["token"]["project"]["name"] == "admin"
    assert admin.session.head(url, headers={"X-Subject-Token": token}).status_code == 200
    assert admin.session.delete(url, headers={"X-Subject-Token": token}).status_code == 204
    gone = admin.session.get(url, headers={"X-Subject-Token": token}, raise_exc=False)
    assert gone.status_code == 404
    assert gone.json()["error"]["message"] == "Failed to validate token"
    # ... and the revoked token no longer opens anything.
    used = admin.session.get(
        sim_lab.credentials().auth_url + "projects",
        raise_exc=False,
        headers={"X-Auth-Token": token},
        authenticated=False,
    )
    assert used.status_code == 401


def test_a_bogus_subject_token_is_not_recognized(admin, sim_lab) -> None:
    url = sim_lab.credentials().auth_url + "auth/tokens"
    response = admin.session.get(url, headers={"X-Subject-Token": "not-a-token"}, raise_exc=False)
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Could not recognize Fernet token"


def test_rescoping_keeps_the_audit_chain_and_expiry(sim_lab) -> None:
    first = _session(
        sim_lab, username="admin", password=sim_lab.secrets["ADMIN_PASS"], unscoped=True
    )
    unscoped = first.auth.get_access(first)
    rescoped_auth = v3.Token(
        auth_url=sim_lab.credentials().auth_url,
        token=unscoped.auth_token,
        project_name="admin",
        project_domain_name="Default",
    )
    rescoped = ka_session.Session(auth=rescoped_auth)
    access = rescoped.auth.get_access(rescoped)
    assert access.project_name == "admin"
    assert access.audit_chain_id == unscoped.audit_id
    assert access.expires == unscoped.expires


def test_no_token_is_401(admin, sim_lab) -> None:
    response = admin.session.get(
        sim_lab.credentials().auth_url + "projects", authenticated=False, raise_exc=False
    )
    assert response.status_code == 401
    assert response.json()["error"]["message"] == GENERIC_401
