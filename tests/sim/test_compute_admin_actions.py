"""The admin actions and server calls tempest's compute tests make, through openstacksdk
(raw requests where it has no call):

- ``os-resetState`` sets ERROR or ACTIVE in the database (admin only; bad states refused in
  the schema's words), ``injectNetworkInfo`` is accepted for admins, ``forceDelete``
  deletes, ``restore`` of a server that was never soft-deleted is a 409;
- ``os-server-password`` shows what the guest POSTed to the metadata service and clears it;
- ``/os-hypervisors/{id}/uptime`` before 2.88.
"""

from __future__ import annotations

import os
from typing import Any

import openstack
import pytest

from tests.sim.nova_helpers import compute_raw, fault_message

pytestmark = pytest.mark.slow
WAIT = {"interval": 0.2, "wait": 60}
TAG = os.urandom(3).hex()


@pytest.fixture(scope="module")
def admin(nova_lab: Any) -> Any:
    return nova_lab.connect("admin")


_raw = compute_raw("2.1")


def _boot(conn: Any, name: str, networks: Any = "none") -> Any:
    server = conn.compute.create_server(
        name=name,
        flavor_id=conn.compute.find_flavor("m1.tiny").id,
        image_id=conn.image.find_image("cirros").id,
        networks=networks,
    )
    return conn.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], **WAIT)


def test_reset_state_inject_network_info_force_delete_and_restore(
    admin: Any, nova_lab: Any
) -> None:
    demo = nova_lab.connect("demo")
    server = _boot(demo, f"admin-actions-{TAG}")
    admin.compute.reset_server_state(server, "error")
    assert demo.compute.get_server(server.id).status == "ERROR"
    assert server.id in {s.id for s in demo.compute.servers(status="ERROR")}
    admin.compute.reset_server_state(server, "active")
    assert demo.compute.get_server(server.id).status == "ACTIVE"
    actions = [a.action for a in admin.compute.server_actions(server)]
    assert actions.count("resetState") == 2

    action = f"/servers/{server.id}/action"
    bad = _raw(admin, "POST", action, json={"os-resetState": {"state": "stopped"}})
    assert fault_message(bad) == (
        400,
        "Invalid input for field/attribute state. Value: stopped. 'stopped' is not one of "
        "['active', 'error']",
    )
    member = _raw(demo, "POST", action, json={"os-resetState": {"state": "error"}})
    assert fault_message(member) == (
        403,
        "Policy doesn't allow os_compute_api:os-admin-actions:reset_state to be performed.",
    )
    missing = _raw(admin, "POST", "/servers/999/action", json={"os-resetState": {"state": "error"}})
    assert fault_message(missing) == (404, "Instance 999 could not be found.")

    assert _raw(admin, "POST", action, json={"injectNetworkInfo": None}).status_code == 202
    assert _raw(demo, "POST", action, json={"injectNetworkInfo": None}).status_code == 403

    with pytest.raises(openstack.exceptions.ConflictException) as conflict:
        demo.compute.restore_server(server)
    assert f"Cannot 'restore' instance {server.id} while it is in vm_state active" in str(
        conflict.value
    )
    demo.compute.delete_server(server, force=True)
    demo.compute.wait_for_delete(server, **WAIT)
    gone = _raw(demo, "POST", action, json={"forceDelete": None})
    assert fault_message(gone) == (404, f"Instance {server.id} could not be found.")


def test_the_server_password_is_what_the_guest_posted(admin: Any, nova_lab: Any) -> None:
    server = _boot(admin, f"password-{TAG}", networks="auto")
    assert admin.compute.get_server_password(server) == ""
    port = next(iter(admin.network.ports(device_id=server.id)))
    address, network = port.fixed_ips[0]["ip_address"], port.network_id
    posted = nova_lab.sim.wire_http(
        address, "/openstack/latest/password", network_id=network, method="POST", body="s3cret"
    )
    assert posted["status"] == 200, posted
    assert admin.compute.get_server_password(server) == "s3cret"
    admin.compute.clear_server_password(server)
    assert admin.compute.get_server_password(server) == ""
    nova_lab.sim.advance_clock(16)  # past the metadata cache: the guest may set it again
    again = nova_lab.sim.wire_http(
        address, "/openstack/latest/password", network_id=network, method="POST", body="other"
    )
    assert again["status"] == 200, again
    assert admin.compute.get_server_password(server) == "other"
    admin.compute.delete_server(server)


def test_hypervisor_uptime_before_2_88(admin: Any) -> None:
    listed = _raw(admin, "GET", "/os-hypervisors").json()["hypervisors"]
    first = listed[0]
    answer = _raw(admin, "GET", f"/os-hypervisors/{first['id']}/uptime")
    assert answer.status_code == 200, answer.text
    shown = answer.json()["hypervisor"]
    assert shown["hypervisor_hostname"] == first["hypervisor_hostname"]
    assert " up " in shown["uptime"]
    by_uuid = _raw(admin, "GET", "/os-hypervisors", "2.53").json()["hypervisors"][0]
    assert _raw(admin, "GET", f"/os-hypervisors/{by_uuid['id']}/uptime", "2.53").ok
    assert fault_message(_raw(admin, "GET", "/os-hypervisors/1/uptime", "2.53")) == (
        400,
        "Invalid uuid 1",
    )
    assert fault_message(_raw(admin, "GET", "/os-hypervisors/999/uptime")) == (
        404,
        "Hypervisor with ID '999' could not be found.",
    )
    gone = _raw(admin, "GET", f"/os-hypervisors/{by_uuid['id']}/uptime", "2.88")
    assert gone.status_code == 404
    # from 2.88 (the SDK negotiates it) the detail has the uptime
    assert " up " in (admin.compute.get_hypervisor(by_uuid["id"]).uptime or "")
