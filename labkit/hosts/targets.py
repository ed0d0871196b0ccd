"""Where and as whom labkit logs in to each host of an ssh env (pure: no I/O).

Per-host ``ssh:`` settings override the env's ``ssh:`` defaults. Relative paths in the env
file are relative to the env file's folder; ``~`` is expanded. For local lab hosts the key
and known_hosts default to the env's state folder, where ``labkit hosts up`` makes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labkit.config import StatePaths
from labkit.envs import Host, SshEnv
from labkit.errors import EnvError

LAB_KEY_NAME = "lab_ed25519"


@dataclass(frozen=True)
class Endpoint:
    user: str
    address: str
    port: int = 22

    def __str__(self) -> str:
        return f"{self.user}@{self.address}:{self.port}"


@dataclass(frozen=True)
class SshTarget:
    """Everything needed to open one strict SSH connection to one host."""

    env_name: str
    host: str
    endpoint: Endpoint
    key: Path | None  # None: try the ssh-agent and ~/.ssh/id_* (real hosts only)
    jump: Endpoint | None
    known_hosts: Path

    @property
    def user(self) -> str:
        return self.endpoint.user

    @property
    def address(self) -> str:
        return self.endpoint.address

    @property
    def port(self) -> int:
        return self.endpoint.port


def state_paths(env: SshEnv, state_root: Path | None = None) -> StatePaths:
    return StatePaths.for_env(env.name, state_root)


def _env_relative(env: SshEnv, raw: str) -> Path:
    path = Path(raw).expanduser()
    if not path.is_absolute() and env.path:
        path = Path(env.path).resolve().parent / path
    return path


def lab_key_path(env: SshEnv, state_root: Path | None = None) -> Path:
    """The lab's own login key, made by ``labkit hosts up`` for local lab hosts."""
    return state_paths(env, state_root).root / "ssh" / LAB_KEY_NAME


def known_hosts_path(env: SshEnv, state_root: Path | None = None) -> Path:
    if env.known_hosts:
        return _env_relative(env, env.known_hosts)
    return state_paths(env, state_root).known_hosts


def key_path(env: SshEnv, host: Host, state_root: Path | None = None) -> Path | None:
    raw = host.ssh.key or env.ssh.key
    if raw:
        return _env_relative(env, raw)
    return lab_key_path(env, state_root) if env.local else None


def parse_jump(spec: str, default_user: str, where: str) -> Endpoint:
    """``user@addr``, ``user@addr:port`` or ``addr`` (user defaults to the host's user)."""
    user, _, rest = spec.rpartition("@")
    address, port = rest, 22
    if rest.count(":") == 1:  # an IPv6 address has more than one colon; no port then
        address, port_text = rest.split(":")
        if not port_text.isdigit():
            raise EnvError(
                where,
                [f"field ssh.jump: {spec!r} has a bad port"],
                "Write the jump host as user@address or user@address:port.",
            )
        port = int(port_text)
    if not address:
        raise EnvError(
            where,
            [f"field ssh.jump: {spec!r} has no address"],
            "Write the jump host as user@address or user@address:port.",
        )
    return Endpoint(user or default_user, address, port)


def resolve(env: SshEnv, host_name: str, state_root: Path | None = None) -> SshTarget:
    host = env.host(host_name)
    user = host.ssh.user or env.ssh.user or "root"
    port = host.ssh.port or env.ssh.port or 22
    jump_spec = host.ssh.jump or env.ssh.jump
    jump = parse_jump(jump_spec, user, env.path or env.name) if jump_spec else None
    if jump is not None and jump.address == host.address:
        jump = None  # a host never jumps through itself (env-wide jump set on the jump host)
    return SshTarget(
        env_name=env.name,
        host=host.name,
        endpoint=Endpoint(user, host.address, port),
        key=key_path(env, host, state_root),
        jump=jump,
        known_hosts=known_hosts_path(env, state_root),
    )
