"""Clean up: what the lab's notebooks made, found again through the APIs and deleted in an
order the services accept.

Each notebook makes things and most take them away again in their last cells; what a
notebook leaves (notebook 03's images, notebook 06's domains, projects and users), or what
an interrupted run left behind, is found here. :data:`LAB_MADE` lists, per notebook, the
things a notebook makes under a fixed name; everything inside notebook 06's domains is the
lab's too, because those domains are (they carry the seed's names *and* descriptions).

Recognising the lab's things is conservative, so that the same code is safe on an existing
cloud: a thing is the lab's only when its name, its owner and (for servers) its flavor are
those a notebook uses. A server called ``server1`` of another flavor, a rule for port 80, a
key pair called ``mine``, an image owned by another project: none of them is touched.
What labkit's installers made for the cloud to work -- the ``admin``, ``demo`` and
``service`` projects and users, roles, the catalog, the ``m1.*`` flavors, the provider
network, the env's hosts and their services -- stays; so does every installed layer on real
hosts. On the sim, ``labkit sim reset`` wipes everything instead; on local lab hosts,
``labkit hosts down``.

The order matters, because the services refuse to delete what is still in use:

1. **servers**, then wait until they are gone (a server holds its ports, its image and its
   project's quota), and notebook 07's **server group**;
2. **ports** still there (Nova deletes the ports it made for a server; what is left is not
   attached any more);
3. **key pairs**, **security-group rules**, then 06's **security groups** (a group a port
   uses cannot go);
4. **images**, the drill's **flavor**, **quotas** set back to the defaults (Nova and
   Neutron keep a project's limits after the project is gone);
5. **users**, **projects**, and the **domains** -- disabled first: Keystone refuses to
   delete an enabled domain (403);
6. last, on the sim, notebook 07's **worker** (:meth:`labkit.lab.scale.Scale.remove_worker`:
   its compute service and agent deleted, the host gone from the lab) -- Nova refuses while
   servers live on it. A worker of the env file (real hosts) stays.

Introduced in notebooks/99-cleanup.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from labkit.display import Table
from labkit.lab import sdk
from labkit.lab.backends import Backend
from labkit.lab.identity import Identity
from labkit.lab.network import rule_summary
from labkit.lab.projects import SEED, Projects, Seed

if TYPE_CHECKING:
    from openstack.connection import Connection

# The kinds, in the order they are deleted.
KINDS = (
    "server",
    "server group",
    "port",
    "keypair",
    "rule",
    "security group",
    "image",
    "flavor",
    "quota",
    "user",
    "project",
    "domain",
    "worker",
)
_WORD = {"keypair": "key pair", "quota": "quota set"}
_PLURAL = {
    "server group": "server groups",
    "security group": "security groups",
    "keypair": "key pairs",
    "quota": "quota sets",
}

# What a rule recipe of notebook 05 opens: (protocol, port). Ingress, IPv4, from anywhere.
RULE_RECIPES = {"icmp": ("icmp", None), "tcp/22": ("tcp", 22)}


class Workers(Protocol):
    """The hosts a lab added to itself, and taking one away (:class:`labkit.lab.scale.Scale`)."""

    def added_workers(self) -> list[str]: ...

    def remove_worker(self, name: str) -> str: ...


@dataclass(frozen=True)
class Made:
    """One thing a notebook makes under a fixed name.

    ``user`` is the lab user whose project (or, for key pairs, whose account) holds it;
    ``flavor`` narrows a server to the flavor the notebook boots it with; ``hosts_only``
    things exist only where labkit installed the cloud (the sim and real lab hosts), never
    on an existing cloud -- a ``cirros`` image there is the operators'."""

    notebook: str
    kind: str  # server, server group, keypair, rule, image, flavor, quota, user
    name: str  # for a rule: a key of RULE_RECIPES; for a quota: the user whose project
    user: str = "admin"
    flavor: str | None = None
    group: str = "default"
    hosts_only: bool = False


LAB_MADE: tuple[Made, ...] = (
    Made("02-keystone", "user", "learner", hosts_only=True),
    Made("03-glance", "image", "cirros", hosts_only=True),  # Glance's install check
    Made("03-glance", "image", "trusty"),
    Made("03-glance", "image", "demo-private", user="demo"),
    Made("03-glance", "image", "admin-private"),
    Made("03-glance", "image", "broken"),
    Made("04-nova", "server", "server1", flavor="m1.medium"),
    Made("04-nova", "server", "drill", flavor="m1.tiny"),
    Made("04-nova", "server", "doomed", flavor="m1.nano"),  # drill image-deleted-mid-boot
    Made("04-nova", "image", "doomed-image"),
    Made("04-nova", "flavor", "m1.huge", hosts_only=True),  # drill flavor-too-big
    Made("04-nova", "quota", "demo", user="demo", hosts_only=True),  # drill quota-exhausted
    Made("05-access", "server", "server1", user="demo", flavor="m1.medium"),
    Made("05-access", "keypair", "mykey", user="demo"),
    Made("05-access", "rule", "icmp", user="demo"),
    Made("05-access", "rule", "tcp/22", user="demo"),
    *(Made("07-scale-out", "server", f"spread-{i}", flavor="m1.small") for i in range(1, 7)),
    *(Made("07-scale-out", "server", f"apart-{i}", flavor="m1.tiny") for i in range(1, 5)),
    Made("07-scale-out", "server", "lonely", flavor="m1.tiny"),
    Made("07-scale-out", "server group", "apart"),
    Made("07-scale-out", "worker", "worker2", hosts_only=True),  # the sim's added host only
)
SEED_NOTEBOOK = "06-projects-quotas"


@dataclass(frozen=True)
class Thing:
    """One thing found: what a person calls it and where it is, and (not shown) what
    deleting it needs -- its id, the lab user whose connection deletes it, and for a key
    pair the owner's user id, for a quota the services whose limits were changed."""

    notebook: str
    kind: str
    name: str
    where: str
    ident: str = field(default="", repr=False)
    user: str = field(default="admin", repr=False)
    extra: str = field(default="", repr=False)


def is_recipe_rule(rule: Any, recipe: str) -> bool:
    """Whether ``rule`` is exactly what notebook 05's command for ``recipe`` (a key of
    :data:`RULE_RECIPES`) makes: ingress, IPv4, that protocol and port, from anywhere. The
    CLI sends ``0.0.0.0/0`` when no remote is given; other clients may send none."""
    protocol, port = RULE_RECIPES[recipe]
    return bool(
        rule.direction == "ingress"
        and rule.ether_type == "IPv4"
        and rule.protocol == protocol
        and rule.port_range_min == port
        and rule.port_range_max == port
        and rule.remote_group_id is None
        and rule.remote_ip_prefix in (None, "0.0.0.0/0")
    )


def by_notebook(thing: Thing) -> tuple[str, int, str, str]:
    return (thing.notebook, KINDS.index(thing.kind), thing.where, thing.name)


def by_deletion(thing: Thing) -> tuple[int, str, str, str]:
    return (KINDS.index(thing.kind), thing.notebook, thing.where, thing.name)


# ---- views ------------------------------------------------------------------------------


def summary(things: Sequence[Thing]) -> str:
    """``3 things from 2 notebooks: 2 images, 1 domain``, kinds in deletion order."""
    counts = Counter(t.kind for t in things)
    parts = [
        f"{counts[k]} {_PLURAL.get(k, k + 's') if counts[k] > 1 else _WORD.get(k, k)}"
        for k in KINDS
        if counts[k]
    ]
    notebooks = len({t.notebook for t in things})
    return (
        f"{len(things)} thing{'s' if len(things) != 1 else ''} from {notebooks} "
        f"notebook{'s' if notebooks != 1 else ''}: {', '.join(parts)}"
    )


def leftovers_table(things: Sequence[Thing], title: str) -> Table:
    """What the lab made and is still there, notebook by notebook."""
    t = Table(["notebook", "kind", "name", "where"], title=title)
    for thing in sorted(things, key=by_notebook):
        t.add(thing.notebook, thing.kind, thing.name, thing.where)
    t.note = summary(things) if things else "Nothing the lab made is left."
    return t


def nothing_installed_table(env_name: str, title: str) -> Table:
    t = Table(["notebook", "kind", "name", "where"], title=title)
    t.note = f"Nothing is installed in lab {env_name!r} yet: there is nothing to clean."
    return t


def cleaned_table(done: Sequence[tuple[Thing, str]]) -> Table:
    """Each thing in the order it was deleted, with what happened."""
    t = Table(["kind", "name", "where", "result"], title="Clean up, in order")
    for thing, outcome in done:
        mark = "ok" if outcome.startswith(("deleted", "set back", "removed")) else ""
        if outcome.startswith(("failed", "still")):
            mark = "fail"
        elif not mark:
            mark = "dim"
        t.add(thing.kind, thing.name, thing.where, outcome, mark=mark)
    failed = sum(1 for _, o in done if o.startswith(("failed", "still")))
    if not done:
        t.note = "Nothing to delete."
    elif failed:
        t.note = f"{failed} of {len(done)} not deleted: see the result column."
    else:
        t.note = f"All {len(done)} gone."
    return t


# ---- the facade ---------------------------------------------------------------------------


class Cleanup:
    """Find what the lab made (:meth:`things`), show it (:meth:`leftovers`), delete it
    (:meth:`clean`). ``made`` and ``seed`` say what the notebooks make; ``connect`` gives a
    connection per user named in ``made`` (default: the lab's admin and demo, and the
    seed's users)."""

    title = "What the lab made, still in the cloud"

    def __init__(
        self,
        backend: Backend,
        identity: Identity,
        made: Sequence[Made] = LAB_MADE,
        seed: Seed = SEED,
        connect: Callable[[str], Connection] | None = None,
        seed_notebook: str = SEED_NOTEBOOK,
        workers: Workers | None = None,
    ) -> None:
        self.backend = backend
        self.workers = workers
        self.identity = identity
        self.made = tuple(made)
        self.seed = seed
        self.seed_notebook = seed_notebook
        self._connect = connect or Projects(backend, identity, seed).connect

    @property
    def admin(self) -> Connection:
        return self.identity.connect("admin")

    def installed(self) -> bool:
        """Whether there is a cloud to look at: always on an existing cloud; elsewhere once
        Keystone is installed (a fresh lab has nothing to clean)."""
        if not self.backend.has_hosts:
            return True
        from labkit.lab.installs import Installs

        return "keystone" in Installs(self.backend, self.identity).installed()

    # ---- finding ---------------------------------------------------------------------------
    def things(self) -> list[Thing]:
        """Everything the lab made that is still there, in the order it would be deleted."""
        if not self.installed():
            return []
        self.backend.start()  # a sim stopped since: its state is still there
        services = {s for s in ("compute", "network", "image") if self.admin.endpoint_for(s)}
        found: list[Thing] = []
        # Once each: admin and demo are one user on an existing cloud. A key pair's name is
        # only unique per user.
        seen: set[tuple[str, ...]] = set()
        for thing in [*self._made_things(services), *self._seed_things(services)]:
            key: tuple[str, ...] = (thing.kind, thing.ident or thing.name)
            if thing.kind == "keypair":
                key += (thing.extra, thing.where)
            if key not in seen:
                seen.add(key)
                found.append(thing)
        return sorted(found, key=by_deletion)

    def _made(self, kind: str) -> list[Made]:
        keep_hosts_only = self.backend.has_hosts
        return [m for m in self.made if m.kind == kind and (keep_hosts_only or not m.hosts_only)]

    def _project(self, user: str) -> tuple[str, str]:
        access = sdk.session_access(self._connect(user))
        return str(access.project_id), str(access.project_name)

    def _made_things(self, services: set[str]) -> list[Thing]:
        """What :attr:`made` names, each list read once per user (as that user: it works
        without the admin role on an existing cloud)."""
        out: list[Thing] = []
        listings: dict[tuple[str, str], list[Any]] = {}

        def listed(user: str, what: str) -> list[Any]:
            if (user, what) not in listings:
                conn = self._connect(user)
                calls: dict[str, Callable[[], Any]] = {
                    "servers": conn.compute.servers,
                    "keypairs": conn.compute.keypairs,
                    "server groups": conn.compute.server_groups,
                    "images": sdk.image(conn).images,
                }
                listings[user, what] = list(calls[what]())
            return listings[user, what]

        if "compute" in services:
            for m in self._made("server"):
                _, project = self._project(m.user)
                for s in listed(m.user, "servers"):
                    if s.name != m.name or (m.flavor and _flavor_name(s) != m.flavor):
                        continue
                    where = f"project {project}"
                    out.append(Thing(m.notebook, "server", m.name, where, s.id, m.user))
                    if "network" in services:
                        for p in self._connect(m.user).network.ports(device_id=s.id):
                            name = f"port of {m.name}"
                            out.append(Thing(m.notebook, "port", name, where, p.id, m.user))
            for m in self._made("server group"):
                for g in listed(m.user, "server groups"):
                    if g.name == m.name:
                        _, project = self._project(m.user)
                        where = f"project {project}"
                        out.append(Thing(m.notebook, "server group", g.name, where, g.id, m.user))
            for m in self._made("keypair"):
                for k in listed(m.user, "keypairs"):
                    if k.name == m.name:
                        where = f"user {m.user}"
                        out.append(Thing(m.notebook, "keypair", k.name, where, k.name, m.user))
            for m in self._made("flavor"):
                flavor = self.admin.compute.find_flavor(m.name)
                if flavor is not None:
                    out.append(Thing(m.notebook, "flavor", m.name, "public", flavor.id))
        if "network" in services:
            out += self._rules()
        if "image" in services:
            for m in self._made("image"):
                pid, project = self._project(m.user)
                for i in listed(m.user, "images"):
                    if i.name == m.name and i.owner == pid:
                        where = f"{i.visibility}, project {project}"
                        out.append(Thing(m.notebook, "image", m.name, where, i.id, m.user))
        for m in self._made("quota"):
            pid, project = self._project(m.user)
            changed = self._quota_drift(pid, services)
            if changed:
                name = f"{' and '.join(changed)} limits"
                where = f"project {project}"
                out.append(Thing(m.notebook, "quota", name, where, pid, extra=" ".join(changed)))
        added = self.workers.added_workers() if self.workers is not None else []
        for m in self._made("worker"):
            if m.name in added:
                out.append(Thing(m.notebook, "worker", m.name, "sim host (lab.add_worker)", m.name))
        for m in self._made("user"):
            user = sdk.identity(self.admin).find_user(m.name, domain_id="default")
            if user is not None:
                out.append(Thing(m.notebook, "user", m.name, "domain Default", user.id))
        return out

    def _rules(self) -> list[Thing]:
        """Notebook 05's rules: ingress, IPv4, from anywhere, exactly its protocol and port,
        in the named group of the user's project."""
        out: list[Thing] = []
        for m in self._made("rule"):
            conn = self._connect(m.user)
            pid, project = self._project(m.user)
            for group in conn.network.security_groups(project_id=pid, name=m.group):
                for r in conn.network.security_group_rules(security_group_id=group.id):
                    if is_recipe_rule(r, m.name):
                        where = f"group {group.name} of project {project}"
                        out.append(Thing(m.notebook, "rule", rule_summary(r), where, r.id, m.user))
        return out

    def _seed_domains(self) -> list[Any]:
        """Notebook 06's domains: the seed's names with the seed's descriptions. None when
        this user may not list domains (not an admin: it could not have made them)."""
        from openstack import exceptions

        wanted = dict(self.seed.domains)
        try:
            domains = list(sdk.identity(self.admin).domains())
        except exceptions.ForbiddenException:
            return []
        return [d for d in domains if wanted.get(d.name) == (d.description or "")]

    def _seed_things(self, services: set[str]) -> list[Thing]:
        """Everything in notebook 06's domains: their projects and what those hold, their
        users and their key pairs, then the users, projects and domains themselves."""
        nb = self.seed_notebook
        admin = self.admin
        identity = sdk.identity(admin)
        out: list[Thing] = []
        projects: dict[str, str] = {}
        for domain in self._seed_domains():
            for p in identity.projects(domain_id=domain.id):
                projects[str(p.id)] = str(p.name)
                out.append(Thing(nb, "project", p.name, f"domain {domain.name}", p.id))
            for u in identity.users(domain_id=domain.id):
                out.append(Thing(nb, "user", u.name, f"domain {domain.name}", u.id))
                if "compute" in services:
                    for k in admin.compute.keypairs(user_id=u.id):
                        out.append(
                            Thing(nb, "keypair", k.name, f"user {u.name}", k.name, extra=u.id)
                        )
            out.append(Thing(nb, "domain", domain.name, "Keystone", domain.id))
        servers: dict[str, str] = {}
        groups = []
        if projects and "compute" in services:
            groups = list(admin.compute.server_groups(all_projects=True))
        for pid, project in projects.items():
            where = f"project {project}"
            if "compute" in services:
                for s in admin.compute.servers(all_projects=True, project_id=pid):
                    servers[str(s.id)] = str(s.name)
                    out.append(Thing(nb, "server", s.name, where, s.id))
                for sg in groups:
                    if sg.project_id == pid:
                        out.append(Thing(nb, "server group", sg.name, where, sg.id))
            if "network" in services:
                for port in admin.network.ports(project_id=pid):
                    name = (
                        f"port of {servers[port.device_id]}"
                        if port.device_id in servers
                        else (f"port {port.name or port.device_owner or 'unattached'}")
                    )
                    out.append(Thing(nb, "port", name, where, port.id))
            changed = self._quota_drift(pid, services)
            if changed:
                name = f"{' and '.join(changed)} limits"
                out.append(Thing(nb, "quota", name, where, pid, extra=" ".join(changed)))
        if projects and "network" in services:
            # Listed without a project filter: a filter would make Neutron create the
            # project's default group (as notebook 06 relies on) while we look.
            for g in admin.network.security_groups():
                if g.project_id in projects:
                    where = f"project {projects[g.project_id]}"
                    out.append(Thing(nb, "security group", g.name, where, g.id))
        if projects and "image" in services:
            for i in sdk.image(admin).images():
                if i.owner in projects:
                    where = f"{i.visibility}, project {projects[i.owner]}"
                    out.append(Thing(nb, "image", i.name, where, i.id))
        return out

    def _quota_drift(self, project_id: str, services: set[str]) -> list[str]:
        """The services (``Nova``, ``Neutron``) whose limits for the project differ from
        their defaults: what ``openstack quota set`` changed."""
        from openstack import exceptions

        checks = (
            ("Nova", "compute", "/os-quota-sets/{}", "/os-quota-sets/{}/defaults", "quota_set"),
            ("Neutron", "network", "/quotas/{}", "/quotas/{}/default", "quota"),
        )
        changed: list[str] = []
        for label, service, now, default, key in checks:
            if service not in services:
                continue
            proxy = getattr(self.admin, service)
            try:
                limits = [proxy.get(path.format(project_id)) for path in (now, default)]
                for answer in limits:
                    exceptions.raise_from_response(answer)
            except exceptions.ForbiddenException:
                continue  # not an admin: it could not have changed them either
            current, defaults = (
                {k: v for k, v in a.json()[key].items() if k != "id"} for a in limits
            )
            if current != defaults:
                changed.append(label)
        return changed

    # ---- showing and deleting --------------------------------------------------------------
    def leftovers(self) -> Table:
        """The things the lab made that are still there, notebook by notebook."""
        if not self.installed():
            return nothing_installed_table(self.backend.env.name, self.title)
        return leftovers_table(self.things(), self.title)

    def clean(self, wait: float = 120.0) -> Table:
        """Delete everything :meth:`things` finds, in :data:`KINDS` order; waits until the
        servers are gone before going on. A failure is reported in its row and the rest goes
        on (what failed shows up again in :meth:`leftovers`)."""
        things = self.things()
        done: list[tuple[Thing, str]] = []
        servers = [t for t in things if t.kind == "server"]
        for thing in servers:
            done.append((thing, self._try(thing, self._delete)))
        for index, (thing, outcome) in enumerate(done):
            if outcome == "deleted":
                done[index] = (thing, self._wait_gone(thing, wait))
        gone_with = {t.ident for t in things if t.kind == "port"} if servers else set()
        for thing in things:
            if thing.kind == "server":
                continue
            if thing.kind == "port" and thing.ident in gone_with and not self._port_left(thing):
                done.append((thing, "went with its server"))
                continue
            done.append((thing, self._try(thing, self._delete)))
        return cleaned_table(done)

    def _try(self, thing: Thing, action: Callable[[Thing], str]) -> str:
        from openstack import exceptions

        try:
            return action(thing)
        except exceptions.NotFoundException:
            return "already gone"
        except exceptions.HttpException as exc:
            words = " ".join(str(getattr(exc, "details", "") or exc).split())
            return f"failed: {exc.status_code} {words}"

    def _delete(self, thing: Thing) -> str:
        conn = self._connect(thing.user)
        kind = thing.kind
        if kind == "server":
            conn.compute.delete_server(thing.ident, ignore_missing=False)
        elif kind == "server group":
            conn.compute.delete_server_group(thing.ident, ignore_missing=False)
        elif kind == "port":
            conn.network.delete_port(thing.ident, ignore_missing=False)
        elif kind == "keypair":
            conn.compute.delete_keypair(
                thing.ident, ignore_missing=False, user_id=thing.extra or None
            )
        elif kind == "rule":
            conn.network.delete_security_group_rule(thing.ident, ignore_missing=False)
        elif kind == "security group":
            conn.network.delete_security_group(thing.ident, ignore_missing=False)
        elif kind == "image":
            images = sdk.image(conn)
            image = images.get_image(thing.ident)
            if image.is_protected:
                images.update_image(image, protected=False)
            images.delete_image(image, ignore_missing=False)
        elif kind == "flavor":
            conn.compute.delete_flavor(thing.ident, ignore_missing=False)
        elif kind == "quota":
            if "Nova" in thing.extra.split():
                conn.compute.revert_quota_set(thing.ident)
            if "Neutron" in thing.extra.split():
                conn.network.delete_quota(thing.ident, ignore_missing=False)
            return "set back to the defaults"
        elif kind == "user":
            sdk.identity(conn).delete_user(thing.ident, ignore_missing=False)
        elif kind == "project":
            sdk.identity(conn).delete_project(thing.ident, ignore_missing=False)
        elif kind == "domain":
            identity = sdk.identity(conn)
            identity.update_domain(thing.ident, enabled=False)
            identity.delete_domain(thing.ident, ignore_missing=False)
            return "deleted (disabled first)"
        elif kind == "worker" and self.workers is not None:
            return self.workers.remove_worker(thing.ident)
        return "deleted"

    def _wait_gone(self, server: Thing, wait: float) -> str:
        conn = self._connect(server.user)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if conn.compute.find_server(server.ident, ignore_missing=True) is None:
                return "deleted"
            time.sleep(0.5)
        return f"still deleting after {wait:.0f} s"

    def _port_left(self, port: Thing) -> bool:
        conn = self._connect(port.user)
        return conn.network.find_port(port.ident, ignore_missing=True) is not None


def _flavor_name(server: Any) -> str:
    """The flavor's name a server shows (``original_name`` from microversion 2.47)."""
    flavor = server.flavor
    if flavor is None:
        return ""
    if isinstance(flavor, dict):
        return str(flavor.get("original_name") or flavor.get("name") or "")
    return str(getattr(flavor, "original_name", None) or getattr(flavor, "name", None) or "")
