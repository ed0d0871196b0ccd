"""Where a lab runs, chosen once: the sim, real hosts over SSH, or an existing cloud.

:func:`backend_for` picks the backend when a :class:`~labkit.lab.Lab` is made; everything
that differs between the three env kinds lives here, so the facades (identity, images,
hosts, installs) ask the backend instead of testing the env's kind. What a backend cannot
do (an existing cloud has no hosts labkit may look at or install on) it refuses with a
:class:`~labkit.errors.LabkitError` that says what to use instead; ``has_hosts`` lets a
view say so in its own words without calling it.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from labkit import config
from labkit import secrets as lab_secrets
from labkit.cloud import USERS, Credentials, cli_environment, write_clouds_yaml
from labkit.config import StatePaths
from labkit.envs import CloudEnv, Env, SimEnv, SshEnv
from labkit.errors import LabkitError
from labkit.hostfiles import HostFiles, SimHostFiles, SshHostFiles
from labkit.image_sources import ImageSource
from labkit.install.context import PlanContext
from labkit.install.steps import mask_secrets

if TYPE_CHECKING:
    from keystoneauth1.access import AccessInfo
    from openstack.connection import Connection

    from labkit.hostfiles import Connect
    from labkit.install.runner import Runner
    from labkit.sim.client import SimClient
    from labkit.sim.process import SimHandle

SCOPES = ("unscoped", "project", "domain", "system")


class Backend(Protocol):
    """What the facades need from where the lab runs."""

    @property
    def env(self) -> Env: ...

    @property
    def paths(self) -> StatePaths: ...

    @property
    def has_hosts(self) -> bool:
        """Whether labkit installs on this lab's hosts and may look at them."""

    def start(self) -> SimHandle | None:
        """Make sure the lab answers (starts the sim; nothing elsewhere)."""

    def now(self) -> str:
        """The cloud's clock as ISO text."""

    def secrets(self) -> dict[str, str]: ...

    def mask_secrets(self, text: str) -> str:
        """``text`` as a notebook may show it: real passwords replaced by their names."""

    def plan_context(self) -> PlanContext: ...

    def credentials(self, user: str) -> Credentials: ...

    def new_connection(self, user: str) -> Connection: ...

    def access(self, user: str, scope: str) -> AccessInfo:
        """A fresh token for ``user`` at ``scope``, with its catalog and roles."""

    def write_clouds_yaml(self) -> Path | None:
        """Write the lab's clouds.yaml (``lab-admin``, ``lab-demo``); None on a cloud env,
        whose clouds.yaml is its own."""

    def cli_environment(self, user: str) -> dict[str, str]:
        """The ``OS_*`` variables that point the ``openstack`` CLI at this lab."""

    def runner(self) -> Runner: ...

    def host_files(self) -> HostFiles: ...

    def hosts_state(self) -> dict[str, Any]:
        """Hosts, network and services, shaped like the sim's ``/_sim/hosts``."""

    def image_source(self, name: str, rate: str | None) -> ImageSource: ...


def backend_for(env: Env, paths: StatePaths, sim_port: int | None = None) -> Backend:
    """The backend of ``env``'s kind. ``sim_port`` (a flag) beats LABKIT_SIM_PORT and the
    env file for a sim this lab starts; it is settled now, so two labs made with different
    settings keep talking to their own sims. A sim already running for the state folder
    is reached on its own port."""
    if isinstance(env, SimEnv):
        return SimBackend(env, paths, config.sim_port(sim_port, env.sim.port))
    if isinstance(env, SshEnv):
        return SshBackend(env, paths)
    return CloudBackend(env, paths)


def _local_now() -> str:
    return datetime.now(UTC).isoformat()


class _LabBackend(ABC):
    """What the sim and real hosts share: labkit installed the cloud, so it knows the
    users' passwords and writes their clouds.yaml and openrc."""

    env: SimEnv | SshEnv
    paths: StatePaths

    @property
    def has_hosts(self) -> bool:
        return True

    @abstractmethod
    def secrets(self) -> dict[str, str]: ...

    def mask_secrets(self, text: str) -> str:
        return mask_secrets(text, self.secrets())

    def plan_context(self) -> PlanContext:
        return PlanContext.for_env(self.env)

    def credentials(self, user: str) -> Credentials:
        if user not in USERS:
            raise LabkitError(f"No lab user {user!r}.", "Use 'admin' or 'demo'.")
        ctx = self.plan_context()
        password = self.secrets()["ADMIN_PASS" if user == "admin" else "DEMO_PASS"]
        return Credentials(
            auth_url=ctx.identity_url,
            username=user,
            password=password,
            project=user,
            region=self.env.region,
        )

    def new_connection(self, user: str) -> Connection:
        return self.credentials(user).connect()

    def access(self, user: str, scope: str) -> AccessInfo:
        from keystoneauth1 import session
        from keystoneauth1.identity import v3

        if scope not in SCOPES:
            raise LabkitError(f"No token scope {scope!r}.", f"Use one of {', '.join(SCOPES)}.")
        c = self.credentials(user)
        kwargs: dict[str, Any] = {}
        if scope == "project":
            kwargs = {"project_name": c.project, "project_domain_name": c.project_domain}
        elif scope == "domain":
            kwargs = {"domain_name": c.user_domain}
        elif scope == "system":
            kwargs = {"system_scope": "all"}
        auth = v3.Password(
            auth_url=c.auth_url,
            username=c.username,
            password=c.password,
            user_domain_name=c.user_domain,
            **kwargs,
        )
        return auth.get_access(session.Session())

    def write_clouds_yaml(self) -> Path:
        entries = {f"lab-{u}": self.credentials(u) for u in USERS}
        return write_clouds_yaml(self.paths.clouds_yaml, entries)

    def cli_environment(self, user: str) -> dict[str, str]:
        return cli_environment(self.write_clouds_yaml().resolve(), f"lab-{user}")


class SimBackend(_LabBackend):
    """The embedded emulator: one process per state folder, its hosts behind ``/_sim``."""

    def __init__(self, env: SimEnv, paths: StatePaths, sim_port: int) -> None:
        self.env: SimEnv = env
        self.paths = paths
        self.configured_port = sim_port  # what a sim started by this lab listens on
        self._port: int | None = None
        self._client: SimClient | None = None

    @property
    def sim_port(self) -> int:
        """The port of this state folder's sim: the running one's, whatever port it was
        started with (by a notebook, or `labkit sim up --port` in a terminal), else the
        configured one. Looked up once; :meth:`start` updates it."""
        from labkit.sim import process

        if self._port is None:
            handle = process.running(self.paths)
            self._port = handle.port if handle else self.configured_port
        return self._port

    @property
    def client(self) -> SimClient:
        """The sim's control client (for the sim on :attr:`sim_port`)."""
        from labkit.sim.client import SimClient

        if self._client is None:
            self._client = SimClient(f"http://127.0.0.1:{self.sim_port}", str(self.paths.root))
        return self._client

    def start(self) -> SimHandle:
        from labkit.sim import process

        handle = process.start(self.env, self.paths, port=self.configured_port)
        if handle.port != self._port:
            self._port, self._client = handle.port, None
        self.write_clouds_yaml()
        return handle

    def restart(self) -> SimHandle:
        """Stop this state folder's sim and start it again on the port it answered on, with
        the env's hosts as they are now (a host added by ``lab.add_worker``). The state
        stays: the sim brings back every service that was running."""
        from labkit.sim import process

        port = self.sim_port  # the catalog and clouds.yaml name this port
        process.stop(self.paths)
        handle = process.start(self.env, self.paths, port=port)
        self._port, self._client = handle.port, None
        self.write_clouds_yaml()
        return handle

    def plan_context(self) -> PlanContext:
        return PlanContext.for_env(self.env, sim_port=self.sim_port)

    def now(self) -> str:
        # The sim's clock: steady in deterministic mode, so relative times are stable.
        return str(self.client.health()["sim_time"])

    def secrets(self) -> dict[str, str]:
        return lab_secrets.for_sim(self.env)

    def mask_secrets(self, text: str) -> str:
        return text  # the sim's passwords are the Install Guide's placeholders: shown as is

    def runner(self) -> Runner:
        from labkit.install.sim_runner import SimRunner

        # A fresh connection per client step: a step may read the catalog an earlier step
        # of the same plan changed (Glance's verification image after its endpoints).
        return SimRunner(self.client, self.secrets(), lambda: self.new_connection("admin"))

    def host_files(self) -> HostFiles:
        return SimHostFiles(self.client)

    def hosts_state(self) -> dict[str, Any]:
        return dict(self.client.hosts())

    def image_source(self, name: str, rate: str | None) -> ImageSource:
        from labkit import image_sources

        base = self.plan_context().image_url.rsplit("/image", 1)[0] + "/mirror"
        return image_sources.from_mirror(name, base, rate, "the sim's image mirror")


class SshBackend(_LabBackend):
    """Real lab hosts over strict SSH; ``connect`` replaces SSH (tests use a fake host)."""

    def __init__(self, env: SshEnv, paths: StatePaths, connect: Connect | None = None) -> None:
        self.env: SshEnv = env
        self.paths = paths
        self._connect = connect
        self._host_files: SshHostFiles | None = None

    def start(self) -> None:
        return None  # the hosts run on their own; `labkit check ENV` says whether they answer

    def now(self) -> str:
        return _local_now()

    def secrets(self) -> dict[str, str]:
        return lab_secrets.load_or_generate(self.paths.secrets)

    def runner(self) -> Runner:
        from labkit.install.ssh_runner import SshRunner

        return SshRunner(self.env, self.paths, self.secrets())

    def host_files(self) -> SshHostFiles:
        if self._host_files is None:
            self._host_files = SshHostFiles(self.env, self.paths.root.parent, self._connect)
        return self._host_files

    def hosts_state(self) -> dict[str, Any]:
        from labkit.diagrams import graphs
        from labkit.install import profiles

        files = self.host_files()
        processes = profiles.get(self.env.distro).processes
        return graphs.state_from_env(
            self.env, {h.name: files.services(h.name, processes) for h in self.env.hosts}
        )

    def image_source(self, name: str, rate: str | None) -> ImageSource:
        from labkit import image_sources

        if not self.env.local:
            return image_sources.from_upstream(name)
        from labkit.hosts import image_mirror
        from labkit.hosts.layout import layout

        lay = layout(self.env, self.paths.root.parent)
        image_mirror.ensure(lay)  # `labkit hosts up` starts it; hosts up before it did not
        source = image_sources.from_mirror(
            name, image_mirror.url(lay), rate, f"the lab's mirror on {lay.gateway}"
        )
        # Here the mirror serves the lab's bootable guest image under the same name (see
        # labkit.hosts.image_mirror): its size, not the generated image's.
        guest = image_mirror.guest_files(lay.rootfs_cache).get(image_sources.mirror_path(name))
        return dataclasses.replace(source, size=guest.size) if guest else source


class CloudBackend:
    """An existing cloud named in a clouds.yaml: labkit connects, installs nothing, and
    does not look at its hosts."""

    def __init__(self, env: CloudEnv, paths: StatePaths) -> None:
        self.env: CloudEnv = env
        self.paths = paths
        self._conn: Connection | None = None

    @property
    def has_hosts(self) -> bool:
        return False

    def start(self) -> None:
        return None

    def now(self) -> str:
        return _local_now()

    def secrets(self) -> dict[str, str]:
        return lab_secrets.load_or_generate(self.paths.secrets)

    def mask_secrets(self, text: str) -> str:
        return mask_secrets(text, self.secrets())

    def plan_context(self) -> PlanContext:
        raise LabkitError(
            f"{self.env.name} is an existing cloud: labkit installs nothing there.",
            "Install cells are skipped for cloud envs.",
        )

    def credentials(self, user: str) -> Credentials:
        raise LabkitError(
            "Credentials of a cloud env come from its clouds.yaml entry.",
            f"Use lab.connect() or `openstack --os-cloud {self.env.cloud}`.",
        )

    def new_connection(self, user: str) -> Connection:
        import openstack

        return openstack.connect(cloud=self.env.cloud)

    def access(self, user: str, scope: str) -> AccessInfo:
        if scope != "project":
            raise LabkitError(
                f"A cloud env's clouds.yaml entry gives project tokens, not {scope} ones.",
                "Ask for the default scope, or use `openstack token issue` with the cloud's "
                "own options.",
            )
        # Every user is the clouds.yaml entry's; its session keeps the token it has.
        from labkit.lab.sdk import session_access

        if self._conn is None:
            self._conn = self.new_connection(user)
        return session_access(self._conn)

    def write_clouds_yaml(self) -> None:
        return None

    def cli_environment(self, user: str) -> dict[str, str]:
        return {"OS_CLOUD": self.env.cloud}

    def runner(self) -> Runner:
        raise LabkitError(
            "Nothing to install on an existing cloud.", "Install cells are skipped for cloud envs."
        )

    def host_files(self) -> HostFiles:
        raise LabkitError(
            f"{self.env.name} is an existing cloud: labkit cannot look at its hosts.",
            "Use a sim or ssh env to see files on the hosts.",
        )

    def hosts_state(self) -> dict[str, Any]:
        raise LabkitError(
            f"{self.env.name} is an existing cloud: its hosts are not described here.",
            "Use a sim or ssh env to see hosts.",
        )

    def image_source(self, name: str, rate: str | None) -> ImageSource:
        from labkit import image_sources

        return image_sources.from_upstream(name)
