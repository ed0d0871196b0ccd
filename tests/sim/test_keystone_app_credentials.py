"""Application credentials through the openstack CLI, openstacksdk and keystoneauth's
``v3applicationcredential`` plugin: made from a project token, logged in with, restricted to
their roles, and gone with their tokens when deleted."""

from __future__ import annotations

import json
from datetime import UTC, timedelta

from keystoneauth1 import session as ks_session
from keystoneauth1.exceptions.http import NotFound as KsNotFound
from keystoneauth1.exceptions.http import Unauthorized as KsUnauthorized
from keystoneauth1.identity import v3


def _identity(conn, method: str, path: str, **kwargs):
    return conn.session.request(
        path, method, endpoint_filter={"service_type": "identity"}, raise_exc=False, **kwargs
    )


def _login(auth_url: str, **kwargs) -> dict:
    """A token body got with an application credential (keystoneauth's own plugin)."""
    auth = v3.ApplicationCredential(auth_url=auth_url, **kwargs)
    access = auth.get_access(ks_session.Session(auth=auth))
    return access._data["token"]


def test_app_credential_lifecycle_through_the_cli(osc, sim_lab, unique) -> None:
    name = unique("app")
    created = json.loads(
        osc(
            f"application credential create --description d {name} -f json", cloud="lab-demo"
        ).stdout
    )
    assert created["Name"] == name and created["Secret"]
    assert created["Unrestricted"] is False
    # without roles asked for: those of the token it was made with (demo: member, reader)
    assert {r["name"] for r in created["Roles"]} == {"member", "reader"}
    listed = json.loads(osc("application credential list -f json", cloud="lab-demo").stdout)
    assert name in {c["Name"] for c in listed}
    shown = json.loads(osc(f"application credential show {name} -f json", cloud="lab-demo").stdout)
    assert "Secret" not in shown and shown["ID"] == created["ID"]
    auth_url = sim_lab.credentials("demo").auth_url
    token = _login(
        auth_url,
        application_credential_id=created["ID"],
        application_credential_secret=created["Secret"],
    )
    demo_project = sim_lab.credentials("demo").project
    assert token["project"]["name"] == demo_project
    assert token["methods"] == ["application_credential"]
    assert token["application_credential"] == {
        "id": created["ID"],
        "name": name,
        "restricted": True,
    }
    assert list(token)[-1] == "application_credential"  # after the catalog, as Keystone
    osc(f"application credential delete {name}", cloud="lab-demo")
    try:
        _login(
            auth_url,
            application_credential_id=created["ID"],
            application_credential_secret=created["Secret"],
        )
    except KsNotFound as exc:
        assert "Could not find Application Credential" in str(exc)
    else:
        raise AssertionError("a deleted application credential still logs in")


def test_roles_secret_expiry_and_login_by_name(admin, demo, sim_lab, unique) -> None:
    user_id = demo.session.auth.get_access(demo.session).user_id
    base = f"/users/{user_id}/application_credentials"
    # a role the token does not carry is refused
    admin_role = admin.identity.find_role("admin")
    refused = _identity(
        demo,
        "POST",
        base,
        json={"application_credential": {"name": unique("a"), "roles": [{"id": admin_role.id}]}},
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == (
        "Invalid application credential: Cannot create an application credential with "
        "unassigned role"
    )
    # a past expiry, a malformed one
    for stamp, message in (
        ("2000-01-01T00:00:00", "The 'expires_at' must not be before now."),
        ("tomorrow", "Timestamp not in expected format."),
    ):
        answer = _identity(
            demo,
            "POST",
            base,
            json={"application_credential": {"name": unique("a"), "expires_at": stamp}},
        )
        assert answer.status_code == 400 and answer.json()["error"]["message"].startswith(message)
    # the sim's clock (deterministic in tests): a token's issued_at is its "now"
    now = demo.session.auth.get_access(demo.session).issued
    expires = (now.astimezone(UTC) + timedelta(minutes=30)).replace(tzinfo=None)
    name = unique("named")
    made = _identity(
        demo,
        "POST",
        base,
        json={
            "application_credential": {
                "name": name,
                "secret": "my-secret",
                "expires_at": expires.isoformat(),
                "roles": [{"name": "member"}],
            }
        },
    )
    assert made.status_code == 201, made.text
    cred = made.json()["application_credential"]
    assert cred["expires_at"] == expires.isoformat() and cred["secret"] == "my-secret"
    assert [r["name"] for r in cred["roles"]] == ["member"]
    duplicate = _identity(demo, "POST", base, json={"application_credential": {"name": name}})
    assert duplicate.status_code == 409
    auth_url = sim_lab.credentials("demo").auth_url
    token = _login(
        auth_url,
        application_credential_name=name,
        application_credential_secret="my-secret",
        username="demo",
        user_domain_name="Default",
    )
    assert [r["name"] for r in token["roles"]] == ["member"]
    # a token never outlives its credential
    assert token["expires_at"] <= expires.isoformat() + "Z"
    try:
        _login(
            auth_url, application_credential_id=cred["id"], application_credential_secret="wrong"
        )
    except KsUnauthorized:
        pass
    else:
        raise AssertionError("a wrong secret logged in")
    # the filter by name, and another user's credentials stay out of reach
    listed = _identity(demo, "GET", f"{base}?name={name}").json()["application_credentials"]
    assert [c["id"] for c in listed] == [cred["id"]]
    admin_id = admin.session.auth.get_access(admin.session).user_id
    other = _identity(demo, "GET", f"/users/{admin_id}/application_credentials")
    assert other.status_code == 403
    assert _identity(demo, "DELETE", f"{base}/{cred['id']}").status_code == 204
    gone = _identity(demo, "GET", f"{base}/{cred['id']}")
    assert (
        gone.json()["error"]["message"] == f"Could not find Application Credential: {cred['id']}."
    )


def test_a_restricted_credential_cannot_make_another(demo, sim_lab, unique) -> None:
    user_id = demo.session.auth.get_access(demo.session).user_id
    base = f"/users/{user_id}/application_credentials"
    cred = _identity(
        demo, "POST", base, json={"application_credential": {"name": unique("r")}}
    ).json()["application_credential"]
    auth = v3.ApplicationCredential(
        auth_url=sim_lab.credentials("demo").auth_url,
        application_credential_id=cred["id"],
        application_credential_secret=cred["secret"],
    )
    sess = ks_session.Session(auth=auth)
    answer = sess.post(
        base,
        endpoint_filter={"service_type": "identity"},
        json={"application_credential": {"name": unique("r2")}},
        raise_exc=False,
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["message"] == (
        "You are not authorized to perform the requested action: Using method "
        "'application_credential' is not allowed for managing additional application "
        "credentials.."
    )
    # asking for a scope with an application credential is a 401
    body = {
        "auth": {
            "identity": {
                "methods": ["application_credential"],
                "application_credential": {"id": cred["id"], "secret": cred["secret"]},
            },
            "scope": {"system": {"all": True}},
        }
    }
    scoped = _identity(demo, "POST", "/auth/tokens", json=body, authenticated=False)
    assert scoped.status_code == 401
    assert _identity(demo, "DELETE", f"{base}/{cred['id']}").status_code == 204
