"""Keystone's credentials, EC2 credentials and stored policies through the openstack CLI and
openstacksdk: ids, owners, who may see what, and the errors Zed answers."""

from __future__ import annotations

import hashlib
import json


def _identity(conn, method: str, path: str, **kwargs):
    """A raw Identity API call (the shapes tempest's clients send)."""
    return conn.session.request(
        path, method, endpoint_filter={"service_type": "identity"}, raise_exc=False, **kwargs
    )


def _ids(conn) -> tuple[str, str]:
    access = conn.session.auth.get_access(conn.session)
    return access.user_id, access.project_id


def test_credential_lifecycle_through_the_cli(osc, admin, unique) -> None:
    user_id, project_id = _ids(admin)
    blob = json.dumps({"access": unique("acc"), "secret": "s1"})
    created = json.loads(
        osc(
            f"credential create --type ec2 --project {project_id} {user_id} '{blob}' -f json"
        ).stdout
    )
    # an ec2 credential's id is the SHA-256 of its access key
    assert created["id"] == hashlib.sha256(json.loads(blob)["access"].encode()).hexdigest()
    assert created["user_id"] == user_id and created["project_id"] == project_id
    listed = json.loads(osc("credential list -f json").stdout)
    assert created["id"] in {c["ID"] for c in listed}
    new_blob = json.dumps({"access": json.loads(blob)["access"], "secret": "s2"})
    options = f"--user {user_id} --type ec2 --project {project_id}"
    osc(f"credential set {options} --data '{new_blob}' {created['id']}")
    shown = json.loads(osc(f"credential show {created['id']} -f json").stdout)
    assert json.loads(shown["blob"])["secret"] == "s2"
    osc(f"credential delete {created['id']}")
    gone = osc(f"credential show {created['id']}", check=False)
    assert gone.returncode == 1


def test_bad_credentials_are_400_and_leave_nothing(admin, unique) -> None:
    user_id, project_id = _ids(admin)
    before = _identity(admin, "GET", "/credentials").json()["credentials"]
    # an ec2 credential needs a project (the schema's oneOf) and a JSON blob with 'access'
    no_project = _identity(
        admin,
        "POST",
        "/credentials",
        json={"credential": {"type": "ec2", "user_id": user_id, "blob": '{"access": "a"}'}},
    )
    assert no_project.status_code == 400
    assert "is not valid under any of the given schemas" in no_project.json()["error"]["message"]
    for blob, message in (
        ("not json", "Invalid blob in credential"),
        ('{"secret": "x"}', "Expecting to find access in credential."),
        ("[]", "Expecting to find blob in credential."),
    ):
        body = {"type": "ec2", "user_id": user_id, "project_id": project_id, "blob": blob}
        answer = _identity(admin, "POST", "/credentials", json={"credential": body})
        assert answer.status_code == 400, blob
        assert answer.json()["error"]["message"].startswith(message)
    assert _identity(admin, "GET", "/credentials").json()["credentials"] == before
    missing = _identity(admin, "GET", "/credentials/nosuch")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Could not find credential: nosuch."


def test_an_ec2_blob_keeps_its_scope_and_id(admin, unique) -> None:
    user_id, project_id = _ids(admin)
    body = {
        "type": "ec2",
        "user_id": user_id,
        "project_id": project_id,
        "blob": json.dumps({"access": unique("a"), "trust_id": "t1"}),
    }
    made = _identity(admin, "POST", "/credentials", json={"credential": body}).json()
    cred_id = made["credential"]["id"]
    changed = _identity(
        admin,
        "PATCH",
        f"/credentials/{cred_id}",
        json={"credential": {"blob": json.dumps({"access": "a"})}},
    )
    assert changed.status_code == 400
    assert changed.json()["error"]["message"] == "trust_id can not be updated for credential"
    renamed = _identity(
        admin, "PATCH", f"/credentials/{cred_id}", json={"credential": {"id": "other"}}
    )
    assert renamed.status_code == 400
    assert _identity(admin, "GET", f"/credentials/{cred_id}").json() == made
    assert _identity(admin, "DELETE", f"/credentials/{cred_id}").status_code == 204


def test_ec2_credentials_of_a_member(demo, admin) -> None:
    user_id, project_id = _ids(demo)
    created = _identity(
        demo, "POST", f"/users/{user_id}/credentials/OS-EC2", json={"tenant_id": project_id}
    )
    assert created.status_code == 201
    cred = created.json()["credential"]
    assert cred["user_id"] == user_id and cred["tenant_id"] == project_id
    assert cred["access"] and cred["secret"] and cred["trust_id"] is None
    assert cred["links"]["self"].endswith(
        f"/v3/users/{user_id}/credentials/OS-EC2/{cred['access']}"
    )
    base = f"/users/{user_id}/credentials/OS-EC2"
    listed = _identity(demo, "GET", base).json()["credentials"]
    assert cred["access"] in {c["access"] for c in listed}
    shown = _identity(demo, "GET", f"{base}/{cred['access']}").json()["credential"]
    assert shown == cred
    # the v3 credentials API shows the same row, id = sha256(access); the member sees only
    # its own credentials there
    own = [c["id"] for c in _identity(demo, "GET", "/credentials").json()["credentials"]]
    assert own == [hashlib.sha256(cred["access"].encode()).hexdigest()]
    # another user's EC2 list is forbidden to a member
    admin_id, _ = _ids(admin)
    other = _identity(demo, "GET", f"/users/{admin_id}/credentials/OS-EC2")
    assert other.status_code == 403
    assert _identity(demo, "DELETE", f"{base}/{cred['access']}").status_code == 204
    again = _identity(demo, "GET", f"{base}/{cred['access']}")
    assert again.status_code == 404
    assert again.json()["error"]["message"].startswith("Could not find credential: ")


def test_ec2_credential_for_an_unknown_project_is_404(demo) -> None:
    user_id, _ = _ids(demo)
    base = f"/users/{user_id}/credentials/OS-EC2"
    answer = _identity(demo, "POST", base, json={"tenant_id": "nosuch"})
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == "Could not find project: nosuch."
    assert _identity(demo, "POST", base).json()["error"]["message"] == (
        "Could not find project: None."
    )
    assert _identity(demo, "GET", base).json()["credentials"] == []


def test_deleting_a_user_deletes_its_credentials(admin, unique) -> None:
    user = admin.identity.create_user(name=unique("u"), domain_id="default")
    body = {"type": "cert", "user_id": user.id, "blob": "x"}
    cred_id = _identity(admin, "POST", "/credentials", json={"credential": body}).json()[
        "credential"
    ]["id"]
    assert len(cred_id) == 32  # not ec2: a random id
    admin.identity.delete_user(user)
    assert _identity(admin, "GET", f"/credentials/{cred_id}").status_code == 404


def test_stored_policies(osc, admin, demo, tmp_path) -> None:
    rules = tmp_path / "policy.json"
    rules.write_text('{"a": "b"}')
    created = json.loads(osc(f"policy create --type application/json {rules} -f json").stdout)
    assert created["type"] == "application/json"
    policy_id = created["id"]
    osc(f"policy set --type text/plain {policy_id}")
    shown = json.loads(osc(f"policy show {policy_id} -f json").stdout)
    assert shown["type"] == "text/plain" and json.loads(shown["rules"]) == {"a": "b"}
    listed = _identity(admin, "GET", "/policies?type=text/plain").json()
    assert policy_id in {p["id"] for p in listed["policies"]}
    assert listed["links"]["self"].endswith("/v3/policies?type=text/plain")
    forbidden = _identity(demo, "GET", "/policies")
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["message"] == (
        "You are not authorized to perform the requested action: identity:list_policies."
    )
    missing_type = _identity(admin, "POST", "/policies", json={"policy": {"blob": "x"}})
    assert missing_type.status_code == 400
    osc(f"policy delete {policy_id}")
    gone = _identity(admin, "GET", f"/policies/{policy_id}")
    assert gone.json()["error"]["message"] == f"Could not find policy: {policy_id}."
