"""Nova's server actions and side APIs through the real clients: rebuild, resize with confirm
and revert (Placement's usage at every step), server metadata and tags, flavor access,
os-simple-tenant-usage -- and Nova's status codes and texts for bad input.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable
from typing import Any

import openstack
import pytest

from tests.conftest import openstack_cli
from tests.sim.nova_helpers import compute_raw, fault

pytestmark = pytest.mark.slow
Osc = Callable[..., subprocess.CompletedProcess[str]]
WAIT = {"interval": 0.2, "wait": 60}


@pytest.fixture(scope="module")
def admin(nova_lab: Any) -> Any:
    conn = nova_lab.connect("admin")
    conn.lab = nova_lab  # _project() makes connections with the lab's credentials
    return conn


@pytest.fixture(scope="module")
def cli(nova_lab: Any) -> Osc:
    run = openstack_cli(nova_lab)
    return lambda *args, check=True: run(shlex.join(args), check=check)


def _json(cli: Osc, *args: str) -> Any:
    return json.loads(cli(*args, "-f", "json").stdout)


def _project(admin: Any, name: str, **quota: int) -> tuple[Any, Any]:
    """A project of its own (the admin user has admin in it) and a connection scoped to it,
    as ``--os-project-id`` would make."""
    project = admin.identity.create_project(name=name, domain_id="default")
    admin.identity.assign_project_role_to_user(
        project, admin.identity.find_user("admin"), admin.identity.find_role("admin")
    )
    if quota:
        admin.compute.update_quota_set(project.id, **quota)
    creds = admin.lab.credentials("admin")
    conn = openstack.connect(
        auth_url=creds.auth_url,
        username=creds.username,
        password=creds.password,
        user_domain_name=creds.user_domain,
        project_id=project.id,
        region_name=creds.region,
    )
    return project, conn


def _member_of_new_project(admin: Any, name: str) -> tuple[Any, Any]:
    """A project with a user of its own who is only a member there (no admin anywhere)."""
    project = admin.identity.create_project(name=name, domain_id="default")
    user = admin.identity.create_user(
        name=f"{name}-user", password="SECRET", domain_id="default", default_project_id=project.id
    )
    admin.identity.assign_project_role_to_user(project, user, admin.identity.find_role("member"))
    creds = admin.lab.credentials("admin")
    conn = openstack.connect(
        auth_url=creds.auth_url,
        username=user.name,
        password="SECRET",
        user_domain_name="Default",
        project_id=project.id,
        region_name=creds.region,
    )
    return project, conn


def _boot(conn: Any, name: str, flavor: str = "m1.tiny", image: str = "cirros") -> Any:
    server = conn.compute.create_server(
        name=name,
        flavor_id=conn.compute.find_flavor(flavor).id,
        image_id=conn.image.find_image(image).id,
        networks="none",
    )
    return conn.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], **WAIT)


def _usage(cli: Osc, project_id: str) -> dict[str, int]:
    """What Placement has allocated to a project (every consumer: servers and migrations)."""
    rows = _json(cli, "resource", "usage", "show", project_id)
    return {r["resource_class"]: r["usage"] for r in rows}


def _allocations(cli: Osc, consumer: str) -> list[tuple[str, dict[str, int]]]:
    rows = _json(cli, "resource", "provider", "allocation", "show", consumer)
    return [(r["resource_provider"], r["resources"]) for r in rows]


def _events(conn: Any, server: Any, action: str) -> list[tuple[str, str]]:
    found = [a for a in conn.compute.server_actions(server) if a.action == action]
    assert found, f"no {action} action on {server.id}"
    detail = conn.compute.get_server_action(found[0].request_id, server)
    return [(e["event"], e["result"]) for e in detail.events]


_raw = compute_raw("2.93")


# ---- rebuild -----------------------------------------------------------------------------------


def test_rebuild_from_the_cli_goes_through_rebuild_to_active(
    admin: Any, cli: Osc, nova_lab: Any
) -> None:
    server = _boot(admin, "rebuild-me")
    # with the conductor stopped the cast waits in RabbitMQ: the server shows REBUILD
    nova_lab.stop_service("nova-conductor")
    try:
        cli("server", "rebuild", "--image", "trusty", "rebuild-me")
        shown = admin.compute.get_server(server.id)
        assert shown.status == "REBUILD"
        assert shown.task_state == "rebuilding"
        assert shown.image["id"] == admin.image.find_image("trusty").id
    finally:
        nova_lab.start_service("nova-conductor")
    server = admin.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], **WAIT)
    assert server.task_state is None
    assert "trusty" in cli("console", "log", "show", "rebuild-me").stdout
    assert _events(admin, server, "rebuild") == [
        ("rebuild_server", "Success"),
        ("compute_rebuild_instance", "Success"),
    ]
    admin.compute.delete_server(server)


def test_a_stopped_server_rebuilds_to_shutoff(admin: Any, nova_lab: Any) -> None:
    server = _boot(admin, "rebuild-stopped")
    admin.compute.stop_server(server)
    admin.compute.wait_for_server(server, status="SHUTOFF", **WAIT)
    admin.compute.rebuild_server(server, admin.image.find_image("cirros").id, name="rebuilt")
    assert nova_lab.sim.quiesce(60)
    server = admin.compute.get_server(server.id)
    assert server.status == "SHUTOFF"
    assert server.name == "rebuilt"
    assert server.task_state is None
    admin.compute.delete_server(server)


def test_rebuild_refuses_what_nova_refuses(admin: Any, nova_lab: Any) -> None:
    server = _boot(admin, "rebuild-bad")
    missing = "00000000-0000-0000-0000-00000000beef"
    with pytest.raises(openstack.exceptions.BadRequestException, match="Cannot find image"):
        admin.compute.rebuild_server(server, missing)
    queued = admin.image.create_image(
        name="never-uploaded", disk_format="qcow2", container_format="bare"
    )
    with pytest.raises(
        openstack.exceptions.BadRequestException, match=rf"Image {queued.id} is not active\."
    ):
        admin.compute.rebuild_server(server, queued.id)
    big = admin.image.create_image(
        name="needs-20g",
        disk_format="qcow2",
        container_format="bare",
        min_disk=20,
        data=b"qcow2-ish",
    )
    with pytest.raises(openstack.exceptions.BadRequestException) as caught:
        admin.compute.rebuild_server(server, big.id)
    assert (
        "Flavor's disk is smaller than the minimum size specified in image metadata. Flavor "
        "disk is 1073741824 bytes, minimum size is 21474836480 bytes."
    ) in str(caught.value)
    answer = _raw(admin, "POST", f"/servers/{server.id}/action", json={"rebuild": {}})
    assert fault(answer) == (
        400,
        "badRequest",
        "Invalid input for field/attribute rebuild. Value: {}. 'imageRef' is a required property",
    )
    # a server still waiting for the conductor is building: 409 with Nova's text
    nova_lab.stop_service("nova-conductor")
    try:
        waiting = admin.compute.create_server(
            name="still-building",
            flavor_id=admin.compute.find_flavor("m1.tiny").id,
            image_id=admin.image.find_image("cirros").id,
            networks="none",
        )
        with pytest.raises(openstack.exceptions.ConflictException) as conflict:
            admin.compute.rebuild_server(waiting, admin.image.find_image("cirros").id)
        assert f"Cannot 'rebuild' instance {waiting.id} while it is in vm_state building" in str(
            conflict.value
        )
        admin.compute.delete_server(waiting)
    finally:
        nova_lab.start_service("nova-conductor")
    admin.image.delete_image(queued)
    admin.image.delete_image(big)
    admin.compute.delete_server(server)


def test_a_locked_server_is_not_rebuilt_for_its_member(admin: Any, nova_lab: Any) -> None:
    demo = nova_lab.connect("demo")
    server = _boot(demo, "locked-rebuild")
    admin.compute.lock_server(server)
    with pytest.raises(
        openstack.exceptions.ConflictException, match=rf"Instance {server.id} is locked"
    ):
        demo.compute.rebuild_server(server, demo.image.find_image("cirros").id)
    admin.compute.unlock_server(server)
    demo.compute.delete_server(server)


# ---- resize ------------------------------------------------------------------------------------


def test_resize_and_confirm_moves_the_allocation_to_the_new_flavor(admin: Any, cli: Osc) -> None:
    project, conn = _project(admin, "resize-confirm")
    server = _boot(conn, "grow")
    assert _usage(cli, project.id) == {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}
    conn.compute.resize_server(server, conn.compute.find_flavor("m1.small"))
    server = conn.compute.wait_for_server(
        server, status="VERIFY_RESIZE", failures=["ERROR"], **WAIT
    )
    assert server.flavor["original_name"] == "m1.small"
    assert server.vm_state == "resized"
    # until confirmed, the migration holds the old flavor and the server the new one
    assert _usage(cli, project.id) == {"VCPU": 2, "MEMORY_MB": 2560, "DISK_GB": 21}
    assert [r for _, r in _allocations(cli, server.id)] == [
        {"VCPU": 1, "MEMORY_MB": 2048, "DISK_GB": 20}
    ]
    assert _events(conn, server, "resize") == [
        ("conductor_migrate_server", "Success"),
        ("cold_migrate", "Success"),
        ("compute_prep_resize", "Success"),
        ("compute_resize_instance", "Success"),
        ("compute_finish_resize", "Success"),
    ]
    conn.compute.confirm_server_resize(server)
    server = conn.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], **WAIT)
    assert server.flavor["original_name"] == "m1.small"
    assert _usage(cli, project.id) == {"VCPU": 1, "MEMORY_MB": 2048, "DISK_GB": 20}
    assert _events(conn, server, "confirmResize") == [("compute_confirm_resize", "Success")]
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, **WAIT)
    assert _usage(cli, project.id) == {}


def test_resize_and_revert_from_the_cli_restores_the_old_flavor(admin: Any, cli: Osc) -> None:
    server = _boot(admin, "shrink-back")
    host = server.compute_host
    before = _allocations(cli, server.id)
    cli("server", "resize", "--flavor", "m1.small", "--wait", "shrink-back")
    shown = _json(cli, "server", "show", "shrink-back")
    assert shown["status"] == "VERIFY_RESIZE"
    assert shown["flavor"]["original_name"] == "m1.small"
    cli("server", "resize", "revert", "shrink-back")
    server = admin.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], **WAIT)
    assert server.flavor["original_name"] == "m1.tiny"
    assert server.compute_host == host
    assert _allocations(cli, server.id) == before
    assert _events(admin, server, "revertResize") == [
        ("compute_revert_resize", "Success"),
        ("compute_finish_revert_resize", "Success"),
    ]
    admin.compute.delete_server(server)


def test_a_stopped_server_resizes_and_stays_shutoff(admin: Any, nova_lab: Any) -> None:
    server = _boot(admin, "resize-stopped")
    admin.compute.stop_server(server)
    admin.compute.wait_for_server(server, status="SHUTOFF", **WAIT)
    admin.compute.resize_server(server, admin.compute.find_flavor("m1.small"))
    server = admin.compute.wait_for_server(server, status="VERIFY_RESIZE", **WAIT)
    admin.compute.confirm_server_resize(server)
    assert nova_lab.sim.quiesce(60)
    server = admin.compute.get_server(server.id)
    assert (server.status, server.task_state) == ("SHUTOFF", None)
    assert server.flavor["original_name"] == "m1.small"
    admin.compute.delete_server(server)


def test_deleting_a_server_awaiting_confirmation_leaves_nothing_in_placement(
    admin: Any, cli: Osc
) -> None:
    project, conn = _project(admin, "resize-delete")
    server = _boot(conn, "resized-then-deleted")
    conn.compute.resize_server(server, conn.compute.find_flavor("m1.small"))
    conn.compute.wait_for_server(server, status="VERIFY_RESIZE", failures=["ERROR"], **WAIT)
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, **WAIT)
    assert _usage(cli, project.id) == {}


def test_a_resize_no_host_can_take_leaves_the_server_as_it_was(
    admin: Any, cli: Osc, nova_lab: Any
) -> None:
    huge = admin.compute.create_flavor(name="m1.huge-disk", vcpus=1, ram=512, disk=5000)
    server = _boot(admin, "cannot-grow")
    before = _allocations(cli, server.id)
    admin.compute.resize_server(server, huge)
    assert nova_lab.sim.quiesce(60)
    server = admin.compute.get_server(server.id)
    assert (server.status, server.task_state) == ("ACTIVE", None)
    assert server.flavor["original_name"] == "m1.tiny"
    assert _allocations(cli, server.id) == before  # the migration gave it back
    events = dict(_events(admin, server, "resize"))
    assert events == {"conductor_migrate_server": "Error", "cold_migrate": "Error"}
    admin.compute.delete_server(server)
    admin.compute.delete_flavor(huge)


def test_resize_refuses_what_nova_refuses(admin: Any) -> None:
    _, conn = _project(admin, "resize-quota", cores=1)
    server = _boot(conn, "resize-bad")
    with pytest.raises(
        openstack.exceptions.BadRequestException,
        match="When resizing, instances must change flavor!",
    ):
        conn.compute.resize_server(server, conn.compute.find_flavor("m1.tiny"))
    answer = _raw(
        conn, "POST", f"/servers/{server.id}/action", json={"resize": {"flavorRef": "nope"}}
    )
    assert fault(answer) == (400, "badRequest", "Flavor nope could not be found.")
    with pytest.raises(openstack.exceptions.ForbiddenException) as caught:
        conn.compute.resize_server(server, conn.compute.find_flavor("m1.medium"))
    assert "Quota exceeded for cores: Requested 1, but already used 1 of 1 cores" in str(
        caught.value
    )
    for action in ("confirmResize", "revertResize"):
        answer = _raw(conn, "POST", f"/servers/{server.id}/action", json={action: None})
        assert fault(answer) == (
            409,
            "conflictingRequest",
            f"Cannot '{action}' instance {server.id} while it is in vm_state active",
        )
    answer = _raw(conn, "POST", f"/servers/{server.id}/action", json={"resize": {}})
    assert fault(answer) == (
        400,
        "badRequest",
        "Invalid input for field/attribute resize. Value: {}. 'flavorRef' is a required property",
    )
    assert conn.compute.get_server(server.id).status == "ACTIVE"
    conn.compute.delete_server(server)


# ---- metadata and tags ---------------------------------------------------------------------


def test_server_properties_from_the_cli_and_the_sdk(admin: Any, cli: Osc) -> None:
    server = _boot(admin, "with-props")
    cli("server", "set", "--property", "role=web", "--property", "tier=1", "with-props")
    assert _json(cli, "server", "show", "with-props")["properties"] == {
        "role": "web",
        "tier": "1",
    }
    cli("server", "unset", "--property", "tier", "with-props")
    assert admin.compute.fetch_server_metadata(server).metadata == {"role": "web"}
    admin.compute.set_server_metadata(server, owner="ops")
    item = _raw(admin, "GET", f"/servers/{server.id}/metadata/owner")
    assert item.json() == {"meta": {"owner": "ops"}}
    replaced = _raw(admin, "PUT", f"/servers/{server.id}/metadata", json={"metadata": {"a": "b"}})
    assert replaced.json() == {"metadata": {"a": "b"}}
    missing = _raw(admin, "GET", f"/servers/{server.id}/metadata/owner")
    assert fault(missing) == (404, "itemNotFound", "Metadata item was not found")
    gone = _raw(admin, "DELETE", f"/servers/{server.id}/metadata/owner")
    assert fault(gone) == (404, "itemNotFound", "Metadata item was not found")
    mismatch = _raw(admin, "PUT", f"/servers/{server.id}/metadata/a", json={"meta": {"b": "c"}})
    assert fault(mismatch) == (400, "badRequest", "Request body and URI mismatch")
    bad_key = _raw(admin, "POST", f"/servers/{server.id}/metadata", json={"metadata": {"a/b": "c"}})
    assert bad_key.status_code == 400
    assert "Additional properties are not allowed ('a/b' was unexpected)" in fault(bad_key)[2]
    admin.compute.delete_server(server)


def test_metadata_items_quota_is_nova_403(admin: Any) -> None:
    _, conn = _project(admin, "meta-quota", metadata_items=2)
    server = _boot(conn, "few-props")
    conn.compute.set_server_metadata(server, a="1", b="2")
    with pytest.raises(openstack.exceptions.ForbiddenException) as caught:
        conn.compute.set_server_metadata(server, c="3")
    assert "Maximum number of metadata items exceeds 2" in str(caught.value)
    assert conn.compute.fetch_server_metadata(server).metadata == {"a": "1", "b": "2"}
    conn.compute.delete_server(server)


def test_tags_from_the_cli_and_the_list_filter(admin: Any, cli: Osc) -> None:
    one = _boot(admin, "tagged-one")
    two = _boot(admin, "tagged-two")
    cli("server", "set", "--tag", "blue", "--tag", "prod", "tagged-one")
    cli("server", "set", "--tag", "blue", "tagged-two")
    assert sorted(_json(cli, "server", "show", "tagged-one")["tags"]) == ["blue", "prod"]
    listed = {s["Name"] for s in _json(cli, "server", "list", "--tags", "blue,prod")}
    assert listed == {"tagged-one"}
    listed = {s["Name"] for s in _json(cli, "server", "list", "--tags", "blue")}
    assert listed == {"tagged-one", "tagged-two"}
    listed = {s["Name"] for s in _json(cli, "server", "list", "--not-tags", "prod")}
    assert "tagged-one" not in listed and "tagged-two" in listed
    cli("server", "unset", "--tag", "prod", "tagged-one")
    assert _raw(admin, "GET", f"/servers/{one.id}/tags").json() == {"tags": ["blue"]}
    assert _raw(admin, "GET", f"/servers/{one.id}/tags/blue").status_code == 204
    absent = _raw(admin, "GET", f"/servers/{one.id}/tags/prod")
    assert fault(absent) == (404, "itemNotFound", f"Server {one.id} has no tag 'prod'")
    added = _raw(admin, "PUT", f"/servers/{one.id}/tags/green")
    assert added.status_code == 201
    assert added.headers["Location"].endswith(f"/servers/{one.id}/tags/green")
    assert _raw(admin, "PUT", f"/servers/{one.id}/tags/green").status_code == 204
    bad = _raw(admin, "PUT", f"/servers/{one.id}/tags", json={"tags": ["a,b"]})
    assert bad.status_code == 400
    assert "'a,b' does not match '^[^,/]*$'" in fault(bad)[2]
    replaced = _raw(admin, "PUT", f"/servers/{one.id}/tags", json={"tags": ["z", "a"]})
    assert replaced.json() == {"tags": ["a", "z"]}
    old = _raw(admin, "GET", f"/servers/{one.id}/tags", version="2.25")
    assert fault(old) == (404, "itemNotFound", "The resource could not be found.")
    cli("server", "unset", "--all-tags", "tagged-one")
    assert _raw(admin, "GET", f"/servers/{one.id}/tags").json() == {"tags": []}
    admin.compute.delete_server(one)
    admin.compute.delete_server(two)


def test_metadata_and_tags_need_a_server_that_is_not_building(admin: Any, nova_lab: Any) -> None:
    nova_lab.stop_service("nova-conductor")
    try:
        waiting = admin.compute.create_server(
            name="not-yet",
            flavor_id=admin.compute.find_flavor("m1.tiny").id,
            image_id=admin.image.find_image("cirros").id,
            networks="none",
        )
        answer = _raw(
            admin, "POST", f"/servers/{waiting.id}/metadata", json={"metadata": {"a": "b"}}
        )
        assert fault(answer) == (
            409,
            "conflictingRequest",
            f"Cannot 'update metadata' instance {waiting.id} while it is in vm_state building",
        )
        answer = _raw(admin, "PUT", f"/servers/{waiting.id}/tags/x")
        assert fault(answer) == (
            409,
            "conflictingRequest",
            f"Cannot 'update tag' instance {waiting.id} while it is in vm_state building",
        )
        admin.compute.delete_server(waiting)
    finally:
        nova_lab.start_service("nova-conductor")
    missing = _raw(admin, "GET", "/servers/00000000-0000-0000-0000-00000000dead/metadata")
    assert fault(missing) == (
        404,
        "itemNotFound",
        "Instance 00000000-0000-0000-0000-00000000dead could not be found.",
    )


# ---- flavor access -------------------------------------------------------------------------


def test_a_private_flavor_is_seen_and_used_only_by_its_projects(
    admin: Any, cli: Osc, nova_lab: Any
) -> None:
    demo = nova_lab.connect("demo")
    demo_project = demo.current_project_id
    other, outsider = _member_of_new_project(admin, "no-flavor-access")
    created = _json(
        cli,
        "flavor", "create", "--private", "--project", demo_project,
        "--ram", "256", "--disk", "1", "--vcpus", "1", "m1.private",
    )  # fmt: skip
    assert created["os-flavor-access:is_public"] is False
    shown = _json(cli, "flavor", "show", "m1.private")
    assert shown["access_project_ids"] == [demo_project]
    assert "m1.private" in {f.name for f in demo.compute.flavors()}
    assert "m1.private" not in {f.name for f in outsider.compute.flavors()}
    with pytest.raises(openstack.exceptions.NotFoundException):
        outsider.compute.get_flavor(created["id"])
    with pytest.raises(
        openstack.exceptions.BadRequestException, match=rf"Flavor {created['id']} could not"
    ):
        outsider.compute.create_server(
            name="x", flavor_id=created["id"], image_id=admin.image.find_image("cirros").id,
            networks="none",
        )  # fmt: skip
    server = _boot(demo, "on-private", flavor="m1.private")
    assert server.flavor["original_name"] == "m1.private"
    demo.compute.delete_server(server)
    cli("flavor", "set", "--project", other.id, "m1.private")
    assert sorted(_json(cli, "flavor", "show", "m1.private")["access_project_ids"]) == sorted(
        [demo_project, other.id]
    )
    assert "m1.private" in {f.name for f in outsider.compute.flavors()}
    cli("flavor", "unset", "--project", other.id, "m1.private")
    assert _json(cli, "flavor", "show", "m1.private")["access_project_ids"] == [demo_project]
    listed = {f["Name"] for f in _json(cli, "flavor", "list", "--private")}
    assert listed == {"m1.private"}


def test_flavor_access_errors_are_novas(admin: Any, nova_lab: Any) -> None:
    flavor = admin.compute.create_flavor(
        name="m1.secret", vcpus=1, ram=128, disk=1, is_public=False
    )
    tiny = admin.compute.find_flavor("m1.tiny")
    project = admin.current_project_id

    def act(flavor_id: str, body: dict[str, Any], conn: Any = admin) -> Any:
        return _raw(conn, "POST", f"/flavors/{flavor_id}/action", json=body)

    answer = act(tiny.id, {"addTenantAccess": {"tenant": project}})
    assert fault(answer) == (409, "conflictingRequest", "Can not add access to a public flavor.")
    assert act(flavor.id, {"addTenantAccess": {"tenant": project}}).json() == {
        "flavor_access": [{"flavor_id": flavor.id, "tenant_id": project}]
    }
    answer = act(flavor.id, {"addTenantAccess": {"tenant": project}})
    assert fault(answer) == (
        409,
        "conflictingRequest",
        f"Flavor access already exists for flavor {flavor.id} and project {project} combination.",
    )
    answer = act(flavor.id, {"addTenantAccess": {"tenant": "no-such-project"}})
    assert fault(answer) == (
        400,
        "badRequest",
        "Project ID no-such-project is not a valid project.",
    )
    answer = act(
        flavor.id, {"removeTenantAccess": {"tenant": nova_lab.connect("demo").current_project_id}}
    )
    assert answer.status_code == 404
    assert "Flavor access not found for" in fault(answer)[2]
    answer = _raw(admin, "GET", f"/flavors/{tiny.id}/os-flavor-access")
    assert fault(answer) == (404, "itemNotFound", "Access list not available for public flavors.")
    answer = act(flavor.id, {"removeTenantAccess": {"tenant": project}}, nova_lab.connect("demo"))
    assert fault(answer) == (
        403,
        "forbidden",
        "Policy doesn't allow os_compute_api:os-flavor-access:remove_tenant_access to be "
        "performed.",
    )
    answer = act(flavor.id, {"grantEverything": {}})
    assert fault(answer) == (400, "badRequest", "There is no such action: grantEverything")
    admin.compute.delete_flavor(flavor)


# ---- usage ---------------------------------------------------------------------------------


def test_usage_counts_hours_on_the_sims_clock(admin: Any, cli: Osc, nova_lab: Any) -> None:
    project, conn = _project(admin, "usage")
    server = _boot(conn, "metered", flavor="m1.small")
    nova_lab.sim.advance_clock(7200)
    window = ("--start", "2029-12-01", "--end", "2031-01-01")
    shown = _json(cli, "usage", "show", "--project", project.id, *window)
    assert [u["name"] for u in shown["Servers"]] == ["metered"]
    assert float(shown["CPU Hours"]) == pytest.approx(2.0, abs=0.05)
    assert float(shown["RAM MB-Hours"]) == pytest.approx(2 * 2048, rel=0.02)
    assert float(shown["Disk GB-Hours"]) == pytest.approx(2 * 20, rel=0.02)
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, **WAIT)
    nova_lab.sim.advance_clock(3600)
    usage = conn.compute.get_usage(project.id, **_sdk_window())
    (only,) = usage.server_usages
    assert only["state"] == "terminated"
    assert only["ended_at"] is not None
    assert only["hours"] == pytest.approx(2.0, abs=0.05)
    listed = {u["Project"] for u in _json(cli, "usage", "list", *window)}
    assert "usage" in listed or project.id in listed


def _sdk_window() -> dict[str, Any]:
    from datetime import datetime

    return {"start": datetime(2029, 12, 1), "end": datetime(2031, 1, 1)}


def test_usage_errors_are_novas(admin: Any, nova_lab: Any) -> None:
    project = admin.current_project_id
    answer = _raw(
        admin,
        "GET",
        f"/os-simple-tenant-usage/{project}?start=2030-02-01T00:00:00&end=2030-01-01T00:00:00",
    )
    assert fault(answer) == (
        400,
        "badRequest",
        "Invalid start time. The start time cannot occur after the end time.",
    )
    answer = _raw(admin, "GET", f"/os-simple-tenant-usage/{project}?start=yesterday")
    assert fault(answer) == (
        400,
        "badRequest",
        "Invalid datetime string: Datetime is in invalid format",
    )
    demo = nova_lab.connect("demo")
    answer = _raw(demo, "GET", "/os-simple-tenant-usage")
    assert fault(answer) == (
        403,
        "forbidden",
        "Policy doesn't allow os_compute_api:os-simple-tenant-usage:list to be performed.",
    )
    answer = _raw(demo, "GET", f"/os-simple-tenant-usage/{project}")
    assert answer.status_code == 403


@pytest.mark.parametrize(
    "version, extended, key_name",
    [("2.1", False, False), ("2.54", False, True), ("2.75", True, True)],
)
def test_update_and_rebuild_answers_grow_with_the_microversion(
    admin: Any, nova_lab: Any, version: str, extended: bool, key_name: bool
) -> None:
    """``PUT /servers/{id}`` and the rebuild action answer with the server, but before 2.75
    without what were v2.0 extensions (the STS/SRV-ATTR/SRV-USG/AZ fields, config drive,
    security groups, volumes) and with bare addresses; rebuild shows ``key_name`` from
    2.54 (tempest's response schemas for these answers allow no more)."""
    server = _boot(admin, f"answers-{version}")
    assert nova_lab.sim.quiesce(60)
    extensions = {
        "OS-EXT-STS:vm_state",
        "OS-EXT-SRV-ATTR:host",
        "OS-SRV-USG:launched_at",
        "OS-EXT-AZ:availability_zone",
        "config_drive",
        "os-extended-volumes:volumes_attached",
    }
    updated = _raw(admin, "PUT", f"/servers/{server.id}", version, json={"server": {"name": "n"}})
    assert updated.status_code == 200
    shown = updated.json()["server"]
    assert shown["name"] == "n" and shown["status"] == "ACTIVE"
    assert (extensions <= shown.keys()) is extended
    assert extended or not extensions & shown.keys()
    assert ("key_name" in shown) is extended
    image = admin.image.find_image("cirros").id
    rebuilt = _raw(
        admin,
        "POST",
        f"/servers/{server.id}/action",
        version,
        json={"rebuild": {"imageRef": image}},
    )
    assert rebuilt.status_code == 202
    shown = rebuilt.json()["server"]
    assert (extensions <= shown.keys()) is extended
    assert extended or not extensions & shown.keys()
    assert ("key_name" in shown) is key_name
    assert shown["adminPass"]
    assert nova_lab.sim.quiesce(60)
    admin.compute.delete_server(server)


def test_quota_sets_keep_nova_networks_quotas_before_2_36(admin: Any) -> None:
    """Before 2.36 a quota set still lists nova-network's quotas (-1, in use 0 -- Zed keeps
    them as unflagged AbsoluteResources), and they can be set; from 2.36 they are gone."""
    project, _ = _project(admin, "legacy-quotas")
    legacy = {"fixed_ips", "floating_ips", "security_groups", "security_group_rules"}
    path = f"/os-quota-sets/{project.id}"
    old = _raw(admin, "GET", path, "2.1").json()["quota_set"]
    assert {key: old[key] for key in legacy} == dict.fromkeys(legacy, -1)
    assert {"injected_files", "instances"} <= old.keys()
    detail = _raw(admin, "GET", f"{path}/detail", "2.1").json()["quota_set"]
    assert detail["floating_ips"] == {"limit": -1, "in_use": 0, "reserved": 0}
    defaults = _raw(admin, "GET", f"{path}/defaults", "2.1").json()["quota_set"]
    assert legacy <= defaults.keys()
    assert not legacy & _raw(admin, "GET", path, "2.36").json()["quota_set"].keys()
    changed = _raw(admin, "PUT", path, "2.1", json={"quota_set": {"floating_ips": 5}})
    assert changed.status_code == 200 and changed.json()["quota_set"]["floating_ips"] == 5
    assert _raw(admin, "GET", path, "2.1").json()["quota_set"]["floating_ips"] == 5
    refused = _raw(admin, "PUT", path, "2.36", json={"quota_set": {"floating_ips": 5}})
    assert refused.status_code == 400
    assert "('floating_ips' was unexpected)" in refused.json()["badRequest"]["message"]


def test_hypervisor_cpu_info_is_json_text_before_2_28(admin: Any) -> None:
    old = _raw(admin, "GET", "/os-hypervisors/detail", "2.27").json()["hypervisors"]
    new = _raw(admin, "GET", "/os-hypervisors/detail", "2.28").json()["hypervisors"]
    assert old and all(isinstance(h["cpu_info"], str) for h in old)
    assert [json.loads(h["cpu_info"]) for h in old] == [h["cpu_info"] for h in new]
    assert all(h["cpu_info"]["arch"] for h in new)


def test_flavors_page_by_id_with_limit_and_marker(admin: Any) -> None:
    """Nova sorts flavors by flavorid and pages them: ``limit`` and a ``next`` link, then
    ``marker`` (a flavor id) to start after it; an unknown marker is a 400."""
    everything = [f["id"] for f in _raw(admin, "GET", "/flavors", "2.1").json()["flavors"]]
    assert everything == sorted(everything) and len(everything) >= 3
    first = _raw(admin, "GET", "/flavors/detail?limit=2", "2.1").json()
    assert [f["id"] for f in first["flavors"]] == everything[:2]
    (link,) = first["flavors_links"]
    assert link["rel"] == "next" and link["href"].endswith(
        f"/v2.1/flavors/detail?limit=2&marker={everything[1]}"
    )
    after = _raw(admin, "GET", f"/flavors?marker={everything[1]}", "2.1").json()
    assert [f["id"] for f in after["flavors"]] == everything[2:]
    assert "flavors_links" not in after
    newest_first = _raw(admin, "GET", "/flavors?sort_dir=desc", "2.1").json()["flavors"]
    assert [f["id"] for f in newest_first] == everything[::-1]
    unknown = _raw(admin, "GET", "/flavors?marker=no-such-flavor", "2.1")
    assert unknown.status_code == 400
    assert unknown.json()["badRequest"]["message"] == "marker [no-such-flavor] not found"


def test_one_extra_spec_is_read_and_set_by_its_key(admin: Any) -> None:
    flavor = admin.compute.create_flavor(name="one-spec", ram=64, vcpus=1, disk=1)
    path = f"/flavors/{flavor.id}/os-extra_specs"
    assert _raw(admin, "PUT", f"{path}/hw:numa_nodes", json={"hw:numa_nodes": 1}).json() == {
        "hw:numa_nodes": 1
    }
    assert _raw(admin, "GET", f"{path}/hw:numa_nodes").json() == {"hw:numa_nodes": "1"}
    for body, message in (
        ({"hw:cpu_policy": "dedicated"}, "Request body and URI mismatch"),
        ({"hw:numa_nodes": "1", "x": "2"}, "{'hw:numa_nodes': '1', 'x': '2'} has too many"),
    ):
        refused = _raw(admin, "PUT", f"{path}/hw:numa_nodes", json=body)
        assert refused.status_code == 400
        assert refused.json()["badRequest"]["message"].startswith(message)
    missing = _raw(admin, "GET", f"{path}/hw:cpu_policy")
    assert missing.status_code == 404
    assert missing.json()["itemNotFound"]["message"] == (
        f"Flavor {flavor.id} has no extra specs with key hw:cpu_policy."
    )
    admin.compute.delete_flavor(flavor)


def test_a_flavors_description_changes_from_2_55(admin: Any) -> None:
    flavor = admin.compute.create_flavor(name="described", ram=64, vcpus=1, disk=1)
    body = {"flavor": {"description": "for the lab"}}
    assert _raw(admin, "PUT", f"/flavors/{flavor.id}", "2.54", json=body).status_code == 404
    changed = _raw(admin, "PUT", f"/flavors/{flavor.id}", "2.55", json=body)
    assert changed.status_code == 200
    assert changed.json()["flavor"]["description"] == "for the lab"
    shown = _raw(admin, "GET", f"/flavors/{flavor.id}", "2.55").json()["flavor"]
    assert shown["description"] == "for the lab"
    refused = _raw(admin, "PUT", f"/flavors/{flavor.id}", "2.55", json={"flavor": {"ram": 1}})
    assert refused.status_code == 400
    admin.compute.delete_flavor(flavor)


def test_every_version_the_compute_root_lists_answers_its_document(admin: Any) -> None:
    """``GET /compute`` lists v2.0 and v2.1; each link answers a version document (tempest's
    test_get_version_details follows them)."""
    import requests

    root = admin.compute.get_endpoint().rstrip("/").removesuffix("/v2.1")
    listed = requests.get(root, timeout=10).json()["versions"]
    assert [v["id"] for v in listed] == ["v2.0", "v2.1"]
    for version in listed:
        answer = requests.get(version["links"][0]["href"], timeout=10)
        assert answer.status_code == 200
        document = answer.json()["version"]
        assert document["id"] == version["id"] and document["status"] == version["status"]
        assert document["links"][0]["href"] == version["links"][0]["href"]


def test_a_servers_ips_per_network(admin: Any, nova_lab: Any) -> None:
    """``/servers/{id}/ips``: the server's addresses without the OS-EXT-IPS keys, per
    network; a network it has no port on is a 404."""
    network = admin.network.find_network("provider")
    server = admin.compute.create_server(
        name="ips",
        flavor_id=admin.compute.find_flavor("m1.nano").id,
        image_id=admin.image.find_image("cirros").id,
        networks=[{"uuid": network.id}],
    )
    server = admin.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], **WAIT)
    full = _raw(admin, "GET", f"/servers/{server.id}").json()["server"]["addresses"]
    bare = {
        net: [{"version": a["version"], "addr": a["addr"]} for a in ips]
        for net, ips in full.items()
    }
    assert list(bare) == ["provider"] and bare["provider"]
    assert _raw(admin, "GET", f"/servers/{server.id}/ips").json() == {"addresses": bare}
    one = _raw(admin, "GET", f"/servers/{server.id}/ips/provider")
    assert one.json() == {"provider": bare["provider"]}
    missing = _raw(admin, "GET", f"/servers/{server.id}/ips/elsewhere")
    assert missing.status_code == 404
    assert missing.json()["itemNotFound"]["message"] == (
        "Instance is not a member of specified network"
    )
    admin.compute.delete_server(server)
