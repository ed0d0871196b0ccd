"""The identity facade: who the lab's users are and what Keystone hands them -- connections,
credentials (openrc, clouds.yaml, the CLI), tokens taken apart, the Fernet keys that open
them, the catalog inside them, and the scopes a user may ask for.

Introduced in notebooks/02-keystone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from labkit.cloud import Credentials
from labkit.display import Aliases, Table, Text
from labkit.envs import CloudEnv, SshEnv
from labkit.errors import LabkitError
from labkit.install import steps as st
from labkit.install.runner import StepResult, apply_plan
from labkit.lab import sdk
from labkit.lab.backends import Backend

if TYPE_CHECKING:
    from keystoneauth1.access import AccessInfo
    from openstack.connection import Connection

    from labkit.diagrams import Diagram
    from labkit.widgets.token import TokenView

FERNET_KEYS = "/etc/keystone/fernet-keys"


class Identity:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._connections: dict[str, Connection] = {}

    # ---- connections and credentials ----------------------------------------------------------
    def connect(self, user: str = "admin") -> Connection:
        """An openstacksdk connection (cached per user)."""
        if user not in self._connections:
            self._connections[user] = self.backend.new_connection(user)
        return self._connections[user]

    def forget_connections(self) -> None:
        """Drop cached connections: an installed layer adds services to the catalog, and a
        cached connection holds the old one."""
        self._connections.clear()

    def credentials(self, user: str = "admin") -> Credentials:
        return self.backend.credentials(user)

    def openrc(self, user: str = "admin") -> str:
        return self.credentials(user).openrc()

    def show_openrc(self, user: str = "admin") -> Text:
        """The openrc lines, passwords masked on real hosts (the sim's are placeholders)."""
        env = self.backend.env
        if isinstance(env, CloudEnv):
            return Text(
                f"A cloud env uses its clouds.yaml entry {env.cloud!r}: `openstack --os-cloud ...`."
            )
        text = self.backend.mask_secrets(self.openrc(user))
        return Text(text.rstrip("\n"), title=f"{user}-openrc")

    def openrc_file(self, user: str = "admin") -> Path:
        """Write ``<user>-openrc`` into the state folder (0600) and return its path."""
        path = self.backend.paths.root / f"{user}-openrc"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.openrc(user))
        return path

    def use_cli(self, user: str = "admin") -> str:
        """Point ``!openstack`` in this kernel at the lab (OS_CLIENT_CONFIG_FILE/OS_CLOUD)."""
        from labkit.cloud import put_cli_on_path

        put_cli_on_path()
        variables = self.backend.cli_environment(user)
        if "OS_CLIENT_CONFIG_FILE" not in variables:  # a cloud env: its own clouds.yaml entry
            os.environ.update(variables)
            return f"OS_CLOUD={variables['OS_CLOUD']}"
        for key in [k for k in os.environ if k.startswith("OS_")]:
            del os.environ[key]  # an openrc sourced earlier would override clouds.yaml
        os.environ.update(variables)
        env = self.backend.env
        if isinstance(env, SshEnv) and env.path:
            # `!labkit ssh SERVER` in this kernel then means this lab, not the sim.
            os.environ["LABKIT_ENV"] = str(Path(env.path).resolve())
        return (
            f"openstack CLI -> cloud {variables['OS_CLOUD']} "
            f"(OS_CLIENT_CONFIG_FILE={variables['OS_CLIENT_CONFIG_FILE']})"
        )

    # ---- tokens -------------------------------------------------------------------------------
    def access(self, user: str = "admin", scope: str = "project") -> AccessInfo:
        """A keystoneauth AccessInfo for ``user`` with ``scope``: unscoped, project, domain
        or system."""
        return self.backend.access(user, scope)

    def token(self, user: str = "admin", scope: str = "project") -> str:
        """A fresh token (what `openstack token issue` prints as id)."""
        return str(self.access(user, scope).auth_token)

    def check_token(self, token: str) -> str:
        """Ask Keystone whether a token is still valid (GET /v3/auth/tokens, as admin)."""
        ok = sdk.identity(self.connect("admin")).check_token(token)
        return "valid: Keystone decrypted it" if ok else "invalid: Keystone rejects it"

    def aliases(self) -> Aliases:
        """Short names for the ids of users, projects, domains and roles."""
        a = Aliases()
        identity = sdk.identity(self.connect("admin"))
        for kind, items in (
            ("user", identity.users()),
            ("project", identity.projects()),
            ("domain", identity.domains()),
            ("role", identity.roles()),
        ):
            for item in items:
                a.add(item.id, item.name, kind)
        return a

    def token_anatomy(self, token: str | None = None) -> TokenView:
        """A token taken apart: envelope, then payload opened with the controller's keys."""
        from labkit.display import relative_time
        from labkit.tokens import envelope, open_token
        from labkit.widgets.token import TokenView

        token = token or self.token("admin")
        now = self.backend.now()
        env = envelope(token)
        opened = None
        try:
            keys = self.fernet_keys()
            names = self.aliases()
            opened = open_token(
                token, keys, name=lambda i: names(i), when=lambda t: relative_time(t, now)
            )
            note = (
                f"opened with the key files read from {self.backend.plan_context().controller.name}"
                f":{FERNET_KEYS}"
                if opened
                else "no key in the repository opens it (rotated out, or another cloud's)"
            )
        except LabkitError as exc:
            note = f"the payload needs the keys: {exc.hint}"
        return TokenView(token, env, relative_time(env.issued_at, now), opened, note)

    def token_scopes(self, user: str) -> Table | Text:
        """What one user's token looks like at each scope (or why Keystone refuses it)."""
        from keystoneauth1 import exceptions as ksa

        from labkit.display import relative_time

        if not self.backend.has_hosts:
            return Text("Scopes need the user's password: a cloud env keeps it in clouds.yaml.")
        now = self.backend.now()
        c = self.credentials(user)
        t = Table(
            ["scope", "result", "roles", "catalog", "expires"],
            title=f"{user}'s tokens, scope by scope",
        )
        wanted = {
            "unscoped": "(none)",
            "project": f"project {c.project}",
            "domain": f"domain {c.user_domain}",
            "system": "system all",
        }
        for scope, label in wanted.items():
            try:
                access = self.access(user, scope)
            except ksa.Unauthorized:
                t.add(label, "refused: 401 (no role there)", "-", "-", "-", mark="fail")
                continue
            services = len(access.service_catalog.catalog or [])
            t.add(
                label,
                "issued",
                access.role_names or "none",
                f"{services} service" + ("" if services == 1 else "s"),
                relative_time(access.expires, now) if access.expires else "-",
                mark="ok",
            )
        return t

    def draw_catalog(self, user: str = "demo") -> Diagram:
        """The catalog inside ``user``'s project token."""
        from labkit.diagrams import Diagram, graphs

        access = self.access(user)
        scope = f"project {access.project_name}" if access.project_scoped else ""
        return Diagram(graphs.catalog(access.service_catalog.catalog or [], scope))

    # ---- the Fernet key repository ----------------------------------------------------------
    def fernet_keys(self) -> dict[int, bytes]:
        """The controller's Fernet key repository, ``{file number: key}``."""
        if not self.backend.has_hosts:
            raise LabkitError(
                "The key repository is on the cloud's controllers.",
                f"On a controller: `sudo ls -l {FERNET_KEYS}`.",
            )
        host = self.backend.plan_context().controller.name
        files = self.backend.host_files().read_folder(host, FERNET_KEYS)
        return {int(n): v.strip().encode() for n, v in files.items() if n.isdigit()}

    def keys_table(self, before: dict[int, bytes] | None = None) -> Table | Text:
        from labkit.widgets.token import keys_table

        if not self.backend.has_hosts:
            return Text(
                "The key repository is on the cloud's controllers: "
                f"`sudo ls -l {FERNET_KEYS}` there."
            )
        return keys_table(self.fernet_keys(), before)

    def rotate_fernet_keys(self, show: bool = True) -> list[StepResult]:
        """``keystone-manage fernet_rotate`` on the controller, run as an install step."""
        from labkit.widgets.progress import InstallProgress

        if not self.backend.has_hosts:
            print(
                f"Skipped: {self.backend.env.name} is an existing cloud; its operators rotate keys."
            )
            return []
        ctx = self.backend.plan_context()
        step = st.Command(
            title="Rotate the Fernet keys",
            host=ctx.controller.name,
            command="keystone-manage fernet_rotate --keystone-user keystone "
            "--keystone-group keystone",
            why="The staged key becomes primary; the oldest keys beyond max_active_keys go.",
        )
        progress = InstallProgress("fernet_rotate", show)
        results = apply_plan([step], self.backend.runner(), progress, layer="keystone")
        progress.finish(results)
        if show:
            # The sim's keystone-manage names files by their place in its state folder;
            # show them where they are on the controller.
            root = str(self.backend.paths.root / "hosts" / ctx.controller.name)
            for line in without_shutdown_noise(results[-1].output):
                print(f"    {line.replace(root, '')}")
        return results


def without_shutdown_noise(lines: list[str]) -> list[str]:
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
