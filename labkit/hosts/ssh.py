"""Strict SSH to lab hosts over paramiko: run commands with streamed output, move files.

Host keys are never trusted on first use: a host's key must already be in the env's
known_hosts (see :mod:`labkit.hosts.known_hosts`); an unknown key raises
:class:`~labkit.hosts.errors.HostKeyUnknown`, a different one
:class:`~labkit.hosts.errors.HostKeyChanged`. The only ways a key gets recorded are
:func:`trust` (``labkit hosts trust ENV``, which shows the fingerprints) and ``labkit hosts up``
for local lab hosts, whose keys labkit generated itself. paramiko's AutoAddPolicy and
WarningPolicy are never used: we drive :class:`paramiko.Transport` directly and compare keys
ourselves, so the error can name the host and both fingerprints.

Commands run as root: directly when the login user is root, else through ``sudo -n``.
"""

from __future__ import annotations

import codecs
import logging
import posixpath
import re
import shlex
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

import paramiko

from labkit.envs import SshEnv
from labkit.errors import HostError
from labkit.hosts import known_hosts
from labkit.hosts.errors import (
    CommandTimeout,
    HostKeyChanged,
    HostKeyUnknown,
    HostsError,
    HostUnreachable,
    SshAuthFailed,
)
from labkit.hosts.keys import load_private_key
from labkit.hosts.targets import Endpoint, SshTarget, resolve

# paramiko's transport threads log every failed handshake with a traceback; labkit turns
# those failures into its own errors, so their records go to this logger, which prints
# nothing unless the application configures logging.
PARAMIKO_LOG = "labkit.hosts.paramiko"
logging.getLogger(PARAMIKO_LOG).addHandler(logging.NullHandler())

Stream = Literal["stdout", "stderr"]
OutputCallback = Callable[[Stream, str], None]
"""Called with ("stdout" | "stderr", line) for each line, as soon as the line is complete."""

DEFAULT_TIMEOUT = 600.0
STDERR_TAIL_LINES = 20
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# paramiko's host-key algorithm names per key type, to ask a host for a type we know.
_ALGORITHMS = {
    "ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"),
}


@dataclass(frozen=True)
class CommandResult:
    host: str
    command: str
    exit_code: int
    stdout: str
    stderr: str
    duration: float  # seconds

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def wrap_command(
    command: str,
    *,
    login_user: str,
    run_as: str = "root",
    env: Mapping[str, str] | None = None,
) -> str:
    """The shell line sent over SSH so that ``command`` runs as ``run_as``.

    Root logs in and switches with ``su -s /bin/sh -c`` (as the Install Guide does for service
    users); any other login user goes through ``sudo -n`` (never prompts: a missing sudo rule
    fails at once instead of hanging the notebook).
    """
    body = command
    if env:
        for name in env:
            if not _ENV_NAME.match(name):
                raise ValueError(f"not a valid environment variable name: {name!r}")
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        body = f"export {exports}; {command}"
    if run_as == login_user:
        return body
    if login_user == "root":
        return f"su -s /bin/sh -c {shlex.quote(body)} {shlex.quote(run_as)}"
    if run_as == "root":
        return f"sudo -n -- sh -c {shlex.quote(body)}"
    return f"sudo -n -u {shlex.quote(run_as)} -- sh -c {shlex.quote(body)}"


class _Lines:
    """Turns a stream of byte chunks into complete text lines for the callback."""

    def __init__(self, stream: Stream, callback: OutputCallback | None) -> None:
        self.stream: Stream = stream
        self.callback = callback
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.pending = ""
        self.raw = bytearray()

    def feed(self, data: bytes) -> None:
        self.raw += data
        if self.callback is None:
            return
        self.pending += self.decoder.decode(data)
        *complete, self.pending = self.pending.split("\n")
        for line in complete:
            self.callback(self.stream, line.rstrip("\r"))

    def close(self) -> None:
        if self.callback is None:
            return
        self.pending += self.decoder.decode(b"", final=True)
        if self.pending:
            self.callback(self.stream, self.pending.rstrip("\r"))
            self.pending = ""


def _sudo_hint(user: str, stderr: str) -> str | None:
    if "sudo" in stderr and ("password is required" in stderr or "not in the sudoers" in stderr):
        return (
            f"The login user {user!r} needs passwordless sudo: add "
            f"`{user} ALL=(ALL) NOPASSWD:ALL` to /etc/sudoers.d/lab on the host, "
            "or log in as root (ssh.user: root)."
        )
    return None


class HostConnection:
    """One strict SSH connection to one lab host.

    Nothing happens in the constructor; :meth:`connect` (or ``with``) opens the connection.
    """

    def __init__(self, target: SshTarget, *, connect_timeout: float = 10.0) -> None:
        self.target = target
        self.connect_timeout = connect_timeout
        self._transport: paramiko.Transport | None = None
        self._jump: paramiko.Transport | None = None
        self.host_key: paramiko.PKey | None = None

    @classmethod
    def for_host(
        cls,
        env: SshEnv,
        host: str,
        *,
        state_root: Path | None = None,
        connect_timeout: float = 10.0,
    ) -> HostConnection:
        return cls(resolve(env, host, state_root), connect_timeout=connect_timeout)

    @property
    def host(self) -> str:
        return self.target.host

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<HostConnection {self.host} {self.target.endpoint} {state}>"

    # -- connecting ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._transport is not None and self._transport.is_active()

    def connect(self) -> HostConnection:
        if self.connected:
            return self
        self.close()
        try:
            if self.target.jump is not None:
                self._jump = _verified_transport(
                    self.target,
                    self.target.jump,
                    f"{self.host}'s jump host",
                    None,
                    self.connect_timeout,
                )
                pkeys = _client_keys(self.target)
                _authenticate(
                    self._jump, self.target.jump, f"jump host of {self.host}", pkeys, self.target
                )
                sock: socket.socket | paramiko.Channel = _open_tunnel(
                    self._jump, self.target, self.connect_timeout
                )
            else:
                sock = _dial(self.host, self.target.endpoint, self.connect_timeout)
            self._transport = _verified_transport(
                self.target, self.target.endpoint, self.host, sock, self.connect_timeout
            )
            self.host_key = self._transport.get_remote_server_key()
            # Keys load only now, so a missing key file reads as a login problem of a host
            # that was reached and verified.
            pkeys = _client_keys(self.target)
            _authenticate(self._transport, self.target.endpoint, self.host, pkeys, self.target)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        for transport in (self._transport, self._jump):
            if transport is not None:
                transport.close()
        self._transport = self._jump = None

    def __enter__(self) -> HostConnection:
        return self.connect()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- commands --------------------------------------------------------------------------

    def run(
        self,
        command: str,
        *,
        user: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        on_output: OutputCallback | None = None,
        check: bool = True,
        env: Mapping[str, str] | None = None,
        stdin: bytes | str | None = None,
    ) -> CommandResult:
        """Run ``command`` with ``sh`` on the host, as root unless ``user`` is given.

        Output lines go to ``on_output`` while the command runs. With ``check`` (the default)
        a non-zero exit raises :class:`labkit.errors.HostError` carrying the host, the command,
        the exit code and the tail of stderr.
        """
        wrapped = wrap_command(command, login_user=self.target.user, run_as=user or "root", env=env)
        data = stdin.encode() if isinstance(stdin, str) else stdin
        code, out, err, duration = self._exec(wrapped, command, data, timeout, on_output)
        result = CommandResult(
            self.host,
            command,
            code,
            out.decode(errors="replace"),
            err.decode(errors="replace"),
            duration,
        )
        if check and code != 0:
            stderr_tail = tail(result.stderr or result.stdout)
            hint = _sudo_hint(self.target.user, result.stderr)
            if hint:
                raise HostError(self.host, command, code, stderr_tail, hint)
            raise HostError(self.host, command, code, stderr_tail)
        return result

    def read_bytes(self, path: str, *, timeout: float = 60.0) -> bytes:
        wrapped = wrap_command(f"cat -- {shlex.quote(path)}", login_user=self.target.user)
        code, out, err, _ = self._exec(wrapped, f"read {path}", None, timeout, None)
        if code != 0:
            raise HostError(
                self.host,
                f"cat {path}",
                code,
                tail(err.decode(errors="replace")),
                f"Check that {path} exists on {self.host}.",
            )
        return out

    def read_file(self, path: str, *, timeout: float = 60.0) -> str:
        return self.read_bytes(path, timeout=timeout).decode(errors="replace")

    def write_file(
        self,
        path: str,
        content: str | bytes,
        mode: int = 0o644,
        *,
        owner: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        """Write ``content`` to ``path`` as root, atomically (temp file + rename).

        The bytes travel over the command's stdin, so this works through sudo, where SFTP
        (which writes as the login user) could not write into /etc.
        """
        folder = posixpath.dirname(path) or "."
        steps = [
            f"t=$(mktemp {shlex.quote(folder)}/.labkit-XXXXXX)",
            "trap 'rm -f \"$t\"' EXIT",
            'cat > "$t"',
            f'chmod {mode:o} "$t"',
        ]
        if owner:
            steps.append(f'chown {shlex.quote(owner)} "$t"')
        steps += [f'mv -f "$t" {shlex.quote(path)}', "trap - EXIT"]
        self.run("set -e; " + "; ".join(steps), stdin=content, timeout=timeout)

    # -- internals -------------------------------------------------------------------------

    def _exec(
        self,
        wrapped: str,
        shown: str,
        stdin: bytes | None,
        timeout: float,
        on_output: OutputCallback | None,
    ) -> tuple[int, bytes, bytes, float]:
        transport = self.connect()._transport
        assert transport is not None
        started = time.monotonic()
        try:
            chan = transport.open_session(timeout=self.connect_timeout)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise HostUnreachable(
                self.host, str(self.target.endpoint), f"could not open a session: {exc}"
            ) from exc
        out, err = _Lines("stdout", on_output), _Lines("stderr", on_output)
        try:
            try:
                chan.exec_command(wrapped)
                if stdin:
                    chan.sendall(stdin)
                chan.shutdown_write()  # EOF on stdin: commands that read it never hang
            except (paramiko.SSHException, OSError, EOFError) as exc:
                raise HostUnreachable(
                    self.host, str(self.target.endpoint), f"could not start `{shown}`: {exc}"
                ) from exc
            deadline = started + timeout
            while True:
                busy = False
                while chan.recv_ready():
                    out.feed(chan.recv(65536))
                    busy = True
                while chan.recv_stderr_ready():
                    err.feed(chan.recv_stderr(65536))
                    busy = True
                if chan.exit_status_ready() and (chan.eof_received or chan.closed):
                    if not (chan.recv_ready() or chan.recv_stderr_ready()):
                        break
                    continue
                if chan.closed or not transport.is_active():
                    raise HostUnreachable(
                        self.host,
                        str(self.target.endpoint),
                        f"the connection dropped while running `{shown}`",
                    )
                if time.monotonic() > deadline:
                    out.close()
                    err.close()
                    text = tail(
                        err.raw.decode(errors="replace") or out.raw.decode(errors="replace")
                    )
                    raise CommandTimeout(self.host, shown, timeout, text)
                if not busy:
                    time.sleep(0.01)
            out.close()
            err.close()
            code = chan.recv_exit_status()
        finally:
            chan.close()
        return code, bytes(out.raw), bytes(err.raw), time.monotonic() - started


def connect(env: SshEnv, host: str, *, state_root: Path | None = None) -> HostConnection:
    """An open, strictly verified connection to ``host`` of ``env``."""
    return HostConnection.for_host(env, host, state_root=state_root).connect()


# -- building blocks shared by connect() and trust() -----------------------------------------


def _dial(host: str, endpoint: Endpoint, timeout: float) -> socket.socket:
    try:
        return socket.create_connection((endpoint.address, endpoint.port), timeout=timeout)
    except OSError as exc:
        raise HostUnreachable(host, f"{endpoint.address}:{endpoint.port}", str(exc)) from exc


def _open_tunnel(jump: paramiko.Transport, target: SshTarget, timeout: float) -> paramiko.Channel:
    try:
        return jump.open_channel(
            "direct-tcpip", (target.address, target.port), ("127.0.0.1", 0), timeout=timeout
        )
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise HostUnreachable(
            target.host,
            f"{target.address}:{target.port} via {target.jump}",
            f"the jump host could not open a tunnel: {exc}",
        ) from exc


def _handshake(
    label: str,
    endpoint: Endpoint,
    sock: socket.socket | paramiko.Channel,
    timeout: float,
    prefer: list[str],
) -> paramiko.Transport:
    transport = paramiko.Transport(sock)
    transport.set_log_channel(PARAMIKO_LOG)
    if prefer:
        options = transport.get_security_options()
        supported = list(options.key_types)
        wanted = [a for name in prefer for a in _ALGORITHMS.get(name, (name,)) if a in supported]
        options.key_types = tuple(dict.fromkeys(wanted + supported))
    try:
        transport.start_client(timeout=timeout)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        transport.close()
        raise HostUnreachable(
            label,
            f"{endpoint.address}:{endpoint.port}",
            f"SSH handshake failed: {exc}",
            "Is an SSH server listening there? (`nc -v ADDRESS PORT` should print SSH-2.0-...)",
        ) from exc
    return transport


def _verified_transport(
    target: SshTarget,
    endpoint: Endpoint,
    label: str,
    sock: socket.socket | paramiko.Channel | None,
    timeout: float,
) -> paramiko.Transport:
    pattern = known_hosts.host_pattern(endpoint.address, endpoint.port)
    recorded = known_hosts.known_keys(target.known_hosts, pattern)
    if sock is None:
        sock = _dial(label, endpoint, timeout)
    transport = _handshake(label, endpoint, sock, timeout, [k.get_name() for k in recorded])
    key = transport.get_remote_server_key()
    verdict, known = known_hosts.verdict(target.known_hosts, pattern, key)
    where = f"{endpoint.address}:{endpoint.port}"
    if verdict == "match":
        return transport
    transport.close()
    if verdict == "changed" or known:
        expected = ", ".join(known_hosts.describe(k) for k in known)
        raise HostKeyChanged(
            label,
            where,
            known_hosts.describe(key),
            expected,
            str(target.known_hosts),
            target.env_name,
        )
    raise HostKeyUnknown(
        label, where, known_hosts.describe(key), str(target.known_hosts), target.env_name
    )


def _client_keys(target: SshTarget) -> list[paramiko.PKey]:
    if target.key is not None:
        if not target.key.exists():
            raise SshAuthFailed(
                target.host, target.user, str(target.key), "the private key file does not exist"
            )
        try:
            return [load_private_key(target.key)]
        except paramiko.PasswordRequiredException as exc:
            raise HostsError(
                f"The key {target.key} is protected by a passphrase.",
                "Load it into ssh-agent (`ssh-add KEY`) and remove ssh.key from the env file; "
                "labkit then uses the agent.",
            ) from exc
        except (paramiko.SSHException, ValueError, OSError) as exc:
            raise HostsError(
                f"Cannot read the SSH key {target.key}: {exc}",
                "Point ssh.key at an OpenSSH private key file.",
            ) from exc
    keys: list[paramiko.PKey] = list(paramiko.Agent().get_keys())
    for name in ("id_ed25519", "id_ecdsa", "id_rsa"):
        path = Path.home() / ".ssh" / name
        if path.exists():
            try:
                keys.append(load_private_key(path))
            except (paramiko.SSHException, ValueError, OSError):
                continue
    if not keys:
        raise SshAuthFailed(
            target.host,
            target.user,
            "(none)",
            "no ssh.key in the env file, no ssh-agent keys, no ~/.ssh/id_*",
        )
    return keys


def _authenticate(
    transport: paramiko.Transport,
    endpoint: Endpoint,
    label: str,
    pkeys: list[paramiko.PKey],
    target: SshTarget,
) -> None:
    reason = "no key accepted"
    for pkey in pkeys:
        try:
            transport.auth_publickey(endpoint.user, pkey)
        except paramiko.AuthenticationException as exc:
            reason = str(exc) or "public key refused"
            continue
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise HostUnreachable(
                label, f"{endpoint.address}:{endpoint.port}", f"connection lost during login: {exc}"
            ) from exc
        if transport.is_authenticated():
            return
    raise SshAuthFailed(label, endpoint.user, str(target.key or "ssh-agent/~/.ssh"), reason)


# -- trust -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustRow:
    host: str
    endpoint: str
    key: str  # "ssh-ed25519 SHA256:..."
    # changed: differs from the recorded key and was NOT recorded (no --replace);
    # skipped: the person declined to record it
    status: Literal["added", "same", "replaced", "changed", "skipped"]


Confirm = Callable[[TrustRow], bool]


def trust(
    env: SshEnv,
    *,
    state_root: Path | None = None,
    replace: bool = False,
    confirm: Confirm | None = None,
    connect_timeout: float = 10.0,
) -> list[TrustRow]:
    """Fetch every host's key (jump hosts first), show it and record it in known_hosts.

    A key that differs from the recorded one is reported with status ``changed`` and NOT
    recorded unless ``replace`` is true. ``confirm`` (e.g. a yes/no prompt) is asked before
    recording a new or replaced key. Hosts behind a jump host need the jump host's key
    (recorded in the same run) and a working login on it.
    """
    rows: list[TrustRow] = []
    targets = [resolve(env, h.name, state_root) for h in env.hosts]
    jumps = {t.jump for t in targets if t.jump is not None}
    for jump in sorted(jumps, key=str):
        label = f"jump host {jump.address}"
        recorded = known_hosts.known_keys(
            targets[0].known_hosts, known_hosts.host_pattern(jump.address, jump.port)
        )
        transport = _handshake(
            label,
            jump,
            _dial(label, jump, connect_timeout),
            connect_timeout,
            [k.get_name() for k in recorded],
        )
        rows.append(_record(targets[0].known_hosts, label, jump, transport, replace, confirm))
    for target in targets:
        jump_transport: paramiko.Transport | None = None
        try:
            if target.jump is not None:
                jump_transport = _verified_transport(
                    target, target.jump, f"jump host of {target.host}", None, connect_timeout
                )
                _authenticate(
                    jump_transport,
                    target.jump,
                    f"jump host of {target.host}",
                    _client_keys(target),
                    target,
                )
                sock: socket.socket | paramiko.Channel = _open_tunnel(
                    jump_transport, target, connect_timeout
                )
            else:
                sock = _dial(target.host, target.endpoint, connect_timeout)
            recorded = known_hosts.known_keys(
                target.known_hosts, known_hosts.host_pattern(target.address, target.port)
            )
            transport = _handshake(
                target.host,
                target.endpoint,
                sock,
                connect_timeout,
                [k.get_name() for k in recorded],
            )
            rows.append(
                _record(
                    target.known_hosts, target.host, target.endpoint, transport, replace, confirm
                )
            )
        finally:
            if jump_transport is not None:
                jump_transport.close()
    return rows


def _record(
    path: Path,
    label: str,
    endpoint: Endpoint,
    transport: paramiko.Transport,
    replace: bool,
    confirm: Confirm | None,
) -> TrustRow:
    try:
        key = transport.get_remote_server_key()
    finally:
        transport.close()
    pattern = known_hosts.host_pattern(endpoint.address, endpoint.port)
    verdict, _ = known_hosts.verdict(path, pattern, key)
    where = f"{endpoint.address}:{endpoint.port}"
    if verdict == "match":
        return TrustRow(label, where, known_hosts.describe(key), "same")
    if verdict == "changed" and not replace:
        return TrustRow(label, where, known_hosts.describe(key), "changed")
    if confirm is not None:
        preview = TrustRow(
            label, where, known_hosts.describe(key), "replaced" if verdict == "changed" else "added"
        )
        if not confirm(preview):
            return TrustRow(label, where, known_hosts.describe(key), "skipped")
    status = known_hosts.record(path, pattern, key)
    return TrustRow(label, where, known_hosts.describe(key), status)
