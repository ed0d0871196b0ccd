"""``Lab``: the one object a notebook holds -- the env, its cloud, installs, diagrams, help.

    lab = Lab.from_env("sim")      # reads envs/sim.yaml; no process started yet
    lab.ensure("keystone")         # start the sim if needed, install base + keystone
    conn = lab.connect("demo")     # an openstacksdk connection as the demo user

Every notebook starts this way, so any notebook can run on a fresh kernel: ``ensure`` brings
up what the earlier notebooks would have made (quickly in the sim; idempotently on real
hosts, where a second run changes nothing).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from labkit import config, install
from labkit import secrets as lab_secrets
from labkit.cloud import Credentials, cli_environment, write_clouds_yaml
from labkit.config import StatePaths
from labkit.envs import CloudEnv, Env, SimEnv, SshEnv, load_env
from labkit.errors import LabkitError
from labkit.install import steps as st
from labkit.install.context import PlanContext
from labkit.install.runner import Runner, StepResult, apply_plan
from labkit.widgets.progress import InstallProgress

STATE_LAYERS_FILE = "installed-layers"


class Lab:
    def __init__(self, env: Env, state_root: Path | None = None,
                 sim_port: int | None = None) -> None:
        self.env = env
        self.paths = StatePaths.for_env(env.name, state_root)
        # Settled now (flag > LABKIT_SIM_PORT > env file), so two Lab objects made with
        # different settings keep talking to their own sims.
        self.sim_port = (config.sim_port(sim_port, env.sim.port)
                         if isinstance(env, SimEnv) else None)
        self._connections: dict[str, Any] = {}
        self._sim_client: Any = None
        self._host_files: Any = None

    @classmethod
    def from_env(cls, name_or_path: str | os.PathLike[str] | None = None,
                 state_root: Path | None = None, sim_port: int | None = None) -> Lab:
        """Load ``envs/<name>.yaml`` (default: ``$LABKIT_ENV`` or ``sim``)."""
        return cls(load_env(name_or_path or config.default_env_name()), state_root, sim_port)

    def __repr__(self) -> str:
        return f"Lab(env={self.env.name!r}, kind={self.env.kind!r}, state={self.paths.root})"

    @property
    def kind(self) -> str:
        return self.env.kind

    # ---- the sim ----------------------------------------------------------------------------
    def up(self) -> Any:
        """Start the sim (sim envs only) and write clouds.yaml; return its handle."""
        from labkit.sim import process

        env = self._sim_env()
        handle = process.start(env, self.paths, port=self.sim_port)
        self._write_clouds_yaml()
        return handle

    def _sim_env(self) -> SimEnv:
        if not isinstance(self.env, SimEnv):
            raise LabkitError(f"{self.env.name} is a {self.env.kind} env, not a sim.",
                              "Use an env of kind sim, e.g. Lab.from_env('sim').")
        return self.env

    @property
    def sim(self) -> Any:
        """The sim's control client (hosts, files, logs, trace)."""
        from labkit.sim import process
        from labkit.sim.client import SimClient

        if self._sim_client is None:
            self._sim_env()  # refuses non-sim envs with a clear error
            handle = process.running(self.paths)
            port = handle.port if handle else self.sim_port
            self._sim_client = SimClient(f"http://127.0.0.1:{port}", str(self.paths.root))
        return self._sim_client

    # ---- credentials and clients ------------------------------------------------------------
    @property
    def secrets(self) -> dict[str, str]:
        if isinstance(self.env, SimEnv):
            return lab_secrets.for_sim(self.env)
        return lab_secrets.load_or_generate(self.paths.secrets)

    def plan_context(self) -> PlanContext:
        if isinstance(self.env, CloudEnv):
            raise LabkitError(f"{self.env.name} is an existing cloud: labkit installs nothing "
                              "there.", "Install cells are skipped for cloud envs.")
        return PlanContext.for_env(self.env, sim_port=self.sim_port)

    def credentials(self, user: str = "admin") -> Credentials:
        if isinstance(self.env, CloudEnv):
            raise LabkitError("Credentials of a cloud env come from its clouds.yaml entry.",
                              "Use lab.connect() or `openstack --os-cloud "
                              f"{self.env.cloud}`.")
        if user not in ("admin", "demo"):
            raise LabkitError(f"No lab user {user!r}.", "Use 'admin' or 'demo'.")
        ctx = self.plan_context()
        password = self.secrets["ADMIN_PASS" if user == "admin" else "DEMO_PASS"]
        return Credentials(auth_url=ctx.identity_url, username=user, password=password,
                           project=user, region=self.env.region)

    def openrc(self, user: str = "admin") -> str:
        return self.credentials(user).openrc()

    def _write_clouds_yaml(self) -> Path:
        return write_clouds_yaml(self.paths.clouds_yaml,
                                 {f"lab-{u}": self.credentials(u) for u in ("admin", "demo")})

    def connect(self, user: str = "admin") -> Any:
        """An openstacksdk connection (cached per user)."""
        if user not in self._connections:
            self._connections[user] = self._new_connection(user)
        return self._connections[user]

    @property
    def conn(self) -> Any:
        return self.connect("admin")

    def use_cli(self, user: str = "admin") -> str:
        """Point ``!openstack`` in this kernel at the lab (sets OS_CLIENT_CONFIG_FILE/OS_CLOUD)."""
        self._cli_setup()
        if isinstance(self.env, CloudEnv):
            os.environ["OS_CLOUD"] = self.env.cloud
            return f"OS_CLOUD={self.env.cloud}"
        path = self._write_clouds_yaml()
        env = cli_environment(path, f"lab-{user}")
        for key in [k for k in os.environ if k.startswith("OS_")]:
            del os.environ[key]  # an openrc sourced earlier would override clouds.yaml
        os.environ.update(env)
        return f"openstack CLI -> cloud lab-{user} (OS_CLIENT_CONFIG_FILE={path.name})"

    # ---- installs -----------------------------------------------------------------------------
    def plan(self, layer: str) -> list[st.Step]:
        return list(install.get(layer).plan(self.plan_context()))

    def runner(self) -> Runner:
        if isinstance(self.env, SimEnv):
            from labkit.install.sim_runner import SimRunner

            # A fresh connection per client step: a step may read the catalog an earlier
            # step of the same plan changed (Glance's verification image after its endpoints).
            return SimRunner(self.sim, self.secrets, lambda: self._new_connection("admin"))
        if isinstance(self.env, SshEnv):
            from labkit.install.ssh_runner import SshRunner

            return SshRunner(self.env, self.paths, self.secrets)
        raise LabkitError("Nothing to install on an existing cloud.",
                          "Install cells are skipped for cloud envs.")

    def install(self, layer: str, show: bool = True) -> list[StepResult]:
        """Run one layer's installer (its requirements must be installed already)."""
        if isinstance(self.env, CloudEnv):
            if show:
                print(f"Skipped: {self.env.name} is an existing cloud; nothing to install.")
            return []
        if isinstance(self.env, SimEnv):
            self.up()
        progress = InstallProgress(layer, show)
        results = apply_plan(self.plan(layer), self.runner(), progress, layer=layer)
        progress.finish(results)
        self._record_layer(layer)
        if layer == "keystone":
            self._write_clouds_yaml()
        # Layers add services to the catalog: cached connections hold the old catalog.
        self._connections.clear()
        return results

    def ensure(self, *layers: str, show: bool = False) -> Lab:
        """Make sure ``layers`` (and everything below them) are installed and running."""
        if isinstance(self.env, SimEnv):
            self.up()
        if isinstance(self.env, CloudEnv):
            return self
        order: list[str] = []
        for layer in layers:
            order += [name for name in install.layers_up_to(layer) if name not in order]
        for name in order:
            self.install(name, show=show)
        return self

    def _record_layer(self, layer: str) -> None:
        path = self.paths.root / STATE_LAYERS_FILE
        done = set(path.read_text().split()) if path.is_file() else set()
        done.add(layer)
        path.write_text("\n".join(sorted(done)) + "\n")

    def installed_layers(self) -> list[str]:
        path = self.paths.root / STATE_LAYERS_FILE
        return sorted(path.read_text().split()) if path.is_file() else []

    # ---- help -------------------------------------------------------------------------------
    def explain(self, error: BaseException | str) -> Any:
        """What went wrong, in which layer, and what to do (see :mod:`labkit.explain`)."""
        from labkit.explain import explain

        return explain(error, self)

    # ---- diagrams and views (notebooks 00-02) ---------------------------------------------------
    # Thin: each delegates to labkit.diagrams, labkit.widgets, labkit.tokens or labkit.display.

    def now(self) -> str:
        """The cloud's clock as ISO text: the sim's (steady in deterministic mode), else this
        machine's. Relative times ("in 59 min") are computed against it."""
        if isinstance(self.env, SimEnv):
            return str(self.sim.health()["sim_time"])
        from datetime import UTC, datetime

        return datetime.now(UTC).isoformat()

    def describe(self) -> Any:
        """Which env this lab uses, where it runs, and what is installed.

        Introduced in notebooks/00-welcome."""
        from labkit.display import Table

        t = Table(["what", "this lab"], title=f"Lab {self.env.name!r} ({self.env.kind})")
        t.add("description", self.env.description or "-")
        if isinstance(self.env, CloudEnv):
            t.add("cloud", f"clouds.yaml entry {self.env.cloud!r}")
        else:
            for h in self.env.hosts:
                t.add(f"host {h.name}", f"{h.address} ({' + '.join(h.roles)})")
            t.add("management network", self.env.management_network.cidr)
        if isinstance(self.env, SimEnv):
            t.add("sim", self.plan_context().identity_url.rsplit("/identity", 1)[0])
        if not isinstance(self.env, CloudEnv):
            t.add("state folder", str(self.paths.root))
            t.add("installed layers", ", ".join(self.installed_layers()) or "none yet")
        return t

    def draw_layers(self, highlight: str | None = None) -> Any:
        """The layer map, installed layers ticked. Introduced in notebooks/00-welcome."""
        from labkit.diagrams import Diagram, graphs

        return Diagram(graphs.layers(highlight=highlight, installed=self.installed_layers()))

    def draw_notebook_arc(self) -> Any:
        from labkit.diagrams import Diagram, graphs

        return Diagram(graphs.notebook_arc())

    def hosts_state(self) -> dict[str, Any]:
        """Hosts, network and running services: live from the sim, else from the env file."""
        from labkit.diagrams import graphs

        if isinstance(self.env, CloudEnv):
            raise LabkitError(f"{self.env.name} is an existing cloud: its hosts are not "
                              "described here.", "Use a sim or ssh env to see hosts.")
        if isinstance(self.env, SimEnv):
            return dict(self.sim.hosts())
        from labkit.install import profiles

        files = self.host_files()
        processes = profiles.get(self.env.distro).processes
        return graphs.state_from_env(
            self.env, {h.name: files.services(h.name, processes) for h in self.env.hosts})

    def host_files(self) -> Any:
        """The lab's hosts as files, folders and services: the sim's control API, or the
        real hosts over SSH (the same answers). Introduced in notebooks/01-hosts."""
        if isinstance(self.env, SimEnv):
            return self.sim
        if isinstance(self.env, SshEnv):
            if self._host_files is None:
                from labkit.hostfiles import SshHostFiles

                self._host_files = SshHostFiles(self.env, self.paths.root.parent)
            return self._host_files
        raise LabkitError(f"{self.env.name} is an existing cloud: labkit cannot look at its "
                          "hosts.", "Use a sim or ssh env to see files on the hosts.")

    def read_file(self, host: str, path: str) -> str:
        """A (small) file on one of the lab's hosts. Introduced in notebooks/01-hosts."""
        return str(self.host_files().file(host, path)["content"])

    def draw_topology(self) -> Any:
        """The seed's picture, drawn from this lab. Introduced in notebooks/01-hosts."""
        from labkit.diagrams import Diagram, graphs

        state = {**self.hosts_state(), "title": f"Lab {self.env.name!r}: hosts and network"}
        return Diagram(graphs.topology(state))

    def hosts_table(self) -> Any:
        """Requirements vs this lab's hosts. Introduced in notebooks/01-hosts."""
        from labkit.widgets.hosts import requirements_table

        state = self.hosts_state()
        return requirements_table(state["hosts"], state["network"]["cidr"])

    def services_table(self) -> Any:
        """Services running on the hosts. Introduced in notebooks/01-hosts."""
        from labkit.display import Text
        from labkit.widgets.hosts import services_table

        if isinstance(self.env, CloudEnv):
            return Text("An existing cloud: its operators know which services run where.")
        return services_table(self.hosts_state()["hosts"], self.now())

    def show_plan(self, layer: str) -> Any:
        """A layer's install steps as a person would type them. Introduced in 01-hosts."""
        from labkit.display import Text
        from labkit.widgets.plan import PlanView

        if isinstance(self.env, CloudEnv):
            return Text(f"{self.env.name} is an existing cloud: labkit installs nothing there.")
        return PlanView(layer, self.plan(layer))

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

    def draw_flow(self, after: int | None = None, request_id: str | None = None,
                  title: str = "What happened, hop by hop") -> Any:
        """The hops the sim recorded (after a :meth:`trace_mark`, or of one request) as a
        sequence diagram."""
        from labkit.diagrams import Diagram, graphs

        events = self.sim.trace(request_id=request_id, after=after)
        return Diagram(graphs.request_flow(events, title=title))

    # -- Keystone: tokens, keys, catalog, scopes (notebooks/02-keystone) --

    def aliases(self) -> Any:
        """Short names for the ids of users, projects, domains and roles."""
        from labkit.display import Aliases

        a = Aliases()
        identity = self.connect("admin").identity
        for kind, items in (("user", identity.users()), ("project", identity.projects()),
                            ("domain", identity.domains()), ("role", identity.roles())):
            for item in items:
                a.add(item.id, item.name, kind)
        return a

    def _access(self, user: str = "admin", scope: str = "project") -> Any:
        """A keystoneauth AccessInfo for ``user`` with ``scope``: unscoped, project, domain
        or system."""
        from keystoneauth1 import session
        from keystoneauth1.identity import v3

        c = self.credentials(user)
        kwargs: dict[str, Any] = {}
        if scope == "project":
            kwargs = {"project_name": c.project, "project_domain_name": c.project_domain}
        elif scope == "domain":
            kwargs = {"domain_name": c.user_domain}
        elif scope == "system":
            kwargs = {"system_scope": "all"}
        auth = v3.Password(auth_url=c.auth_url, username=c.username, password=c.password,
                           user_domain_name=c.user_domain, **kwargs)
        return auth.get_access(session.Session())

    def token(self, user: str = "admin", scope: str = "project") -> str:
        """A fresh token (what `openstack token issue` prints as id)."""
        if isinstance(self.env, CloudEnv):
            return str(self.connect(user).auth_token)
        return str(self._access(user, scope).auth_token)

    def fernet_keys(self) -> dict[int, bytes]:
        """The controller's Fernet key repository, ``{file number: key}``."""
        folder = "/etc/keystone/fernet-keys"
        if isinstance(self.env, CloudEnv):
            raise LabkitError("The key repository is on the cloud's controllers.",
                              f"On a controller: `sudo ls -l {folder}`.")
        host = self.env.controller.name
        if isinstance(self.env, SshEnv):
            files = self.host_files().read_folder(host, folder)
            return {int(n): v.strip().encode() for n, v in files.items() if n.isdigit()}
        entries = self.sim.file(host, folder).get("entries", [])
        return {int(n): self.sim.file(host, f"{folder}/{n}")["content"].strip().encode()
                for n in entries if n.isdigit()}

    def keys_table(self, before: dict[int, bytes] | None = None) -> Any:
        from labkit.display import Text
        from labkit.widgets.token import keys_table

        if isinstance(self.env, CloudEnv):
            return Text("The key repository is on the cloud's controllers: "
                        "`sudo ls -l /etc/keystone/fernet-keys` there.")
        return keys_table(self.fernet_keys(), before)

    def token_anatomy(self, token: str | None = None) -> Any:
        """A token taken apart: envelope, then payload opened with the controller's keys."""
        from labkit.display import relative_time
        from labkit.tokens import envelope, open_token
        from labkit.widgets.token import TokenView

        token = token or self.token("admin")
        now = self.now()
        env = envelope(token)
        opened = None
        try:
            keys = self.fernet_keys()
            names = self.aliases()
            opened = open_token(token, keys, name=lambda i: names(i),
                                when=lambda t: relative_time(t, now))
            note = (f"opened with the key files read from {self.plan_context().controller.name}"
                    ":/etc/keystone/fernet-keys" if opened else
                    "no key in the repository opens it (rotated out, or another cloud's)")
        except LabkitError as exc:
            note = f"the payload needs the keys: {exc.hint}"
        return TokenView(token, env, relative_time(env.issued_at, now), opened, note)

    def rotate_fernet_keys(self, show: bool = True) -> list[StepResult]:
        """``keystone-manage fernet_rotate`` on the controller, run as an install step."""
        if isinstance(self.env, CloudEnv):
            print(f"Skipped: {self.env.name} is an existing cloud; its operators rotate keys.")
            return []
        ctx = self.plan_context()
        step = st.Command(
            title="Rotate the Fernet keys", host=ctx.controller.name,
            command="keystone-manage fernet_rotate --keystone-user keystone "
                    "--keystone-group keystone",
            why="The staged key becomes primary; the oldest keys beyond max_active_keys go.")
        progress = InstallProgress("fernet_rotate", show)
        results = apply_plan([step], self.runner(), progress, layer="keystone")
        progress.finish(results)
        if show:
            # The sim's keystone-manage names files by their place in its state folder;
            # show them where they are on the controller.
            root = str(self.paths.root / "hosts" / ctx.controller.name)
            for line in _without_shutdown_noise(results[-1].output):
                print(f"    {line.replace(root, '')}")
        return results

    def check_token(self, token: str) -> str:
        """Ask Keystone whether a token is still valid (GET /v3/auth/tokens, as admin)."""
        ok = self.connect("admin").identity.check_token(token)
        return "valid: Keystone decrypted it" if ok else "invalid: Keystone rejects it"

    def draw_catalog(self, user: str = "demo") -> Any:
        """The catalog inside ``user``'s project token."""
        from labkit.diagrams import Diagram, graphs

        access = self._access(user) if not isinstance(self.env, CloudEnv) else \
            self.connect(user).session.auth.get_access(self.connect(user).session)
        scope = f"project {access.project_name}" if access.project_scoped else ""
        return Diagram(graphs.catalog(access.service_catalog.catalog or [], scope))

    def token_scopes(self, user: str) -> Any:
        """What one user's token looks like at each scope (or why Keystone refuses it)."""
        from keystoneauth1 import exceptions as ksa

        from labkit.display import Table, relative_time

        if isinstance(self.env, CloudEnv):
            from labkit.display import Text

            return Text("Scopes need the user's password: a cloud env keeps it in clouds.yaml.")
        now = self.now()
        c = self.credentials(user)
        t = Table(["scope", "result", "roles", "catalog", "expires"],
                  title=f"{user}'s tokens, scope by scope")
        wanted = {"unscoped": "(none)", "project": f"project {c.project}",
                  "domain": f"domain {c.user_domain}", "system": "system all"}
        for scope, label in wanted.items():
            try:
                access = self._access(user, scope)
            except ksa.Unauthorized:
                t.add(label, "refused: 401 (no role there)", "-", "-", "-", mark="fail")
                continue
            services = len(access.service_catalog.catalog or [])
            t.add(label, "issued", access.role_names or "none",
                  f"{services} service" + ("" if services == 1 else "s"),
                  relative_time(access.expires, now), mark="ok")
        return t

    @staticmethod
    def _cli_setup() -> None:
        """Make ``!openstack`` find the CLI installed next to this Python: a kernel started
        from the venv's python (JupyterLab, nbval, papermill) does not have the venv's bin/
        on PATH unless the venv was activated. And keep its tables whole: ``!`` runs it on an
        80-column pty, where cliff would wrap tokens and URLs mid-word."""
        import shutil
        import sys

        os.environ.setdefault("CLIFF_MAX_TERM_WIDTH", "400")
        bin_dir = str(Path(sys.executable).parent)
        if shutil.which("openstack") is None and (Path(bin_dir) / "openstack").exists():
            os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")

    def show_openrc(self, user: str = "admin") -> Any:
        """The openrc lines, passwords masked on real hosts (the sim's are placeholders)."""
        from labkit.display import Text

        if isinstance(self.env, CloudEnv):
            return Text(f"A cloud env uses its clouds.yaml entry {self.env.cloud!r}: "
                        "`openstack --os-cloud ...`.")
        text = self.openrc(user)
        if not isinstance(self.env, SimEnv):
            text = st.mask_secrets(text, self.secrets)
        return Text(text.rstrip("\n"), title=f"{user}-openrc")

    def openrc_file(self, user: str = "admin") -> Path:
        """Write ``<user>-openrc`` into the state folder (0600) and return its path."""
        path = self.paths.root / f"{user}-openrc"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.openrc(user))
        return path

    # -- Glance: an image pulled over HTTP, its checksums, its bytes (notebooks/03-glance) --

    def _new_connection(self, user: str = "admin") -> Any:
        """A connection of its own, never cached: for a background thread (sessions are not
        shared), or for an install step that must see a catalog an earlier step changed."""
        if isinstance(self.env, CloudEnv):
            import openstack

            return openstack.connect(cloud=self.env.cloud)
        return self.credentials(user).connect()

    def image_source(self, name: str = "trusty", rate: str | None = "64M") -> Any:
        """Where this lab's Glance can pull ``name`` from over HTTP: the sim's mirror, this
        machine's mirror for local lab hosts, else the real download site. ``rate`` slows
        the lab's mirror down (e.g. ``64M`` bytes/s) so the pull can be watched.

        Introduced in notebooks/03-glance."""
        from labkit import image_sources

        if isinstance(self.env, SimEnv):
            base = self.plan_context().image_url.rsplit("/image", 1)[0] + "/mirror"
            return image_sources.from_mirror(name, base, rate, "the sim's image mirror")
        if isinstance(self.env, SshEnv) and self.env.local:
            from labkit.hosts import image_mirror
            from labkit.hosts.layout import layout

            lay = layout(self.env, self.paths.root.parent)
            image_mirror.ensure(lay)  # `labkit hosts up` starts it; hosts up before it did not
            return image_sources.from_mirror(
                name, image_mirror.url(lay), rate, f"the lab's mirror on {lay.gateway}")
        return image_sources.from_upstream(name)

    def image_file(self, name: str = "cirros") -> Path:
        """The lab mirror's ``name`` image as a local file (for ``openstack image create
        --file``), written once into the state folder. Introduced in notebooks/03-glance."""
        from labkit.image_sources import mirror_path
        from labkit.sim.mirror.catalog import BY_PATH

        entry = BY_PATH[mirror_path(name)]
        path = self.paths.root / "images" / entry.name
        if not path.is_file() or path.stat().st_size != entry.image.size:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as handle:
                for block in entry.image.blocks(block=4 << 20):
                    handle.write(block)
        return path

    def remove_images(self, *names: str) -> None:
        """Delete every image with one of these names (as admin), so cells that create them
        can run again. Introduced in notebooks/03-glance."""
        conn = self.connect("admin")
        for image in list(conn.image.images()):
            if image.name in names:
                if image.is_protected:
                    conn.image.update_image(image, protected=False)
                conn.image.delete_image(image, ignore_missing=True)

    def follow_import(self, image: str, source: Any = None, show: bool = True) -> Any:
        """Start watching ``image`` (name or id) in the background: a progress bar while its
        import runs; ``.wait()`` returns the status timeline. Start it *before* asking for
        the import, so the timeline begins at ``queued``. Introduced in notebooks/03-glance."""
        from labkit.images import sim_staged_bytes
        from labkit.widgets.image_import import ImportWatch

        found = self.connect("admin").image.find_image(image, ignore_missing=False)
        staged = None
        if not isinstance(self.env, CloudEnv):
            staged = sim_staged_bytes(self.host_files(), self.env.controller.name)
        return ImportWatch(
            lambda: self._new_connection("admin"), found.id, found.name,
            total=getattr(source, "size", None), staged_bytes=staged, show=show).start()

    def draw_timeline(self, timeline: Any) -> Any:
        """An image's status changes over time, drawn. Introduced in notebooks/03-glance."""
        from labkit.diagrams import Diagram, graphs

        return Diagram(graphs.image_timeline(timeline))

    def check_image(self, image: str, source: Any = None) -> Any:
        """Download the image from Glance, hash the bytes yourself, compare with Glance's
        checksum/os_hash_value and the publisher's checksum files.

        Introduced in notebooks/03-glance."""
        from labkit.images import verify_checksums
        from labkit.widgets.images import checksum_table

        conn = self.connect("admin")
        found = conn.image.find_image(image, ignore_missing=False)
        found = conn.image.get_image(found.id)
        response = conn.image.download_image(found, stream=True)
        report = verify_checksums(found, response.iter_content(1 << 20))
        published = source.published() if source is not None else {}
        where = getattr(source, "where", "") or "the publisher"
        return checksum_table(report, published, where.removeprefix("the "))

    def where_bytes_landed(self, image: str) -> Any:
        """The image's file in Glance's store folder on the controller.

        Introduced in notebooks/03-glance."""
        from labkit import images
        from labkit.widgets.images import stored_table

        found = self.connect("admin").image.find_image(image, ignore_missing=False)
        found = self.connect("admin").image.get_image(found.id)
        host = self.plan_context().controller.name
        stored = images.where_bytes_landed(self.host_files(), found.id, host)
        return stored_table(stored, found.size)

    def image_visibility(self, *names: str) -> Any:
        """Each image's visibility and owner, and whether admin and demo see it in their
        image lists. Introduced in notebooks/03-glance."""
        from labkit.widgets.images import visibility_table

        admin = self.connect("admin")
        projects = {p.id: p.name for p in admin.identity.projects()}
        seen = {u: {i.name for i in self.connect(u).image.images()} for u in ("admin", "demo")}
        rows = [(i.name, i.visibility, projects.get(i.owner, i.owner))
                for i in sorted(admin.image.images(), key=lambda i: i.name or "")
                if i.name in names]
        return visibility_table(rows, seen)


def _without_shutdown_noise(lines: list[str]) -> list[str]:
    """Drop the traceback Debian's keystone-manage prints at exit (eventlet's patched
    threading meets logging's shutdown): harmless, and it reads like a failure."""
    out: list[str] = []
    skipping = False
    for line in lines:
        if line.startswith("Exception ignored in:"):
            skipping = True
        elif skipping and not line.startswith((" ", "Traceback")):
            skipping = False
            if "getcurrent" in line:
                continue
        if not skipping:
            out.append(line)
    return out
