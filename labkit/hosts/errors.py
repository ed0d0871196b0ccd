"""Errors of the hosts layer, each naming the host and saying what to do next.

Their root, :class:`~labkit.errors.HostsError`, lives in :mod:`labkit.errors` next to
:class:`~labkit.errors.HostError` (a command that failed on a host), so that both kinds of
host trouble share one hierarchy under :class:`~labkit.errors.LabkitError`; it is
re-exported here for the modules of :mod:`labkit.hosts`.
"""

from __future__ import annotations

from labkit.errors import HostsError

__all__ = [
    "CommandTimeout",
    "HostKeyChanged",
    "HostKeyUnknown",
    "HostUnreachable",
    "HostsError",
    "Leftovers",
    "LocalHostsError",
    "NeedsRoot",
    "SshAuthFailed",
]


class HostKeyUnknown(HostsError):
    """The host offered a key that is not in the env's known_hosts: refused."""

    def __init__(self, host: str, endpoint: str, seen: str, known_hosts: str, env: str) -> None:
        self.host = host
        self.endpoint = endpoint
        self.seen = seen
        super().__init__(
            f"Refusing to connect to {host} ({endpoint}): its host key is not known.\n"
            f"  key offered: {seen}\n"
            f"  known_hosts: {known_hosts}",
            f"Check the fingerprint on the host's console (`ssh-keygen -lf "
            f"/etc/ssh/ssh_host_ed25519_key.pub`), then run `labkit hosts trust {env}` "
            "to record it.",
        )


class HostKeyChanged(HostsError):
    """The host offered a key different from the recorded one: refused (maybe an attack)."""

    def __init__(
        self, host: str, endpoint: str, seen: str, expected: str, known_hosts: str, env: str
    ) -> None:
        self.host = host
        self.endpoint = endpoint
        self.seen = seen
        self.expected = expected
        super().__init__(
            f"Refusing to connect to {host} ({endpoint}): its host key CHANGED.\n"
            f"  key offered:  {seen}\n"
            f"  key expected: {expected}  (from {known_hosts})\n"
            "  Someone may be intercepting the connection, or the host was rebuilt.",
            "If you rebuilt the host yourself, run "
            f"`labkit hosts trust {env} --replace` to record the new key; otherwise find out "
            "why the key changed before going on.",
        )


class HostUnreachable(HostsError):
    def __init__(self, host: str, endpoint: str, reason: str, hint: str = "") -> None:
        self.host = host
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(
            f"Cannot reach {host} at {endpoint}: {reason}",
            hint
            or "Is the host up and its address right in the env file? "
            "Try `ssh -p PORT USER@ADDRESS` by hand; for local lab hosts run "
            "`labkit hosts up ENV`.",
        )


class SshAuthFailed(HostsError):
    def __init__(self, host: str, user: str, key: str, reason: str) -> None:
        self.host = host
        super().__init__(
            f"{host} refused the login of {user!r} with the key {key}: {reason}",
            f"Put the public key ({key}.pub) in ~{user}/.ssh/authorized_keys on {host}, "
            "or set ssh.user / ssh.key for this host in the env file.",
        )


class CommandTimeout(HostsError):
    def __init__(self, host: str, command: str, timeout: float, output_tail: str) -> None:
        self.host = host
        self.command = command
        self.timeout = timeout
        super().__init__(
            f"On {host}: `{command}` did not finish within {timeout:.0f} s "
            f"(stopped waiting).\n{output_tail}".rstrip(),
            "Read the output above; if the step is only slow, run it again with a longer "
            "timeout. A service that hangs usually logs why under /var/log/.",
        )


class LocalHostsError(HostsError):
    """Local lab hosts could not be made, found or removed on this machine."""


class NeedsRoot(LocalHostsError):
    def __init__(self, action: str) -> None:
        super().__init__(
            f"`labkit hosts {action}` needs root on this machine: it makes network namespaces, "
            "a bridge, mounts and Debian roots.",
            f"Run it as root, e.g. `sudo .venv/bin/labkit hosts {action} ENV`.",
        )


class Leftovers(LocalHostsError):
    """``down`` finished but something of the lab is still on the machine."""

    def __init__(self, env: str, leftovers: list[str]) -> None:
        self.leftovers = leftovers
        lines = "\n".join(f"  - {item}" for item in leftovers)
        super().__init__(
            f"LEFTOVERS: local lab hosts of {env} are not completely gone:\n{lines}",
            f"Run `labkit hosts down {env}` again; if an item stays, remove it by hand "
            "(`ip netns del NAME`, `ip link del NAME`, `kill PID`, `umount -l PATH`).",
        )
