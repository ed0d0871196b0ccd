"""Scale out: one more worker, and where the scheduler puts servers once there are three.

The seed's recipe ends with "for multiple servings follow sections 5 and 6.2 again": a new
worker gets what every worker got -- chrony from the base layer, nova-compute (Install Guide
section 5) and the Linux bridge agent (section 6.2, networking) -- and the controller maps
it to a cell with ``nova-manage cell_v2 discover_hosts``. :meth:`Scale.add_worker` does
exactly that for one host, with the layers' own per-host steps
(:func:`labkit.install.nova_compute.host_steps` ...), so a second call finds every step done.

Where the new host comes from depends on the lab:

* the sim: a new simulated host. It is recorded in the lab's state folder
  (``extra-hosts.yaml``, :func:`labkit.envs.with_extra_hosts`), never in ``envs/*.yaml``, and
  the sim is restarted with it -- state kept, every service back, and the rooms build the new
  host's processes (nova-compute, the Linux bridge agent) from the sim's hosts. The host
  stays for every later ``Lab.from_env``; ``labkit sim reset`` takes it away with the lab.
* real lab hosts: a machine is not made by a Python call. Name the host in the env file (or
  make local lab hosts with it, ``labkit hosts up``), then ``add_worker`` installs it.
* an existing cloud: its operators add compute hosts; labkit refuses.

Then, to watch the cloud grow: the worker's own state table, Placement's usage per host
drawn (:func:`labkit.diagrams.graphs.host_usage`), the weighers' scores of one scheduling
decision drawn (:func:`labkit.diagrams.graphs.scheduler_scores`), where a batch of servers
landed, and a clean-up for what the notebook made.

Introduced in notebooks/07-scale-out.
"""

from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from labkit.display import Table, Text
from labkit.envs import (
    Host,
    SshEnv,
    extra_hosts_path,
    forget_extra_host,
    read_extra_hosts,
    record_extra_host,
    with_hosts,
    without_host,
)
from labkit.errors import LabkitError
from labkit.install import base, networking, nova_compute
from labkit.install import steps as st
from labkit.install.runner import CHANGED, StepResult, apply_plan
from labkit.lab.backends import SimBackend

if TYPE_CHECKING:
    from openstack.connection import Connection

    from labkit.diagrams import Diagram
    from labkit.lab.core import Lab
    from labkit.widgets.plan import PlanView

# A new worker's size when none is given: the seed's recipe for "My First OpenStack"
# ("1 Intel/AMD CPU, 8 GB Ram, 250+ GB Disk"), with a 4-core CPU.
SEED_WORKER = {"cpus": 4, "ram_gb": 8.0, "disk_gb": 250.0}
RESOURCE_CLASSES = ("VCPU", "MEMORY_MB", "DISK_GB")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


def next_address(env: Any) -> str:
    """The first address after the highest host's on the management network that no host,
    the router or the guests' pool has (``10.64.0.4`` next to ``.2`` and ``.3``)."""
    net = ipaddress.ip_network(env.management_network.cidr)
    taken = {int(ipaddress.ip_address(h.address)) for h in env.hosts}
    taken.add(int(ipaddress.ip_address(env.management_network.gateway)))
    low, high = (int(ipaddress.ip_address(a)) for a in env.management_network.guest_pool)
    start = max(taken)
    for candidate in net.hosts():
        number = int(candidate)
        if number > start and number not in taken and not low <= number <= high:
            return str(candidate)
    raise LabkitError(
        f"No free address left on {net} for another host.",
        "Pass address=... with one outside the guests' pool.",
    )


@dataclass
class WorkerAdded:
    """What :meth:`Scale.add_worker` did (``recorded``, ``restarted``, ``results``) and the
    worker's state afterwards. It shows only the state: the same whether this call added
    the worker or found it there already (a notebook re-run prints the same)."""

    host: Host
    state: Table
    recorded: bool = False  # written to the state folder's extra-hosts.yaml by this call
    restarted: bool = False  # the sim was restarted to have the host
    results: list[StepResult] = field(default_factory=list)

    @property
    def changed(self) -> list[str]:
        """The steps this call changed something with (none on a second call)."""
        return [r.step.title for r in self.results if r.status == CHANGED]

    def __str__(self) -> str:
        return str(self.state)

    def __repr__(self) -> str:
        return str(self.state)

    def _repr_html_(self) -> str:
        return self.state._repr_html_()


class Scale:
    """The facade of notebooks/07-scale-out (``lab.add_worker`` and friends)."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    @property
    def _conn(self) -> Connection:
        return self.lab.connect("admin")

    # ---- the new worker -------------------------------------------------------------------
    def _existing(self, name: str) -> Host | None:
        return next((h for h in getattr(self.lab.env, "hosts", ()) if h.name == name), None)

    def _new_host(
        self,
        name: str,
        cpus: int | None,
        ram_gb: float | None,
        disk_gb: float | None,
        address: str | None,
    ) -> Host:
        if not _NAME.match(name):
            raise LabkitError(
                f"{name!r} is not a host name labkit accepts.",
                "Use lower-case letters, digits and '-', starting with a letter (worker2).",
            )
        return Host(
            name=name,
            address=address or next_address(self.lab.env),
            roles=("worker",),
            cpus=cpus if cpus is not None else int(SEED_WORKER["cpus"]),
            ram_gb=ram_gb if ram_gb is not None else SEED_WORKER["ram_gb"],
            disk_gb=disk_gb if disk_gb is not None else SEED_WORKER["disk_gb"],
        )

    def host(self, name: str) -> Host:
        """The worker ``name`` as the lab knows it, or as :meth:`add_worker` would make it."""
        return self._existing(name) or self._new_host(name, None, None, None, None)

    def steps(self, host: Host) -> list[st.Step]:
        """What one more worker gets, in the seed's order: the base layer's time keeping,
        nova-compute and its cell mapping (section 5), the Linux bridge agent (section 6.2)."""
        self._refuse_cloud()
        ctx = self.lab.plan_context()
        return [
            *base.host_steps(ctx, host),
            *nova_compute.host_steps(ctx, host),
            *networking.host_steps(ctx, host.name),
        ]

    def show_plan(self, name: str = "worker2") -> PlanView | Text:
        """The steps :meth:`add_worker` runs for ``name``, as a person would type them."""
        from labkit.widgets.plan import PlanView

        if not self.lab.backend.has_hosts:
            return Text(f"{self.lab.env.name} is an existing cloud: labkit installs nothing there.")
        return PlanView(f"one more worker, {name}", self.steps(self.host(name)))

    def add_worker(
        self,
        name: str = "worker2",
        cpus: int | None = None,
        ram_gb: float | None = None,
        disk_gb: float | None = None,
        address: str | None = None,
        show: bool = False,
    ) -> WorkerAdded:
        """Add worker ``name`` to the lab and install it; a second call changes nothing.

        On the sim a new host (``cpus``/``ram_gb``/``disk_gb``, default the seed's recipe; the
        next free ``address``) is recorded in the state folder and the sim restarted with
        it; asked again, the sizes must be the host's. On real hosts ``name`` must be a
        worker of the env file (sizes are what the machine has, not asked). The host then
        gets :meth:`steps` applied (``show`` prints them as an install does) and the result
        is the worker's state."""
        lab = self.lab
        self._refuse_cloud()
        host = self._existing(name)
        if host is not None:
            if "worker" not in host.roles:
                workers = ", ".join(h.name for h in getattr(lab.env, "workers", ()))
                raise LabkitError(
                    f"{name} is in this lab but is not a worker.",
                    f"Its workers are {workers}; add_worker with a new name adds another.",
                )
            if isinstance(lab.backend, SimBackend):  # real hosts are the size they are
                self._check_same(host, cpus, ram_gb, disk_gb, address)
        elif not isinstance(lab.backend, SimBackend):
            raise self._no_such_host(name)
        if "nova-compute" not in lab.installed_layers():
            raise LabkitError(
                "A worker joins a cloud that runs Nova and Neutron: nova-compute is not "
                "installed in this lab yet.",
                'Run lab.ensure("nova-compute") first (notebooks 01-04 do it step by step).',
            )
        recorded = host is None
        if host is None:  # a new simulated host, kept in the lab's state folder
            backend = lab.backend
            assert isinstance(backend, SimBackend)
            host = self._new_host(name, cpus, ram_gb, disk_gb, address)
            entry = host.model_dump(mode="json", exclude_defaults=True)
            merged = with_hosts(backend.env, [entry], "lab.add_worker")  # refused: unsaved
            record_extra_host(lab.paths.root, host)
            lab.env = backend.env = merged
        restarted = self._sim_knows(name)
        if restarted:
            lab.identity.forget_connections()
        results = self._install(host, show)
        return WorkerAdded(host, self.worker_table(name), recorded, restarted, results)

    def _refuse_cloud(self) -> None:
        if not self.lab.backend.has_hosts:
            raise LabkitError(
                f"{self.lab.env.name} is an existing cloud: its operators add compute hosts, "
                "labkit installs nothing there.",
                "Use a sim (Lab.from_env('sim')) or your own lab hosts (an ssh env) to add "
                "a worker; on this cloud, `openstack hypervisor list` shows the hosts it has.",
            )

    @staticmethod
    def _check_same(
        host: Host, cpus: int | None, ram_gb: float | None, disk_gb: float | None, address: Any
    ) -> None:
        asked = {"cpus": cpus, "ram_gb": ram_gb, "disk_gb": disk_gb, "address": address}
        differs = [
            f"{k} {_plain(getattr(host, k))} (asked {_plain(v)})"
            for k, v in asked.items()
            if v is not None and v != getattr(host, k)
        ]
        if differs:
            raise LabkitError(
                f"{host.name} is already in this lab, with {', '.join(differs)}.",
                "A host keeps its size and address: call add_worker with another name, or "
                "start the lab over (`labkit sim reset`, which removes added hosts).",
            )

    def _no_such_host(self, name: str) -> LabkitError:
        env = self.lab.env
        assert isinstance(env, SshEnv)
        entry = f"- name: {name}\n    address: {next_address(env)}\n    roles: [worker]"
        if env.local:
            return LabkitError(
                f"{name} is not one of {env.name}'s local lab hosts: local hosts are made from "
                "the env file by `labkit hosts up`, not by a notebook.",
                f"Add the host to {env.path} under hosts:\n  {entry}\nthen run `sudo "
                f".venv/bin/labkit hosts up {env.name}` again (running hosts are left alone, "
                f"the new one is made) and call add_worker('{name}') again.",
            )
        return LabkitError(
            f"{name} is not a host of {env.name}: labkit installs on machines the env file "
            "names, it does not make them.",
            f"Add the machine to {env.path} under hosts:\n  {entry}\n(with its ssh settings), "
            f"record its host key with `labkit hosts trust {env.name}`, then call "
            f"add_worker('{name}') again.",
        )

    def _sim_knows(self, name: str) -> bool:
        """Make sure the sim runs with host ``name``: restart it if it runs without (True)."""
        backend = self.lab.backend
        if not isinstance(backend, SimBackend):
            return False
        from labkit.sim import process

        if process.running(backend.paths) is None:
            backend.start()  # starts with every recorded host
            return False
        if name in {h["name"] for h in backend.client.hosts()["hosts"]}:
            return False
        backend.restart()
        return True

    def _install(self, host: Host, show: bool) -> list[StepResult]:
        from labkit.widgets.progress import InstallProgress

        label = f"worker {host.name}"
        progress = InstallProgress(label, show)
        results = apply_plan(self.steps(host), self.lab.runner(), progress, layer=label)
        progress.finish(results)
        return results

    # ---- the worker's state -----------------------------------------------------------------
    def worker_table(self, name: str = "worker2") -> Table:
        """One worker as the cloud sees it: its host, the install steps, the services on it,
        its cell mapping, its compute service, hypervisor, resource provider and L2 agent."""
        lab = self.lab
        host = self._existing(name)
        if host is None:
            raise LabkitError(f"{name} is not a host of this lab.", f"lab.add_worker('{name}')")
        conn = self._conn
        t = Table(["what", "state"], title=f"{name} in the lab")
        origin = (
            f"added by lab.add_worker ({extra_hosts_path(lab.paths.root).name} in the lab's "
            "state folder)"
            if not any(h.name == name for h in _env_file_hosts(lab))
            else f"the env file ({lab.env.name})"
        )
        t.add(
            "host",
            f"{host.address} ({' + '.join(host.roles)}), {host.cpus} CPU, "
            f"{host.ram_gb:g} GB RAM, {host.disk_gb:g} GB disk; {origin}",
        )
        steps = self.steps(host)
        runner = lab.runner()
        done = {index: runner.check(step, set()) for index, step in enumerate(steps)}
        missing = [steps[i].title for i, ok in done.items() if not ok]
        t.add(
            "install steps",
            f"{len(steps) - len(missing)} of {len(steps)} done"
            + (f"; not done: {', '.join(missing)}" if missing else ""),
            mark="fail" if missing else "ok",
        )
        running = sorted(
            s["name"]
            for h in lab.hosts_state()["hosts"]
            if h["name"] == name
            for s in h.get("services", [])
            if s.get("state") == "running"
        )
        t.add(f"running on {name}", ", ".join(running) or "nothing", mark="" if running else "fail")
        # discover_hosts is done when nova_api's host_mappings has a row for the host
        mapped = all(
            done[i]
            for i, step in enumerate(steps)
            if isinstance(step, st.Command) and "discover_hosts" in step.command
        )
        t.add(
            "cell mapping",
            "mapped to cell1 (nova-manage cell_v2 discover_hosts)" if mapped else "not mapped",
            mark="ok" if mapped else "fail",
        )
        services = [s for s in conn.compute.services(binary="nova-compute") if s.host == name]
        t.add(
            "compute service",
            ", ".join(f"nova-compute {s.status}, {s.state}" for s in services) or "none",
            mark="ok" if services and all(s.state == "up" for s in services) else "fail",
        )
        hypervisors = [
            h for h in conn.compute.hypervisors(details=True) if h.name in (name, host.address)
        ]
        t.add(
            "hypervisor",
            ", ".join(f"{h.name} ({h.hypervisor_type}, {h.host_ip}) {h.state}" for h in hypervisors)
            or "none",
            mark="ok" if hypervisors and all(h.state == "up" for h in hypervisors) else "fail",
        )
        usage = [r for r in placement_usage(conn) if r["host"] == name]
        t.add(
            "resource provider",
            ", ".join(f"{r['resource_class']} {r['capacity']}" for r in usage) or "none",
            mark="ok" if usage else "fail",
        )
        agents = [
            a for a in conn.network.agents(host=name) if a.binary == "neutron-linuxbridge-agent"
        ]
        t.add(
            "Linux bridge agent",
            ", ".join("alive" if a.is_alive else "dead" for a in agents) or "none",
            mark="ok" if agents and all(a.is_alive for a in agents) else "fail",
        )
        t.note = "Resource provider: what Placement may hand out, (total - reserved) x ratio."
        return t

    # ---- watching placement ---------------------------------------------------------------
    def draw_usage(self, title: str = "") -> Diagram | Text:
        """Placement's view per host: used / capacity for VCPU, MEMORY_MB and DISK_GB, with
        the servers each host runs (every project's: an admin's view)."""
        from openstack import exceptions

        from labkit.diagrams import Diagram, graphs

        conn = self._conn
        try:
            rows = placement_usage(conn)
            listed = list(conn.compute.servers(details=True, all_projects=True))
        except exceptions.ForbiddenException:
            return Text(
                "Placement's inventories and usages, and every project's servers, are for "
                "admins: this cloud's clouds.yaml entry may not read them. `openstack "
                "hypervisor list` shows what it may."
            )
        servers: dict[str, list[str]] = {}
        for s in listed:
            if s.compute_host:
                servers.setdefault(s.compute_host, []).append(s.name)
        return Diagram(
            graphs.host_usage(
                rows,
                servers={h: sorted(names, key=_launch_key) for h, names in servers.items()},
                title=title,
            )
        )

    def decision(self, server: Any) -> tuple[dict[str, Any], str]:
        """The scheduler's recorded decision for the request that booted ``server`` (its
        detail and the host it chose first, or ``NoValidHost``). Sim only."""
        notes = [
            e
            for e in self.lab.compute.trace(server)
            if e["kind"] == "note" and e["action"] == "scheduler decision"
        ]
        if not notes:
            raise LabkitError(
                "The scheduler recorded no decision for this boot.",
                "Was it booted on this sim? lab.server_events(server) shows its actions.",
            )
        return dict(notes[-1]["detail"]), str(notes[-1]["status"])

    def draw_scores(self, server: Any, title: str = "") -> Diagram | Text:
        """The weighers' scores per host for the request that booted ``server``, with the
        hosts the filters dropped and those Placement had no room on."""
        from labkit.diagrams import Diagram, graphs

        if not isinstance(self.lab.backend, SimBackend):
            return Text(
                "Only the sim records each scheduling decision. On real hosts, set [DEFAULT] "
                "debug = True in the controller's nova.conf and read the 'Weighed' and "
                "'Filter ... returned' lines of /var/log/nova/nova-scheduler.log."
            )
        detail, chosen = self.decision(server)
        hosts = sorted(h.name for h in self._conn.compute.hypervisors())
        return Diagram(graphs.scheduler_scores(detail, chosen, hosts=hosts, title=title))

    def where(self, prefix: str, wait: bool = True, timeout: float = 120.0) -> Table:
        """Where the lab user's servers named ``prefix`` or ``prefix-N`` landed, once none is
        still building (the host shows to an admin only)."""
        compute = self._conn.compute
        deadline = time.monotonic() + timeout
        while True:
            found = [s for s in compute.servers(details=True) if _named(s.name, prefix)]
            if not wait or all(s.status not in ("BUILD",) for s in found):
                break
            if time.monotonic() > deadline:
                raise LabkitError(
                    f"{prefix}: servers still in BUILD after {timeout:.0f} s.",
                    "lab.compute_services(): is every nova-compute up?",
                )
            time.sleep(0.5)
        t = Table(["server", "status", "host", "flavor", "fault"], title="Where they landed")
        per_host: dict[str, int] = {}
        for s in sorted(found, key=lambda s: _launch_key(s.name)):
            fault = (s.fault or {}).get("message", "") if s.status == "ERROR" else ""
            host = s.compute_host or "-"
            if s.compute_host:
                per_host[host] = per_host.get(host, 0) + 1
            t.add(
                s.name,
                s.status,
                host,
                _flavor_name(s),
                fault,
                mark="fail" if s.status == "ERROR" else "",
            )
        if per_host:
            t.note = "Per host: " + ", ".join(f"{h} {n}" for h, n in sorted(per_host.items()))
        return t

    # ---- clean up ---------------------------------------------------------------------------
    def remove_servers(self, *prefixes: str, timeout: float = 120.0) -> Table:
        """Delete the lab user's servers named ``prefix`` or ``prefix-N`` and wait (its own
        project's only: on an existing cloud, other projects' servers of that name stay)."""
        compute = self._conn.compute
        t = Table(["servers", "deleted"], title="Clean up: servers")
        for prefix in prefixes:
            found = [s for s in compute.servers() if _named(s.name, prefix)]
            for s in found:
                compute.delete_server(s)
            for s in found:
                compute.wait_for_delete(s, interval=0.5, wait=int(timeout))
            names = sorted((s.name for s in found), key=_launch_key)
            t.add(f"{prefix}*", ", ".join(names) or "none")
        return t

    def remove_server_groups(self, *names: str) -> Table:
        """Delete the lab user's server groups with one of these names (its project's)."""
        compute = self._conn.compute
        t = Table(["server group", "deleted"], title="Clean up: server groups")
        for name in names:
            found = [g for g in compute.server_groups() if g.name == name]
            for group in found:
                compute.delete_server_group(group)
            t.add(name, f"{len(found)} group" + ("" if len(found) == 1 else "s"))
        return t

    # ---- taking a worker away again -------------------------------------------------------------
    def added_workers(self) -> list[str]:
        """The hosts this lab added to itself with :meth:`add_worker` (the sim's only):
        what :meth:`remove_worker` can take away. Hosts of the env file are never listed."""
        if not isinstance(self.lab.backend, SimBackend):
            return []
        return [str(h["name"]) for h in read_extra_hosts(self.lab.paths.root) if h.get("name")]

    def remove_worker(self, name: str = "worker2") -> str:
        """Take a worker :meth:`add_worker` added out of the lab again, as an operator
        decommissions a compute host: stop nova-compute and the Linux bridge agent on it,
        delete its compute service (Nova deletes the host's resource provider in Placement
        and its cell mapping with it) and its network agent, then drop the host from the
        lab's state folder and restart the sim without it. Nova refuses (409) while servers
        live on the host: delete them first. Returns what was done, in a line."""
        lab = self.lab
        backend = lab.backend
        if name not in self.added_workers() or not isinstance(backend, SimBackend):
            raise LabkitError(
                f"{name} was not added by lab.add_worker: labkit removes only the hosts a lab "
                "added to itself.",
                "Hosts of the env file stay; `labkit sim reset` starts the whole lab over.",
            )
        conn = self._conn
        done = []
        if name in {h["name"] for h in backend.client.hosts()["hosts"]}:
            living = sorted(
                s.name for s in conn.compute.servers(all_projects=True, compute_host=name)
            )
            if living:  # refused before anything is stopped
                raise LabkitError(
                    f"Servers still live on {name}: {', '.join(living)}. Nova refuses to delete "
                    "a compute service that is hosting instances (409).",
                    "Delete them first (lab.clean() deletes what the notebooks made), then "
                    f"remove_worker('{name}') again.",
                )
            for service in ("nova-compute", "neutron-linuxbridge-agent"):
                lab.stop_service(service, host=name)
            for svc in conn.compute.services(host=name, binary="nova-compute"):
                conn.compute.delete_service(svc, ignore_missing=False)  # 409 with servers
                done.append("compute service")
            for agent in conn.network.agents(host=name):
                conn.network.delete_agent(agent, ignore_missing=False)
                done.append(f"{agent.agent_type.lower()}")
        forget_extra_host(lab.paths.root, name)
        lab.env = backend.env = without_host(backend.env, name)
        backend.restart()
        lab.identity.forget_connections()
        deleted = f"{' and '.join(done)} deleted, " if done else ""
        return f"removed: {deleted}sim restarted without it"


# ---- helpers ---------------------------------------------------------------------------------


def placement_usage(conn: Any) -> list[dict[str, Any]]:
    """Each resource provider's VCPU, MEMORY_MB and DISK_GB: ``used`` (its allocations) and
    ``capacity`` ((total - reserved) x allocation ratio), as the scheduler counts room."""
    placement = conn.placement
    rows: list[dict[str, Any]] = []
    for rp in sorted(placement.resource_providers(), key=lambda rp: rp.name):
        inventories = {i.resource_class: i for i in placement.resource_provider_inventories(rp)}
        usages = placement.get(f"/resource_providers/{rp.id}/usages").json().get("usages", {})
        classes = [c for c in RESOURCE_CLASSES if c in inventories]
        classes += sorted(c for c in inventories if c not in RESOURCE_CLASSES)
        for rc in classes:
            inv = inventories[rc]
            rows.append(
                {
                    "host": rp.name,
                    "resource_class": rc,
                    "used": int(usages.get(rc, 0)),
                    "capacity": int((inv.total - inv.reserved) * inv.allocation_ratio),
                    "total": int(inv.total),
                    "reserved": int(inv.reserved),
                    "ratio": float(inv.allocation_ratio),
                }
            )
    return rows


def _env_file_hosts(lab: Lab) -> tuple[Host, ...]:
    """The hosts of the env file itself, without what the lab added."""
    from labkit.envs import load_env

    env = load_env(lab.env.path) if lab.env.path else lab.env
    return tuple(getattr(env, "hosts", ()))


def _plain(value: Any) -> str:
    """``8`` for 8.0 GB, the value as it is otherwise."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _named(name: str | None, prefix: str) -> bool:
    if not name:
        return False
    return name == prefix or re.fullmatch(re.escape(prefix) + r"-\d+", name) is not None


def _launch_key(name: str) -> tuple[str, int]:
    base, _, number = name.rpartition("-")
    return (base, int(number)) if base and number.isdigit() else (name, 0)


def _flavor_name(server: Any) -> str:
    flavor = server.flavor
    if flavor is None:
        return ""
    get = flavor.get if isinstance(flavor, dict) else lambda k, d=None: getattr(flavor, k, d)
    return str(get("original_name") or get("name") or get("id") or "")
