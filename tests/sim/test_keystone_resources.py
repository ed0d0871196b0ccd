"""Keystone's resources -- projects, domains, users, groups, roles, grants, catalog -- through
openstacksdk and the openstack CLI, including the bad inputs and their exact errors."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from openstack import exceptions as sdk_exc


def test_cli_lists_what_bootstrap_and_the_install_made(osc) -> None:
    projects = {p["Name"] for p in json.loads(osc("project list -f json").stdout)}
    assert {"admin", "service", "demo"} <= projects
    catalog = json.loads(osc("catalog list -f json").stdout)
    identity = next(c for c in catalog if c["Type"] == "identity")
    interfaces = {e["interface"] for e in identity["Endpoints"]}
    assert interfaces == {"public", "internal", "admin"}
    assignments = json.loads(osc("role assignment list --names -f json").stdout)
    assert {"Role": "admin", "User": "admin@Default", "Project": "admin@Default"}.items() <= next(
        a for a in assignments if a["Project"] == "admin@Default"
    ).items()
    assert any(a["Role"] == "member" and a["User"] == "demo@Default" for a in assignments)


def test_project_lifecycle_and_name_lookup(osc, unique) -> None:
    name = unique("proj")
    created = json.loads(osc(f"project create --description first {name} -f json").stdout)
    assert created["domain_id"] == "default" and created["enabled"] is True
    shown = json.loads(osc(f"project show {name} -f json").stdout)  # 404 by name, then ?name=
    assert shown["id"] == created["id"]
    osc(f"project set --description second --disable {name}")
    shown = json.loads(osc(f"project show {created['id']} -f json").stdout)
    assert shown["description"] == "second" and shown["enabled"] is False
    osc(f"project delete {name}")
    gone = osc(f"project show {created['id']}", check=False)
    assert gone.returncode == 1 and "No Project found" in gone.stderr


def test_duplicate_project_is_409_with_keystones_message(admin, unique) -> None:
    name = unique("dup")
    project = admin.identity.create_project(name=name, domain_id="default")
    with pytest.raises(sdk_exc.ConflictException) as caught:
        admin.identity.create_project(name=name, domain_id="default")
    assert caught.value.details == (
        "Conflict occurred attempting to store project - it is not permitted to have two "
        f"projects with either the same name or same id in the same domain: name is {name}, "
        f"project id {caught.value.details.rsplit(' ', 1)[1][:-1]}."
    )
    assert project.id not in caught.value.details  # the id in the message is the new one


def test_unknown_project_is_404(admin) -> None:
    with pytest.raises(sdk_exc.NotFoundException) as caught:
        admin.identity.get_project("0123456789abcdef0123456789abcdef")
    assert caught.value.details == "Could not find project: 0123456789abcdef0123456789abcdef."


def test_project_in_a_missing_domain_is_404(admin, unique) -> None:
    with pytest.raises(sdk_exc.NotFoundException) as caught:
        admin.identity.create_project(name=unique("p"), domain_id="nosuchdomain")
    assert caught.value.details == "Could not find domain: nosuchdomain."


def test_user_without_name_is_400_with_the_schema_error(admin) -> None:
    response = admin.session.post(
        "/users", endpoint_filter={"service_type": "identity"}, json={"user": {}}, raise_exc=False
    )
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert message.startswith("'name' is a required property\n\nFailed validating 'required'")


def test_new_user_gets_a_token_after_a_role_is_added(osc, sim_lab, unique) -> None:
    user, project = unique("u"), unique("p")
    osc(f"project create {project}")
    osc(f"user create --password s3cret --project {project} {user}")
    osc(f"role add --project {project} --user {user} member")
    from labkit.cloud import Credentials

    creds = Credentials(sim_lab.credentials().auth_url, user, "s3cret", project)
    conn = creds.connect()
    token = conn.session.auth.get_access(conn.session)
    assert token.project_name == project
    assert set(token.role_names) == {"member", "reader"}  # member implies reader


def test_password_change_revokes_old_tokens(sim_lab, admin, unique) -> None:
    from labkit.cloud import Credentials

    name = unique("pw")
    project = admin.identity.find_project("demo")
    user = admin.identity.create_user(name=name, password="old-pass", domain_id="default")
    member = admin.identity.find_role("member")
    admin.identity.assign_project_role_to_user(project, user, member)
    old = Credentials(sim_lab.credentials().auth_url, name, "old-pass", "demo").connect()
    old_token = old.session.get_token()
    old.session.post(
        sim_lab.credentials().auth_url + f"users/{user.id}/password",
        json={"user": {"original_password": "old-pass", "password": "new-pass"}},
    )
    url = sim_lab.credentials().auth_url + "projects/" + project.id
    response = admin.session.get(
        url, headers={"X-Auth-Token": old_token}, authenticated=False, raise_exc=False
    )
    assert response.status_code == 401
    new = Credentials(sim_lab.credentials().auth_url, name, "new-pass", "demo").connect()
    assert new.session.get_token() != old_token


def test_disabled_user_cannot_log_in(osc, sim_lab, unique) -> None:
    name = unique("off")
    osc(f"user create --password pw --project demo {name}")
    osc(f"role add --project demo --user {name} member")
    osc(f"user set --disable {name}")
    result = osc(
        f"--os-username {name} --os-password pw --os-project-name demo token issue", check=False
    )
    assert result.returncode == 1 and "HTTP 401" in result.stderr


def test_group_roles_reach_members(osc, sim_lab, unique) -> None:
    group, user = unique("g"), unique("gu")
    osc(f"group create {group}")
    osc(f"user create --password pw {user}")
    osc(f"group add user {group} {user}")
    osc(f"role add --project demo --group {group} member")
    effective = json.loads(
        osc(f"role assignment list --effective --user {user} --names -f json").stdout
    )
    assert {a["Role"] for a in effective} == {"member", "reader"}
    from labkit.cloud import Credentials

    conn = Credentials(sim_lab.credentials().auth_url, user, "pw", "demo").connect()
    assert conn.session.auth.get_access(conn.session).project_name == "demo"
    osc(f"group remove user {group} {user}")
    check = osc(f"group contains user {group} {user}", check=False)
    assert f"{user} not in group {group}" in check.stderr


def test_implied_roles(osc, unique) -> None:
    prior, implied = unique("prior"), unique("implied")
    osc(f"role create {prior}")
    osc(f"role create {implied}")
    osc(f"implied role create --implied-role {implied} {prior}")
    rules = json.loads(osc("implied role list -f json").stdout)
    assert any(r["Prior Role Name"] == prior and r["Implied Role Name"] == implied for r in rules)
    refused = osc(f"implied role create --implied-role admin {prior}", check=False)
    assert refused.returncode == 1 and "cannot be an implied roles" in refused.stderr


def test_immutable_bootstrap_roles_cannot_be_deleted(osc) -> None:
    result = osc("role delete reader", check=False)
    assert result.returncode == 1
    assert "Unable to delete immutable role resource" in result.stderr


def test_domains(osc, unique) -> None:
    name = unique("dom")
    osc(f"domain create {name}")
    refused = osc(f"domain delete {name}", check=False)
    assert "Cannot delete a domain that is enabled, please disable it first." in refused.stderr
    osc(f"domain set --disable {name}")
    osc(f"domain delete {name}")
    duplicate = osc("domain create Default", check=False)
    assert (
        "it is not permitted to have two projects acting as domains with the same name: "
        "Default" in duplicate.stderr
    )


def test_catalog_entries_appear_in_new_tokens(osc, admin, unique) -> None:
    kind = unique("svc")
    osc(f'service create --name {kind} --description "A test" {kind}')
    osc(f"endpoint create --region RegionOne {kind} public http://example.invalid/{kind}")
    catalog = json.loads(osc("catalog list -f json").stdout)
    entry = next(c for c in catalog if c["Type"] == kind)
    assert entry["Endpoints"][0]["url"] == f"http://example.invalid/{kind}"
    bad = osc(f"endpoint create --region NoSuchRegion {kind} public http://x", check=False)
    assert bad.returncode == 1 and "Could not find region: NoSuchRegion." in bad.stderr
    service = admin.identity.find_service(kind)
    with pytest.raises(sdk_exc.BadRequestException) as caught:  # the server-side check too
        admin.identity.create_endpoint(
            service_id=service.id, interface="public", url="http://x", region_id="NoSuchRegion"
        )
    assert caught.value.details.startswith("Expecting to find endpoint region_id in region table.")


def test_member_cannot_create_users_or_list_projects(demo, sim_lab) -> None:
    with pytest.raises(sdk_exc.ForbiddenException) as caught:
        demo.identity.create_user(name="evil", password="x", domain_id="default")
    assert caught.value.details == (
        "You are not authorized to perform the requested action: identity:create_user."
    )
    with pytest.raises(sdk_exc.ForbiddenException) as listing:
        list(demo.identity.projects())
    assert "identity:list_projects" in listing.value.details
    # ... but may look at its own project and itself.
    token = demo.session.auth.get_access(demo.session)
    assert demo.identity.get_project(token.project_id).name == "demo"
    assert demo.identity.get_user(token.user_id).name == "demo"


def test_unknown_path_and_method(admin, sim_lab) -> None:
    root = sim_lab.credentials().auth_url
    response = admin.session.get(root + "nosuch", raise_exc=False)
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": 404, "message": "The resource could not be found.", "title": "Not Found"}
    }
    response = admin.session.put(root + "projects", json={}, raise_exc=False)
    assert response.status_code == 405
    # Werkzeug's 405, rendered by Flask-RESTful; Flask serves HEAD and OPTIONS as well
    assert response.json() == {"message": "The method is not allowed for the requested URL."}
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS, POST"


def test_bad_json_in_a_create_is_400(admin, sim_lab) -> None:
    response = admin.session.post(
        sim_lab.credentials().auth_url + "projects",
        data=b"{nope",
        headers={"Content-Type": "application/json"},
        raise_exc=False,
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(
        "Expecting to find valid JSON in request body."
    )


def test_a_tag_with_spaces_and_utf8_comes_back_encoded_in_location(admin, unique) -> None:
    """Keystone's Flask sends the Location of a new tag as an URI: the sim's core encodes it
    (percent-encoded UTF-8, '%20' for a space), whatever the tag holds."""
    project = admin.identity.create_project(name=unique("tagged"), domain_id="default")
    tag = "café au lait"
    response = admin.session.put(
        f"/projects/{project.id}/tags/{quote(tag)}",
        endpoint_filter={"service_type": "identity"},
    )
    assert response.status_code == 201
    location = response.headers["Location"]
    assert location.endswith(f"/v3/projects/{project.id}/tags/caf%C3%A9%20au%20lait")
    assert location.isascii()
    assert tag in admin.identity.get_project(project.id).tags


def _identity(admin, method: str, path: str, **kwargs):
    """A raw Identity API call with admin's token (what tempest's clients send)."""
    return admin.session.request(
        path, method, endpoint_filter={"service_type": "identity"}, raise_exc=False, **kwargs
    )


def test_project_tags_one_by_one_all_at_once_and_removed_together(admin, unique) -> None:
    """The project tags API as tempest walks it: add one, check it, replace them all (each
    stripped), list, delete one, then delete them all at once -- answers shaped as
    Keystone's, a list with a link to the request."""
    project = admin.identity.create_project(name=unique("tags"), domain_id="default")
    base = f"/projects/{project.id}/tags"
    assert _identity(admin, "PUT", f"{base}/first").status_code == 201
    assert _identity(admin, "GET", f"{base}/first").status_code == 204
    replaced = _identity(admin, "PUT", base, json={"tags": [" blue", "green "]})
    assert replaced.status_code == 200
    assert replaced.json()["tags"] == ["blue", "green"]
    assert replaced.json()["links"]["self"].endswith(f"/v3{base}")
    listed = _identity(admin, "GET", base).json()
    assert listed["tags"] == ["blue", "green"] and listed["links"]["self"].endswith(f"/v3{base}")
    missing = _identity(admin, "GET", f"{base}/first")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Could not find project tag: first."
    assert _identity(admin, "DELETE", f"{base}/blue").status_code == 204
    assert _identity(admin, "DELETE", base).status_code == 204
    assert admin.identity.get_project(project.id).tags == []


def test_a_member_may_read_its_projects_tags_but_not_remove_them(admin, demo) -> None:
    project = demo.identity.get_project(demo.current_project_id)
    assert _identity(demo, "GET", f"/projects/{project.id}/tags").status_code == 200
    refused = _identity(demo, "DELETE", f"/projects/{project.id}/tags")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == (
        "You are not authorized to perform the requested action: identity:delete_project_tags."
    )


def test_an_endpoint_given_the_legacy_region_creates_that_region(admin, unique) -> None:
    """``region`` without ``region_id`` (v2-era clients, tempest): Keystone creates the region
    if it is missing; an unknown ``region_id`` stays a 400."""
    service = admin.identity.create_service(name=unique("svc"), type=unique("type"))
    region = unique("Region")
    body = {"service_id": service.id, "interface": "public", "url": "http://x:1/"}
    created = _identity(admin, "POST", "/endpoints", json={"endpoint": {**body, "region": region}})
    assert created.status_code == 201
    endpoint = created.json()["endpoint"]
    assert endpoint["region_id"] == endpoint["region"] == region
    assert admin.identity.get_region(region).id == region
    unknown = unique("Nowhere")
    refused = _identity(
        admin, "POST", "/endpoints", json={"endpoint": {**body, "region_id": unknown}}
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["message"].startswith(
        "Expecting to find endpoint region_id in region table."
    )
    assert _identity(admin, "GET", f"/regions/{unknown}").status_code == 404


def test_domain_specific_roles_imply_but_are_never_effective(admin, unique) -> None:
    """A domain-specific role granted on a project is a grant, but not an effective
    assignment and not in the user's token; what it implies is. A global role cannot imply
    a domain-specific one (403)."""
    domain = admin.identity.create_domain(name=unique("dom"))
    domain_role = admin.identity.create_role(name=unique("drole"), domain_id=domain.id)
    implied = admin.identity.create_role(name=unique("global"))
    project = admin.identity.create_project(name=unique("proj"), domain_id="default")
    user = admin.identity.create_user(name=unique("user"), domain_id="default", password="pw")
    path = f"/roles/{domain_role.id}/implies/{implied.id}"
    assert _identity(admin, "PUT", path).status_code == 201
    admin.identity.assign_project_role_to_user(project, user, domain_role)
    direct = list(admin.identity.role_assignments(user_id=user.id, scope_project_id=project.id))
    assert [a.role["id"] for a in direct] == [domain_role.id]
    effective = _identity(
        admin,
        "GET",
        f"/role_assignments?effective&user.id={user.id}&scope.project.id={project.id}",
    ).json()["role_assignments"]
    assert [a["role"]["id"] for a in effective] == [implied.id]
    token = _identity(
        admin,
        "POST",
        "/auth/tokens",
        json={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"id": user.id, "password": "pw"}},
                },
                "scope": {"project": {"id": project.id}},
            }
        },
    )
    assert token.status_code == 201
    assert [r["id"] for r in token.json()["token"]["roles"]] == [implied.id]
    backwards = _identity(admin, "PUT", f"/roles/{implied.id}/implies/{domain_role.id}")
    assert backwards.status_code == 403
    assert backwards.json()["error"]["message"] == f"{domain_role.id} cannot be an implied roles."
    admin.identity.unassign_project_role_from_user(project, user, domain_role)
    _identity(admin, "DELETE", path)
    admin.identity.delete_user(user)
    admin.identity.delete_project(project)
