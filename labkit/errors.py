"""One root error for everything labkit raises, each telling the learner what to do next.

Subclasses carry the context a person needs to act: the env file and field, the host and
command, the exit code and the tail of stderr. ``str(error)`` is the whole message;
``error.hint`` is the "what to do next" part on its own.
"""

from __future__ import annotations

from collections.abc import Sequence


class LabkitError(Exception):
    """Root of every labkit error: a message and a hint saying what to do next."""

    layer: str = "labkit"

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  -> {self.hint}" if self.hint else self.message


class EnvError(LabkitError):
    """An env file that is missing or does not validate."""

    layer = "hosts"

    def __init__(
        self,
        path: str,
        problems: Sequence[str],
        hint: str = "Fix the file (see envs/README.md for every field) and try again.",
    ) -> None:
        self.path = path
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{path} is not a valid lab env:\n{lines}", hint)


class NotFound(LabkitError):
    """Something looked up on the lab is not there: a file on a host, a host, a service, a
    log. Callers that expect absence (a file not written *yet*) catch this, nothing wider."""


class SimError(LabkitError):
    """Something about the embedded emulator process."""

    layer = "sim"


class SimNotFound(SimError, NotFound):
    """The sim's control API answered 404: no such host, file or log."""


class SimNotRunning(SimError):
    def __init__(self, url: str, state_dir: str) -> None:
        super().__init__(
            f"The sim is not answering at {url} (state folder {state_dir}).",
            "Start it with `labkit sim up` in a terminal, or run `lab.ensure()` in the notebook.",
        )


class SimStartFailed(SimError):
    def __init__(self, reason: str, log_tail: str) -> None:
        self.log_tail = log_tail
        super().__init__(
            f"The sim did not start: {reason}\n--- last lines of sim.log ---\n{log_tail}",
            "Read the log above; `labkit sim logs sim` shows it all. A port in use? "
            "Set LABKIT_SIM_PORT to another port.",
        )


class HostsError(LabkitError):
    """Root of the errors about lab hosts: reaching them, their keys, commands run on them,
    making local ones (the subclasses in :mod:`labkit.hosts.errors` and :class:`HostError`)."""

    layer = "hosts"


class HostError(HostsError):
    """A command on a lab host failed."""

    def __init__(
        self,
        host: str,
        command: str,
        exit_code: int,
        stderr_tail: str,
        hint: str = "Read the error output above; fix the cause on the host and run the step again "
        "(installers are idempotent).",
    ) -> None:
        self.host = host
        self.command = command
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail
        super().__init__(
            f"On {host}: `{command}` exited with {exit_code}\n{stderr_tail}".rstrip(), hint
        )


class InstallError(LabkitError):
    """An install step could not be applied or verified."""

    layer = "install"


class RegistryMiss(LabkitError, KeyError):
    """A name looked up in a registry (installers, layers, envs) that is not there."""

    def __init__(self, what: str, name: str, valid: Sequence[str]) -> None:
        super().__init__(
            f"No {what} named {name!r}.", f"Valid names: {', '.join(sorted(valid)) or '(none)'}."
        )

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return LabkitError.__str__(self)


class GuestAccessError(LabkitError):
    """Reaching a server's guest over SSH failed (``lab.ssh``, ``labkit ssh``): the message
    says which hop and the hint what to run next -- usually ``lab.why_no_ssh(SERVER)``."""

    layer = "networking"


class GuestConnectFailed(GuestAccessError):
    """The TCP connection to the guest was not established.

    ``verdict`` is what happened to it: ``filtered`` (dropped by a security group: timed
    out), ``refused`` (the guest answered with a reset: nothing listens), ``unreachable``
    (nobody has the address)."""

    def __init__(self, server: str, address: str, port: int, verdict: str, text: str) -> None:
        self.server = server
        self.address = address
        self.port = port
        self.verdict = verdict
        what = {
            "filtered": "timed out: the port is filtered (no security-group rule lets it in)",
            "refused": "was refused: the guest is up but nothing listens there (still booting?)",
            "unreachable": "found no route: no running guest has that address",
        }.get(verdict, f"failed: {text}")
        super().__init__(
            f"SSH to {address}:{port} ({server}) {what}.",
            f"Run lab.why_no_ssh({server!r}) to check each hop.",
        )
