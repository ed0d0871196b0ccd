"""The resource tracker's usage, as ``openstack hypervisor show`` reports it: a boot claims the
flavor on its node and nowhere else, a delete gives it back. (The compute node's counters
are one UPDATE per claim, never below zero.)"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow
FIELDS = ("vcpus_used", "memory_mb_used", "local_gb_used", "running_vms")


@pytest.fixture(scope="module")
def admin(nova_lab: Any) -> Any:
    return nova_lab.connect("admin")


def _usage(admin: Any) -> dict[str, dict[str, int]]:
    answer = admin.compute.get("/os-hypervisors/detail", microversion="2.53")
    assert answer.status_code == 200, answer.text
    return {
        h["hypervisor_hostname"]: {f: int(h[f]) for f in FIELDS}
        for h in answer.json()["hypervisors"]
    }


def test_a_boot_claims_its_flavor_and_a_delete_gives_it_back(admin: Any) -> None:
    flavor = admin.compute.find_flavor("m1.nano", ignore_missing=False)
    image = admin.image.find_image("cirros", ignore_missing=False)
    before = _usage(admin)
    server = admin.compute.create_server(
        name="usage", flavor_id=flavor.id, image_id=image.id, networks="none"
    )
    server = admin.compute.wait_for_server(server, interval=0.1, wait=60)
    host = server.hypervisor_hostname
    during = _usage(admin)
    assert during[host] == {
        "vcpus_used": before[host]["vcpus_used"] + flavor.vcpus,
        "memory_mb_used": before[host]["memory_mb_used"] + flavor.ram,
        "local_gb_used": before[host]["local_gb_used"] + flavor.disk,
        "running_vms": before[host]["running_vms"] + 1,
    }
    assert {h: u for h, u in during.items() if h != host} == {
        h: u for h, u in before.items() if h != host
    }
    admin.compute.delete_server(server)
    admin.compute.wait_for_delete(server, interval=0.1, wait=60)
    assert _usage(admin) == before
