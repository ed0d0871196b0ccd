"""Keystone's endpoint groups (OS-EP-FILTER) and OAuth1 consumers (OS-OAUTH1) through the
openstack CLI and raw calls: what is kept, what is shown, and Zed's errors."""

from __future__ import annotations

import json


def _identity(conn, method: str, path: str, **kwargs):
    return conn.session.request(
        path, method, endpoint_filter={"service_type": "identity"}, raise_exc=False, **kwargs
    )


def test_endpoint_group_lifecycle(admin, demo, unique) -> None:
    base = "/OS-EP-FILTER/endpoint_groups"
    name = unique("eg")
    body = {"endpoint_group": {"name": name, "filters": {"interface": "public"}}}
    made = _identity(admin, "POST", base, json=body)
    assert made.status_code == 201
    group = made.json()["endpoint_group"]
    assert group["filters"] == {"interface": "public"} and group["description"] is None
    assert group["links"]["self"].endswith(f"/v3/OS-EP-FILTER/endpoint_groups/{group['id']}")
    assert _identity(admin, "HEAD", f"{base}/{group['id']}").status_code == 200
    listed = _identity(admin, "GET", f"{base}?name={name}").json()["endpoint_groups"]
    assert [g["id"] for g in listed] == [group["id"]]
    changed = _identity(
        admin,
        "PATCH",
        f"{base}/{group['id']}",
        json={"endpoint_group": {"description": "d", "filters": {"region_id": "RegionOne"}}},
    ).json()["endpoint_group"]
    assert changed["description"] == "d" and changed["filters"] == {"region_id": "RegionOne"}
    assert _identity(demo, "GET", base).status_code == 403
    assert _identity(admin, "DELETE", f"{base}/{group['id']}").status_code == 204
    gone = _identity(admin, "GET", f"{base}/{group['id']}")
    assert gone.json()["error"]["message"] == f"Could not find Endpoint Group: {group['id']}."


def test_endpoint_group_filters_are_checked(admin, unique) -> None:
    base = "/OS-EP-FILTER/endpoint_groups"
    before = _identity(admin, "GET", base).json()["endpoint_groups"]
    for filters, message in (
        ({}, "filters field is required and cannot be empty"),
        ({"url": "x"}, "Expecting to find service_id or region_id or interface in endpoint_group."),
    ):
        body = {"endpoint_group": {"name": unique("eg"), "filters": filters}}
        answer = _identity(admin, "POST", base, json=body)
        assert answer.status_code == 400
        assert answer.json()["error"]["message"].startswith(message)
    assert _identity(admin, "GET", base).json()["endpoint_groups"] == before


def test_consumers_show_their_secret_once(admin, demo) -> None:
    """Raw calls: the openstack CLI's consumer commands need oauthlib, not installed here."""
    base = "/OS-OAUTH1/consumers"
    made = _identity(admin, "POST", base, json={"consumer": {"description": "first"}})
    assert made.status_code == 201
    created = made.json()["consumer"]
    assert created["secret"] and created["description"] == "first"
    one = f"{base}/{created['id']}"
    shown = _identity(admin, "GET", one).json()["consumer"]
    assert "secret" not in shown and shown["description"] == "first"
    changed = _identity(admin, "PATCH", one, json={"consumer": {"description": "second"}})
    assert changed.json()["consumer"]["description"] == "second"
    listed = _identity(admin, "GET", base).json()["consumers"]
    assert created["id"] in {c["id"] for c in listed}
    assert all("secret" not in c for c in listed)
    secret = _identity(admin, "PATCH", one, json={"consumer": {"secret": "mine"}})
    assert secret.status_code == 400
    assert _identity(demo, "POST", base, json={"consumer": {}}).status_code == 403
    assert _identity(admin, "DELETE", one).status_code == 204
    gone = _identity(admin, "GET", one)
    assert gone.status_code == 404
    assert gone.json()["error"]["message"] == "Consumer not found"


def test_domain_config_groups_and_options(admin, demo, unique) -> None:
    domain = admin.identity.create_domain(name=unique("dc"))
    base = f"/domains/{domain.id}/config"
    none_yet = _identity(admin, "GET", base)
    assert none_yet.status_code == 404
    assert none_yet.json()["error"]["message"] == (
        f"Could not find any options in domain configuration for domain {domain.id}."
    )
    config = {
        "identity": {"driver": "ldap"},
        "ldap": {"url": "ldap://x:389/", "password": "hidden"},
    }
    made = _identity(admin, "PUT", base, json={"config": config})
    assert made.status_code == 201
    # the sensitive ldap password is kept but never shown
    assert made.json()["config"] == {
        "identity": {"driver": "ldap"},
        "ldap": {"url": "ldap://x:389/"},
    }
    again = _identity(admin, "PUT", base, json={"config": {"identity": {"driver": "sql"}}})
    assert again.status_code == 200 and again.json()["config"] == {"identity": {"driver": "sql"}}
    option = _identity(admin, "GET", f"{base}/identity/driver").json()
    assert option == {"config": {"driver": "sql"}}
    # a group not configured (the PUT replaced ldap away) cannot be patched on its own
    patched = _identity(admin, "PATCH", f"{base}/ldap", json={"config": {"ldap": {"url": "u"}}})
    assert patched.status_code == 404
    assert patched.json()["error"]["message"] == (
        f"Could not find group ldap in domain configuration for domain {domain.id}."
    )
    whole = _identity(admin, "PATCH", base, json={"config": {"identity": {"list_limit": 5}}}).json()
    assert whole == {"config": {"identity": {"driver": "sql", "list_limit": 5}}}
    one = _identity(admin, "PATCH", f"{base}/identity/driver", json={"config": {"driver": "x"}})
    assert one.json()["config"]["identity"]["driver"] == "x"
    for body, message in (
        ({"config": {}}, "No options specified"),
        ({"config": {"nova": {"a": 1}}}, "Group nova is not supported"),
        ({"config": {"ldap": {"bogus": 1}}}, "Option bogus in group ldap is not supported"),
    ):
        refused = _identity(admin, "PATCH", base, json=body)
        assert refused.status_code == 403
        assert refused.json()["error"]["message"].startswith(
            f"Invalid domain specific configuration: {message}"
        )
    assert _identity(demo, "GET", base).status_code == 403
    assert _identity(admin, "DELETE", f"{base}/identity/driver").status_code == 204
    assert _identity(admin, "GET", f"{base}/identity/driver").status_code == 404
    assert _identity(admin, "DELETE", f"{base}/identity").status_code == 204
    assert _identity(admin, "DELETE", f"{base}/identity").status_code == 404
    assert _identity(admin, "DELETE", base).status_code == 204
    assert _identity(admin, "GET", base).status_code == 404


def test_domain_config_defaults_are_zeds(admin) -> None:
    everything = _identity(admin, "GET", "/domains/config/default").json()["config"]
    assert everything["identity"] == {"driver": "sql", "list_limit": None}
    assert everything["ldap"]["url"] == "ldap://localhost"
    assert "password" not in everything["ldap"]
    ldap = _identity(admin, "GET", "/domains/config/ldap/default").json()["config"]
    assert ldap == {"ldap": everything["ldap"]}
    one = _identity(admin, "GET", "/domains/config/ldap/user_objectclass/default").json()
    assert one == {"config": {"user_objectclass": "inetOrgPerson"}}
    secret = _identity(admin, "GET", "/domains/config/ldap/password/default")
    assert secret.status_code == 403
    compliance = _identity(admin, "GET", "/domains/default/config/security_compliance").json()
    assert compliance == {
        "config": {
            "security_compliance": {"password_regex": None, "password_regex_description": None}
        }
    }


def test_a_project_acting_as_a_domain_is_a_domain(osc, admin, unique) -> None:
    name = unique("isdom")
    made = _identity(
        admin, "POST", "/projects", json={"project": {"name": name, "is_domain": True}}
    )
    assert made.status_code == 201
    project = made.json()["project"]
    assert project["is_domain"] is True and project["domain_id"] is None
    assert project["parent_id"] is None
    # the domain API sees it, the project API lists it only when asked for domains
    shown = json.loads(osc(f"domain show {project['id']} -f json").stdout)
    assert shown["name"] == name
    as_domains = _identity(admin, "GET", "/projects?is_domain=true").json()["projects"]
    assert project["id"] in {p["id"] for p in as_domains}
    plain = _identity(admin, "GET", "/projects").json()["projects"]
    assert project["id"] not in {p["id"] for p in plain}
    got = _identity(admin, "GET", f"/projects/{project['id']}").json()["project"]
    assert got == project
    disabled = _identity(
        admin, "PATCH", f"/projects/{project['id']}", json={"project": {"enabled": False}}
    ).json()["project"]
    assert disabled["enabled"] is False and disabled["is_domain"] is True
    assert _identity(admin, "DELETE", f"/projects/{project['id']}").status_code == 204
    assert osc(f"domain show {project['id']}", check=False).returncode == 1
    child = _identity(
        admin,
        "POST",
        "/projects",
        json={"project": {"name": unique("c"), "is_domain": True, "parent_id": "default"}},
    )
    assert child.status_code == 400
    assert child.json()["error"]["message"] == "only root projects are allowed to act as domains."
