"""Host aggregates through openstacksdk and the ``openstack aggregate`` CLI: create, show,
update, hosts in and out, metadata merged and removed, the availability zone rules, and
Nova's errors -- checked against the compute services the hosts come from."""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable
from typing import Any

import openstack
import pytest

from tests.conftest import openstack_cli
from tests.sim.nova_helpers import compute_raw, fault_message

pytestmark = pytest.mark.slow
_raw = compute_raw("2.1")
Osc = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def cli(nova_lab: Any) -> Osc:
    run = openstack_cli(nova_lab)
    return lambda *args, check=True: run(shlex.join(args), check=check)


def _computes(conn: Any) -> list[str]:
    return sorted(s.host for s in conn.compute.services() if s.binary == "nova-compute")


def test_aggregate_lifecycle_through_the_cli(
    cli: Osc, nova_admin: Any, unique: Callable[[str], str]
) -> None:
    name = unique("agg")
    made = json.loads(cli("aggregate", "create", "--zone", "az-x", name, "-f", "json").stdout)
    assert made["name"] == name and made["availability_zone"] == "az-x"
    host = _computes(nova_admin)[0]
    cli("aggregate", "add", "host", name, host)
    cli("aggregate", "set", "--property", "ssd=true", "--property", "gpu=no", name)
    cli("aggregate", "unset", "--property", "gpu", name)
    shown = nova_admin.compute.get_aggregate(made["id"])
    assert shown.hosts == [host] and shown.metadata == {"availability_zone": "az-x", "ssd": "true"}
    assert name in [a.name for a in nova_admin.compute.aggregates()]
    # a host with members cannot leave the aggregate's deletion to chance
    refused = cli("aggregate", "delete", name, check=False)
    assert refused.returncode != 0
    cli("aggregate", "remove", "host", name, host)
    cli("aggregate", "delete", name)
    with pytest.raises(openstack.exceptions.NotFoundException):
        nova_admin.compute.get_aggregate(made["id"])


def test_aggregate_errors_are_novas(
    nova_admin: Any, nova_demo: Any, unique: Callable[[str], str]
) -> None:
    name = unique("agg")
    first = nova_admin.compute.create_aggregate(name=name)
    again = _raw(nova_admin, "POST", "/os-aggregates", json={"aggregate": {"name": name}})
    assert fault_message(again) == (409, f"Aggregate {name} already exists.")
    empty = _raw(nova_admin, "POST", "/os-aggregates", json={"aggregate": {"name": ""}})
    assert fault_message(empty)[0] == 400
    assert fault_message(_raw(nova_demo, "GET", f"/os-aggregates/{first.id}")) == (
        403,
        "Policy doesn't allow os_compute_api:os-aggregates:show to be performed.",
    )
    assert fault_message(_raw(nova_admin, "GET", "/os-aggregates/abc")) == (
        400,
        "Invalid input received: id must be an integer",
    )
    assert fault_message(_raw(nova_admin, "GET", "/os-aggregates/999999")) == (
        404,
        "Aggregate 999999 could not be found.",
    )
    action = f"/os-aggregates/{first.id}/action"
    nowhere = _raw(nova_admin, "POST", action, json={"add_host": {"host": "nowhere"}})
    assert fault_message(nowhere) == (404, "Compute host nowhere could not be found.")
    host = _computes(nova_admin)[0]
    assert _raw(nova_admin, "POST", action, json={"add_host": {"host": host}}).status_code == 200
    twice = _raw(nova_admin, "POST", action, json={"add_host": {"host": host}})
    assert fault_message(twice) == (409, f"Aggregate {first.id} already has host {host}.")
    # the same host in a second aggregate of another zone: a conflict of zones
    other = nova_admin.compute.create_aggregate(name=unique("agg"), availability_zone="az-y")
    nova_admin.compute.set_aggregate_metadata(first.id, availability_zone="az-z")
    clash = _raw(
        nova_admin, "POST", f"/os-aggregates/{other.id}/action", json={"add_host": {"host": host}}
    )
    status, message = fault_message(clash)
    assert status == 409 and "One or more hosts already in availability zone(s) ['az-z']" in message
    gone = _raw(nova_admin, "POST", action, json={"remove_host": {"host": "nowhere"}})
    assert fault_message(gone) == (404, f"Cannot remove host nowhere in aggregate {first.id}")
    assert (
        "uuid"
        in _raw(nova_admin, "GET", f"/os-aggregates/{first.id}", version="2.41").json()["aggregate"]
    )
    nova_admin.compute.remove_host_from_aggregate(first.id, host)
    nova_admin.compute.delete_aggregate(first.id)
    nova_admin.compute.delete_aggregate(other.id)
