"""Look at real lab hosts over SSH the way notebooks look at the sim's: files, folders,
running services.

The sim's control API answers ``file(host, path)`` with ``{"kind": "dir", "entries": [...]}``
or ``{"kind": "file", "size", "mode", "content"}``; :class:`SshHostFiles` gives the same
shapes from real hosts, so a notebook view (the Fernet key repository, where Glance put an
image's bytes, which services run) is written once and reads the same on both. Connections
are strict about host keys (:mod:`labkit.hosts.ssh`), opened on first use, one per host.

:class:`HostFiles` is what both answer (:class:`SimHostFiles` wraps the sim's control
client); a path or service that is not there raises a :class:`~labkit.errors.NotFound`.

Introduced in notebooks/01-hosts.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from labkit.envs import SshEnv
from labkit.errors import HostError, HostsError, NotFound, RegistryMiss

if TYPE_CHECKING:
    from labkit.sim.client import SimClient

# Files larger than this are described, never read whole (images run to gigabytes).
CONTENT_LIMIT = 1_000_000
_MARK = "==> "

Action = Literal["start", "stop"]


class Connection(Protocol):
    """What :class:`SshHostFiles` needs of a connection (a :class:`HostConnection`)."""

    def run(self, command: str, *, check: bool = ..., timeout: float = ...) -> Any: ...


class FileReader(Protocol):
    """``file(host, path)`` as the sim's control API answers it (the sim's client is one)."""

    def file(self, host: str, path: str) -> dict[str, Any]: ...


class HostFiles(FileReader, Protocol):
    """The lab's hosts as files, folders and services: the sim's or real ones over SSH."""

    def read_folder(self, host: str, folder: str) -> dict[str, str]: ...

    def service(self, host: str, name: str, action: Action) -> ServiceChange: ...


@dataclass(frozen=True)
class ServiceChange:
    """What ``service NAME start|stop`` did on a host, and the service's state after it."""

    host: str
    name: str
    action: Action
    state: str  # "running" or "stopped"
    output: tuple[str, ...] = ()

    def __str__(self) -> str:
        return "\n".join(
            [f"{self.name} on {self.host}: {self.state}"] + [f"  {line}" for line in self.output]
        )


class HostFileMissing(HostsError, NotFound):
    """A path that does not exist on a lab host."""

    def __init__(self, host: str, path: str) -> None:
        super().__init__(
            f"{host}:{path}: No such file or directory",
            f"Check the path on {host} (`ls -l {path}`), and that the layer that makes it "
            "is installed.",
        )
        self.host, self.path = host, path


class UnknownService(HostsError, NotFound):
    """A service name that a lab host does not have."""

    def __init__(self, host: str, name: str, hint: str) -> None:
        super().__init__(f"No service {name!r} on {host}.", hint)
        self.host, self.name = host, name


_SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9@._-]*$")
_UNKNOWN_SERVICE = "labkit: no such service"
_STATE_AFTER: dict[Action, str] = {"start": "running", "stop": "stopped"}


def check_service_name(host: str, name: str) -> None:
    """Refuse a name no init system would have (it goes into a shell command)."""
    if not _SERVICE_NAME.match(name):
        raise UnknownService(
            host, name, "Service names are letters, digits and . _ - @ (e.g. keystone)."
        )


def service_command(name: str, action: Action) -> str:
    """Start or stop ``name`` the way the host runs services: systemd when it boots with
    it, else the init script (local lab hosts have no systemd). Prints a marker and exits 5
    (LSB's "not installed") when the host has no such service."""
    if not _SERVICE_NAME.match(name):
        raise ValueError(f"not a service name: {name!r}")
    n = shlex.quote(name)
    return (
        f"if [ -d /run/systemd/system ] && systemctl cat -- {n}.service >/dev/null 2>&1; "
        f"then systemctl {action} -- {n}; "
        f"elif [ -x /etc/init.d/{n} ]; then /etc/init.d/{n} {action}; "
        f"else echo '{_UNKNOWN_SERVICE}'; exit 5; fi"
    )


def _file_command(path: str) -> str:
    p = shlex.quote(path)
    return (
        f"if [ -d {p} ]; then echo dir; ls -A1p -- {p}; "
        f"elif [ -f {p} ]; then stat -c 'file %s %a' -- {p}; "
        f'if [ "$(stat -c %s -- {p})" -le {CONTENT_LIMIT} ]; then cat -- {p}; fi; '
        "else echo missing; fi"
    )


def parse_file_answer(host: str, path: str, stdout: str) -> dict[str, Any]:
    """The sim-shaped answer for what :func:`_file_command` printed."""
    head, _, rest = stdout.partition("\n")
    words = head.split()
    if words[:1] == ["dir"]:
        entries = sorted(line for line in rest.splitlines() if line)
        return {"path": path, "kind": "dir", "entries": entries}
    if words[:1] == ["file"] and len(words) == 3:
        return {
            "path": path,
            "kind": "file",
            "size": int(words[1]),
            "mode": "0o" + words[2],
            "content": rest,
        }
    raise HostFileMissing(host, path)


def _folder_command(folder: str) -> str:
    # One round trip for a whole folder of small files (the Fernet key repository).
    return (
        f'cd {shlex.quote(folder)} && for f in *; do [ -f "$f" ] || continue; '
        f'printf \'{_MARK}%s\\n\' "$f"; cat -- "$f"; echo; done'
    )


def parse_folder_answer(stdout: str) -> dict[str, str]:
    files: dict[str, str] = {}
    name: str | None = None
    lines: list[str] = []
    for line in stdout.splitlines():
        if line.startswith(_MARK):
            if name is not None:
                files[name] = "\n".join(lines).strip("\n")
            name, lines = line[len(_MARK) :], []
        else:
            lines.append(line)
    if name is not None:
        files[name] = "\n".join(lines).strip("\n")
    return files


def services_command(processes: Mapping[str, str]) -> str:
    """For each service, by position: ``INDEX running SECONDS`` (age of its oldest process);
    then ``--`` and the init scripts present. Service names never appear in the command:
    ``pgrep -f`` would find them on the command line of the shell running it."""
    patterns = " ".join(shlex.quote(_bracketed(p)) for p in processes.values())
    return (
        f"i=0; for p in {patterns}; do "
        'pid=$(pgrep -o -f "$p"); '
        'if [ -n "$pid" ]; then echo "$i running $(ps -o etimes= -p "$pid" | tr -d \' \')"; fi; '
        "i=$((i+1)); done; echo --; ls -1 /etc/init.d 2>/dev/null"
    )


def _bracketed(pattern: str) -> str:
    # "[m]ariadbd" matches mariadbd but not the shell carrying the pattern on its command line.
    return f"[{pattern[0]}]{pattern[1:]}"


def parse_services_answer(
    stdout: str, processes: Mapping[str, str], now: datetime
) -> list[dict[str, Any]]:
    """Rows shaped like the sim's ``services`` of a host: name, state, since (ISO); a
    service that does not run but has an init script is ``stopped``."""
    names = list(processes)
    running, _, scripts = stdout.partition("--\n")
    out: dict[str, dict[str, Any]] = {}
    for line in running.splitlines():
        words = line.split()
        if len(words) != 3 or not words[0].isdigit() or int(words[0]) >= len(names):
            continue
        age = words[2]
        since = (now - timedelta(seconds=int(age))).isoformat() if age.isdigit() else None
        out[names[int(words[0])]] = {
            "name": names[int(words[0])],
            "state": "running",
            "since": since,
        }
    for script in scripts.split():
        if script in processes and script not in out:
            out[script] = {"name": script, "state": "stopped", "since": None}
    return sorted(out.values(), key=lambda s: s["name"])


Connect = Callable[[str], Connection]


class SshHostFiles:
    """The hosts of an ssh env, answering like the sim's control API."""

    def __init__(
        self, env: SshEnv, state_root: Path | None = None, connect: Connect | None = None
    ) -> None:
        self.env = env
        self.state_root = state_root
        self._connect = connect or self._ssh
        self._connections: dict[str, Connection] = {}

    def _ssh(self, host: str) -> Connection:
        from labkit.hosts.ssh import HostConnection

        return HostConnection.for_host(self.env, host, state_root=self.state_root).connect()

    def conn(self, host: str) -> Connection:
        self.env.host(host)  # a host the env does not have: RegistryMiss naming the valid ones
        if host not in self._connections:
            self._connections[host] = self._connect(host)
        return self._connections[host]

    def run(self, host: str, command: str, timeout: float = 60.0) -> Any:
        """Run a command as root; the result has ``exit_code``, ``stdout``, ``stderr``."""
        return self.conn(host).run(command, check=False, timeout=timeout)

    def file(self, host: str, path: str) -> dict[str, Any]:
        """A folder's entries or a file's size, mode and (small files) content."""
        result = self.run(host, _file_command(path))
        return parse_file_answer(host, path, str(result.stdout))

    def read_folder(self, host: str, folder: str) -> dict[str, str]:
        """``{file name: content}`` of the regular files in ``folder`` (small files only)."""
        result = self.run(host, _folder_command(folder))
        if result.exit_code != 0:
            raise HostFileMissing(host, folder)
        return parse_folder_answer(str(result.stdout))

    def services(self, host: str, processes: Mapping[str, str]) -> list[dict[str, Any]]:
        """Which of ``processes`` (service -> ``pgrep -f`` pattern) run on ``host``."""
        result = self.run(host, services_command(processes))
        return parse_services_answer(str(result.stdout), processes, datetime.now(UTC))

    def service(self, host: str, name: str, action: Action) -> ServiceChange:
        """``systemctl ACTION NAME`` (or its init script) on ``host``; an unknown service
        raises :class:`UnknownService`, a failing one :class:`~labkit.errors.HostError`."""
        check_service_name(host, name)
        result = self.run(host, service_command(name, action), timeout=300.0)
        stdout, stderr = str(result.stdout), str(result.stderr)
        if _UNKNOWN_SERVICE in stdout:
            raise UnknownService(
                host,
                name,
                f"Is its package installed? `ls /etc/init.d` on {host} lists the services there.",
            )
        output = tuple((stdout + stderr).splitlines())
        if result.exit_code != 0:
            raise HostError(
                host, f"service {name} {action}", result.exit_code, "\n".join(output[-20:])
            )
        return ServiceChange(host, name, action, _STATE_AFTER[action], output)

    def close(self) -> None:
        for conn in self._connections.values():
            close = getattr(conn, "close", None)
            if close is not None:
                close()
        self._connections.clear()


class SimHostFiles:
    """The sim's hosts through its control client, answering as :class:`HostFiles`."""

    def __init__(self, client: SimClient) -> None:
        self.client = client

    def file(self, host: str, path: str) -> dict[str, Any]:
        return self.client.file(host, path)

    def read_folder(self, host: str, folder: str) -> dict[str, str]:
        entries = self.client.file(host, folder).get("entries", [])
        return {
            name: str(self.client.file(host, f"{folder}/{name}")["content"]).strip("\n")
            for name in entries
            if not name.endswith("/")
        }

    def service(self, host: str, name: str, action: Action) -> ServiceChange:
        """The sim's ``service NAME start|stop`` on one of its hosts. Unknown names are
        refused here: the sim would record a stop of any name as a stopped service."""
        hosts = {h["name"]: h for h in self.client.hosts()["hosts"]}
        if host not in hosts:
            raise RegistryMiss("host", host, list(hosts))
        known = sorted(s["name"] for s in hosts[host]["services"])
        if name not in known:
            raise UnknownService(
                host, name, f"Services on {host}: {', '.join(known) or 'none installed yet'}."
            )
        answer = self.client.service(host, name, action)
        output = tuple(str(line) for line in answer.get("output", []))
        if not answer.get("ok"):
            raise HostError(host, f"service {name} {action}", 1, "\n".join(output))
        return ServiceChange(host, name, action, _STATE_AFTER[action], output)
