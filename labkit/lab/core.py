"""``Lab`` itself: the env, its backend (chosen once) and the facades, behind the one
object a notebook holds. Each method is a line that hands the work to a facade, so what a
notebook can call is listed here in one place, with the notebook that introduces it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit import config
from labkit.cloud import Credentials, put_cli_on_path
from labkit.config import StatePaths
from labkit.display import Aliases, Table, Text
from labkit.envs import CloudEnv, Env, load_env, with_extra_hosts
from labkit.errors import LabkitError
from labkit.hostfiles import HostFiles, ServiceChange
from labkit.image_sources import ImageSource
from labkit.install import steps as st
from labkit.install.context import PlanContext
from labkit.install.runner import Runner, StepResult
from labkit.lab.access import Access
from labkit.lab.backends import Backend, SimBackend, backend_for
from labkit.lab.compute import Compute
from labkit.lab.drills import Drills
from labkit.lab.hosts import Hosts
from labkit.lab.identity import Identity
from labkit.lab.images import Images
from labkit.lab.installs import Installs, install_order
from labkit.lab.network import Network

if TYPE_CHECKING:
    from IPython.display import Image
    from openstack.connection import Connection

    from labkit.diagrams import Diagram
    from labkit.explain.view import Explanation
    from labkit.images import Timeline
    from labkit.instructor.progress import Progress
    from labkit.instructor.report import RunReport
    from labkit.lab.access import GuestSession, Output, SshDiagnosis
    from labkit.lab.cleanup import Cleanup
    from labkit.lab.dashboard import Dashboard
    from labkit.lab.fit import FitPrediction
    from labkit.lab.isolation import Attempt, Isolation
    from labkit.lab.projects import Projects
    from labkit.lab.scale import Scale, WorkerAdded
    from labkit.sim.client import SimClient
    from labkit.sim.process import SimHandle
    from labkit.widgets.image_import import ImportWatch
    from labkit.widgets.plan import PlanView
    from labkit.widgets.token import TokenView


class Lab:
    """One lab: its env, where it runs, and everything a notebook does with it.

    ``lab.identity``, ``lab.hosts``, ``lab.installs`` and ``lab.images`` are the facades
    doing the work; the methods below are the names the notebooks use.
    """

    def __init__(
        self,
        env: Env,
        state_root: Path | None = None,
        sim_port: int | None = None,
        backend: Backend | None = None,
    ) -> None:
        self.paths = StatePaths.for_env(env.name, state_root)
        # ... with the hosts this lab added to itself (lab.add_worker, 07-scale-out)
        self.env = with_extra_hosts(env, self.paths.root)
        self.backend = backend or backend_for(self.env, self.paths, sim_port)
        self.identity = Identity(self.backend)
        self.hosts = Hosts(self.backend)
        self.installs = Installs(self.backend, self.identity)
        self.images = Images(self.backend, self.identity)
        self.compute = Compute(self.backend, self.identity)
        self.network = Network(self.identity)
        self.drills = Drills(self)
        self.access = Access(self.backend, self.identity)
        # `!openstack` in the next cell should work without lab.use_cli() first.
        put_cli_on_path()

    @classmethod
    def from_env(
        cls,
        name_or_path: str | os.PathLike[str] | None = None,
        state_root: Path | None = None,
        sim_port: int | None = None,
    ) -> Lab:
        """Load ``envs/<name>.yaml`` (default: ``$LABKIT_ENV`` or ``sim``)."""
        return cls(load_env(name_or_path or config.default_env_name()), state_root, sim_port)

    def __repr__(self) -> str:
        return f"Lab(env={self.env.name!r}, kind={self.env.kind!r}, state={self.paths.root})"

    @property
    def kind(self) -> str:
        return self.env.kind

    # ---- the sim ----------------------------------------------------------------------------
    def _sim_backend(self) -> SimBackend:
        if not isinstance(self.backend, SimBackend):
            raise LabkitError(
                f"{self.env.name} is a {self.env.kind} env, not a sim.",
                "Use an env of kind sim, e.g. Lab.from_env('sim').",
            )
        return self.backend

    @property
    def sim_port(self) -> int | None:
        """The port the sim of this lab uses (None for other kinds)."""
        return self.backend.sim_port if isinstance(self.backend, SimBackend) else None

    def up(self) -> SimHandle:
        """Start the sim (sim envs only) and write clouds.yaml; return its handle."""
        return self._sim_backend().start()

    @property
    def sim(self) -> SimClient:
        """The sim's control client (hosts, files, logs, trace)."""
        return self._sim_backend().client

    def now(self) -> str:
        """The cloud's clock as ISO text: the sim's (steady in deterministic mode), else this
        machine's. Relative times ("in 59 min") are computed against it."""
        return self.backend.now()

    def trace_mark(self) -> int:
        """The id of the sim's latest trace event: pass it to :meth:`draw_flow` to draw only
        what happens after this point."""
        mark, page = 0, 500  # the control API answers 500 events at a time
        while True:
            # Not "until empty": each call to the API is itself traced.
            events = self.sim.trace(after=mark)
            if events:
                mark = int(events[-1]["id"])
            if len(events) < page:
                return mark

    def draw_flow(
        self,
        after: int | None = None,
        request_id: str | None = None,
        title: str = "What happened, hop by hop",
    ) -> Diagram:
        """The hops the sim recorded (after a :meth:`trace_mark`, or of one request) as a
        sequence diagram."""
        from labkit.diagrams import Diagram, graphs

        events = self.sim.trace(request_id=request_id, after=after)
        return Diagram(graphs.request_flow(events, title=title))

    # ---- the lab at a glance (notebooks/00-welcome) ---------------------------------------------
    def describe(self) -> Table:
        """Which env this lab uses, where it runs, and what is installed.

        Introduced in notebooks/00-welcome."""
        t = Table(["what", "this lab"], title=f"Lab {self.env.name!r} ({self.env.kind})")
        t.add("description", self.env.description or "-")
        if isinstance(self.env, CloudEnv):
            t.add("cloud", f"clouds.yaml entry {self.env.cloud!r}")
            return t
        for h in self.env.hosts:
            t.add(f"host {h.name}", f"{h.address} ({' + '.join(h.roles)})")
        t.add("management network", self.env.management_network.cidr)
        if isinstance(self.backend, SimBackend):
            t.add("sim", self.plan_context().identity_url.rsplit("/identity", 1)[0])
        t.add("state folder", str(self.paths.root))
        t.add("installed layers", ", ".join(self.installed_layers()) or "none yet")
        return t

    def draw_layers(self, highlight: str | None = None) -> Diagram:
        """The layer map, installed layers ticked. Introduced in notebooks/00-welcome."""
        from labkit.diagrams import Diagram, graphs

        return Diagram(graphs.layers(highlight=highlight, installed=self.installed_layers()))

    def draw_notebook_arc(self) -> Diagram:
        from labkit.diagrams import Diagram, graphs

        return Diagram(graphs.notebook_arc())

    def explain(self, error: BaseException | str) -> Explanation:
        """What went wrong, in which layer, and what to do (see :mod:`labkit.explain`)."""
        from labkit.explain import explain

        return explain(error, self)

    # ---- credentials and clients: lab.identity --------------------------------------------------
    @property
    def secrets(self) -> dict[str, str]:
        return self.backend.secrets()

    def plan_context(self) -> PlanContext:
        return self.backend.plan_context()

    def credentials(self, user: str = "admin") -> Credentials:
        return self.identity.credentials(user)

    def connect(self, user: str = "admin") -> Connection:
        """An openstacksdk connection (cached per user)."""
        return self.identity.connect(user)

    @property
    def conn(self) -> Connection:
        return self.connect("admin")

    def openrc(self, user: str = "admin") -> str:
        return self.identity.openrc(user)

    def show_openrc(self, user: str = "admin") -> Text:
        """The openrc lines, passwords masked on real hosts. Introduced in 02-keystone."""
        return self.identity.show_openrc(user)

    def openrc_file(self, user: str = "admin") -> Path:
        """Write ``<user>-openrc`` into the state folder (0600) and return its path."""
        return self.identity.openrc_file(user)

    def use_cli(self, user: str = "admin") -> str:
        """Point ``!openstack`` in this kernel at the lab (sets OS_CLIENT_CONFIG_FILE/OS_CLOUD)."""
        return self.identity.use_cli(user)

    # ---- Keystone: tokens, keys, catalog, scopes (notebooks/02-keystone) ------------------------
    def aliases(self) -> Aliases:
        """Short names for the ids of users, projects, domains and roles."""
        return self.identity.aliases()

    def token(self, user: str = "admin", scope: str = "project") -> str:
        """A fresh token (what `openstack token issue` prints as id)."""
        return self.identity.token(user, scope)

    def check_token(self, token: str) -> str:
        """Ask Keystone whether a token is still valid (GET /v3/auth/tokens, as admin)."""
        return self.identity.check_token(token)

    def token_anatomy(self, token: str | None = None) -> TokenView:
        """A token taken apart: envelope, then payload opened with the controller's keys."""
        return self.identity.token_anatomy(token)

    def token_scopes(self, user: str) -> Table | Text:
        """What one user's token looks like at each scope (or why Keystone refuses it)."""
        return self.identity.token_scopes(user)

    def draw_catalog(self, user: str = "demo") -> Diagram:
        """The catalog inside ``user``'s project token."""
        return self.identity.draw_catalog(user)

    def fernet_keys(self) -> dict[int, bytes]:
        """The controller's Fernet key repository, ``{file number: key}``."""
        return self.identity.fernet_keys()

    def keys_table(self, before: dict[int, bytes] | None = None) -> Table | Text:
        return self.identity.keys_table(before)

    def rotate_fernet_keys(self, show: bool = True) -> list[StepResult]:
        """``keystone-manage fernet_rotate`` on the controller, run as an install step."""
        return self.identity.rotate_fernet_keys(show)

    # ---- installs: lab.installs ----------------------------------------------------------------
    def plan(self, layer: str) -> list[st.Step]:
        return self.installs.plan(layer)

    def show_plan(self, layer: str) -> PlanView | Text:
        """A layer's install steps as a person would type them. Introduced in 01-hosts."""
        return self.installs.show_plan(layer)

    def runner(self) -> Runner:
        return self.backend.runner()

    def install(self, layer: str, show: bool = True) -> list[StepResult]:
        """Run one layer's installer (its requirements must be installed already)."""
        return self.installs.install(layer, show)

    def ensure(self, *layers: str, show: bool = False) -> Lab:
        """Make sure ``layers`` (and everything below them) are installed and running."""
        self.installs.ensure(*layers, show=show)
        return self

    @staticmethod
    def install_order(*layers: str) -> list[str]:
        """``layers`` and everything below them, each once, in the order they install."""
        return install_order(*layers)

    def installed_layers(self) -> list[str]:
        return self.installs.installed()

    # ---- hosts: lab.hosts (notebooks/01-hosts) -------------------------------------------------
    def hosts_state(self) -> dict[str, Any]:
        """Hosts, network and running services: live from the sim, else from the env file."""
        return self.hosts.state()

    def host_files(self) -> HostFiles:
        """The lab's hosts as files, folders and services: the sim's control API, or the
        real hosts over SSH (the same answers). Introduced in notebooks/01-hosts."""
        return self.hosts.files()

    def read_file(self, host: str, path: str) -> str:
        """A (small) file on one of the lab's hosts. Introduced in notebooks/01-hosts."""
        return self.hosts.read_file(host, path)

    def draw_topology(self) -> Diagram:
        """The seed's picture, drawn from this lab, with its servers once Nova runs.
        Introduced in notebooks/01-hosts."""
        layers = self.installed_layers()
        if "networking" in layers:  # bridges, dnsmasq, and each server's port and rules
            return self.hosts.draw_topology(self.env.name, **self.network.state())
        guests = self.compute.guests() if "nova-compute" in layers else []
        return self.hosts.draw_topology(self.env.name, guests=guests)

    def security_groups_table(self, user: str = "demo") -> Table:
        """Every rule of ``user``'s project's security groups. Introduced in 05-access."""
        return self.network.security_groups(user)

    def hosts_table(self) -> Table:
        """Requirements vs this lab's hosts. Introduced in notebooks/01-hosts."""
        return self.hosts.requirements_table()

    def services_table(self) -> Table | Text:
        """Services running on the hosts. Introduced in notebooks/01-hosts."""
        return self.hosts.services_table()

    def stop_service(self, name: str, host: str | None = None) -> ServiceChange:
        """Stop ``name`` on ``host`` (default: the controller), as ``service NAME stop``
        would: on the sim through its control API, on real hosts over SSH."""
        return self.hosts.service(name, "stop", host)

    def start_service(self, name: str, host: str | None = None) -> ServiceChange:
        """Start ``name`` on ``host`` (default: the controller); see :meth:`stop_service`.
        On real hosts a Nova service (conductor, scheduler, compute) is waited for until it
        reports up, as the sim's does at once."""
        change = self.hosts.service(name, "start", host)
        real = not isinstance(self.backend, SimBackend) and self.backend.has_hosts
        if real and name in ("nova-compute", "nova-conductor", "nova-scheduler"):
            self.compute.wait_up(name, host or self.plan_context().controller.name)
        return change

    # ---- Glance: lab.images (notebooks/03-glance) ----------------------------------------------
    def image_source(self, name: str = "trusty", rate: str | None = "64M") -> ImageSource:
        """Where this lab's Glance can pull ``name`` from over HTTP (see
        :meth:`Images.source`). Introduced in notebooks/03-glance."""
        return self.images.source(name, rate)

    def image_file(self, name: str = "cirros") -> Path:
        """The lab mirror's ``name`` image as a local file. Introduced in 03-glance."""
        return self.images.file(name)

    def remove_images(self, *names: str) -> None:
        """Delete every image with one of these names, so cells that create them can run
        again. Introduced in notebooks/03-glance."""
        self.images.remove(*names)

    def follow_import(
        self, image: str, source: ImageSource | None = None, show: bool = True
    ) -> ImportWatch:
        """Watch ``image``'s import in the background; ``.wait()`` returns the status
        timeline. Introduced in notebooks/03-glance."""
        return self.images.follow_import(image, source, show)

    def draw_timeline(self, timeline: Timeline) -> Diagram:
        """An image's status changes over time, drawn. Introduced in notebooks/03-glance."""
        return self.images.draw_timeline(timeline)

    def check_image(self, image: str, source: ImageSource | None = None) -> Table:
        """Hash the image's bytes yourself and compare with Glance's and the publisher's
        checksums. Introduced in notebooks/03-glance."""
        return self.images.check(image, source)

    def where_bytes_landed(self, image: str) -> Table:
        """The image's file in Glance's store folder on the controller.

        Introduced in notebooks/03-glance."""
        return self.images.where_bytes_landed(image)

    def image_visibility(self, *names: str) -> Table:
        """Each image's visibility and owner, and whether admin and demo see it.

        Introduced in notebooks/03-glance."""
        return self.images.visibility(*names)

    # ---- Nova (notebooks/04-nova) ---------------------------------------------------------------
    def compute_services(self) -> Table:
        return self.compute.services()

    def hypervisors(self) -> Table:
        return self.compute.hypervisors()

    def flavors_table(self) -> Table:
        return self.compute.flavors()

    def boot(
        self, name: str, flavor: str = "m1.medium", image: str = "trusty", **extra: Any
    ) -> Any:
        return self.compute.boot(name, flavor, image, **extra)

    def server_events(self, server: Any) -> Table:
        return self.compute.events(server)

    def create_request_id(self, server: Any) -> str:
        return self.compute.create_request_id(server)

    def draw_boot(self, server: Any) -> Diagram:
        return self.compute.draw_boot(server)

    def scheduler_decision(self, server: Any) -> Table | Text:
        return self.compute.scheduler_decision(server)

    def request_logs(self, request_id: str) -> Text:
        return self.compute.logs(request_id)

    def drill(self, name: str) -> Text:
        """Inject a classic fault: computes-down, flavor-too-big, quota-exhausted,
        image-deleted-mid-boot, rabbitmq-stopped. ``lab.end_drill(name)`` undoes it."""
        return self.drills.start(name)

    def end_drill(self, name: str) -> Text:
        return self.drills.end(name)

    def advance_clock(self, seconds: int) -> str:
        """Let sim time pass (deterministic sims only move their clock with requests). Real
        hosts keep real time: there this waits ``seconds`` -- e.g. the 60 s after which Nova
        calls a silent service down (``service_down_time``)."""
        if isinstance(self.backend, SimBackend) or not self.backend.has_hosts:
            return self.sim.advance_clock(seconds)
        import time

        time.sleep(seconds)
        return f"{self.backend.now()} (real hosts keep real time: waited {seconds} s)"

    # ---- SSH into guests (notebooks/05-access) -------------------------------------------------
    def ssh(
        self,
        server: Any,
        key: str | Path | None = None,
        user: str | None = None,
        command: str | None = None,
        timeout: float | None = None,
    ) -> GuestSession | Output:
        """Log in to a server's guest with paramiko, trusting only the host keys its console
        log shows; with ``command``, run it and return its output. On the sim the connection
        goes through the sim's gateway. Introduced in notebooks/05-access."""
        return self.access.ssh(server, key=key, user=user, command=command, timeout=timeout)

    def wait_for_boot(self, server: Any, wait: float = 60.0) -> None:
        """Wait until ``server``'s guest has printed the end of cloud-init (its SSH host keys)
        on its console; on real hosts that comes some seconds after ACTIVE. Introduced in
        notebooks/05-access."""
        self.access.wait_for_boot(server, wait=wait)

    def why_no_ssh(self, server: Any, key: str | Path | None = None) -> SshDiagnosis:
        """Each hop SSH to ``server`` needs, checked in order; the first that fails is named
        with its fix. Introduced in notebooks/05-access."""
        return self.access.why_no_ssh(server, key=key)

    def ssh_config(self) -> Path:
        """The OpenSSH client config for the lab's guests (``ssh -F PATH ...``): the sim's
        gateway on the sim, the lab's known_hosts (console host keys) elsewhere."""
        return self.access.ssh_config()

    def server_address(self, server: Any) -> str:
        """The fixed address ``openstack server show`` prints for ``server`` (name or id).
        Introduced in notebooks/05-access."""
        return self.access.target(server).address

    def ssh_key(self) -> Path:
        """The learner's SSH key for the guests (made on first use); ``.pub`` is next to it.
        Introduced in notebooks/05-access."""
        return self.access.ssh_key()

    # ---- the dashboard: Horizon (notebooks/05-access) ------------------------------------------
    @property
    def horizon(self) -> Dashboard:
        """The dashboard facade (:mod:`labkit.lab.dashboard`)."""
        from labkit.lab.dashboard import Dashboard

        return Dashboard(self.backend, self.installs)

    def dashboard(self) -> str:
        """The dashboard's URL; on the sim Horizon is started again if it is installed but
        not running. Introduced in notebooks/05-access."""
        return self.horizon.url()

    def dashboard_screenshot(self, page: str = "project/instances", user: str = "demo") -> Image:
        """A live picture of a dashboard page as ``user`` sees it (headless Chromium)."""
        return self.horizon.screenshot(page, user)

    def dashboard_requests(self, page: str = "project/instances", user: str = "demo") -> Table:
        """The API requests one load of a dashboard page makes, service by service (sim)."""
        return self.horizon.requests(page, user)

    # ---- beyond minimal (notebooks/08-beyond) --------------------------------------------------
    def draw_beyond(self, highlight: str | None = None) -> Diagram:
        """The layer map grown: this lab's layers (installed ones ticked) and the later layers
        on the seed's layers 2-4; ``highlight`` a layer (``"cinder"``) or a section
        (``"storage"``). Introduced in notebooks/08-beyond."""
        from labkit.diagrams import Diagram, graphs

        note = "" if self.backend.has_hosts else "an existing cloud: its catalog says what it runs"
        return Diagram(graphs.beyond(self.installed_layers(), highlight=highlight, note=note))

    def beyond_table(self, which: str | None = None) -> Table:
        """The later layers (all, one section's or one): what each adds, its processes, catalog
        type and Zed Install Guide. Introduced in notebooks/08-beyond."""
        from labkit import beyond

        return beyond.table(which)

    def beyond_changes(self, which: str) -> Table:
        """What would change in this lab to add a later layer or a section's layers."""
        from labkit import beyond

        return beyond.changes(which)

    def production_table(self) -> Table:
        """This lab next to a production cloud: HA, TLS, keys. Introduced in 08-beyond."""
        from labkit import beyond

        return beyond.production_table()

    def deployment_tools(self) -> Table:
        """The tools that deploy OpenStack at scale. Introduced in notebooks/08-beyond."""
        from labkit import beyond

        return beyond.deployment_tools_table()

    # ---- projects & quotas (notebooks/06-projects-quotas) --------------------------------------
    @property
    def projects(self) -> Projects:
        """The facade of notebook 06: the seed's domains, projects, users and their quotas."""
        if "_projects" not in self.__dict__:
            from labkit.lab.projects import Projects

            self.__dict__["_projects"] = Projects(self.backend, self.identity)
        return self.__dict__["_projects"]  # type: ignore[no-any-return]

    @property
    def isolation(self) -> Isolation:
        from labkit.lab.isolation import Isolation

        return Isolation(self.projects)

    def create_projects(self) -> Table:
        """The seed's domains, projects, users and roles, made where missing (idempotent).
        Introduced in notebooks/06-projects-quotas."""
        return self.projects.create()

    def draw_projects(self) -> Diagram:
        """Domains, projects (with their vCPU and RAM quotas), users and roles, from Keystone."""
        return self.projects.draw_projects()

    def connect_as(self, user: str) -> Connection:
        """An openstacksdk connection as one of notebook 06's users (alice, bob ...)."""
        return self.projects.connect(user)

    def set_quotas(self) -> Table:
        """``openstack quota set`` for the seed's projects: Nova's and Neutron's limits."""
        return self.projects.set_quotas()

    def quotas_table(self, project: str) -> Table:
        """``openstack quota show --usage PROJECT``: limit, in use, reserved, free."""
        return self.projects.quotas_table(project)

    def draw_quotas(self, *projects: str, by: str = "project") -> Diagram:
        """Each resource's limit as a bar: in use, reserved, free -- per project, or summed per
        domain (``by="domain"``). Introduced in notebooks/06-projects-quotas."""
        return self.projects.draw_quotas(projects or None, by=by)

    def will_it_fit(self, project: str, flavor: str, count: int = 1) -> FitPrediction:
        """Before booting: do ``count`` servers of ``flavor`` fit ``project``'s quota and the
        hosts (Placement), which resource limits, which host takes each one.
        Introduced in notebooks/06-projects-quotas."""
        return self.projects.will_it_fit(project, flavor, count)

    def boot_as(
        self, user: str, name: str, flavor: str = "m1.tiny", image: str = "cirros", count: int = 1
    ) -> list[Any]:
        """``openstack server create --min N --max N`` as ``user``; waits for ACTIVE/ERROR."""
        return self.projects.boot_as(user, name, flavor, image, count)

    def check_fit(self, prediction: FitPrediction, servers: list[Any]) -> Table:
        """A :meth:`will_it_fit` prediction next to what the boot did."""
        return self.projects.check_fit(prediction, servers)

    def delete_project_servers(self, *projects: str) -> Table:
        """Delete every server of these projects (default: the seed's) and wait."""
        return self.projects.delete_servers(*projects)

    def try_as(self, user: str, action: str, target: str = "") -> Attempt:
        """Try one thing as ``user`` (``"show server", "bob-web"``) and see the answer."""
        return self.isolation.try_as(user, action, target)

    def isolation_table(self, attempts: list[tuple[str, str, str]]) -> Table:
        """Each ``(user, action, target)`` tried, with the status and words of the answer."""
        return self.isolation.table(attempts)

    def make_private_things(self, user: str) -> Table:
        """As ``user``: a private image and a keypair named after it (idempotent)."""
        return self.isolation.make_private_things(user)

    def remove_private_things(self, user: str) -> None:
        self.isolation.remove_private_things(user)

    # ---- clean up (notebooks/99-cleanup) -------------------------------------------------------
    @property
    def cleanup(self) -> Cleanup:
        """The facade of notebook 99: what the notebooks made, found and deleted again."""
        from labkit.lab.cleanup import Cleanup

        return Cleanup(
            self.backend, self.identity, connect=self.projects.connect, workers=self.scale
        )

    def leftovers(self) -> Table:
        """What the lab's notebooks made that is still in the cloud, notebook by notebook.
        Introduced in notebooks/99-cleanup."""
        return self.cleanup.leftovers()

    def clean(self) -> Table:
        """Delete what :meth:`leftovers` lists, servers first and domains last; installed
        services stay. Introduced in notebooks/99-cleanup."""
        return self.cleanup.clean()

    # ---- scale out (notebooks/07-scale-out) ----------------------------------------------------
    @property
    def scale(self) -> Scale:
        """The facade of notebook 07: one more worker, and where servers land."""
        from labkit.lab.scale import Scale

        return Scale(self)

    def add_worker(
        self,
        name: str = "worker2",
        cpus: int | None = None,
        ram_gb: float | None = None,
        disk_gb: float | None = None,
        address: str | None = None,
        show: bool = False,
    ) -> WorkerAdded:
        """The seed's "multiple servings": one more worker with the base, nova-compute and
        networking layers' steps for it and ``discover_hosts`` (idempotent). On the sim a new
        simulated host (the seed's 8 GB recipe unless sized), kept in the state folder; on
        real hosts one the env file names. Shows the worker's state.
        Introduced in notebooks/07-scale-out."""
        return self.scale.add_worker(name, cpus, ram_gb, disk_gb, address, show)

    def show_worker_plan(self, name: str = "worker2") -> PlanView | Text:
        """The steps :meth:`add_worker` runs for ``name``, as a person would type them."""
        return self.scale.show_plan(name)

    def worker_table(self, name: str = "worker2") -> Table:
        """One worker as the cloud sees it: services, cell, hypervisor, resource provider."""
        return self.scale.worker_table(name)

    def draw_usage(self) -> Diagram | Text:
        """Placement's used / capacity per host and resource class, with each host's servers.
        Introduced in notebooks/07-scale-out."""
        return self.scale.draw_usage()

    def draw_scores(self, server: Any) -> Diagram | Text:
        """The weighers' scores per host for the request that booted ``server`` (and the hosts
        filters dropped). Introduced in notebooks/07-scale-out."""
        return self.scale.draw_scores(server)

    def where_servers(self, prefix: str) -> Table:
        """Where this lab's servers named ``prefix`` or ``prefix-N`` landed, once none builds."""
        return self.scale.where(prefix)

    def remove_worker(self, name: str = "worker2") -> str:
        """Take a worker :meth:`add_worker` added out of the lab again (sim only; see
        :meth:`labkit.lab.scale.Scale.remove_worker`). Introduced in notebooks/99-cleanup."""
        return self.scale.remove_worker(name)

    def remove_servers(self, *prefixes: str) -> Table:
        """Delete the admin project's servers named ``prefix`` or ``prefix-N``, and wait."""
        return self.scale.remove_servers(*prefixes)

    def remove_server_groups(self, *names: str) -> Table:
        """Delete the admin project's server groups with one of these names."""
        return self.scale.remove_server_groups(*names)

    # ---- progress (instructors, and learners' "check my progress") ------------------------------
    def check_progress(self) -> Progress:
        """Which layers and exercises of the notebooks' arc this lab has really completed,
        read from the lab itself (layers installed, a token, an active image, a server, a
        tcp/22 rule, a keypair, a guest login ...), with a hint for the next step -- the same
        checks the instructor's report shows. ``labkit progress ENV`` from a terminal."""
        from labkit.instructor.progress import check_progress

        return check_progress(self)

    def run(
        self,
        notebooks: list[str | Path],
        envs: list[str],
        parallel: int | None = None,
        **options: Any,
    ) -> RunReport:
        """``labkit run`` from a notebook, for instructors: ``notebooks`` against every lab in
        ``envs`` (``sim:alice``, ``@workshop.yaml`` ...; attendees' sims under this lab's
        state root), ``parallel`` labs at once, with a live table of each lab's notebooks;
        returns the report's model (also in ``out``/report.html). Options as
        :func:`labkit.instructor.live.run_in_notebook`: ``out``, ``cell_timeout``,
        ``env_timeout``, ``resume``, ``fail_fast``, ``keep_sims``."""
        from labkit.instructor.live import run_in_notebook

        options.setdefault("state_root", self.paths.root.parent)
        return run_in_notebook(notebooks, envs, parallel=parallel, **options)
