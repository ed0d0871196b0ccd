"""The ground truth about one lab, read from the lab itself -- never from a notebook.

A notebook can pass while the lab behind it is broken (a cell that prints an error without
raising it), and fail while the lab is fine (a timeout, a typo in the notebook). So the
instructor's report asks the lab directly, through the same APIs the clients use: is the
sim up and every installed service running, does Keystone issue a token, is an image
active, are Nova's services and Neutron's agents up, is a server ACTIVE, can we log in to
its guest over SSH with a key the lab has.

Each answer is a :class:`Finding`. Findings marked ``exercise`` are also the learner's
progress along the notebooks' arc (:mod:`labkit.instructor.progress`, ``lab.check_progress()``):
the same checks, so the instructor and the learner never disagree.

A finding's status:

* ``ok``   -- done, and it works now;
* ``was``  -- done before, cleaned up since (notebook 05 deletes its server; Nova's usage
  records still show it booted);
* ``todo`` -- not done yet: its layer is not installed, or nothing was made;
* ``fail`` -- it should work (its layer is installed) and does not -- with the error run
  through ``lab.explain``;
* ``skip`` -- does not apply to this kind of lab (an existing cloud has no hosts to look at).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from labkit.display import parse_time
from labkit.envs import CloudEnv, SimEnv

if TYPE_CHECKING:
    from openstack.connection import Connection

    from labkit.lab import Lab

Status = Literal["ok", "was", "todo", "fail", "skip"]
DONE: tuple[Status, ...] = ("ok", "was")


@dataclass(frozen=True)
class Finding:
    """One thing checked on the lab, and what was found."""

    key: str  # "token", "image" ...
    title: str  # what was checked, in words
    layer: str  # the layer it belongs to (labkit.layers key)
    notebook: str  # the notebook that makes it ("02-keystone")
    status: Status
    detail: str = ""
    exercise: bool = True  # part of the learner's arc (False: health only)
    cause: str = ""  # for a failure: lab.explain's cause ...
    fix: str = ""  # ... and fix
    explained_layer: str = ""  # ... and the layer it names (may be below this one)

    @property
    def done(self) -> bool:
        return self.status in DONE


class _Ctx:
    """What the checks share: the lab, which layers it has, one admin connection."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.cloud = isinstance(lab.env, CloudEnv)

    @cached_property
    def installed(self) -> set[str]:
        if self.cloud:  # an existing cloud has every layer its catalog lists
            return self._catalog_layers()
        return set(self.lab.installed_layers())

    def _catalog_layers(self) -> set[str]:
        conn = self.conn
        have = {"base", "keystone"}
        for service_type, names in (
            ("image", ("glance",)),
            ("compute", ("placement", "nova-controller", "nova-compute")),
            ("network", ("networking",)),
        ):
            try:
                if conn.endpoint_for(service_type):
                    have.update(names)
            except Exception:  # no such service in the catalog
                continue
        return have

    @cached_property
    def conn(self) -> Connection:
        return self.lab.connect("admin")

    @cached_property
    def servers(self) -> list[Any]:
        return list(self.conn.compute.servers(all_projects=True))

    def has(self, *install_layers: str) -> bool:
        return all(name in self.installed for name in install_layers)


@dataclass(frozen=True)
class _Spec:
    key: str
    title: str
    layer: str
    notebook: str
    needs: tuple[str, ...]  # install layers that must be there for it to be expected
    exercise: bool
    run: Callable[[_Ctx, _Spec], Finding]

    def finding(self, status: Status, detail: str = "", **extra: str) -> Finding:
        return Finding(
            self.key,
            self.title,
            self.layer,
            self.notebook,
            status,
            detail,
            self.exercise,
            **extra,
        )


# ---- the checks ---------------------------------------------------------------------------------


def _lab_answers(ctx: _Ctx, spec: _Spec) -> Finding:
    env = ctx.lab.env
    if not isinstance(env, SimEnv):
        return spec.finding("skip", f"a {env.kind} env: `labkit check {env.name}` checks it")
    from labkit.sim import process

    handle = process.running(ctx.lab.paths)
    if handle is not None:
        return spec.finding("ok", f"sim answering at {handle.url}")
    status: Status = "fail" if ctx.installed else "todo"
    return spec.finding(
        status,
        f"no sim running for {ctx.lab.paths.root}",
        fix=f"`{sim_up_command(ctx.lab)}` or lab.ensure() in a notebook",
        explained_layer="lab",
    )


def sim_up_command(lab: Lab) -> str:
    """The command that starts this lab's sim: plain for the learner's own lab, with its
    state folder and port for an attendee's (``labkit sim up`` alone would start another)."""
    from labkit import config

    root = lab.paths.root.parent
    if root == config.default_state_root():
        return f"labkit sim up --env {lab.env.name}"
    env = lab.env.path or lab.env.name
    return f"labkit --state-dir {root} sim up --env {env} --port {lab.sim_port}"


def _layer_installed(ctx: _Ctx, spec: _Spec) -> Finding:
    if not ctx.has(*spec.needs):
        return spec.finding("todo", f"{' + '.join(spec.needs)} not installed yet")
    return spec.finding("ok", f"{' + '.join(spec.needs)} installed")


def _services_running(ctx: _Ctx, spec: _Spec) -> Finding:
    """Every service of an installed layer runs (the sim's hosts; `labkit check` does the
    same for one lab)."""
    if not isinstance(ctx.lab.env, SimEnv):
        return spec.finding("skip", "the sim's hosts only; real hosts: `labkit check ENV`")
    from labkit import layers
    from labkit.sim.rooms import layer_of_service

    if not ctx.installed:
        return spec.finding("todo", "nothing installed yet")
    down = []
    for key, state in sorted(ctx.lab.sim.health()["services"].items()):
        host, _, name = key.partition("/")
        layer = layer_of_service(name)
        found = layers.find(layer) if layer else None
        needed = found is not None and bool(set(found.install_layers) & ctx.installed)
        if needed and state != "running":
            down.append((key, state, layer or ""))
    if not down:
        return spec.finding("ok", "every service of the installed layers runs")
    key, state, layer = down[0]
    host, _, name = key.partition("/")
    return spec.finding(
        "fail",
        ", ".join(f"{k} {s}" for k, s, _ in down),
        cause=f"layer '{layer}' is installed but {name} on {host} is {state}",
        fix=f"`labkit sim start-service {name} --host {host}`; its log: `labkit sim logs {name}`",
        explained_layer=layer,
    )


def _token(ctx: _Ctx, spec: _Spec) -> Finding:
    if not ctx.has(*spec.needs):
        return spec.finding("todo", "Keystone is not installed yet")
    token = ctx.lab.token("admin")
    return spec.finding("ok", f"admin's project token issued ({len(token)} characters)")


def _image_active(ctx: _Ctx, spec: _Spec) -> Finding:
    if not ctx.has(*spec.needs):
        return spec.finding("todo", "Glance is not installed yet")
    images = list(ctx.conn.image.images())
    active = sorted(i.name for i in images if i.status == "active")
    if active:
        return spec.finding("ok", f"active: {', '.join(active)}")
    others = ", ".join(f"{i.name} {i.status}" for i in images)
    return spec.finding("todo", f"no active image ({others or 'none at all'})")


def _compute_services(ctx: _Ctx, spec: _Spec) -> Finding:
    if not ctx.has(*spec.needs):
        return spec.finding("todo", "Nova is not installed yet")
    services = list(ctx.conn.compute.services())
    down = [f"{s.binary} on {s.host} {s.state}" for s in services if s.state != "up"]
    if down:
        return spec.finding(
            "fail",
            ", ".join(down),
            cause="a Nova service stopped reporting (`openstack compute service list`)",
            fix="start it again (`labkit sim start-service nova-compute --host worker1` on "
            "the sim; `systemctl start` on a host)",
            explained_layer="compute",
        )
    return spec.finding("ok", ", ".join(f"{s.binary}@{s.host}" for s in services) or "none")


def _network_agents(ctx: _Ctx, spec: _Spec) -> Finding:
    if not ctx.has(*spec.needs):
        return spec.finding("todo", "Neutron is not installed yet")
    agents = list(ctx.conn.network.agents())
    dead = [f"{a.binary} on {a.host}" for a in agents if not a.is_alive]
    if dead:
        return spec.finding(
            "fail",
            "not alive: " + ", ".join(dead),
            cause="a Neutron agent stopped reporting (`openstack network agent list`)",
            fix="start it again (`labkit sim start-service AGENT --host HOST` on the sim)",
            explained_layer="networking",
        )
    return spec.finding("ok", f"{len(agents)} agent(s) alive")


def _server_booted(ctx: _Ctx, spec: _Spec) -> Finding:
    if not ctx.has(*spec.needs):
        return spec.finding("todo", "Nova is not installed yet")
    active = [s.name for s in ctx.servers if s.status == "ACTIVE"]
    if active:
        return spec.finding("ok", f"ACTIVE now: {', '.join(sorted(active))}")
    # Deleted servers stay in Nova's usage records (`openstack usage list`), over a year
    # of the cloud's own clock (a deterministic sim's is not this machine's).
    # Nova parses start/end without a UTC offset (400 "Invalid datetime string" with one),
    # and lists each server only for detailed=1 (not "True").
    end = (parse_time(ctx.lab.now()) + timedelta(days=1)).replace(tzinfo=None, microsecond=0)
    start = end - timedelta(days=366)
    booted = sorted(
        {
            str(getattr(u, "name", None) or (u.get("name") if isinstance(u, dict) else ""))
            for usage in ctx.conn.compute.usages(start=start, end=end, detailed="1")
            for u in (usage.server_usages or [])
        }
        - {""}
    )
    if booted:
        return spec.finding("was", f"booted before, deleted since: {', '.join(sorted(booted))}")
    others = ", ".join(f"{s.name} {s.status}" for s in ctx.servers)
    return spec.finding("todo", f"no server booted yet{f' ({others})' if others else ''}")


def _server_active(ctx: _Ctx, spec: _Spec) -> Finding:
    """Health: servers that exist should be ACTIVE (or SHUTOFF on purpose), not ERROR."""
    if not ctx.has(*spec.needs):
        return spec.finding("todo", "Nova is not installed yet")
    if not ctx.servers:
        return spec.finding("skip", "no server now")
    errored = [s for s in ctx.servers if s.status == "ERROR"]
    if errored:
        fault = (getattr(errored[0], "fault", None) or {}).get("message", "")
        return spec.finding(
            "fail",
            ", ".join(s.name for s in errored) + f" in ERROR{f': {fault}' if fault else ''}",
            cause=fault or "the boot failed",
            fix="`openstack server show NAME -c fault`; lab.explain on that text",
            explained_layer="compute",
        )
    return spec.finding("ok", ", ".join(f"{s.name} {s.status}" for s in ctx.servers))


def _ingress_22(rule: Any) -> bool:
    if rule.direction != "ingress" or rule.protocol not in ("tcp", "6"):
        return False
    low, high = rule.port_range_min, rule.port_range_max
    return low is None or (low <= 22 <= (high if high is not None else low))


def _ssh_rule(ctx: _Ctx, spec: _Spec) -> Finding:
    if not ctx.has(*spec.needs):
        return spec.finding("todo", "Neutron is not installed yet")
    groups = list(ctx.conn.network.security_groups())
    names = {g.id: g.name for g in groups}
    rules = [r for r in ctx.conn.network.security_group_rules() if _ingress_22(r)]
    if rules:
        where = sorted({names.get(r.security_group_id, r.security_group_id) for r in rules})
        return spec.finding("ok", f"tcp/22 in: security group {', '.join(where)}")
    if _guest_logged_in_before(ctx):
        return spec.finding("was", "removed since (a guest login needed it)")
    return spec.finding("todo", "no security-group rule lets tcp/22 in")


def _lab_public_key(ctx: _Ctx) -> str | None:
    """The blob of the learner's key (``lab.ssh_key()``), if it was made."""
    path = ctx.lab.paths.ssh_key.with_suffix(".pub")
    try:
        parts = path.read_text().split()
    except OSError:
        return None
    return parts[1] if len(parts) > 1 else None


def _keypairs(ctx: _Ctx) -> list[tuple[str, Any]]:
    out = []
    for user in ("demo", "admin"):
        try:
            out += [(user, k) for k in ctx.lab.connect(user).compute.keypairs()]
        except Exception:  # a cloud env has one user; a missing demo user is its own story
            continue
    return out


def _keypair(ctx: _Ctx, spec: _Spec) -> Finding:
    if not ctx.has(*spec.needs):
        return spec.finding("todo", "Nova is not installed yet")
    pairs = _keypairs(ctx)
    if pairs:
        blob = _lab_public_key(ctx)
        names = [
            f"{k.name} ({user}{', the lab key' if blob and blob in k.public_key else ''})"
            for user, k in pairs
        ]
        return spec.finding("ok", ", ".join(names))
    if _guest_logged_in_before(ctx):
        return spec.finding("was", "deleted since (a guest login needed one)")
    return spec.finding("todo", "no keypair (`openstack keypair create --public-key ...`)")


def _guest_logged_in_before(ctx: _Ctx) -> bool:
    """Evidence of an earlier login: the lab records a guest's host keys in its own
    known_hosts when ``lab.ssh`` or ``labkit ssh`` reaches it."""
    env = ctx.lab.env
    known = ctx.lab.paths.known_hosts
    if isinstance(env, CloudEnv) or not known.is_file():
        return False
    import ipaddress

    low, high = (int(ipaddress.ip_address(a)) for a in env.management_network.guest_pool)
    for line in known.read_text().splitlines():
        for name in line.split(" ", 1)[0].split(","):  # "addr", "[addr]:port", "a,b"
            host = name.removeprefix("[").split("]:")[0]
            try:
                if low <= int(ipaddress.ip_address(host)) <= high:
                    return True
            except ValueError:  # a hashed or named entry
                continue
    return False


def _guest_login(ctx: _Ctx, spec: _Spec) -> Finding:
    if not ctx.has(*spec.needs):
        return spec.finding("todo", "Neutron and Nova are not installed yet")
    blob = _lab_public_key(ctx)
    mine = {k.name for _, k in _keypairs(ctx) if blob and blob in k.public_key}
    candidates = [s for s in ctx.servers if s.status == "ACTIVE" and s.key_name in mine]
    if candidates:
        server = sorted(candidates, key=lambda s: s.name)[0]
        out = ctx.lab.ssh(server.id, key=ctx.lab.paths.ssh_key, command="hostname", timeout=10)
        text = str(out).strip()
        if getattr(out, "ok", False):
            return spec.finding("ok", f"logged in to {server.name}: hostname {text}")
        return spec.finding("fail", f"{server.name}: `hostname` said {text!r}")
    if _guest_logged_in_before(ctx):
        return spec.finding("was", "a guest's host keys are in the lab's known_hosts")
    active = [s.name for s in ctx.servers if s.status == "ACTIVE"]
    why = (
        f"no ACTIVE server booted with the lab's key ({', '.join(active)}: other keys)"
        if active
        else "no ACTIVE server to log in to"
    )
    return spec.finding("todo", why)


def _projects(ctx: _Ctx, spec: _Spec) -> Finding:
    if not ctx.has(*spec.needs):
        return spec.finding("todo", "Keystone is not installed yet")
    if ctx.cloud:
        return spec.finding("skip", "an existing cloud's projects are its own")
    from labkit.lab.projects import SEED

    identity: Any = ctx.conn.identity
    have = {p.name for p in identity.projects()}
    wanted = [p.name for p in SEED.projects]
    missing = [n for n in wanted if n not in have]
    if not missing:
        return spec.finding("ok", f"projects {', '.join(wanted)}")
    return spec.finding("todo", f"missing: {', '.join(missing)}")


_NOVA = ("nova-compute",)
_NET = ("networking",)

# (key, title, layer, notebook, install layers it needs, check, part of the learner's arc)
SPECS: tuple[_Spec, ...] = tuple(
    _Spec(*row)
    for row in (
        ("lab", "The lab answers", "lab", "00-welcome", (), True, _lab_answers),
        ("base", "Base services installed", "base", "01-hosts", ("base",), True, _layer_installed),
        ("services", "Installed services run", "lab", "01-hosts", (), False, _services_running),
        ("keystone", "Keystone installed", "keystone", "02-keystone", ("keystone",), True,
         _layer_installed),
        ("token", "Keystone issues a token", "keystone", "02-keystone", ("keystone",), True,
         _token),
        ("glance", "Glance installed", "glance", "03-glance", ("glance",), True, _layer_installed),
        ("image", "An image is active", "glance", "03-glance", ("glance",), True, _image_active),
        ("nova", "Nova installed", "compute", "04-nova", _NOVA, True, _layer_installed),
        ("compute-services", "Nova's services up", "compute", "04-nova", _NOVA, False,
         _compute_services),
        ("server-booted", "A server booted", "compute", "04-nova", _NOVA, True, _server_booted),
        ("servers-healthy", "No server in ERROR", "compute", "04-nova", _NOVA, False,
         _server_active),
        ("network-agents", "Neutron's agents alive", "networking", "05-access", _NET, False,
         _network_agents),
        ("ssh-rule", "A rule lets tcp/22 in", "networking", "05-access", _NET, True, _ssh_rule),
        ("keypair", "A keypair", "networking", "05-access", _NOVA, True, _keypair),
        ("guest-login", "An SSH login into a guest", "networking", "05-access",
         (*_NET, *_NOVA), True, _guest_login),
        ("projects", "The seed's projects made", "projects", "06-projects-quotas",
         ("keystone",), True, _projects),
    )
)  # fmt: skip


@dataclass
class Probe:
    """Every finding about one lab, in the arc's order."""

    findings: list[Finding] = field(default_factory=list)

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "fail"]

    @property
    def healthy(self) -> bool:
        return not self.failed

    def get(self, key: str) -> Finding | None:
        return next((f for f in self.findings if f.key == key), None)


def run_check(lab: Lab, spec: _Spec, ctx: _Ctx | None = None) -> Finding:
    """One check; an exception is the finding, explained (layer, cause, fix)."""
    ctx = ctx or _Ctx(lab)
    try:
        return spec.run(ctx, spec)
    except Exception as exc:  # the check's finding: the lab is broken here
        explanation = lab.explain(exc)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return spec.finding(
            "fail",
            f"{type(exc).__name__}: {first[:300]}",
            cause=explanation.cause if explanation.layer else "",
            fix=explanation.fix if explanation.layer else "",
            explained_layer=explanation.layer,
        )


def probe(lab: Lab, exercises_only: bool = False) -> Probe:
    """Check ``lab`` now; with ``exercises_only``, only the learner's arc."""
    ctx = _Ctx(lab)
    specs = [s for s in SPECS if s.exercise or not exercises_only]
    out = Probe()
    lab_finding = run_check(lab, specs[0], ctx)
    out.findings.append(lab_finding)
    sim_down = lab_finding.key == "lab" and lab_finding.status in ("fail", "todo")
    for spec in specs[1:]:
        if sim_down and isinstance(lab.env, SimEnv):
            # Nothing answers: every other check would fail the same way.
            status: Status = "todo" if not ctx.installed and spec.needs else "skip"
            out.findings.append(spec.finding(status, "the sim is not running"))
            continue
        out.findings.append(run_check(lab, spec, ctx))
    return out


def notebooks_folder() -> Path | None:
    """``notebooks/`` of the lab's repository: from the current folder up, else next to
    the installed package (an editable install)."""
    here = Path.cwd().resolve()
    package_root = Path(__file__).resolve().parents[2]
    for folder in [here, *here.parents, package_root]:
        if (folder / "notebooks").is_dir() and (folder / "envs").is_dir():
            return folder / "notebooks"
    return None
