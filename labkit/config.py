"""Settings from flags and ``LABKIT_*`` environment variables.

Precedence: an explicit argument (a CLI flag) beats the environment variable, which beats the
env file, which beats the default. Nothing here touches the disk; callers create folders when
they need them.

| variable                  | meaning                                               |
|---------------------------|-------------------------------------------------------|
| LABKIT_STATE_DIR          | root of lab state; each env gets a sub-folder         |
| LABKIT_SIM_PORT           | loopback port of the sim                              |
| LABKIT_SIM_DETERMINISTIC  | 1/0: seeded ids and a steady clock                    |
| LABKIT_ENV                | env used when none is named (default ``sim``)         |
| LABKIT_ENVS_DIR           | where env files are looked up by name                 |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SIM_PORT = 8642
DEFAULT_ENV = "sim"


def _truthy(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def default_state_root() -> Path:
    """``$LABKIT_STATE_DIR`` or ``$XDG_STATE_HOME/labkit`` or ``~/.local/state/labkit``."""
    if os.environ.get("LABKIT_STATE_DIR"):
        return Path(os.environ["LABKIT_STATE_DIR"]).expanduser()
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state"
    return base / "labkit"


def default_env_name() -> str:
    return os.environ.get("LABKIT_ENV") or DEFAULT_ENV


def sim_port(explicit: int | None = None, from_env_file: int | None = None) -> int:
    if explicit:
        return explicit
    if os.environ.get("LABKIT_SIM_PORT"):
        return int(os.environ["LABKIT_SIM_PORT"])
    return from_env_file or DEFAULT_SIM_PORT


def sim_deterministic(from_env_file: bool) -> bool:
    raw = os.environ.get("LABKIT_SIM_DETERMINISTIC")
    return _truthy(raw) if raw is not None else from_env_file


@dataclass(frozen=True)
class StatePaths:
    """Where one env's state lives: ``<state root>/<env name>/``."""

    root: Path

    @classmethod
    def for_env(cls, env_name: str, state_root: Path | None = None) -> StatePaths:
        return cls((state_root or default_state_root()) / env_name)

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def clouds_yaml(self) -> Path:
        return self.root / "clouds.yaml"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets.yaml"

    @property
    def sim_info(self) -> Path:
        return self.root / "sim.json"

    @property
    def known_hosts(self) -> Path:
        """Host keys labkit trusts: the lab hosts' (``labkit hosts trust``) and, keyed by
        their addresses, the guests' (read from each guest's console log)."""
        return self.root / "known_hosts"

    @property
    def ssh_key(self) -> Path:
        """The learner's own SSH key for the lab's guests (``lab.ssh_key()`` makes it); its
        public half is next to it, ``.pub``."""
        return self.root / "id_ed25519"

    @property
    def ssh_config(self) -> Path:
        """The OpenSSH client config for the guests (written when the sim starts)."""
        return self.root / "ssh_config"

    @property
    def gateway_info(self) -> Path:
        """Where the running sim's gateway into the guests listens (its server writes it)."""
        return self.root / "gateway.json"
