"""The ``token`` auth method: a token made from a token (rescoping), as Keystone makes it.

keystone/auth/plugins/token.py adds the parent's methods to ``token``, keeps the parent's
expiry, and chains audit ids: the new token's ``audit_ids`` are ``[its own, the parent's
audit chain id]``. The methods travel in the Fernet payload as a bitmask, so a validation
answers them too.
"""

from __future__ import annotations

import os

import pytest
from keystoneauth1 import session as ka_session
from keystoneauth1.identity import v3

from labkit.sim.keystone.fernet import methods_to_int
from labkit.tokens import open_token


@pytest.fixture(scope="module")
def second_project(admin):
    """A project besides ``admin`` on which the admin user holds a role, to rescope to."""
    identity = admin.identity
    project = identity.create_project(name=f"rescope-{os.urandom(3).hex()}", domain_id="default")
    identity.assign_project_role_to_user(
        project, identity.find_user("admin"), identity.find_role("member")
    )
    return project


def _password_access(lab):
    creds = lab.credentials("admin")
    auth = v3.Password(
        auth_url=creds.auth_url,
        username="admin",
        password=creds.password,
        user_domain_name="Default",
        project_name="admin",
        project_domain_name="Default",
    )
    session = ka_session.Session(auth=auth)
    return auth.get_access(session)


def _rescope(lab, token: str, project_id: str):
    auth = v3.Token(auth_url=lab.credentials().auth_url, token=token, project_id=project_id)
    session = ka_session.Session(auth=auth)
    return auth.get_access(session)


def test_a_rescoped_token_keeps_the_parents_methods_plus_token(
    sim_lab, admin, second_project
) -> None:
    parent = _password_access(sim_lab)
    url = sim_lab.credentials().auth_url + "auth/tokens"
    body = {
        "auth": {
            "identity": {"methods": ["token"], "token": {"id": parent.auth_token}},
            "scope": {"project": {"id": second_project.id}},
        }
    }
    issued = admin.session.post(url, json=body, authenticated=False)
    assert issued.status_code == 201
    assert issued.json()["token"]["methods"] == ["password", "token"]
    token = issued.headers["X-Subject-Token"]
    assert admin.identity.validate_token(token).methods == ["password", "token"]


def test_the_payload_carries_the_merged_methods_bitmask(sim_lab, second_project) -> None:
    parent = _password_access(sim_lab)
    child = _rescope(sim_lab, parent.auth_token, second_project.id)
    opened = open_token(child.auth_token, sim_lab.fernet_keys())
    assert opened is not None
    assert opened.payload.methods == ["password", "token"]
    methods_field = next(f for f in opened.fields if f.name == "methods")
    assert methods_field.raw == str(methods_to_int(["password", "token"]))  # bits 1 and 2: 6
    assert opened.payload.project_id == second_project.id


def test_rescoping_chains_audit_ids_and_keeps_the_expiry(sim_lab, admin, second_project) -> None:
    parent = _password_access(sim_lab)
    child = _rescope(sim_lab, parent.auth_token, second_project.id)
    assert child.project_id == second_project.id
    assert child.audit_chain_id == parent.audit_id
    assert child.audit_id != parent.audit_id
    assert child.expires == parent.expires
    validated = admin.identity.validate_token(child.auth_token)
    assert validated.audit_ids == [child.audit_id, parent.audit_id]


def test_rescoping_a_rescoped_token_keeps_the_first_audit_id_as_the_chain(
    sim_lab, admin, second_project
) -> None:
    first = _password_access(sim_lab)
    second = _rescope(sim_lab, first.auth_token, second_project.id)
    third = _rescope(sim_lab, second.auth_token, first.project_id)
    assert third.project_id == first.project_id
    validated = admin.identity.validate_token(third.auth_token)
    assert validated.audit_ids == [third.audit_id, first.audit_id]
    assert validated.methods == ["password", "token"]
    opened = open_token(third.auth_token, sim_lab.fernet_keys())
    assert opened is not None and opened.payload.methods == ["password", "token"]
