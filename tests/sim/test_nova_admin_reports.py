"""What admins read of Nova that the computes would report: a server's diagnostics (libvirt's
own dict before 2.48, the common shape from 2.48) and the instance usage audit log (never
run in the lab: every compute host "not run") -- through openstacksdk's session, checked
against the server, its flavor, its Neutron port and the compute services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.sim.nova_helpers import compute_raw, fault_message

pytestmark = pytest.mark.slow
_raw = compute_raw("2.1")
WAIT = {"interval": 0.2, "wait": 60}


def test_diagnostics_of_a_running_server(
    nova_admin: Any, nova_demo: Any, unique: Callable[[str], str]
) -> None:
    flavor = nova_demo.compute.find_flavor("m1.tiny")
    server = nova_demo.compute.create_server(
        name=unique("diag"),
        flavor_id=flavor.id,
        image_id=nova_demo.image.find_image("cirros").id,
        networks="auto",
    )
    server = nova_demo.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], **WAIT)
    old = _raw(nova_admin, "GET", f"/servers/{server.id}/diagnostics").json()
    assert old["memory"] == flavor.ram * 1024
    assert sorted(k for k in old if k.endswith("_time")) == [
        f"cpu{i}_time" for i in range(flavor.vcpus)
    ]
    new = _raw(nova_admin, "GET", f"/servers/{server.id}/diagnostics", version="2.48").json()
    (port,) = nova_demo.network.ports(device_id=server.id)
    assert (new["state"], new["driver"], new["num_cpus"]) == ("running", "libvirt", flavor.vcpus)
    assert [n["mac_address"] for n in new["nic_details"]] == [port.mac_address]
    assert new["memory_details"]["maximum"] == flavor.ram
    # admins only, even for the owner
    assert fault_message(_raw(nova_demo, "GET", f"/servers/{server.id}/diagnostics")) == (
        403,
        "Policy doesn't allow os_compute_api:os-server-diagnostics to be performed.",
    )
    nova_demo.compute.stop_server(server.id)
    nova_demo.compute.wait_for_server(server, status="SHUTOFF", **WAIT)
    assert fault_message(_raw(nova_admin, "GET", f"/servers/{server.id}/diagnostics")) == (
        409,
        f"Cannot 'get_diagnostics' instance {server.id} while it is in power state shutdown",
    )
    nova_demo.compute.delete_server(server.id)


def test_usage_audit_log_of_the_last_month(nova_admin: Any, nova_demo: Any) -> None:
    computes = sorted({s.host for s in nova_admin.compute.services() if s.binary == "nova-compute"})
    log = _raw(nova_admin, "GET", "/os-instance_usage_audit_log").json()[
        "instance_usage_audit_logs"
    ]
    assert log["hosts_not_run"] == computes and log["num_hosts_done"] == 0
    assert log["overall_status"] == f"0 of {len(computes)} hosts done. 0 errors."
    assert log["period_beginning"].endswith("-01 00:00:00") and log["log"] == {}
    assert log["period_beginning"] < log["period_ending"]

    path = "/os-instance_usage_audit_log/2026-03-15 10:00:00"
    march = _raw(nova_admin, "GET", path).json()["instance_usage_audit_log"]
    assert (march["period_beginning"], march["period_ending"]) == (
        "2026-02-01 00:00:00",
        "2026-03-01 00:00:00",
    )
    # a period ends strictly before the moment asked about
    newyear = _raw(nova_admin, "GET", "/os-instance_usage_audit_log/2026-01-01 00:00:00.000").json()
    assert newyear["instance_usage_audit_log"]["period_ending"] == "2025-12-01 00:00:00"
    assert fault_message(_raw(nova_admin, "GET", "/os-instance_usage_audit_log/yesterday")) == (
        400,
        "Invalid timestamp for date yesterday",
    )
    assert fault_message(_raw(nova_demo, "GET", "/os-instance_usage_audit_log"))[0] == 403


def test_extensions_are_the_fixed_v21_list(nova_demo: Any) -> None:
    listed = _raw(nova_demo, "GET", "/extensions").json()["extensions"]
    aliases = [e["alias"] for e in listed]
    assert len(set(aliases)) == len(aliases) and {"os-hosts", "os-keypairs"} <= set(aliases)
    for extension in listed[:5]:
        shown = _raw(nova_demo, "GET", f"/extensions/{extension['alias']}").json()["extension"]
        assert shown == extension
    assert fault_message(_raw(nova_demo, "GET", "/extensions/os-nothing")) == (
        404,
        "The resource could not be found.",
    )


def test_the_default_quota_class_is_every_projects_defaults(
    nova_admin: Any, nova_demo: Any
) -> None:
    before = _raw(nova_admin, "GET", "/os-quota-class-sets/default").json()["quota_class_set"]
    assert before["id"] == "default" and "server_groups" not in before  # before 2.50
    demo_project = nova_demo.current_project_id
    try:
        answer = _raw(
            nova_admin,
            "PUT",
            "/os-quota-class-sets/default",
            json={"quota_class_set": {"metadata_items": 77}},
            version="2.57",
        )
        assert answer.json()["quota_class_set"]["metadata_items"] == 77
        assert "id" not in answer.json()["quota_class_set"]
        defaults = nova_admin.compute.get_quota_set_defaults(demo_project)
        assert defaults.metadata_items == 77
        # a project without its own limit has the class's
        assert nova_admin.compute.get_quota_set(demo_project).metadata_items == 77
    finally:
        _raw(
            nova_admin,
            "PUT",
            "/os-quota-class-sets/default",
            json={"quota_class_set": {"metadata_items": before["metadata_items"]}},
        )
    bad = _raw(
        nova_admin,
        "PUT",
        "/os-quota-class-sets/default",
        json={"quota_class_set": {"server_groups": 3}},  # not a key before 2.50
    )
    assert fault_message(bad)[0] == 400
    assert fault_message(_raw(nova_demo, "GET", "/os-quota-class-sets/default")) == (
        403,
        "Policy doesn't allow os_compute_api:os-quota-class-sets:show to be performed.",
    )
