"""The projects facade: the seed's domains, projects, users and roles made real, their quotas
set and read back with usage, "will it fit?" before a boot, and who may see what.

The seed talk draws two domains: *Domain 1* holds *Project 1* (10 vCPU, 8 GB) and
*Project 2* (30 vCPU, 24 GB); *Domain 2* holds one more, labelled *Tenant 1* -- "Project ==
Tenant", the old name the Install Guide still mentions (``OS_TENANT_NAME``). :data:`SEED`
is that picture with users added: a member in each project and a reader in Project 1.

Everything goes through the APIs a person would use -- Keystone for the identity side, Nova's
``os-quota-sets`` and Neutron's ``quotas`` for the limits, Placement for the hosts -- so it
runs the same on the sim, on real lab hosts and (where the user may do it) on an existing
cloud. Creating is idempotent: a second run finds everything in place and changes nothing.

Introduced in notebooks/06-projects-quotas.
"""

from __future__ import annotations

import configparser
import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from labkit.cloud import Credentials
from labkit.display import Aliases, Table
from labkit.errors import LabkitError
from labkit.lab import fit as fitting
from labkit.lab import sdk
from labkit.lab.backends import Backend, SimBackend
from labkit.lab.identity import Identity

if TYPE_CHECKING:
    from openstack.connection import Connection

    from labkit.diagrams import Diagram

# ---- the seed's picture, as data ---------------------------------------------------------------


@dataclass(frozen=True)
class ProjectSpec:
    """A project with the quotas the seed gives it. ``compute``: Nova's ``os-quota-sets``
    keys (``cores``, ``ram`` in MB, ``instances``); ``network``: Neutron's (``port``,
    ``security_group``, ``security_group_rule`` ...)."""

    name: str
    domain: str
    description: str = ""
    compute: dict[str, int] = field(default_factory=dict)
    network: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class UserSpec:
    """A user of a domain with roles on projects: ``roles=(("project1", "member"),)``."""

    name: str
    domain: str
    roles: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Seed:
    domains: tuple[tuple[str, str], ...]  # (name, description)
    projects: tuple[ProjectSpec, ...]
    users: tuple[UserSpec, ...]

    def project(self, name: str) -> ProjectSpec:
        for p in self.projects:
            if p.name == name:
                return p
        raise LabkitError(
            f"No project {name!r} in this seed.",
            f"Use one of {', '.join(p.name for p in self.projects)}.",
        )

    def user(self, name: str) -> UserSpec:
        for u in self.users:
            if u.name == name:
                return u
        raise LabkitError(
            f"No user {name!r} in this seed.",
            f"Use one of {', '.join(u.name for u in self.users)}.",
        )

    def home_project(self, user: str) -> str:
        """The project a user's token is scoped to: its first role's."""
        spec = self.user(user)
        if not spec.roles:
            raise LabkitError(f"{user} has no role on any project.", "Give it one in the seed.")
        return spec.roles[0][0]


SEED = Seed(
    domains=(
        ("domain1", "Domain 1 of the seed talk's picture"),
        ("domain2", "Domain 2 of the seed talk's picture"),
    ),
    projects=(
        ProjectSpec(
            "project1",
            "domain1",
            "Project 1: 10 vCPU, 8 GB",
            compute={"cores": 10, "ram": 8192, "instances": 5},
            network={"port": 10, "security_group": 5, "security_group_rule": 25},
        ),
        ProjectSpec(
            "project2",
            "domain1",
            "Project 2: 30 vCPU, 24 GB",
            compute={"cores": 30, "ram": 24576, "instances": 15},
            network={"port": 30, "security_group": 10, "security_group_rule": 50},
        ),
        ProjectSpec(
            "tenant1",
            "domain2",
            "Tenant 1 (Project == Tenant): 10 vCPU, 8 GB",
            compute={"cores": 10, "ram": 8192, "instances": 5},
            network={"port": 10, "security_group": 5, "security_group_rule": 25},
        ),
    ),
    users=(
        UserSpec("alice", "domain1", (("project1", "member"),)),
        UserSpec("bob", "domain1", (("project2", "member"),)),
        UserSpec("carol", "domain1", (("project1", "reader"),)),
        UserSpec("dave", "domain2", (("tenant1", "member"),)),
    ),
)

# What the quota views show, in this order: Nova's three, then Neutron's.
COMPUTE_RESOURCES = ("instances", "cores", "ram")
NETWORK_RESOURCES = ("port", "security_group", "security_group_rule")
_SDK_NETWORK_NAMES = {
    "network": "networks",
    "subnet": "subnets",
    "port": "ports",
    "security_group": "security_groups",
    "security_group_rule": "security_group_rules",
    "router": "routers",
    "floatingip": "floating_ips",
}


def _cli_quota(spec: ProjectSpec) -> str:
    flags = [f"--{k} {v}" for k, v in spec.compute.items()]
    names = {"port": "ports", "security_group": "secgroups"}
    names["security_group_rule"] = "secgroup-rules"
    flags += [f"--{names.get(k, k + 's')} {v}" for k, v in spec.network.items()]
    return f"openstack quota set {' '.join(flags)} {spec.name}"


@dataclass(frozen=True)
class QuotaRow:
    """One resource of one project: what ``openstack quota show --usage`` lists."""

    domain: str
    project: str
    service: str  # compute / network
    resource: str
    limit: int
    in_use: int
    reserved: int

    @property
    def free(self) -> int | None:
        return None if self.limit < 0 else max(0, self.limit - self.in_use - self.reserved)

    def as_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "project": self.project,
            "service": self.service,
            "resource": self.resource,
            "limit": self.limit,
            "in_use": self.in_use,
            "reserved": self.reserved,
        }


# ---- the facade ------------------------------------------------------------------------------


class Projects:
    def __init__(self, backend: Backend, identity: Identity, seed: Seed = SEED) -> None:
        self.backend = backend
        self.identity = identity
        self.seed = seed
        self._connections: dict[str, Connection] = {}

    @property
    def admin(self) -> Connection:
        return self.identity.connect("admin")

    # ---- users' passwords and connections -------------------------------------------------
    def _passwords_file(self) -> Path:
        return self.backend.paths.root / "project-users.yaml"

    def password(self, user: str) -> str:
        """A seed user's password: the sim uses placeholders (``ALICE_PASS``), as it does for
        every secret; elsewhere each is generated once and kept 0600 in the state folder."""
        if isinstance(self.backend, SimBackend):
            return f"{user.upper()}_PASS"
        path = self._passwords_file()
        values: dict[str, str] = {}
        if path.is_file():
            values = {str(k): str(v) for k, v in (yaml.safe_load(path.read_text()) or {}).items()}
        if user not in values:
            import secrets

            values[user] = secrets.token_urlsafe(18)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write("# The passwords of notebook 06's users. Keep it private.\n")
                yaml.safe_dump(values, handle, sort_keys=True)
        return values[user]

    def credentials(self, user: str) -> Credentials:
        """What ``openstack --os-username alice ...`` would need: the user's domain, its
        project and that project's domain."""
        spec = self.seed.user(user)
        project = self.seed.project(self.seed.home_project(user))
        auth = self.admin.config.get_auth_args()
        return Credentials(
            auth_url=str(auth.get("auth_url")),
            username=user,
            password=self.password(user),
            project=project.name,
            region=str(self.admin.config.get_region_name() or "RegionOne"),
            user_domain=spec.domain,
            project_domain=project.domain,
        )

    def connect(self, user: str) -> Connection:
        """An openstacksdk connection as a seed user (admin and demo: the lab's own)."""
        if user in ("admin", "demo"):
            return self.identity.connect(user)
        if user not in self._connections:
            self._connections[user] = self.credentials(user).connect()
        return self._connections[user]

    # ---- ids and names ----------------------------------------------------------------------
    def _domain_id(self, name: str) -> str:
        found = sdk.identity(self.admin).find_domain(name)
        if found is None:
            raise LabkitError(f"No domain {name!r}.", "Run lab.create_projects() first.")
        return str(found.id)

    def project_id(self, ref: str) -> str:
        """A project's id from its name (seed projects by their domain), ``domain/name``, or
        its id."""
        from openstack import exceptions

        identity = sdk.identity(self.admin)
        domain: str | None = None
        name = ref
        if "/" in ref:
            domain, name = ref.split("/", 1)
        else:
            for spec in self.seed.projects:
                if spec.name == ref:
                    domain = spec.domain
        try:
            if domain:
                found = identity.find_project(name, domain_id=self._domain_id(domain))
            else:
                found = identity.find_project(name)
        except exceptions.ForbiddenException:
            # Not an admin (an existing cloud): its own project is all it may look up.
            access = sdk.session_access(self.admin)
            if ref in (access.project_id, access.project_name):
                return str(access.project_id)
            raise LabkitError(
                f"This user may not look up project {ref!r}.",
                "Name the project of your own token, or use an admin's clouds.yaml entry.",
            ) from None
        if found is None:
            raise LabkitError(
                f"No project {ref!r}.", "Run lab.create_projects(), or check the name."
            )
        return str(found.id)

    def aliases(self) -> Aliases:
        return self.identity.aliases()

    # ---- creating the seed's picture ----------------------------------------------------------
    def create(self) -> Table:
        """Domains, projects, users and role assignments of the seed, each created only if
        missing (a second run changes nothing), and each project's default security group
        made sure of (Neutron makes it the first time a project's groups are asked for; the
        quota views count it). The table is the state afterwards, with the CLI command that
        makes each line."""
        if not self.backend.has_hosts:
            self._need_admin()
        identity = sdk.identity(self.admin)
        t = Table(["what", "name", "where", "as the CLI makes it"], title="The seed's picture")
        domains: dict[str, str] = {}
        for name, description in self.seed.domains:
            domain = identity.find_domain(name)
            if domain is None:
                domain = identity.create_domain(name=name, description=description)
            domains[name] = str(domain.id)
            t.add("domain", name, "-", f"openstack domain create {name}")
        projects: dict[str, str] = {}
        for spec in self.seed.projects:
            project = identity.find_project(spec.name, domain_id=domains[spec.domain])
            if project is None:
                project = identity.create_project(
                    name=spec.name, domain_id=domains[spec.domain], description=spec.description
                )
            projects[spec.name] = str(project.id)
            t.add(
                "project",
                spec.name,
                f"domain {spec.domain}",
                f"openstack project create --domain {spec.domain} {spec.name}",
            )
        roles = {r.name: str(r.id) for r in identity.roles()}
        for user in self.seed.users:
            found = identity.find_user(user.name, domain_id=domains[user.domain])
            if found is None:
                found = identity.create_user(
                    name=user.name,
                    domain_id=domains[user.domain],
                    password=self.password(user.name),
                )
            t.add(
                "user",
                user.name,
                f"domain {user.domain}",
                f"openstack user create --domain {user.domain} --password-prompt {user.name}",
            )
            for project_name, role in user.roles:
                if role not in roles:
                    raise LabkitError(
                        f"Keystone has no role {role!r}.",
                        "keystone-manage bootstrap makes admin, member and reader.",
                    )
                pid = projects[project_name]
                if not identity.validate_user_has_project_role(pid, found.id, roles[role]):
                    identity.assign_project_role_to_user(pid, found.id, roles[role])
                pdomain = self.seed.project(project_name).domain
                t.add(
                    "role",
                    f"{role}: {user.name} on {project_name}",
                    f"domain {pdomain}",
                    f"openstack role add --user {user.name} --user-domain {user.domain} "
                    f"--project {project_name} --project-domain {pdomain} {role}",
                )
        for pid in projects.values():
            list(self.admin.network.security_groups(project_id=pid))
        return t

    def _need_admin(self) -> None:
        roles = set(sdk.session_access(self.admin).role_names or [])
        if "admin" not in roles:
            raise LabkitError(
                "Creating domains, projects and users needs the admin role.",
                "Ask the cloud's operators, or use a sim or ssh env.",
            )

    def set_quotas(self) -> Table:
        """``openstack quota set`` for each seed project: Nova's limits (``PUT
        /os-quota-sets/{id}``) and Neutron's (``PUT /v2.0/quotas/{id}``), only where they
        differ from what is set (a second run changes nothing)."""
        admin = self.admin
        t = Table(["project", "Nova (compute)", "Neutron (network)"], title="Quotas set")
        for spec in self.seed.projects:
            pid = self.project_id(f"{spec.domain}/{spec.name}")
            now = self._compute_detail(pid)
            changes: dict[str, Any] = {
                k: v for k, v in spec.compute.items() if now.get(k, {}).get("limit") != v
            }
            if changes:
                admin.compute.update_quota_set(pid, **changes)
            current = self._network_detail(pid)
            net_changes = {
                _SDK_NETWORK_NAMES.get(k, k): v
                for k, v in spec.network.items()
                if current.get(k, {}).get("limit") != v
            }
            if net_changes:
                admin.network.update_quota(pid, **net_changes)
            t.add(
                spec.name,
                ", ".join(f"{k} {v}" for k, v in spec.compute.items()),
                ", ".join(f"{k} {v}" for k, v in spec.network.items()),
            )
        t.note = "As the CLI sets them: " + "; ".join(_cli_quota(p) for p in self.seed.projects)
        return t

    # ---- reading quotas back, with usage --------------------------------------------------
    def _compute_detail(self, project_id: str) -> dict[str, dict[str, int]]:
        """``GET /os-quota-sets/{id}/detail``: limit, in_use, reserved per resource."""
        answer = self.admin.compute.get(f"/os-quota-sets/{project_id}/detail")
        _raise_for(answer)
        body = answer.json()["quota_set"]
        return {k: v for k, v in body.items() if isinstance(v, dict)}

    def _network_detail(self, project_id: str) -> dict[str, dict[str, int]]:
        """``GET /v2.0/quotas/{id}/details``: limit, used, reserved per resource."""
        answer = self.admin.network.get(f"/quotas/{project_id}/details")
        _raise_for(answer)
        body = answer.json()["quota"]
        return {
            k: {"limit": v["limit"], "in_use": v["used"], "reserved": v.get("reserved", 0)}
            for k, v in body.items()
        }

    def usage(self, projects: Iterable[str] | None = None) -> list[QuotaRow]:
        """Each project's limits, usage and reservations (the seed's projects by default)."""
        rows: list[QuotaRow] = []
        names = list(projects) if projects is not None else [p.name for p in self.seed.projects]
        for ref in names:
            pid = self.project_id(ref)
            name = ref.split("/")[-1]
            domain = self._domain_of(pid)
            compute = self._compute_detail(pid)
            network = self._network_detail(pid)
            for service, resources, detail in (
                ("compute", COMPUTE_RESOURCES, compute),
                ("network", NETWORK_RESOURCES, network),
            ):
                for resource in resources:
                    if resource in detail:
                        d = detail[resource]
                        rows.append(
                            QuotaRow(
                                domain,
                                name,
                                service,
                                resource,
                                int(d["limit"]),
                                int(d["in_use"]),
                                int(d.get("reserved", 0)),
                            )
                        )
        return rows

    def _domain_of(self, project_id: str) -> str:
        from openstack import exceptions

        identity = sdk.identity(self.admin)
        try:
            project = identity.get_project(project_id)
            return str(identity.get_domain(project.domain_id).name)
        except exceptions.ForbiddenException:  # not an admin: its own project's domain
            access = sdk.session_access(self.admin)
            return str(access.project_domain_name or "?")

    def quotas_table(self, project: str) -> Table:
        """``openstack quota show --usage PROJECT``, Nova's and Neutron's resources."""
        t = Table(
            ["service", "resource", "limit", "in use", "reserved", "free"],
            title=f"Quotas of {project}, with usage",
        )
        for row in self.usage([project]):
            t.add(
                row.service,
                row.resource + (" (MB)" if row.resource == "ram" else ""),
                "unlimited" if row.limit < 0 else row.limit,
                row.in_use,
                row.reserved,
                "-" if row.free is None else row.free,
                mark="warn" if row.free == 0 else "",
            )
        return t

    def draw_quotas(self, projects: Iterable[str] | None = None, by: str = "project") -> Diagram:
        """Bars per resource -- in use, reserved, free against the limit -- per project, or
        summed per domain (``by="domain"``)."""
        from labkit.diagrams import Diagram, graphs

        rows = [r.as_dict() for r in self.usage(projects)]
        return Diagram(graphs.quotas(rows, by=by))

    def draw_projects(self) -> Diagram:
        """The seed's picture read back from Keystone: domains, their projects (with their
        vCPU and RAM quotas), users and their roles."""
        from labkit.diagrams import Diagram, graphs

        identity = sdk.identity(self.admin)
        state: dict[str, Any] = {"domains": [], "users": []}
        for name, _ in self.seed.domains:
            domain = identity.find_domain(name)
            if domain is None:
                continue
            projects = []
            for p in sorted(identity.projects(domain_id=domain.id), key=lambda p: p.name):
                limits = self._compute_detail(str(p.id))
                projects.append(
                    {
                        "name": p.name,
                        "quota": {
                            k: int(limits[k]["limit"]) for k in ("cores", "ram") if k in limits
                        },
                    }
                )
            state["domains"].append({"name": name, "projects": projects})
            for user in sorted(identity.users(domain_id=domain.id), key=lambda u: u.name):
                roles = []
                for a in identity.role_assignments(user_id=user.id, include_names=True):
                    scope = (a.scope or {}).get("project")
                    if scope:
                        roles.append((scope["name"], a.role["name"]))
                state["users"].append({"name": user.name, "domain": name, "roles": sorted(roles)})
        return Diagram(graphs.projects(state))

    # ---- will it fit? ---------------------------------------------------------------------
    def will_it_fit(self, project: str, flavor: str, count: int = 1) -> fitting.FitPrediction:
        """Whether ``count`` servers of ``flavor`` would boot in ``project`` now: its quota
        (Nova's count of what it holds plus the request; Neutron's ports), then the hosts
        (Placement's inventories and usage, ComputeFilter, the RAM/CPU/disk weighers), with
        the host each server would land on. See :mod:`labkit.lab.fit`."""
        if count < 1:
            raise LabkitError("count must be at least 1.", "Ask for one server or more.")
        admin = self.admin
        pid = self.project_id(project)
        f = admin.compute.find_flavor(flavor, ignore_missing=False)
        need = fitting.Flavor.of(
            str(f.name),
            int(f.vcpus),
            int(f.ram),
            int(f.disk or 0),
            int(f.ephemeral or 0),
            int(f.swap or 0),
        )
        compute = self._compute_detail(pid)
        lines = [
            fitting.QuotaLine(
                r,
                int(compute[r]["limit"]),
                int(compute[r]["in_use"]),
                int(compute[r].get("reserved", 0)),
                {"instances": 1, "cores": need.vcpus, "ram": need.ram_mb}[r],
            )
            for r in COMPUTE_RESOURCES
        ]
        notes: list[str] = []
        try:
            port = self._network_detail(pid).get("port")
        except LabkitError as exc:
            port = None
            notes.append(f"Neutron's port quota not read: {exc.message}")
        if port is not None:
            lines.append(
                fitting.QuotaLine(
                    "port",
                    int(port["limit"]),
                    int(port["in_use"]),
                    int(port.get("reserved", 0)),
                    1,
                    "neutron",
                )
            )
        hosts = self._hosts(notes)
        multipliers = self._multipliers(notes)
        name = ref_name(project)
        return fitting.predict(name, need, count, lines, hosts, multipliers, notes)

    def _hosts(self, notes: list[str]) -> list[fitting.Host] | None:
        """Every compute node as the scheduler sees it, from Placement and os-services; None
        (with a note) when this user may not read them."""
        from openstack import exceptions

        admin = self.admin
        try:
            providers = list(admin.placement.resource_providers())
            services = {s.host: s for s in admin.compute.services() if s.binary == "nova-compute"}
            hypervisors = {str(h.id): h for h in admin.compute.hypervisors(details=True)}
        except exceptions.HttpException as exc:
            notes.append(
                f"capacity not judged: this user may not read Placement or the compute "
                f"services ({exc.status_code}); only the quota is"
            )
            return None
        by_name = {str(h.name): h for h in hypervisors.values()}
        nodes = self._compute_nodes(notes)
        hosts: list[fitting.Host] = []
        for rp in providers:
            hyp = hypervisors.get(str(rp.id)) or by_name.get(str(rp.name))
            if hyp is None:
                continue  # not a compute node (a sharing provider, a nested one)
            host = str((hyp.service_details or {}).get("host") or rp.name)
            answer = admin.placement.get(f"/resource_providers/{rp.id}/usages")
            _raise_for(answer)
            usages = answer.json().get("usages", {})
            inventories = {
                i.resource_class: fitting.Inventory(
                    total=int(i.total),
                    reserved=int(i.reserved or 0),
                    allocation_ratio=float(i.allocation_ratio or 1.0),
                    min_unit=int(i.min_unit or 1),
                    max_unit=int(i.max_unit or i.total),
                    step_size=int(i.step_size or 1),
                    used=int(usages.get(i.resource_class, 0)),
                )
                for i in admin.placement.resource_provider_inventories(rp)
            }
            service = services.get(host)
            hosts.append(
                fitting.Host(
                    host,
                    inventories,
                    state=str(service.state) if service else "down",
                    status=str(service.status) if service else "disabled",
                    weighed=_weighed(nodes.get(str(hyp.id)), inventories),
                )
            )
        return hosts

    def _compute_nodes(self, notes: list[str]) -> dict[str, dict[str, Any]]:
        """Each compute node's own figures, by hypervisor id: what the scheduler's weighers
        read. Microversion 2.88 took them out of the hypervisor API, so this asks at 2.87
        (Zed still answers it); {} with a note where it cannot."""
        answer = self.admin.compute.get(
            "/os-hypervisors/detail", microversion=_NODE_FIGURES_MICROVERSION
        )
        if answer.status_code != 200:
            notes.append(
                f"the weighers' own figures not read (hypervisors at "
                f"{_NODE_FIGURES_MICROVERSION}: {answer.status_code}); Placement's weighed "
                "instead"
            )
            return {}
        return {str(h["id"]): h for h in answer.json().get("hypervisors", [])}

    def _multipliers(self, notes: list[str]) -> dict[str, float]:
        """The weighers' multipliers from the controller's nova.conf, where labkit may read
        it; Zed's defaults (1.0 each) otherwise."""
        out = dict(fitting.DEFAULT_MULTIPLIERS)
        if not self.backend.has_hosts:
            notes.append("weigher multipliers: Zed's defaults assumed (nova.conf not readable)")
            return out
        host = self.backend.plan_context().controller.name
        try:
            text = str(self.backend.host_files().file(host, "/etc/nova/nova.conf")["content"])
        except Exception:  # no nova.conf yet, or the host cannot be reached
            return out
        conf = configparser.ConfigParser(interpolation=None, strict=False)
        conf.read_string(text)
        for key in out:
            option = f"{key}_weight_multiplier"
            if conf.has_option("filter_scheduler", option):
                out[key] = conf.getfloat("filter_scheduler", option)
        return out

    # ---- booting as a user, and checking a prediction ---------------------------------------
    def boot_as(
        self,
        user: str,
        name: str,
        flavor: str = "m1.tiny",
        image: str = "cirros",
        count: int = 1,
        timeout: float = 120.0,
    ) -> list[Any]:
        """``openstack server create --min COUNT --max COUNT`` as ``user``, waiting until
        every server of the request is ACTIVE or ERROR; Nova's refusal (a 403 over quota)
        is raised as openstacksdk raises it. Returns the servers, as admin sees them."""
        conn = self.connect(user)
        compute = conn.compute
        extra: dict[str, Any] = {"min_count": count, "max_count": count} if count > 1 else {}
        wanted = {name} if count == 1 else {f"{name}-{i + 1}" for i in range(count)}
        before = {s.id for s in compute.servers() if s.name in wanted}  # an earlier run's
        compute.create_server(
            name=name,
            flavor_id=compute.find_flavor(flavor, ignore_missing=False).id,
            image_id=conn.image.find_image(image, ignore_missing=False).id,
            networks="auto",
            **extra,
        )
        deadline = time.monotonic() + timeout
        while True:
            servers = [s for s in compute.servers() if s.name in wanted and s.id not in before]
            settled = all(s.status in ("ACTIVE", "ERROR") for s in servers)
            if len(servers) == len(wanted) and settled:
                break
            if time.monotonic() > deadline:
                raise LabkitError(
                    f"{name}: not every server left BUILD within {timeout:.0f} s.",
                    "lab.compute_services(): is every nova-compute up?",
                )
            time.sleep(0.5)
        admin = self.admin.compute
        return sorted(
            (admin.get_server(s.id) for s in servers), key=lambda s: _launch_order(s.name, name)
        )

    def check_fit(self, prediction: fitting.FitPrediction, servers: Sequence[Any]) -> Table:
        """The prediction next to what happened: each server's predicted and actual host.
        Hosts are compared as a whole (which server of a request lands where first is the
        scheduler's order, not the names')."""
        t = Table(["server", "predicted", "happened"], title="Prediction vs. the boot")
        for index, server in enumerate(servers):
            if prediction.fits is None:
                predicted = "ACTIVE, host unknown (Placement not readable)"
            elif prediction.fits and index < len(prediction.placed):
                tied = prediction.ties[index] if index < len(prediction.ties) else []
                predicted = " or ".join(tied) if len(tied) > 1 else prediction.placed[index]
            else:
                predicted = "ERROR (no valid host)"
            if server.status == "ACTIVE":
                happened = f"ACTIVE on {server.compute_host}"
            else:
                fault = (server.fault or {}).get("message", "")
                happened = f"{server.status}" + (f": {fault}" if fault else "")
            t.add(server.name, predicted, happened)
        all_ok = all(s.status == "ACTIVE" for s in servers)
        if prediction.fits is None:
            held = all_ok
        elif prediction.fits:
            actual = Counter(str(s.compute_host) for s in servers if s.status == "ACTIVE")
            held = all_ok and prediction.allows(actual)
        else:
            held = all(s.status == "ERROR" for s in servers)
        t.note = "The prediction held." if held else "The prediction did NOT hold."
        return t

    def delete_servers(self, *projects: str) -> Table:
        """Delete every server of these projects (the seed's by default) and wait until they
        are gone; ERROR servers count against the quota until deleted."""
        admin = self.admin.compute
        names = list(projects) or [p.name for p in self.seed.projects]
        t = Table(["project", "servers deleted"], title="Clean up")
        for ref in names:
            pid = self.project_id(ref)
            servers = sorted(admin.servers(all_projects=True, project_id=pid), key=lambda s: s.name)
            for s in servers:
                admin.delete_server(s)
            for s in servers:
                admin.wait_for_delete(s, interval=0.5, wait=120)
            t.add(ref_name(ref), ", ".join(s.name for s in servers) or "none")
        return t


def ref_name(ref: str) -> str:
    """``project1`` from ``domain1/project1``."""
    return ref.split("/")[-1]


def _launch_order(server: str, base: str) -> int:
    suffix = server[len(base) + 1 :] if server.startswith(base + "-") else ""
    return int(suffix) if suffix.isdigit() else 0


def _raise_for(answer: Any) -> None:
    """openstacksdk's raw calls return the response; turn an error into its exception."""
    from openstack import exceptions

    exceptions.raise_from_response(answer)


# The last compute microversion whose hypervisors still carry the compute node's figures.
_NODE_FIGURES_MICROVERSION = "2.87"


def _weighed(
    node: Mapping[str, Any] | None, inventories: Mapping[str, fitting.Inventory]
) -> dict[str, float]:
    """What Nova's RAM, CPU and disk weighers read for one host (its ``HostState``, built from
    the compute node): free RAM; vCPUs times the allocation ratio, less those used; and the
    smaller of the free disk and ``disk_available_least`` (the hypervisor's own measure of
    its filesystem, which hosts sharing one disk see move together). {} without the node."""
    if not node:
        return {}
    out: dict[str, float] = {}
    if node.get("free_ram_mb") is not None:
        out["MEMORY_MB"] = float(node["free_ram_mb"])
    vcpu = inventories.get("VCPU")
    if node.get("vcpus") is not None and vcpu is not None:
        out["VCPU"] = node["vcpus"] * vcpu.allocation_ratio - float(node.get("vcpus_used") or 0)
    free_disk = node.get("free_disk_gb")
    if free_disk is not None:
        least = node.get("disk_available_least")
        out["DISK_GB"] = float(free_disk if least is None else min(free_disk, least))
    return out
