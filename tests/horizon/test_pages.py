"""The real Horizon against the sim: every page the learner uses, through Horizon's own
clients (python-novaclient, glanceclient, neutronclient, keystoneclient).

Each test logs in with the form as a browser does and reads the pages Horizon renders (or,
for its AngularJS panels, the JSON of Horizon's REST API those panels fetch). A page that
shows one of Horizon's red "Unable to retrieve ..." messages fails: that is how Horizon
shows a call the sim answered in a way its client did not accept.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.horizon.pages import ADMIN_PAGES, PAGES, DashboardError, DashboardSession, row_text
from labkit.lab import Lab
from tests.horizon.fixtures import Login

pytestmark = pytest.mark.slow  # a sim with every layer and the real Horizon


def _public_key() -> str:
    """A fresh ed25519 public key in OpenSSH's format, as a learner pastes theirs."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return raw.decode() + " learner@laptop"


PUBLIC_KEY = _public_key()


def _sim_5xx(lab: Lab) -> list[str]:
    """Lines of the sim's access logs with a 5xx status: there must be none."""
    lines = []
    for log in Path(lab.paths.logs).glob("*.log"):
        if log.name in ("horizon.log", "sim.log", "sim-process.log"):
            continue
        lines += [
            line for line in log.read_text().splitlines() if re.search(r"status: 5\d\d", line)
        ]
    return lines


@pytest.fixture(scope="module")
def demo_conn(horizon_lab: Lab) -> Any:
    return horizon_lab.connect("demo")


@pytest.fixture(scope="module")
def server(demo_conn: Any) -> Iterator[Any]:
    """A server the demo booted with openstacksdk, ACTIVE with an address."""
    image = demo_conn.image.find_image("trusty", ignore_missing=False)
    flavor = demo_conn.compute.find_flavor("m1.tiny", ignore_missing=False)
    network = demo_conn.network.find_network("provider", ignore_missing=False)
    booted = demo_conn.compute.create_server(
        name="dash-server", image_id=image.id, flavor_id=flavor.id, networks=[{"uuid": network.id}]
    )
    booted = demo_conn.compute.wait_for_server(booted, wait=120, interval=0.5)
    yield booted
    demo_conn.compute.delete_server(booted, ignore_missing=True)


@pytest.fixture()
def demo(horizon_url: str, horizon_users: dict[str, Login]) -> Iterator[DashboardSession]:
    with DashboardSession(horizon_url) as session:
        login = horizon_users["demo"]
        session.login(login.user, login.password, login.domain)
        yield session


@pytest.fixture()
def admin(horizon_url: str, horizon_users: dict[str, Login]) -> Iterator[DashboardSession]:
    with DashboardSession(horizon_url) as session:
        login = horizon_users["admin"]
        session.login(login.user, login.password, login.domain)
        yield session


def test_a_wrong_password_is_refused_with_horizons_message(
    horizon_url: str, horizon_users: dict[str, Login]
) -> None:
    with (
        DashboardSession(horizon_url) as session,
        pytest.raises(DashboardError, match="Invalid credentials"),
    ):
        session.login("demo", horizon_users["demo"].password + "x")


def test_every_project_page_opens_for_demo(demo: DashboardSession, horizon_lab: Lab) -> None:
    for path, title in PAGES:
        demo.open(path, title)
    assert _sim_5xx(horizon_lab) == []


def test_the_demos_server_shows_in_the_instance_list_with_status_and_address(
    demo: DashboardSession, server: Any
) -> None:
    address = server.addresses["provider"][0]["addr"]
    page = demo.open("/project/instances/", "Instances")
    text = row_text(page, "instances", server.id)
    assert "dash-server" in text and "Active" in text and address in text, text
    assert "m1.tiny" in text and "trusty" in text and "Running" in text, text


def test_the_instance_page_and_its_console_log(demo: DashboardSession, server: Any) -> None:
    page = demo.open(f"/project/instances/{server.id}/", "dash-server")
    assert "Overview" in page.text and server.id in page.text
    demo.open(f"/project/instances/{server.id}/?tab=instance_details__log", "dash-server")
    log = demo.ajax(f"/project/instances/{server.id}/console")
    assert log.status_code == 200
    assert "Cloud-init" in log.text or "cloud-init" in log.text, log.text[:300]


def test_overview_shows_the_quota_charts(demo: DashboardSession, server: Any) -> None:
    page = demo.open("/project/", "Instance Overview")
    text = " ".join(re.sub(r"<[^>]+>", " ", page.text).split())
    # The pie charts' legends: "Instances Used 1 of 10", "VCPUs Used 1 of 20" ...
    assert re.search(r"Instances\s+Used\s+\d+\s+of\s+10", text), text[:2000]
    assert re.search(r"VCPUs\s+Used\s+\d+\s+of\s+20", text)
    assert re.search(r"RAM\s+Used\s+\d+MB\s+of\s+50GB", text)


def test_the_angular_panels_data_comes_through_horizons_clients(
    demo: DashboardSession, server: Any
) -> None:
    images = demo.ajax("/api/glance/images/").json()["items"]
    assert "trusty" in {i["name"] for i in images}
    flavors = demo.ajax("/api/nova/flavors/?get_extras=true").json()["items"]
    assert "m1.tiny" in {f["name"] for f in flavors}
    networks = demo.ajax("/api/neutron/networks/").json()["items"]
    assert "provider" in {n["name"] for n in networks}
    groups = demo.ajax("/api/network/securitygroups/").json()["items"]
    assert "default" in {g["name"] for g in groups}
    zones = demo.ajax("/api/nova/availzones/").json()["items"]
    assert [z["zoneName"] for z in zones] == ["nova"]
    # The wizard's "Metadata" step lists Glance's metadata definitions (none are loaded).
    namespaces = demo.ajax("/api/glance/metadefs/namespaces/?resource_type=OS::Nova::Flavor")
    assert namespaces.status_code == 200 and namespaces.json()["items"] == []
    limits = demo.ajax("/api/nova/limits/?reserved=true").json()
    assert limits["maxTotalInstances"] == 10 and limits["totalInstancesUsed"] >= 1


def test_image_details(demo: DashboardSession, demo_conn: Any) -> None:
    image = demo_conn.image.find_image("trusty", ignore_missing=False)
    detail = demo.ajax(f"/api/glance/images/{image.id}/").json()
    assert detail["name"] == "trusty" and detail["status"] == "active"
    demo.open(f"/project/images/{image.id}/", "Images")  # AngularJS fills it from the API


def test_create_an_image_by_upload(demo: DashboardSession, demo_conn: Any) -> None:
    """The Images panel's "Create Image" with a file: the browser posts it to Horizon
    (HORIZON_IMAGES_UPLOAD_MODE "legacy"), which uploads it to Glance with glanceclient.
    The form's values travel as JSON next to the file, as Horizon's JavaScript sends them."""
    meta = {
        "name": "dash-upload",
        "disk_format": "qcow2",
        "container_format": "bare",
        "visibility": "private",
        "protected": False,
        "min_disk": 0,
        "min_ram": 0,
    }
    answer = demo.upload("/api/glance/images/", meta, "tiny.qcow2", b"QFI\xfb" + bytes(4096))
    assert answer.status_code == 201, answer.text[:500]
    image_id = answer.json()["id"]
    try:
        deadline = time.monotonic() + 30
        while demo_conn.image.get_image(image_id).status != "active":
            assert time.monotonic() < deadline, "the upload never finished"
            time.sleep(0.2)
        assert demo_conn.image.get_image(image_id).size == 4100
    finally:
        demo_conn.image.delete_image(image_id, ignore_missing=True)


def test_an_image_from_a_url_gets_glances_own_refusal(
    demo: DashboardSession, demo_conn: Any
) -> None:
    """Horizon 23 makes an image "from a URL" by adding a *location* to it, which Glance
    refuses unless show_multiple_locations is on (the Install Guide leaves it off, and
    IMAGES_ALLOW_LOCATION off hides the choice in the form). The sim says what Glance says."""
    answer = demo.api(
        "PUT",
        "/api/glance/images/",
        {
            "name": "dash-url",
            "source_type": "url",
            "image_url": "http://example.com/cirros.img",
            "disk_format": "qcow2",
            "container_format": "bare",
            "visibility": "private",
            "protected": False,
            "import_data": False,
        },
    )
    try:
        assert answer.status_code == 403, answer.text[:500]
        assert "not allowed to add locations if locations are invisible" in answer.text
    finally:
        for image in demo_conn.image.images(name="dash-url"):
            demo_conn.image.delete_image(image)


def test_key_pairs_import_and_create(demo: DashboardSession, demo_conn: Any) -> None:
    imported = demo.api(
        "POST",
        "/api/nova/keypairs/",
        {"name": "dash-imported", "public_key": PUBLIC_KEY, "key_type": "ssh"},
    )
    assert imported.status_code == 201, imported.text
    created = demo.api("POST", "/api/nova/keypairs/", {"name": "dash-created", "key_type": "ssh"})
    assert created.status_code == 201, created.text
    assert "PRIVATE KEY" in created.json()["private_key"]
    listed = {k["keypair"]["name"] for k in demo.ajax("/api/nova/keypairs/").json()["items"]}
    assert {"dash-imported", "dash-created"} <= listed
    page = demo.open("/project/key_pairs/", "Key Pairs")
    assert page.status == 200
    for name in ("dash-imported", "dash-created"):
        demo_conn.compute.delete_keypair(name, ignore_missing=True)


def test_security_group_rules_add_and_delete(demo: DashboardSession, demo_conn: Any) -> None:
    group = demo_conn.network.create_security_group(name="dash-sg")
    try:
        path = f"/project/security_groups/{group.id}/"
        demo.open(path, "Manage Security Group Rules")
        added = demo.form(
            f"{path}add_rule/",
            {
                "id": group.id,
                "rule_menu": "tcp",
                "direction": "ingress",
                "port_or_range": "port",
                "port": "22",
                "remote": "cidr",
                "cidr": "0.0.0.0/0",
                "ethertype": "IPv4",
            },
        )
        assert added.status == 200 and not added.errors, added.errors
        rules = list(demo_conn.network.security_group_rules(security_group_id=group.id))
        ssh = [r for r in rules if r.port_range_min == 22 and r.direction == "ingress"]
        assert len(ssh) == 1 and ssh[0].protocol == "tcp"
        demo.table_action(path, f"rules__delete__{ssh[0].id}")
        left = list(demo_conn.network.security_group_rules(security_group_id=group.id))
        assert ssh[0].id not in {r.id for r in left}
    finally:
        demo_conn.network.delete_security_group(group, ignore_missing=True)


def test_edit_an_instances_security_groups(
    demo: DashboardSession, demo_conn: Any, server: Any
) -> None:
    """The instance's "Edit Security Groups": Horizon sets the groups of its port."""
    web = demo_conn.network.create_security_group(name="dash-web")
    default = demo_conn.network.find_security_group(
        "default", project_id=server.project_id, ignore_missing=False
    )
    path = f"/project/instances/{server.id}/update"

    def choose(*group_ids: str) -> list[list[str]]:
        shown = demo.get(path)
        fields = {
            "csrfmiddlewaretoken": demo._token(shown.text),
            "name": "dash-server",
            "description": "",
            "default_update_security_groups_role": "member",
            "update_security_groups_role_member": list(group_ids),
        }
        page = demo.post(path, fields)
        assert page.path == "/project/instances/" and not page.errors, page.errors
        return [sorted(p.security_group_ids) for p in demo_conn.network.ports(device_id=server.id)]

    try:
        assert choose(default.id, web.id) == [sorted([default.id, web.id])]
        assert choose(default.id) == [[default.id]]
    finally:
        demo_conn.network.delete_security_group(web, ignore_missing=True)


def test_network_topology_shows_the_server_on_the_provider_network(
    demo: DashboardSession, server: Any
) -> None:
    demo.open("/project/network_topology/", "Network Topology")
    data = demo.ajax("/project/network_topology/json").json()
    assert server.id in {s["id"] for s in data["servers"]}
    assert "provider" in {n["name"] for n in data["networks"]}


def test_launch_stop_start_reboot_delete(demo: DashboardSession, demo_conn: Any) -> None:
    image = demo_conn.image.find_image("trusty", ignore_missing=False)
    flavor = demo_conn.compute.find_flavor("m1.tiny", ignore_missing=False)
    network = demo_conn.network.find_network("provider", ignore_missing=False)
    demo_conn.compute.create_keypair(name="dash-launch", public_key=PUBLIC_KEY)
    try:
        launched = demo.api(
            "POST",
            "/api/nova/servers/",
            {
                "name": "dash-launched",
                "source_id": image.id,
                "flavor_id": flavor.id,
                "key_name": "dash-launch",
                "user_data": "",
                "security_groups": [{"name": "default"}],
                "nics": [{"net-id": network.id, "v4-fixed-ip": ""}],
                "availability_zone": "nova",
                "instance_count": 1,
                "disk_config": "AUTO",
                "config_drive": False,
                "block_device_mapping": {},
                "scheduler_hints": {},
            },
        )
        assert launched.status_code == 201, launched.text
        server_id = launched.json()["id"]
        booted = demo_conn.compute.wait_for_server(
            demo_conn.compute.get_server(server_id), wait=120, interval=0.5
        )
        assert booted.addresses["provider"][0]["addr"]
        assert booted.key_name == "dash-launch"
        for action, status in (("stop", "SHUTOFF"), ("start", "ACTIVE"), ("reboot", "ACTIVE")):
            page = demo.table_action("/project/instances/", f"instances__{action}__{server_id}")
            assert page.status == 200 and not page.errors, (action, page.errors)
            demo_conn.compute.wait_for_server(
                demo_conn.compute.get_server(server_id), status=status, wait=60, interval=0.3
            )
        demo.table_action("/project/instances/", f"instances__delete__{server_id}")
        demo_conn.compute.wait_for_delete(booted, wait=60, interval=0.3)
    finally:
        demo_conn.compute.delete_keypair("dash-launch", ignore_missing=True)


def test_a_launch_over_quota_shows_novas_quota_exceeded(
    demo: DashboardSession, demo_conn: Any
) -> None:
    image = demo_conn.image.find_image("trusty", ignore_missing=False)
    flavor = demo_conn.compute.find_flavor("m1.tiny", ignore_missing=False)
    network = demo_conn.network.find_network("provider", ignore_missing=False)
    answer = demo.api(
        "POST",
        "/api/nova/servers/",
        {
            "name": "too-many",
            "source_id": image.id,
            "flavor_id": flavor.id,
            "key_name": "",
            "user_data": "",
            "security_groups": [{"name": "default"}],
            "nics": [{"net-id": network.id}],
            "instance_count": 50,
        },
    )
    assert answer.status_code == 403, answer.text
    assert "Quota exceeded" in answer.text


def test_a_server_no_host_can_take_shows_novas_fault(
    demo: DashboardSession, demo_conn: Any, horizon_lab: Lab
) -> None:
    admin = horizon_lab.connect("admin")
    huge = admin.compute.create_flavor(name="dash-huge", ram=512, vcpus=1, disk=5000)
    image = demo_conn.image.find_image("trusty", ignore_missing=False)
    network = demo_conn.network.find_network("provider", ignore_missing=False)
    try:
        answer = demo.api(
            "POST",
            "/api/nova/servers/",
            {
                "name": "dash-nohost",
                "source_id": image.id,
                "flavor_id": huge.id,
                "key_name": "",
                "user_data": "",
                "security_groups": [{"name": "default"}],
                "nics": [{"net-id": network.id}],
            },
        )
        assert answer.status_code == 201, answer.text
        server_id = answer.json()["id"]
        failed = demo_conn.compute.wait_for_server(
            demo_conn.compute.get_server(server_id), status="ERROR", wait=60, interval=0.3
        )
        page = demo.open("/project/instances/", "Instances")
        assert "Error" in row_text(page, "instances", server_id)
        detail = demo.open(f"/project/instances/{server_id}/", "dash-nohost")
        assert "No valid host was found" in detail.text
        demo_conn.compute.delete_server(failed)
        demo_conn.compute.wait_for_delete(failed, wait=60, interval=0.3)
    finally:
        admin.compute.delete_flavor(huge, ignore_missing=True)


def test_demo_is_refused_the_admin_panels(demo: DashboardSession) -> None:
    """The Admin dashboard is not in demo's menu; opened by its URL, its panels show the
    403s Nova answers Horizon's clients, in Nova's words."""
    page = demo.get("/project/")
    assert "horizon.dashboard.admin" not in page.text and 'href="/admin/"' not in page.text
    hypervisors = demo.get("/admin/hypervisors/")
    assert any(
        "Policy doesn't allow os_compute_api:os-hypervisors:list to be performed. (HTTP 403)"
        in error
        for error in hypervisors.errors
    ), hypervisors.errors


def test_every_admin_page_opens_and_shows_the_clouds_parts(
    admin: DashboardSession, horizon_lab: Lab, server: Any
) -> None:
    pages = {path: admin.open(path, title) for path, title in ADMIN_PAGES}
    hypervisors = pages["/admin/hypervisors/"]
    for row in ("1_controller", "2_worker1"):
        assert "QEMU" in row_text(hypervisors, "hypervisors", row), row
    host_name = horizon_lab.connect("admin").compute.get_server(server.id).hypervisor_hostname
    link = re.search(rf'href="(/admin/hypervisors/\d+_{host_name}/)"', hypervisors.text)
    assert link, f"no link to {host_name}'s page"
    host = admin.get(link.group(1))
    assert not host.errors, host.errors
    # Nova names a server here by its libvirt name, as the real page shows it.
    assert row_text(host, "hypervisor_instances", server.id).startswith("instance-")
    info = pages["/admin/info/"]
    for row in ("nova-compute-controller-nova", "nova-compute-worker1-nova"):
        assert "Enabled Up" in row_text(info, "nova_services", row), row
    assert "Enabled Up" in row_text(info, "nova_services", "nova-scheduler-controller-internal")
    assert "Enabled Up" in row_text(info, "network_agents", "neutron-dhcp-agent-controller")
    assert "m1.tiny" in pages["/admin/flavors/"].text
    assert "dash-server" in pages["/admin/instances/"].text
    projects = pages["/identity/"].text
    assert all(name in projects for name in ("admin", "demo", "service"))
    users = pages["/identity/users/"].text
    assert all(name in users for name in ("admin", "demo", "nova", "neutron"))
    assert row_text(pages["/admin/defaults/"], "compute_quotas", "instances") == "Instances 10"
    assert _sim_5xx(horizon_lab) == []


def test_admin_creates_a_flavor_and_a_user_with_horizons_forms(
    admin: DashboardSession, horizon_lab: Lab
) -> None:
    conn = horizon_lab.connect("admin")
    demo_project = conn.identity.find_project("demo", ignore_missing=False)
    member = conn.identity.find_role("member", ignore_missing=False)
    try:
        made = admin.form(
            "/admin/flavors/create/",
            {
                "name": "dash-flavor",
                "flavor_id": "auto",
                "vcpus": "1",
                "memory_mb": "128",
                "disk_gb": "1",
                "eph_gb": "0",
                "swap_mb": "0",
                "rxtx_factor": "1",
                "default_flavor_access_role": "member",
            },
        )
        assert made.path == "/admin/flavors/" and not made.errors, made.errors
        flavor = conn.compute.find_flavor("dash-flavor", ignore_missing=False)
        assert (flavor.vcpus, flavor.ram, flavor.disk) == (1, 128, 1)
        made = admin.form(
            "/identity/users/create/",
            {
                "domain_id": "default",
                "domain_name": "Default",
                "name": "dash-user",
                "password": "Secret-123",
                "confirm_password": "Secret-123",
                "project": demo_project.id,
                "role_id": member.id,
                "enabled": "on",
            },
        )
        assert made.path == "/identity/users/" and not made.errors, made.errors
        user = conn.identity.find_user("dash-user", ignore_missing=False)
        roles = list(conn.identity.role_assignments(user_id=user.id))
        assert [(r.role["id"], r.scope["project"]["id"]) for r in roles] == [
            (member.id, demo_project.id)
        ]
    finally:
        for found in conn.compute.flavors(is_public=None):
            if found.name == "dash-flavor":
                conn.compute.delete_flavor(found)
        user = conn.identity.find_user("dash-user")
        if user is not None:
            conn.identity.delete_user(user)


def test_the_project_switcher(admin: DashboardSession, horizon_lab: Lab) -> None:
    conn = horizon_lab.connect("admin")
    demo_project = conn.identity.find_project("demo", ignore_missing=False)
    admin_user = conn.identity.find_user("admin", ignore_missing=False)
    member = conn.identity.find_role("member", ignore_missing=False)
    conn.identity.assign_project_role_to_user(demo_project, admin_user, member)
    try:
        page = admin.switch_project(demo_project.id)
        assert page.status == 200 and page.path == "/project/"
        # The header's project menu names the project the session is now scoped to.
        assert re.search(r'class="context-project"[^>]*>\s*demo\s*<', page.text), page.text[:200]
        session = admin.ajax("/api/keystone/user-session/").json()
        assert session["project_id"] == demo_project.id
    finally:
        conn.identity.unassign_project_role_from_user(demo_project, admin_user, member)
