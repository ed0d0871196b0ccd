"""Placement through openstacksdk: providers, inventories, traits, aggregates, allocations,
candidates, and what Nova asks of it."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.sim import placement_helpers as ph

COMPUTE = {
    "VCPU": {"total": 8, "allocation_ratio": 4.0},
    "MEMORY_MB": {"total": 4096, "reserved": 512},
    "DISK_GB": {"total": 40},
}


@pytest.fixture(scope="module")
def admin_pl(sim_lab: Any) -> Any:
    sim_lab.ensure("placement")
    # A connection made after the install: the session's `admin` may predate Placement's
    # catalog entry (openstacksdk reads the catalog once per connection).
    return sim_lab.connect("admin")


def test_root_needs_no_token_and_says_1_39(admin_pl: Any) -> None:
    response = admin_pl.session.get(
        admin_pl.placement.get_endpoint(), authenticated=False, raise_exc=False
    )
    assert response.status_code == 200
    assert response.json()["versions"][0]["max_version"] == "1.39"
    assert response.headers["OpenStack-API-Version"] == "placement 1.0"
    assert response.headers["Vary"] == "openstack-api-version"


def test_sdk_creates_lists_updates_and_deletes_a_provider(admin_pl: Any, unique: Any) -> None:
    pl = admin_pl.placement
    name = unique("rp")
    rp = pl.create_resource_provider(name=name)
    assert rp.generation == 0 and rp.root_provider_id == rp.id
    assert [p.id for p in pl.resource_providers(name=name)] == [rp.id]
    pl.update_resource_provider(rp, name=name + "-new")
    assert pl.get_resource_provider(rp.id).name == name + "-new"
    pl.delete_resource_provider(rp)
    assert list(pl.resource_providers(name=name + "-new")) == []


def test_inventories_and_usages_through_the_sdk(admin_pl: Any, unique: Any) -> None:
    rp = ph.new_provider(admin_pl, unique("inv"), COMPUTE)
    got = ph.request(admin_pl, "GET", f"/resource_providers/{rp}/inventories", "1.20").json()
    assert got["resource_provider_generation"] == 1
    assert got["inventories"]["VCPU"] == {
        "total": 8,
        "reserved": 0,
        "min_unit": 1,
        "max_unit": 2147483647,
        "step_size": 1,
        "allocation_ratio": 4.0,
    }
    listed = {
        i.resource_class: i.total for i in admin_pl.placement.resource_provider_inventories(rp)
    }
    assert listed == {"VCPU": 8, "MEMORY_MB": 4096, "DISK_GB": 40}
    usages = ph.request(admin_pl, "GET", f"/resource_providers/{rp}/usages").json()
    assert usages == {
        "resource_provider_generation": 1,
        "usages": {"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0},
    }


def test_a_stale_generation_is_a_409_concurrent_update(admin_pl: Any, unique: Any) -> None:
    rp = ph.new_provider(admin_pl, unique("stale"), COMPUTE)
    response = ph.request(
        admin_pl,
        "PUT",
        f"/resource_providers/{rp}/inventories",
        "1.36",
        {"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 1}}},
    )
    assert response.status_code == 409
    entry = ph.error(response)
    assert entry["code"] == "placement.concurrent_update"
    assert entry["title"] == "Conflict"
    assert entry["detail"] == (
        "There was a conflict when trying to complete your request.\n\n resource provider "
        "generation conflict  "
    )
    assert entry["request_id"] == response.headers["x-openstack-request-id"]


@pytest.mark.parametrize(
    ("inventory", "status", "text"),
    [
        ({"CUSTOM_NOPE_X": {"total": 1}}, 400, "No such resource class CUSTOM_NOPE_X."),
        ({"VCPU": {"total": -1}}, 400, "-1 is less than the minimum of 1"),
        ({"VCPU": {"total": 4, "reserved": 5}}, 400, "The reserved value is greater than total."),
        ({"VCPU": {"total": "x"}}, 400, "'x' is not of type 'integer'"),
    ],
)
def test_bad_inventories_are_400_with_placements_text(
    admin_pl: Any, unique: Any, inventory: Any, status: int, text: str
) -> None:
    rp = ph.new_provider(admin_pl, unique("bad"))
    response = ph.request(
        admin_pl,
        "PUT",
        f"/resource_providers/{rp}/inventories",
        "1.36",
        {"resource_provider_generation": 0, "inventories": inventory},
    )
    assert response.status_code == status, response.text
    entry = ph.error(response)
    assert entry["code"] == "placement.undefined_code"
    assert text in entry["detail"]


def test_malformed_json_unknown_uuid_and_bad_microversion(admin_pl: Any) -> None:
    bad = ph.request(
        admin_pl,
        "POST",
        "/resource_providers",
        "1.20",
        data=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert bad.status_code == 400
    assert (
        "Malformed JSON: Expecting property name enclosed in double quotes"
        in ph.error(bad)["detail"]
    )
    missing = str(uuid.uuid4())
    gone = ph.request(admin_pl, "GET", f"/resource_providers/{missing}", "1.30")
    assert gone.status_code == 404
    assert ph.error(gone)["detail"] == (
        f"The resource could not be found.\n\n No resource provider with uuid {missing} found  "
    )
    assert "Vary" not in gone.headers  # raised past the handler, as in Placement
    assert gone.headers["OpenStack-API-Version"] == "placement 1.30"
    unsupported = ph.request(admin_pl, "GET", "/resource_providers", "1.99")
    assert unsupported.status_code == 406
    entry = ph.error(unsupported)
    assert entry["max_version"] == "1.39" and entry["min_version"] == "1.0"
    assert entry["detail"].endswith("Invalid microversion: Unacceptable version header: 1.99")
    assert ph.request(admin_pl, "GET", "/resource_providers", "1.x").status_code == 400
    latest = ph.request(admin_pl, "GET", "/resource_providers", "latest")
    assert latest.headers["OpenStack-API-Version"] == "placement 1.39"


def test_traits_and_resource_classes(admin_pl: Any, unique: Any) -> None:
    pl = admin_pl.placement
    names = {c.name for c in pl.resource_classes()}
    assert {"VCPU", "MEMORY_MB", "DISK_GB", "PCPU"} <= names
    custom = "CUSTOM_" + unique("gold").upper().replace("-", "_")
    assert ph.request(admin_pl, "PUT", f"/traits/{custom}", "1.6").status_code == 201
    assert ph.request(admin_pl, "PUT", f"/traits/{custom}", "1.6").status_code == 204
    bad = ph.request(admin_pl, "PUT", "/traits/GOLD", "1.6")
    assert bad.status_code == 400 and 'start with the prefix "CUSTOM_"' in ph.error(bad)["detail"]
    rp = ph.new_provider(admin_pl, unique("traits"))
    body = {"traits": ["HW_CPU_X86_AVX2", custom], "resource_provider_generation": 0}
    put = ph.request(admin_pl, "PUT", f"/resource_providers/{rp}/traits", "1.6", body)
    assert put.json() == {
        "traits": sorted(["HW_CPU_X86_AVX2", custom]),
        "resource_provider_generation": 1,
    }
    unknown = ph.request(
        admin_pl,
        "PUT",
        f"/resource_providers/{rp}/traits",
        "1.6",
        {"traits": ["CUSTOM_NOT_THERE"], "resource_provider_generation": 1},
    )
    assert unknown.status_code == 400
    assert "No such trait CUSTOM_NOT_THERE" in ph.error(unknown)["detail"]
    found = ph.request(admin_pl, "GET", "/resource_providers", "1.18", params={"required": custom})
    assert [p["uuid"] for p in found.json()["resource_providers"]] == [rp]
    assert ph.request(admin_pl, "DELETE", f"/traits/{custom}", "1.6").status_code == 409


def test_aggregates_and_member_of(admin_pl: Any, unique: Any) -> None:
    rp = ph.new_provider(admin_pl, unique("agg"))
    agg = str(uuid.uuid4())
    put = ph.request(
        admin_pl,
        "PUT",
        f"/resource_providers/{rp}/aggregates",
        "1.19",
        {"aggregates": [agg], "resource_provider_generation": 0},
    )
    assert put.json() == {"aggregates": [agg], "resource_provider_generation": 1}
    found = ph.request(
        admin_pl, "GET", "/resource_providers", "1.3", params={"member_of": agg}
    ).json()
    assert [p["uuid"] for p in found["resource_providers"]] == [rp]


def test_what_nova_does_from_registration_to_delete(admin_pl: Any, unique: Any) -> None:
    """nova-compute registers, nova-scheduler asks for candidates at 1.36 and claims with
    consumer_generation null, nova deletes the allocations with the server."""
    host = unique("compute")
    assert ph.request(
        admin_pl, "GET", "/resource_providers", "1.14", params={"name": host}
    ).json() == {"resource_providers": []}
    node = str(uuid.uuid4())
    ph.request(admin_pl, "POST", "/resource_providers", "1.14", {"name": host, "uuid": node})
    inv = ph.request(
        admin_pl,
        "PUT",
        f"/resource_providers/{node}/inventories",
        "1.26",
        {"resource_provider_generation": 0, "inventories": COMPUTE},
    )
    assert inv.status_code == 200
    traits = ph.request(
        admin_pl,
        "PUT",
        f"/resource_providers/{node}/traits",
        "1.6",
        {"traits": ["COMPUTE_NODE", "HW_CPU_X86_SSE2"], "resource_provider_generation": 1},
    )
    assert traits.status_code == 200
    query = {
        "resources": "DISK_GB:1,MEMORY_MB:512,VCPU:1",
        "limit": "1000",
        "in_tree": node,
        "root_required": "!COMPUTE_STATUS_DISABLED",
    }
    cands = ph.request(admin_pl, "GET", "/allocation_candidates", "1.36", params=query).json()
    assert cands["allocation_requests"] == [
        {
            "allocations": {node: {"resources": {"DISK_GB": 1, "MEMORY_MB": 512, "VCPU": 1}}},
            "mappings": {"": [node]},
        }
    ]
    summary = cands["provider_summaries"][node]
    assert summary["resources"]["VCPU"] == {"capacity": 32, "used": 0}
    assert summary["resources"]["MEMORY_MB"] == {"capacity": 3584, "used": 0}
    assert summary["root_provider_uuid"] == node and summary["parent_provider_uuid"] is None
    instance = str(uuid.uuid4())
    claim = ph.request(
        admin_pl,
        "PUT",
        f"/allocations/{instance}",
        "1.36",
        {
            **cands["allocation_requests"][0],
            "project_id": "p1",
            "user_id": "u1",
            "consumer_generation": None,
        },
    )
    assert claim.status_code == 204, claim.text
    shown = ph.request(admin_pl, "GET", f"/allocations/{instance}", "1.36").json()
    assert shown["consumer_generation"] == 1 and shown["project_id"] == "p1"
    assert shown["allocations"][node]["resources"] == {"DISK_GB": 1, "MEMORY_MB": 512, "VCPU": 1}
    again = ph.claim(admin_pl, instance, node, {"VCPU": 1}, generation=None)
    assert again.status_code == 409
    assert ph.error(again)["detail"].endswith(
        "consumer generation conflict - expected 1 but got None  "
    )
    usages = ph.request(admin_pl, "GET", "/usages", "1.9", params={"project_id": "p1"}).json()
    assert usages["usages"]["VCPU"] >= 1
    busy = ph.request(admin_pl, "DELETE", f"/resource_providers/{node}", "1.36")
    assert busy.status_code == 409
    assert ph.error(busy)["code"] == "placement.resource_provider.inuse"
    in_use = ph.request(admin_pl, "DELETE", f"/resource_providers/{node}/inventories", "1.36")
    assert in_use.status_code == 409 and ph.error(in_use)["code"] == "placement.inventory.inuse"
    assert ph.request(admin_pl, "DELETE", f"/allocations/{instance}").status_code == 204
    assert ph.request(admin_pl, "DELETE", f"/allocations/{instance}").status_code == 404
    assert ph.request(admin_pl, "DELETE", f"/resource_providers/{node}").status_code == 204


def test_candidates_respect_capacity_and_units(admin_pl: Any, unique: Any) -> None:
    rp = ph.new_provider(
        admin_pl,
        unique("units"),
        {"VCPU": {"total": 4, "max_unit": 2}, "MEMORY_MB": {"total": 1024, "step_size": 256}},
    )

    def providers_for(resources: str) -> list[str]:
        found = ph.request(
            admin_pl,
            "GET",
            "/allocation_candidates",
            "1.36",
            params={"resources": resources, "in_tree": rp},
        ).json()
        return [next(iter(a["allocations"])) for a in found["allocation_requests"]]

    assert providers_for("VCPU:2,MEMORY_MB:512") == [rp]
    assert providers_for("VCPU:3") == []  # above max_unit
    assert providers_for("MEMORY_MB:100") == []  # not a multiple of step_size
    unknown = ph.request(
        admin_pl, "GET", "/allocation_candidates", "1.36", params={"resources": "CUSTOM_NOPE:1"}
    )
    assert unknown.status_code == 400
    assert "Invalid resource class in resources parameter" in ph.error(unknown)["detail"]


def test_fifty_concurrent_claims_never_over_allocate(admin_pl: Any, unique: Any) -> None:
    rp = ph.new_provider(admin_pl, unique("race"), {"VCPU": {"total": 10}})
    consumers = [str(uuid.uuid4()) for _ in range(50)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(
            pool.map(lambda c: ph.claim(admin_pl, c, rp, {"VCPU": 1}).status_code, consumers)
        )
    assert codes.count(204) == 10
    assert codes.count(409) == 40
    usages = ph.request(admin_pl, "GET", f"/resource_providers/{rp}/usages").json()
    assert usages["usages"] == {"VCPU": 10}
    assert usages["resource_provider_generation"] == 1 + 10


def test_a_member_may_not_use_placement(sim_lab: Any, demo: Any, admin_pl: Any) -> None:
    response = ph.request(demo, "GET", "/resource_providers", "1.36")
    assert response.status_code == 403
    assert ph.error(response)["detail"].endswith(
        "Policy does not allow placement:resource_providers:list to be performed.  "
    )


def test_no_token_is_keystonemiddlewares_401(admin_pl: Any) -> None:
    response = admin_pl.session.get(
        admin_pl.placement.get_endpoint() + "/resource_providers",
        authenticated=False,
        raise_exc=False,
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 401
    assert response.json()["error"]["message"] == (
        "The request you have made requires authentication."
    )
    assert "OpenStack-API-Version" not in response.headers


def test_the_router_answers_after_authentication(admin_pl: Any) -> None:
    wrong = ph.request(admin_pl, "PATCH", "/resource_providers", "1.36")
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "GET, POST"
    assert ph.error(wrong)["detail"] == (
        "The method PATCH is not allowed for this resource. \n\n The method specified is not "
        "allowed for this resource."
    )
    nowhere = ph.request(admin_pl, "GET", "/no/such/thing", "1.36")
    assert nowhere.status_code == 404
    assert ph.error(nowhere)["detail"] == "The resource could not be found.\n\n   "
    anonymous = admin_pl.session.get(
        admin_pl.placement.get_endpoint() + "/no/such/thing",
        authenticated=False,
        raise_exc=False,
    )
    assert anonymous.status_code == 401


def test_routes_a_microversion_does_not_have_are_404(admin_pl: Any) -> None:
    assert ph.request(admin_pl, "GET", "/traits", "1.5").status_code == 404
    assert ph.request(admin_pl, "POST", "/allocations", "1.12", {}).status_code == 404
    assert ph.request(admin_pl, "GET", "/usages", "1.8").status_code == 404


def test_a_second_install_changes_nothing_and_the_upgrade_check_passes(
    sim_lab: Any, admin_pl: Any
) -> None:
    results = sim_lab.install("placement", show=False)
    verification = results[-1]
    assert verification.step.title == "Verify: placement-status upgrade check"
    assert sum("Result: Success" in line for line in verification.output) == 3
    changed = [r.step.title for r in results[:-1] if r.status == "changed"]
    assert changed == []


def test_post_allocations_writes_all_consumers_or_none(admin_pl: Any, unique: Any) -> None:
    rp = ph.new_provider(admin_pl, unique("post"), {"VCPU": {"total": 3}})
    first, second = str(uuid.uuid4()), str(uuid.uuid4())

    def entry(vcpus: int) -> dict[str, Any]:
        return {
            "allocations": {rp: {"resources": {"VCPU": vcpus}}},
            "project_id": "p",
            "user_id": "u",
            "consumer_generation": None,
        }

    too_much = ph.request(
        admin_pl, "POST", "/allocations", "1.28", {first: entry(2), second: entry(2)}
    )
    assert too_much.status_code == 409
    assert "The requested amount would exceed the capacity." in ph.error(too_much)["detail"]
    assert ph.request(admin_pl, "GET", f"/allocations/{first}", "1.28").json() == {
        "allocations": {}
    }
    fits = ph.request(admin_pl, "POST", "/allocations", "1.28", {first: entry(1), second: entry(2)})
    assert fits.status_code == 204, fits.text
    listed = ph.request(admin_pl, "GET", f"/resource_providers/{rp}/allocations", "1.28").json()
    assert listed["allocations"] == {
        first: {"resources": {"VCPU": 1}, "consumer_generation": 1},
        second: {"resources": {"VCPU": 2}, "consumer_generation": 1},
    }
    bad = ph.request(admin_pl, "PUT", "/allocations/not-a-uuid", "1.28", {})
    assert bad.status_code == 400
    assert ph.error(bad)["detail"].endswith("Malformed consumer_uuid: not-a-uuid  ")


def test_a_child_provider_lives_in_its_parents_tree(admin_pl: Any, unique: Any) -> None:
    parent = ph.new_provider(admin_pl, unique("parent"))
    child = str(uuid.uuid4())
    made = ph.request(
        admin_pl,
        "POST",
        "/resource_providers",
        "1.20",
        {"name": unique("child"), "uuid": child, "parent_provider_uuid": parent},
    ).json()
    assert (made["parent_provider_uuid"], made["root_provider_uuid"]) == (parent, parent)
    tree = ph.request(admin_pl, "GET", "/resource_providers", "1.14", params={"in_tree": child})
    assert {p["uuid"] for p in tree.json()["resource_providers"]} == {parent, child}
    refused = ph.request(admin_pl, "DELETE", f"/resource_providers/{parent}", "1.36")
    assert refused.status_code == 409
    assert ph.error(refused)["code"] == "placement.resource_provider.cannot_delete_parent"
