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
    def __init__(self, env: Env, state_root: Path | None = None) -> None:
        self.env = env
        self.paths = StatePaths.for_env(env.name, state_root)
        self._connections: dict[str, Any] = {}
        self._sim_client: Any = None

    @classmethod
    def from_env(cls, name_or_path: str | os.PathLike[str] | None = None,
                 state_root: Path | None = None) -> Lab:
        """Load ``envs/<name>.yaml`` (default: ``$LABKIT_ENV`` or ``sim``)."""
        return cls(load_env(name_or_path or config.default_env_name()), state_root)

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
        handle = process.start(env, self.paths)
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
            env = self._sim_env()
            handle = process.running(self.paths)
            port = handle.port if handle else config.sim_port(None, env.sim.port)
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
        return PlanContext.for_env(self.env)

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
            if isinstance(self.env, CloudEnv):
                import openstack

                self._connections[user] = openstack.connect(cloud=self.env.cloud)
            else:
                self._connections[user] = self.credentials(user).connect()
        return self._connections[user]

    @property
    def conn(self) -> Any:
        return self.connect("admin")

    def use_cli(self, user: str = "admin") -> str:
        """Point ``!openstack`` in this kernel at the lab (sets OS_CLIENT_CONFIG_FILE/OS_CLOUD)."""
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

            return SimRunner(self.sim, self.secrets, lambda: self.connect("admin"))
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
