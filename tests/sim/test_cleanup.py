"""Notebook 99's clean-up through the real clients.

On the session's ``nova_lab``: the lab's own recipe (server1, mykey, trusty ...) names things
other tests of this worker use, so those tests give :class:`Cleanup` a recipe of their own:
a domain, project and user with a random tag play notebook 06's seed and notebook 05's
``demo``. What the recipe names must go; what merely looks like it (another flavor, another
port, another owner, another name) must stay; and the lab's base things must be untouched.

On a lab of its own (a copy of the run's nova-compute template): ``labkit clean`` with the
lab's real recipe, after each notebook's things were made as the notebooks make them.

Every check reads the cloud back through openstacksdk.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from labkit import cli
from labkit.lab import Lab, sdk
from labkit.lab.cleanup import Cleanup, Made
from labkit.lab.projects import Projects, ProjectSpec, Seed, UserSpec
from tests.conftest import REPO, private_sim

pytestmark = pytest.mark.slow
TAG = os.urandom(3).hex()
DOMAIN, PROJECT, USER = f"t99-{TAG}", f"c-{TAG}", f"u-{TAG}"
SEED = Seed(
    domains=((DOMAIN, "clean-up test domain"),),
    projects=(ProjectSpec(PROJECT, DOMAIN, compute={"cores": 8, "ram": 4096, "instances": 4}),),
    users=(UserSpec(USER, DOMAIN, ((PROJECT, "member"),)),),
)
NB = "05-test"
RECIPE = (
    Made(NB, "server", f"srv-{TAG}", user=USER, flavor="m1.nano"),
    Made(NB, "server group", f"grp-{TAG}", user=USER),
    Made(NB, "keypair", f"key-{TAG}", user=USER),
    Made(NB, "rule", "icmp", user=USER),
    Made(NB, "rule", "tcp/22", user=USER),
    Made(NB, "image", f"img-{TAG}", user=USER),
    Made(NB, "quota", USER, user=USER),
)


def _public_key() -> str:
    key = Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return raw.decode()


def _rule(conn: Any, group: str, protocol: str, port: int | None, prefix: str) -> str:
    rule = conn.network.create_security_group_rule(
        security_group_id=group,
        direction="ingress",
        ether_type="IPv4",
        protocol=protocol,
        port_range_min=port,
        port_range_max=port,
        remote_ip_prefix=prefix,
    )
    return str(rule.id)


@pytest.fixture(scope="module")
def people(nova_lab: Any) -> Iterator[Projects]:
    """The tagged domain, project and user, with the project's quotas set; whatever a test
    leaves is taken away at the end (domain disabled, then deleted: Keystone takes its
    projects and users with it)."""
    p = Projects(nova_lab.backend, nova_lab.identity, SEED)
    p.create()
    p.set_quotas()
    yield p
    admin = nova_lab.connect("admin")
    identity = sdk.identity(admin)
    for image in sdk.image(admin).images():
        if image.name and TAG in image.name:
            sdk.image(admin).delete_image(image)
    domain = identity.find_domain(DOMAIN)
    if domain is not None:
        pid = p.project_id(PROJECT)
        for server in admin.compute.servers(all_projects=True, project_id=pid):
            admin.compute.delete_server(server)
            admin.compute.wait_for_delete(server, interval=0.2, wait=60)
        identity.update_domain(domain, enabled=False)
        identity.delete_domain(domain)


@pytest.fixture(scope="module")
def made(nova_lab: Any, people: Projects) -> dict[str, Any]:
    """As the tagged user: what the recipe names, and for each a look-alike that is not
    the lab's; as admin, a public image with the recipe's name (another owner)."""
    conn = people.connect(USER)
    lab_server = people.boot_as(USER, f"srv-{TAG}", flavor="m1.nano")[0]
    other_flavor = people.boot_as(USER, f"srv-{TAG}", flavor="m1.tiny")[0]
    other_name = people.boot_as(USER, f"keep-{TAG}", flavor="m1.nano")[0]
    ports = [p.id for p in conn.network.ports(device_id=lab_server.id)]
    groups = [
        conn.compute.create_server_group(name=f"{prefix}grp-{TAG}", policy="anti-affinity").id
        for prefix in ("", "keep-")
    ]
    key = _public_key()
    conn.compute.create_keypair(name=f"key-{TAG}", public_key=key)
    conn.compute.create_keypair(name=f"keep-key-{TAG}", public_key=key)
    group = next(conn.network.security_groups(project_id=people.project_id(PROJECT)))
    rules = {
        "icmp": _rule(conn, group.id, "icmp", None, "0.0.0.0/0"),
        "tcp/22": _rule(conn, group.id, "tcp", 22, "0.0.0.0/0"),
        "tcp/80": _rule(conn, group.id, "tcp", 80, "0.0.0.0/0"),
        "tcp/22 from 10/8": _rule(conn, group.id, "tcp", 22, "10.0.0.0/8"),
    }
    images = sdk.image(conn)
    shape = {"disk_format": "qcow2", "container_format": "bare"}
    lab_image = images.create_image(name=f"img-{TAG}", visibility="private", **shape)
    kept_image = images.create_image(name=f"keep-img-{TAG}", visibility="private", **shape)
    admin_image = sdk.image(nova_lab.connect("admin")).create_image(
        name=f"img-{TAG}", visibility="public", **shape
    )
    return {
        "servers": (lab_server.id, other_flavor.id, other_name.id),
        "ports": ports,
        "server groups": groups,
        "rules": rules,
        "group": group.id,
        "images": (lab_image.id, kept_image.id, admin_image.id),
    }


def _server_ids(admin: Any, project_id: str) -> set[str]:
    return {s.id for s in admin.compute.servers(all_projects=True, project_id=project_id)}


def test_clean_takes_what_the_recipe_names_and_leaves_look_alikes(
    nova_lab: Any, people: Projects, made: dict[str, Any]
) -> None:
    cleanup = Cleanup(
        nova_lab.backend,
        nova_lab.identity,
        made=RECIPE,
        seed=Seed((), (), ()),
        connect=people.connect,
    )
    before = cleanup.things()
    kinds = sorted((t.kind, t.name) for t in before)
    assert kinds == sorted(
        [
            ("server", f"srv-{TAG}"),
            ("port", f"port of srv-{TAG}"),
            ("server group", f"grp-{TAG}"),
            ("keypair", f"key-{TAG}"),
            ("rule", "icmp from 0.0.0.0/0"),
            ("rule", "tcp/22 from 0.0.0.0/0"),
            ("image", f"img-{TAG}"),
            ("quota", "Nova limits"),
        ]
    )
    table = cleanup.clean()
    results = {(row[0], row[1]): row[3] for row in table.rows}
    assert results[("server", f"srv-{TAG}")] == "deleted"
    assert results[("port", f"port of srv-{TAG}")] == "went with its server"  # Nova made it
    assert results[("quota", "Nova limits")] == "set back to the defaults"
    assert table.note == "All 8 gone."

    admin = nova_lab.connect("admin")
    lab_server, other_flavor, other_name = made["servers"]
    pid = people.project_id(PROJECT)
    assert _server_ids(admin, pid) == {other_flavor, other_name}
    assert lab_server not in _server_ids(admin, pid)
    assert all(admin.network.find_port(p) is None for p in made["ports"])
    conn = people.connect(USER)
    assert [g.id for g in conn.compute.server_groups()] == [made["server groups"][1]]
    assert {k.name for k in conn.compute.keypairs()} == {f"keep-key-{TAG}"}
    rules = {r.id for r in admin.network.security_group_rules(security_group_id=made["group"])}
    assert made["rules"]["icmp"] not in rules and made["rules"]["tcp/22"] not in rules
    assert made["rules"]["tcp/80"] in rules and made["rules"]["tcp/22 from 10/8"] in rules
    lab_image, kept_image, admin_image = made["images"]
    glance = sdk.image(admin)
    assert glance.find_image(lab_image) is None
    assert glance.find_image(kept_image) is not None and glance.find_image(admin_image) is not None
    nova = admin.compute.get(f"/os-quota-sets/{pid}").json()["quota_set"]
    defaults = admin.compute.get(f"/os-quota-sets/{pid}/defaults").json()["quota_set"]
    assert nova["cores"] == defaults["cores"] and nova["instances"] == defaults["instances"]
    # Nothing of the recipe is left, so a second clean has nothing to do.
    assert cleanup.things() == []
    assert cleanup.clean().note == "Nothing to delete."
    assert cleanup.leftovers().note == "Nothing the lab made is left."


def test_clean_takes_the_seed_domain_whole_and_leaves_the_lab_base(
    nova_lab: Any, people: Projects, made: dict[str, Any]
) -> None:
    admin = nova_lab.connect("admin")
    identity = sdk.identity(admin)
    pid = people.project_id(PROJECT)
    user = identity.find_user(USER, domain_id=identity.find_domain(DOMAIN).id)
    base = {
        "projects": sorted(p.name for p in identity.projects() if p.domain_id == "default"),
        "users": sorted(u.name for u in identity.users(domain_id="default")),
        "flavors": sorted(f.name for f in admin.compute.flavors()),
        "images": sorted(i.name for i in sdk.image(admin).images() if TAG not in (i.name or "")),
        "groups": sorted(g.id for g in admin.network.security_groups() if g.project_id != pid),
    }
    cleanup = Cleanup(nova_lab.backend, nova_lab.identity, made=(), seed=SEED)
    listed = cleanup.leftovers()
    assert [r[1] for r in listed.rows if r[1] in ("domain", "project", "user")] == [
        "user",
        "project",
        "domain",
    ]
    table = cleanup.clean()
    results = {(row[0], row[1]): row[3] for row in table.rows}
    assert results[("domain", DOMAIN)] == "deleted (disabled first)"
    assert results[("keypair", f"keep-key-{TAG}")] == "deleted"
    assert results[("server group", f"keep-grp-{TAG}")] == "deleted"
    assert results[("security group", "default")] == "deleted"
    # Deleted in dependency order: servers first, the domain last.
    kinds = [row[0] for row in table.rows]
    assert kinds[0] == "server" and kinds[-1] == "domain"
    assert kinds.index("keypair") < kinds.index("user") < kinds.index("project")

    assert identity.find_domain(DOMAIN) is None
    assert identity.find_project(pid) is None and identity.find_user(user.id) is None
    assert _server_ids(admin, pid) == set()
    assert all(g.project_id != pid for g in admin.network.security_groups())
    assert list(admin.compute.keypairs(user_id=user.id)) == []
    assert [g for g in admin.compute.server_groups(all_projects=True) if g.project_id == pid] == []
    owned = [i for i in sdk.image(admin).images() if i.owner == pid]
    assert owned == []
    assert made["images"][2] in {i.id for i in sdk.image(admin).images()}  # admin's: kept
    assert base == {
        "projects": sorted(p.name for p in identity.projects() if p.domain_id == "default"),
        "users": sorted(u.name for u in identity.users(domain_id="default")),
        "flavors": sorted(f.name for f in admin.compute.flavors()),
        "images": sorted(i.name for i in sdk.image(admin).images() if TAG not in (i.name or "")),
        "groups": sorted(g.id for g in admin.network.security_groups() if g.project_id != pid),
    }
    assert cleanup.things() == []


# ---- the lab's own recipe, on a lab of its own --------------------------------------------


@pytest.fixture(scope="module")
def own_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from private_sim(tmp_path_factory, "cleanup", layer="nova-compute")


def _base(lab: Lab) -> dict[str, Any]:
    admin = lab.connect("admin")
    identity = sdk.identity(admin)
    demo_project = identity.find_project("demo").id
    return {
        "domains": sorted(d.name for d in identity.domains()),
        "projects": sorted(p.name for p in identity.projects()),
        "users": sorted(u.name for u in identity.users()),
        "flavors": sorted(f.name for f in admin.compute.flavors()),
        "networks": sorted(n.name for n in admin.network.networks()),
        "demo rules": sorted(
            (r.direction, r.ether_type, r.protocol or "", r.port_range_min or 0)
            for r in admin.network.security_group_rules(project_id=demo_project)
        ),
    }


def test_labkit_clean_takes_what_the_notebooks_leave_and_keeps_the_cloud(
    own_lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = own_lab
    admin, demo = lab.connect("admin"), lab.connect("demo")
    base = _base(lab)
    # 02: a user left by an interrupted run; 04: server1 (and the flavor-too-big and
    # quota-exhausted drills, not ended); 05: the rules, the key pair, demo's server1.
    sdk.identity(admin).create_user(name="learner", password="secret", domain_id="default")
    lab.compute.boot("server1")
    lab.drill("flavor-too-big")
    group = next(demo.network.security_groups(name="default", project_id=demo.current_project_id))
    _rule(demo, group.id, "icmp", None, "0.0.0.0/0")
    _rule(demo, group.id, "tcp", 22, "0.0.0.0/0")
    demo.compute.create_keypair(name="mykey", public_key=_public_key())
    lab.compute.boot("server1", user="demo", key_name="mykey")
    lab.drill("quota-exhausted")
    sdk.image(demo).create_image(
        name="demo-private", disk_format="qcow2", container_format="bare", visibility="private"
    )
    # 07: the anti-affinity group (its servers are 04's and 05's kind: names and flavors).
    admin.compute.create_server_group(name="apart", policy="anti-affinity")
    # 06: the seed's domains, projects, users, quotas, a server and bob's private things.
    lab.create_projects()
    lab.set_quotas()
    lab.boot_as("alice", "web", flavor="m1.nano")
    lab.make_private_things("bob")
    rows = lab.leftovers().rows
    listed = {(r[0], r[1], r[2]) for r in rows}
    assert {
        ("02-keystone", "user", "learner"),
        ("03-glance", "image", "cirros"),
        ("03-glance", "image", "trusty"),
        ("03-glance", "image", "demo-private"),
        ("04-nova", "server", "server1"),
        ("04-nova", "flavor", "m1.huge"),
        ("04-nova", "quota", "Nova limits"),
        ("05-access", "server", "server1"),
        ("05-access", "port", "port of server1"),
        ("05-access", "keypair", "mykey"),
        ("05-access", "rule", "icmp from 0.0.0.0/0"),
        ("05-access", "rule", "tcp/22 from 0.0.0.0/0"),
        ("07-scale-out", "server group", "apart"),
        ("06-projects-quotas", "server", "web"),
        ("06-projects-quotas", "keypair", "bob-key"),
        ("06-projects-quotas", "image", "bob-private"),
        ("06-projects-quotas", "domain", "domain1"),
        ("06-projects-quotas", "domain", "domain2"),
    } <= listed

    argv = ["--state-dir", str(lab.paths.root.parent), "clean", str(REPO / "envs" / "sim.yaml")]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert f"All {len(rows)} gone." in out, out
    assert out.rstrip().endswith("Nothing the lab made is left.")
    assert cli.main(argv) == 0  # again: nothing to do, and it says so
    assert "Nothing the lab made is left." in capsys.readouterr().out

    assert list(admin.compute.servers(all_projects=True)) == []
    assert list(demo.compute.keypairs()) == []
    assert list(admin.compute.server_groups(all_projects=True)) == []
    assert list(sdk.image(admin).images()) == []
    pid = demo.current_project_id
    nova = admin.compute.get(f"/os-quota-sets/{pid}").json()["quota_set"]
    assert nova == admin.compute.get(f"/os-quota-sets/{pid}/defaults").json()["quota_set"]
    # The cloud itself stays: its domains, projects, users, flavors, network and demo's
    # default rules are as they were before the notebooks' things were made.
    assert _base(lab) == base
    # ... and it still works: the installers of Glance and nova-compute upload their images
    # again, as a notebook's lab.ensure(...) does on its next run.
    for layer in ("glance", "nova-compute"):
        lab.install(layer, show=False)
    assert sorted(i.name for i in sdk.image(admin).images()) == ["cirros", "trusty"]
