"""The guest's SSH server: a real one (asyncssh), on the socket the sim's gateway hands over.

What ``sshd`` on a cloud image does, and nothing more:

- **host keys** are the ones cloud-init made at first boot (``/etc/ssh/ssh_host_*_key``):
  the keys the console printed, so a client that trusted the console finds them here;
- **public-key authentication only**, against the user's ``~/.ssh/authorized_keys`` as it
  is *now* (read at each login, options such as ``command="..."`` honoured -- that is how
  cloud-init's ``disable_root`` sends ``root`` away). Password and keyboard-interactive
  authentication are not offered: ``ssh`` answers ``Permission denied (publickey).``;
- a **session**: ``ssh host CMD`` runs one command line in the guest's shell
  (:mod:`.shell`), ``ssh host`` an interactive shell with a prompt (asyncssh edits the
  line when the client asked for a terminal). No port forwarding, agent, X11 or SFTP.

One :class:`Sshd` serves one boot of one guest; every guest's server runs on the
hypervisor's single event loop (many guests, one thread). Shell commands that may block
(``curl`` and ``ping`` go through the wire, which may call into the sim's services) run on
the hypervisor's worker threads, never on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import asyncssh

from labkit.sim.guests.shell import Result, Shell
from labkit.sim.guests.system import GuestSystem

# asyncssh's own version string stays in the banner: honest about what answers
LOGIN_TIMEOUT = 120.0  # sshd's LoginGraceTime

Blocking = Callable[[Callable[[], Result]], Awaitable[Result]]  # run on a worker thread


class _Server(asyncssh.SSHServer):
    """One connection's authentication (asyncssh makes one per connection)."""

    def __init__(self, sshd: Sshd) -> None:
        self._sshd = sshd
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._sshd.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._sshd.connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        """Load the user's authorized_keys as they are now; authentication is required."""
        keys = self._sshd.system.authorized_keys(username)
        if keys and self._conn is not None:
            with contextlib.suppress(asyncssh.KeyImportError, ValueError):
                self._conn.set_authorized_keys(asyncssh.import_authorized_keys("\n".join(keys)))
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return False  # only the authorized_keys loaded in begin_auth are accepted

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False


class Sshd:
    """The SSH server of one running guest (``Endpoint.listeners[("tcp", 22)]``)."""

    def __init__(
        self,
        system: GuestSystem,
        host_keys: list[bytes],
        new_shell: Callable[[str], Shell],
        blocking: Blocking,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.system = system
        self.connections: set[asyncssh.SSHServerConnection] = set()
        self._new_shell = new_shell
        self._blocking = blocking
        self._loop = loop
        self._options = asyncssh.SSHServerConnectionOptions(
            server_host_keys=[asyncssh.import_private_key(k) for k in host_keys],
            server_factory=lambda: _Server(self),
            process_factory=self._session,
            password_auth=False,
            kbdint_auth=False,
            allow_scp=False,
            agent_forwarding=False,
            x11_forwarding=False,
            login_timeout=LOGIN_TIMEOUT,
            keepalive_interval=0,
        )

    # ---- the listener ---------------------------------------------------------------------
    def accept(self, sock: socket.socket) -> None:
        """Take an accepted TCP connection (the client's SSH banner is its first bytes) and
        serve it on the event loop; returns at once."""
        asyncio.run_coroutine_threadsafe(self._serve(sock), self._loop)

    async def _serve(self, sock: socket.socket) -> None:
        try:
            await asyncssh.run_server(sock, options=self._options)
        except (TimeoutError, asyncssh.Error, OSError, ValueError):
            # a client that gave up, failed to authenticate or spoke no SSH: sshd logs it
            # and closes the connection, as asyncssh has already done
            with contextlib.suppress(OSError):
                sock.close()

    def close(self) -> None:
        """The guest shuts down: every session ends (call on the event loop)."""
        for conn in list(self.connections):
            conn.close()
        self.connections.clear()

    # ---- sessions ---------------------------------------------------------------------------
    async def _session(self, process: asyncssh.SSHServerProcess[Any]) -> None:
        user = str(process.get_extra_info("username"))
        shell = self._new_shell(user)
        try:
            if process.command is not None:
                result = await self._blocking(lambda: shell.run(process.command or ""))
                self._write(process, result)
                process.exit(result.code)
                return
            await self._interactive(process, shell)
        except (asyncssh.Error, BrokenPipeError, ConnectionError):
            return
        process.exit(shell.status)

    async def _interactive(self, process: asyncssh.SSHServerProcess[Any], shell: Shell) -> None:
        tty = process.get_terminal_type() is not None
        if tty:  # pam_motd greets a login with a terminal
            process.stdout.write(shell.motd())
        while True:
            if tty:
                process.stdout.write(shell.prompt())
            try:
                line = await process.stdin.readline()
            except asyncssh.TerminalSizeChanged:
                continue
            except (asyncssh.BreakReceived, asyncssh.SignalReceived):
                process.stdout.write("^C\n")
                continue
            if not line:  # end of input (^D)
                if tty:
                    process.stdout.write("logout\n")
                return
            result = await self._blocking(_runner(shell, line.rstrip("\r\n")))
            self._write(process, result)
            if result.exit:
                if tty:
                    process.stdout.write("logout\n")
                return

    @staticmethod
    def _write(process: asyncssh.SSHServerProcess[Any], result: Result) -> None:
        if result.out:
            process.stdout.write(result.out)
        if result.err:
            process.stderr.write(result.err)


def _runner(shell: Shell, line: str) -> Callable[[], Result]:
    return lambda: shell.run(line)
