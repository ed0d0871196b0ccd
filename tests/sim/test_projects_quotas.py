"""Projects & quotas (notebook 06) through the real clients: the seed's picture made twice
without a change, quotas read back the way the ``openstack`` CLI reads them, ``will_it_fit``
against what the sim actually does with the boot, and what one project's member may see of
another's things.

Each module makes its own domains, projects and users (names with a random tag), so it
shares the session's ``nova_lab`` with the other Nova tests without touching their state.
"""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import openstack
import pytest

from labkit.lab.fit import FitPrediction
from labkit.lab.isolation import Isolation
from labkit.lab.projects import Projects, ProjectSpec, Seed, UserSpec
from tests.conftest import openstack_cli

pytestmark = pytest.mark.slow
TAG = os.urandom(3).hex()


def _seed() -> Seed:
    d1, d2 = f"t06-{TAG}-d1", f"t06-{TAG}-d2"
    return Seed(
        domains=((d1, "test domain 1"), (d2, "test domain 2")),
        projects=(
            ProjectSpec(
                f"p1-{TAG}",
                d1,
                compute={"cores": 10, "ram": 8192, "instances": 5},
                network={"port": 10, "security_group": 5, "security_group_rule": 25},
            ),
            ProjectSpec(f"p2-{TAG}", d1, compute={"cores": 30, "ram": 24576, "instances": 15}),
            ProjectSpec(f"fit-{TAG}", d2, compute={"cores": 20, "ram": 51200, "instances": 10}),
        ),
        users=(
            UserSpec(f"alice-{TAG}", d1, ((f"p1-{TAG}", "member"),)),
            UserSpec(f"bob-{TAG}", d1, ((f"p2-{TAG}", "member"),)),
            UserSpec(f"carol-{TAG}", d1, ((f"p1-{TAG}", "reader"),)),
            UserSpec(f"fitter-{TAG}", d2, ((f"fit-{TAG}", "member"),)),
        ),
    )


P1, P2, FIT = f"p1-{TAG}", f"p2-{TAG}", f"fit-{TAG}"
ALICE, BOB, CAROL, FITTER = (f"{u}-{TAG}" for u in ("alice", "bob", "carol", "fitter"))


@pytest.fixture(scope="module")
def projects(nova_lab: Any) -> Iterator[Projects]:
    p = Projects(nova_lab.backend, nova_lab.identity, _seed())
    p.create()
    p.set_quotas()
    yield p
    admin = nova_lab.connect("admin")
    for spec in p.seed.projects:
        for server in admin.compute.servers(all_projects=True, project_id=p.project_id(spec.name)):
            admin.compute.delete_server(server)
            admin.compute.wait_for_delete(server, interval=0.2, wait=60)
    for name, _ in p.seed.domains:
        domain = admin.identity.find_domain(name)
        admin.identity.update_domain(domain, enabled=False)
        admin.identity.delete_domain(domain)


def _writes(events: list[dict[str, Any]]) -> list[str]:
    """The client's changing calls to Keystone, Nova's quotas and Neutron's quotas."""
    out = []
    for e in events:
        action = str(e.get("action", ""))
        if e.get("source") != "client" or not action.startswith(("POST", "PUT", "PATCH", "DELETE")):
            continue
        if "/auth/tokens" in action:
            continue  # logging in is not a change
        if "/identity/" in action or "quota" in action:
            out.append(action)
    return out


# ---- the seed's picture ------------------------------------------------------------------------


def test_making_the_seed_again_changes_nothing(projects: Projects, nova_lab: Any) -> None:
    admin = nova_lab.connect("admin")
    before = sorted((p.id, p.name, p.domain_id) for p in admin.identity.projects())
    mark = nova_lab.trace_mark()
    first = str(projects.create())
    assert str(projects.set_quotas())
    after = sorted((p.id, p.name, p.domain_id) for p in admin.identity.projects())
    assert after == before
    assert _writes(nova_lab.sim.trace(after=mark, limit=5000)) == []
    assert str(projects.create()) == first


def test_users_log_in_to_their_own_domain_and_project(projects: Projects) -> None:
    conn = projects.connect(CAROL)
    access = conn.session.auth.get_access(conn.session)
    assert access.project_name == P1
    assert access.role_names == ["reader"]
    assert access.user_domain_name == f"t06-{TAG}-d1"


def test_quota_read_back_matches_the_cli(projects: Projects, nova_lab: Any) -> None:
    cli = openstack_cli(nova_lab)
    pid = projects.project_id(P1)
    shown = json.loads(cli(f"quota show --usage -f json {shlex.quote(pid)}").stdout)
    by_resource = {row.resource: row for row in projects.usage([P1])}
    assert by_resource["cores"].limit == 10 and by_resource["ram"].limit == 8192
    assert by_resource["instances"].limit == 5 and by_resource["port"].limit == 10
    assert by_resource["security_group"].in_use == 1  # the default group, made by create()
    assert by_resource["security_group_rule"].in_use == 4
    cli_names = {"cores": "cores", "ram": "ram", "instances": "instances", "port": "ports"}
    cli_names |= {
        "security_group": "security_groups",
        "security_group_rule": "security_group_rules",
    }
    rows = {r["Resource"]: r for r in shown}
    for resource, cli_name in cli_names.items():
        assert rows[cli_name]["Limit"] == by_resource[resource].limit, resource
        assert rows[cli_name]["In Use"] == by_resource[resource].in_use, resource


def test_quota_set_is_refused_past_what_is_used_and_for_a_member(projects: Projects) -> None:
    member = projects.connect(ALICE)
    with pytest.raises(openstack.exceptions.ForbiddenException, match="os-quota-sets:update"):
        member.compute.update_quota_set(projects.project_id(P1), cores=99)


# ---- will it fit? ------------------------------------------------------------------------------


def _boot(conn: Any, name: str, flavor: Any, count: int) -> list[Any]:
    """Boot ``count`` servers in one request and wait until none is in BUILD."""
    image = conn.image.find_image("cirros", ignore_missing=False)
    extra = {"min_count": count, "max_count": count} if count > 1 else {}
    conn.compute.create_server(
        name=name, flavor_id=flavor.id, image_id=image.id, networks="auto", **extra
    )
    wanted = {name} if count == 1 else {f"{name}-{i + 1}" for i in range(count)}
    for _ in range(240):
        servers = [s for s in conn.compute.servers() if s.name in wanted]
        if len(servers) == count and all(s.status in ("ACTIVE", "ERROR") for s in servers):
            return servers
        time.sleep(0.25)
    raise AssertionError(f"{name}: servers still building")


def _check(prediction: FitPrediction, admin: Any, conn: Any, flavor: Any, name: str) -> str:
    """Boot what was predicted and compare; the outcome's kind."""
    count = prediction.count
    try:
        servers = _boot(conn, name, flavor, count)
    except openstack.exceptions.ForbiddenException as exc:
        assert prediction.quota_ok is False, f"{name}: refused, predicted {prediction.outcome}"
        said = re.search(r"Quota exceeded for (\w+)", str(exc))
        assert said, str(exc)
        over = [line.resource for line in prediction.quota if line.over(count)]
        assert said.group(1) in over, (str(exc), over)
        if len(over) == 1:
            assert prediction.refusal in str(exc)
        return "quota"
    assert prediction.quota_ok, f"{name}: nova-api accepted, predicted {prediction.refusal}"
    hosts = [admin.compute.get_server(s.id) for s in servers]
    statuses = {s.status for s in hosts}
    try:
        if prediction.fits:
            assert statuses == {"ACTIVE"}, f"{name}: {statuses}, predicted all ACTIVE"
            assert Counter(s.compute_host for s in hosts) == Counter(prediction.placed), name
            return "fits"
        assert statuses == {"ERROR"}, f"{name}: {statuses}, predicted no valid host"
        assert all("No valid host" in (s.fault or {}).get("message", "") for s in hosts)
        return "capacity"
    finally:
        for s in hosts:
            if s.status == "ERROR":  # a failed request's servers hold quota (and claims)
                admin.compute.delete_server(s)
                admin.compute.wait_for_delete(s, interval=0.2, wait=60)


def test_will_it_fit_predicts_what_the_sim_does(projects: Projects, nova_lab: Any) -> None:
    """A handful of seeded random cases: quotas, flavor sizes and counts drawn so that each
    way a boot can end (refused by the quota, no valid host, all ACTIVE) comes up."""
    rng = random.Random(2015)
    admin = nova_lab.connect("admin")
    conn = projects.connect(FITTER)
    pid = projects.project_id(FIT)
    flavors = []
    for i, (vcpus, ram, disk) in enumerate([(1, 512, 1), (2, 3072, 10), (4, 9216, 20)]):
        flavor = admin.compute.create_flavor(
            name=f"fit-{TAG}-{i}", vcpus=vcpus, ram=ram, disk=disk, is_public=False
        )
        admin.compute.flavor_add_tenant_access(flavor, pid)
        flavors.append(flavor)
    seen: Counter[str] = Counter()
    try:
        for case in range(7):
            kind = ("quota", "capacity", "fits")[case % 3]
            if kind == "capacity":
                flavor, count = flavors[2], rng.randint(3, 4)
                quota = {"cores": 40, "ram": 60000, "instances": 10}
            elif kind == "quota":
                flavor, count = rng.choice(flavors[:2]), rng.randint(2, 4)
                quota = {
                    "cores": rng.randint(1, 2 * count),
                    "ram": rng.choice([1024, 4096, 8192]),
                    "instances": rng.randint(1, count),
                }
            else:
                flavor, count = rng.choice(flavors[:2]), rng.randint(1, 3)
                quota = {"cores": 20, "ram": 51200, "instances": 10}
            admin.compute.update_quota_set(pid, force=True, **quota)
            assert nova_lab.sim.quiesce(60)
            prediction = projects.will_it_fit(FIT, flavor.name, count)
            seen[_check(prediction, admin, conn, flavor, f"case{case}")] += 1
            for server in list(conn.compute.servers()):  # the next case starts empty
                admin.compute.delete_server(server)
                admin.compute.wait_for_delete(server, interval=0.2, wait=60)
    finally:
        for flavor in flavors:
            admin.compute.delete_flavor(flavor)
    assert set(seen) == {"quota", "capacity", "fits"}, seen


def test_will_it_fit_counts_what_the_project_already_holds(
    projects: Projects, nova_lab: Any
) -> None:
    conn = projects.connect(ALICE)
    flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False)
    first = projects.will_it_fit(P1, "m1.tiny", 2)
    assert first.fits
    _boot(conn, "held", flavor, 2)
    second = projects.will_it_fit(P1, "m1.medium", 2)  # 2 x 4 GB with 1 GB already used
    assert {line.resource: line.in_use for line in second.quota}["ram"] == 1024
    assert second.refusal == (
        "Quota exceeded for ram: Requested 8192, but already used 1024 of 8192 ram"
    )
    with pytest.raises(openstack.exceptions.ForbiddenException) as caught:
        _boot(conn, "toomuch", conn.compute.find_flavor("m1.medium"), 2)
    assert second.refusal in str(caught.value)


# ---- isolation --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bobs_things(projects: Projects, nova_lab: Any) -> dict[str, Any]:
    bob = projects.connect(BOB)
    server = _boot(bob, "bob-web", bob.compute.find_flavor("m1.nano"), 1)[0]
    Isolation(projects).make_private_things(BOB)
    admin = nova_lab.connect("admin")
    return {
        "server": server,
        "image": bob.image.find_image(f"{BOB}-private", ignore_missing=False),
        "port": next(iter(admin.network.ports(device_id=server.id))),
        "group": next(
            iter(admin.network.security_groups(project_id=projects.project_id(P2), name="default"))
        ),
    }


def test_a_member_of_another_project_gets_404s(projects: Projects, bobs_things: Any) -> None:
    alice = projects.connect(ALICE)
    server, image = bobs_things["server"], bobs_things["image"]
    with pytest.raises(openstack.exceptions.NotFoundException, match=f"Instance {server.id}"):
        alice.compute.get_server(server.id)
    with pytest.raises(openstack.exceptions.NotFoundException, match="could not be found"):
        alice.compute.delete_server(server.id, ignore_missing=False)
    assert server.id not in {s.id for s in alice.compute.servers()}
    with pytest.raises(openstack.exceptions.NotFoundException, match="No image found with ID"):
        alice.image.get_image(image.id)
    assert image.id not in {i.id for i in alice.image.images()}
    with pytest.raises(openstack.exceptions.NotFoundException, match=r"Port .* could not be found"):
        alice.network.get_port(bobs_things["port"].id)
    with pytest.raises(openstack.exceptions.NotFoundException, match="Security group"):
        alice.network.get_security_group(bobs_things["group"].id)
    with pytest.raises(openstack.exceptions.NotFoundException, match=f"Keypair {BOB}-key not"):
        alice.compute.get_keypair(f"{BOB}-key")
    with pytest.raises(openstack.exceptions.ForbiddenException, match="os-quota-sets:show"):
        alice.compute.get_quota_set(projects.project_id(P2))
    # ... and bob still has them all
    bob = projects.connect(BOB)
    assert bob.compute.get_server(server.id).status == "ACTIVE"
    assert bob.image.get_image(image.id).visibility == "private"


def test_a_reader_looks_but_may_not_make_projects_or_set_quotas(
    projects: Projects, nova_lab: Any
) -> None:
    alice, carol = projects.connect(ALICE), projects.connect(CAROL)
    assert {s.id for s in carol.compute.servers()} == {s.id for s in alice.compute.servers()}
    pid = projects.project_id(P1)
    assert carol.compute.get_quota_set(pid).cores == 10
    with pytest.raises(openstack.exceptions.ForbiddenException, match="os-quota-sets:update"):
        carol.compute.update_quota_set(pid, cores=10)
    with pytest.raises(openstack.exceptions.ForbiddenException, match="identity:create_project"):
        domain = nova_lab.connect("admin").identity.find_domain(f"t06-{TAG}-d1")
        carol.identity.create_project(name="nope", domain_id=domain.id)


def test_try_as_reports_the_clouds_answers(projects: Projects, bobs_things: Any) -> None:
    iso = Isolation(projects)
    shown = iso.try_as(ALICE, "show server", "bob-web")
    assert (shown.status, shown.allowed) == (404, False)
    assert shown.answer == "Instance server:bob-web could not be found."
    assert shown.call == "GET /servers/server:bob-web"
    quota = iso.try_as(ALICE, "show quota", P2)
    assert quota.status == 403
    assert quota.answer == "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed."
    own = iso.try_as(BOB, "list servers", "bob-web")
    assert own.status == 200 and own.answer.endswith("bob-web among them")
    table = str(iso.table([(ALICE, "show image", f"{BOB}-private"), (CAROL, "set quota", P1)]))
    assert "404 Not Found: No image found with ID image:" in table
    assert "403 Forbidden: Policy doesn't allow os_compute_api:os-quota-sets:update" in table
    with pytest.raises(Exception, match="No action"):
        iso.try_as(ALICE, "reboot the cloud")
