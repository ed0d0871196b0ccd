"""Placement through the ``openstack`` CLI with osc-placement, as the Install Guide verifies
it and as a learner inspects hosts and claims."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.sim import placement_helpers as ph


@pytest.fixture(scope="module")
def cli(sim_lab: Any, osc: Any) -> Any:
    sim_lab.ensure("placement")
    return osc


def _json(cli: Any, command: str) -> Any:
    return json.loads(cli(f"{command} -f json").stdout)


def test_resource_provider_create_show_list(cli: Any, unique: Any) -> None:
    name = unique("cli-rp")
    created = _json(cli, f"resource provider create {name}")
    assert created["name"] == name and created["generation"] == 0
    shown = _json(cli, f"resource provider show {created['uuid']}")
    assert shown["uuid"] == created["uuid"]
    listed = _json(cli, "resource provider list")
    assert name in {p["name"] for p in listed}


def test_inventory_set_list_and_usage_show(cli: Any, admin: Any, unique: Any) -> None:
    rp = _json(cli, f"resource provider create {unique('cli-inv')}")["uuid"]
    cli(
        f"resource provider inventory set {rp} --resource VCPU=4 "
        "--resource MEMORY_MB=2048 --resource DISK_GB=20 --resource VCPU:allocation_ratio=2.0"
    )
    inventory = {
        i["resource_class"]: i for i in _json(cli, f"resource provider inventory list {rp}")
    }
    assert inventory["VCPU"]["total"] == 4 and inventory["VCPU"]["allocation_ratio"] == 2.0
    assert inventory["MEMORY_MB"]["total"] == 2048
    claim = ph.claim(admin, str(uuid.uuid4()), rp, {"VCPU": 3, "MEMORY_MB": 512})
    assert claim.status_code == 204, claim.text
    usage = {
        u["resource_class"]: u["usage"] for u in _json(cli, f"resource provider usage show {rp}")
    }
    assert usage == {"VCPU": 3, "MEMORY_MB": 512, "DISK_GB": 0}


def test_allocation_candidate_list(cli: Any, unique: Any) -> None:
    rp = _json(cli, f"resource provider create {unique('cli-cand')}")["uuid"]
    cli(f"resource provider inventory set {rp} --resource VCPU=2 --resource MEMORY_MB=1024")
    found = _json(
        cli,
        "--os-placement-api-version 1.29 allocation candidate list --resource VCPU=1 "
        "--resource MEMORY_MB=256",
    )
    assert rp in {row["resource provider"] for row in found}


def test_resource_class_and_trait_list(cli: Any) -> None:
    classes = {c["name"] for c in _json(cli, "--os-placement-api-version 1.2 resource class list")}
    assert {"VCPU", "MEMORY_MB", "DISK_GB"} <= classes
    traits = {t["name"] for t in _json(cli, "--os-placement-api-version 1.6 trait list")}
    assert {"COMPUTE_STATUS_DISABLED", "HW_CPU_X86_AVX2"} <= traits


def test_an_unknown_provider_says_placements_404(cli: Any) -> None:
    missing = str(uuid.uuid4())
    result = cli(f"resource provider show {missing}", check=False)
    assert result.returncode == 1
    assert f"No resource provider with uuid {missing} found" in result.stderr
