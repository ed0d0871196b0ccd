"""The access facade: SSH into a server's guest, and find out why you cannot.

``lab.ssh(server)`` is what the seed's last step (``ssh ubuntu@IP``) becomes in a notebook:
find the server through the compute API, take its fixed address, trust the host keys its
console log publishes (:mod:`labkit.guestkeys`, never "trust on first use"), open a TCP
connection -- through the sim's gateway (:mod:`labkit.sim.nc`) on the sim, directly (or
through the controller when the env's hosts sit behind a jump host) on real hosts -- and log
in with paramiko, refusing any host key the console did not show.

``lab.why_no_ssh(server)`` walks the hops a connection needs, in the order a packet and a
login meet them, and names the first that fails with the fix:

1. the server is ACTIVE (``openstack server show``: status and fault);
2. its port is ACTIVE with an address (``GET /v2.0/ports?device_id=``);
3. one of the port's security groups lets tcp/22 in from where you connect (ping's icmp
   rule is reported on an extra line);
4. the keypair the server was booted with is the key you offer (Nova's MD5 fingerprint);
5. the guest got its key from the metadata service (cloud-init's lines on the console);
6. the guest's SSH server answers (its banner).

Everything comes from the cloud's APIs and the console log, so it runs the same on the sim,
on real lab hosts and on an existing cloud; only the path the bytes take differs.

Introduced in notebooks/05-access.
"""

from __future__ import annotations

import contextlib
import errno
import html
import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from labkit import guestkeys
from labkit.envs import SimEnv, SshEnv
from labkit.errors import GuestAccessError, GuestConnectFailed
from labkit.lab.backends import Backend, SimBackend
from labkit.lab.identity import Identity
from labkit.sim import nc

if TYPE_CHECKING:
    import paramiko
    from openstack.compute.v2.server import Server
    from openstack.connection import Connection

SSH_PORT = 22
KEYS_WAIT = 60.0  # seconds lab.ssh waits for a booting guest to print its host keys
BANNER_TIMEOUT = 5.0
PARAMIKO_LOG = "labkit.access.paramiko"
logging.getLogger(PARAMIKO_LOG).addHandler(logging.NullHandler())

Sock = Any  # a socket.socket, or a paramiko.Channel through a jump host


# ---- the server, as the API shows it -----------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """A server and what connecting to it needs."""

    server: Server
    address: str
    user: str  # the image's default login user

    @property
    def name(self) -> str:
        return str(self.server.name)


def fixed_address(server: Any) -> str | None:
    """The server's first fixed IPv4 address (else its first address of any kind)."""
    found: list[tuple[int, str]] = []
    for entries in (server.addresses or {}).values():
        for entry in entries:
            kind = entry.get("OS-EXT-IPS:type", "fixed")
            rank = (0 if kind == "fixed" else 2) + (0 if entry.get("version", 4) == 4 else 1)
            found.append((rank, entry["addr"]))
    return min(found)[1] if found else None


def default_user(conn: Connection, server: Any) -> str:
    """The image's login user: ``os_admin_user``, else by ``os_distro`` or the image's name
    (``cirros`` for CirrOS, ``ubuntu`` otherwise -- the lab's two images)."""
    image_id = (server.image or {}).get("id") if isinstance(server.image, dict) else None
    image_id = image_id or getattr(server.image, "id", None)
    name, distro, admin_user = "", "", None
    if image_id:
        with contextlib.suppress(Exception):  # deleted since, or not visible to us
            image = conn.image.get_image(image_id)
            name = image.name or ""
            distro = (image.os_distro or "").lower()
            admin_user = image.os_admin_user
    if admin_user:
        return str(admin_user)
    return "cirros" if "cirros" in (distro or name.lower()) else "ubuntu"


# ---- a login, and what a command printed -------------------------------------------------------
@dataclass(frozen=True)
class Output:
    """What one command printed on the guest; unpacks as ``exit_code, stdout, stderr``."""

    command: str
    exit_code: int
    stdout: str
    stderr: str

    def __iter__(self) -> Iterator[Any]:
        return iter((self.exit_code, self.stdout, self.stderr))

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def __str__(self) -> str:
        return self.stdout + self.stderr

    def __repr__(self) -> str:
        status = f"\n[exit status {self.exit_code}]" if self.exit_code else ""
        return f"$ {self.command}\n{self.stdout}{self.stderr}".rstrip("\n") + status

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(repr(self), quote=False)}</pre>"


class GuestSession:
    """One SSH login to a guest: ``run(command)``, then ``close()`` (or use ``with``)."""

    def __init__(self, client: paramiko.SSHClient, target: Target, user: str) -> None:
        self._client = client
        self.server = target.name
        self.address = target.address
        self.user = user

    def __repr__(self) -> str:
        state = "open" if self.connected else "closed"
        return f"<GuestSession {self.user}@{self.address} ({self.server}), {state}>"

    @property
    def connected(self) -> bool:
        transport = self._client.get_transport()
        return transport is not None and transport.is_active()

    def run(self, command: str, timeout: float = 60.0) -> Output:
        """Run ``command`` in the guest's shell; its exit status and output."""
        import paramiko

        try:
            _, stdout, stderr = self._client.exec_command(command, timeout=timeout)
            out = stdout.read().decode(errors="replace")
            err = stderr.read().decode(errors="replace")
            code = stdout.channel.recv_exit_status()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise GuestAccessError(
                f"The SSH session to {self.address} ({self.server}) broke during "
                f"`{command}`: {exc or type(exc).__name__}",
                f"Was the server stopped or its rule removed meanwhile? "
                f"lab.why_no_ssh({self.server!r}).",
            ) from exc
        return Output(command, code, out, err)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> GuestSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# ---- why no SSH? -------------------------------------------------------------------------------
@dataclass
class Check:
    """One hop: ``ok`` True (passed), False (failed), None (not checked, or not knowable)."""

    hop: str
    ok: bool | None
    found: str
    fix: str = ""

    @property
    def mark(self) -> str:
        return {True: "✓", False: "✗", None: "-"}[self.ok]


@dataclass
class SshDiagnosis:
    """The hops to a guest's SSH server, checked in order. ``failed`` is the first hop
    that failed (None when every hop passed); ``extra`` holds lines that inform without
    blocking SSH (ping's icmp rule)."""

    server: str
    address: str
    user: str
    checks: list[Check] = field(default_factory=list)
    extra: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> Check | None:
        return next((c for c in self.checks if c.ok is False), None)

    @property
    def ok(self) -> bool:
        return self.failed is None

    @property
    def summary(self) -> str:
        target = f"{self.user}@{self.address or '?'} ({self.server})"
        if self.failed is None:
            return f"SSH to {target}: every hop checks out."
        return f"SSH to {target} fails at: {self.failed.hop}."

    def __str__(self) -> str:
        lines = [self.summary]
        for check in [*self.checks, *self.extra]:
            lines.append(f"  {check.mark} {check.hop}: {check.found}")
            if check.ok is False and check.fix:
                lines.append(f"      fix: {check.fix}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colours = {True: "#e8f5e9", False: "#ffebee", None: "#f5f5f5"}
        rows = []
        for check in [*self.checks, *self.extra]:
            fix = html.escape(check.fix) if check.ok is False else ""
            rows.append(
                f"<tr style='background:{colours[check.ok]}'>"
                f"<td>{check.mark}</td><td style='text-align:left'>{html.escape(check.hop)}</td>"
                f"<td style='text-align:left'>{html.escape(check.found)}</td>"
                f"<td style='text-align:left'>{fix}</td></tr>"
            )
        head = "".join(f"<th style='text-align:left'>{h}</th>" for h in ("", "hop", "found", "fix"))
        return (
            f"<b>{html.escape(self.summary)}</b><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )


_STATUS_FIX = {
    "SHUTOFF": "Start it: `openstack server start {name}`.",
    "BUILD": "Wait until it is ACTIVE: `openstack server show {name} -c status`.",
    "PAUSED": "Unpause it: `openstack server unpause {name}`.",
    "SUSPENDED": "Resume it: `openstack server resume {name}`.",
    "SHELVED_OFFLOADED": "Unshelve it: `openstack server unshelve {name}`.",
    "SHELVED": "Unshelve it: `openstack server unshelve {name}`.",
    "REBOOT": "Wait for the reboot to finish.",
    "HARD_REBOOT": "Wait for the reboot to finish.",
    "ERROR": "Read the fault (lab.explain(...) on its message), delete it and boot again.",
}


def _rule_lets_in(rule: Any, protocol: str, port: int | None, source: str | None) -> bool:
    """Does an ingress rule admit ``protocol`` (dst ``port``) from ``source``? A rule with a
    remote group admits only that group's ports -- never the router or your laptop."""
    if rule.direction != "ingress":
        return False
    wanted = {"tcp": ("tcp", "6"), "icmp": ("icmp", "1")}[protocol]
    if rule.protocol not in (None, "", "any", *wanted):
        return False
    if source is not None:
        version = ipaddress.ip_address(source).version
        if rule.ether_type != f"IPv{version}":
            return False
    elif rule.ether_type != "IPv4":
        return False
    if protocol == "tcp" and rule.port_range_min is not None and port is not None:
        top = rule.port_range_max if rule.port_range_max is not None else rule.port_range_min
        if not rule.port_range_min <= port <= top:
            return False
    if protocol == "icmp" and rule.port_range_min not in (None, 8):
        return False  # a rule for another ICMP type than echo request
    if rule.remote_group_id:
        return False
    if rule.remote_ip_prefix and source is not None:
        network = ipaddress.ip_network(rule.remote_ip_prefix, strict=False)
        return ipaddress.ip_address(source) in network
    return True


class Access:
    def __init__(self, backend: Backend, identity: Identity) -> None:
        self.backend = backend
        self.identity = identity

    # ---- finding things ------------------------------------------------------------------
    def _conn(self) -> Connection:
        return self.identity.connect("admin")

    def target(self, server: Server | str) -> Target:
        """The server (by name or id, any project), its fixed address and default user."""
        from openstack import exceptions

        conn = self._conn()
        ident = server if isinstance(server, str) else server.id
        try:
            found = conn.compute.find_server(ident, ignore_missing=False, all_projects=True)
            full = conn.compute.get_server(found.id)
        except exceptions.DuplicateResource:
            raise GuestAccessError(
                f"More than one server is named {ident!r}.", "Pass the server's id instead."
            ) from None
        except exceptions.NotFoundException:
            raise GuestAccessError(
                f"No server {ident!r}.", "`openstack server list --all-projects` lists them."
            ) from None
        address = fixed_address(full)
        if address is None:
            raise GuestAccessError(
                f"{full.name} has no address.",
                f"Its port never got one: lab.why_no_ssh({full.name!r}).",
            )
        return Target(full, address, default_user(conn, full))

    def source_address(self) -> str | None:
        """Where SSH connections come from, as the guest sees them: the env's router (the
        management network's gateway), through which the learner reaches the provider
        network; unknown on an existing cloud."""
        env = self.backend.env
        if isinstance(env, SimEnv | SshEnv):
            return env.management_network.gateway
        return None

    def console(self, server: Server | str) -> str:
        """The server's console log (``openstack console log show``)."""
        ident = server if isinstance(server, str) else server.id
        output = self._conn().compute.get_server_console_output(ident)
        return str(output.get("output") or "")

    def _poll_console(
        self,
        target: Target,
        done: Callable[[guestkeys.ConsoleHostKeys], bool],
        wait: float,
        interval: float,
    ) -> tuple[guestkeys.ConsoleHostKeys, bool]:
        """Read the console's host key blocks until ``done`` says so or ``wait`` s pass:
        (what was found last, whether ``done`` held). Callers name their own failure."""
        deadline = time.monotonic() + wait
        while True:
            found = guestkeys.parse_console(self.console(target.server.id))
            if done(found):
                return found, True
            if time.monotonic() >= deadline:
                return found, False
            time.sleep(interval)

    def wait_for_boot(self, server: Server | str, wait: float = KEYS_WAIT) -> None:
        """Wait until the guest's first boot has reached the end of cloud-init on its console
        (the SSH host key blocks, the keys vouched for by their fingerprints, are its last
        lines). ACTIVE only means the hypervisor started the guest: a real one prints these
        lines some seconds later (about 10 s for the lab's image under TCG); the sim's guests
        have printed them by the time the server is ACTIVE. Returns nothing, so a notebook
        cell shows only what comes after it."""
        target = self.target(server)
        _, booted = self._poll_console(target, lambda found: bool(found.trusted), wait, 0.5)
        if not booted:
            raise GuestAccessError(
                f"{target.name}'s console shows no end of cloud-init after {wait:.0f} s.",
                f"`openstack console log show {target.name}` shows how far its boot got; "
                f"lab.why_no_ssh({target.name!r}) checks each hop.",
            )

    # ---- host keys -----------------------------------------------------------------------
    def trust_host_keys(self, target: Target, wait: float = KEYS_WAIT) -> guestkeys.ConsoleHostKeys:
        """Read the host keys off the console (waiting up to ``wait`` s for a booting guest
        to print them) and record the vouched-for ones in the lab's known_hosts."""
        found, settled = self._poll_console(
            target,
            lambda found: bool(found.trusted or (found.fingerprints and not found.keys)),
            wait,
            0.2,
        )
        if not settled:
            if found.keys:
                raise GuestAccessError(
                    f"{target.name}'s console shows host keys that its fingerprint lines "
                    "do not confirm: labkit trusts none of them.",
                    "Compare them yourself with `openstack console log show "
                    f"{target.name}` before you trust this guest.",
                )
            raise GuestAccessError(
                f"{target.name}'s console log shows no SSH host keys yet.",
                "cloud-init prints them at the end of the guest's first boot: wait and "
                f"try again; `openstack console log show {target.name}` shows how far it "
                f"got. lab.why_no_ssh({target.name!r}) checks the rest.",
            )
        if found.trusted:
            guestkeys.record_known_hosts(self.known_hosts, target.address, found.trusted)
        return found

    @property
    def known_hosts(self) -> Path:
        return self.backend.paths.known_hosts

    def ssh_key(self) -> Path:
        """The learner's SSH key pair for the guests, made once (``ssh-keygen -t ed25519``
        with no passphrase) and kept in the lab's state folder -- what ``~/.ssh/id_ed25519``
        is on a laptop, without touching the learner's own keys. Returns the private key's
        path; ``.pub`` next to it is what ``openstack keypair create --public-key`` takes."""
        path = self.backend.paths.ssh_key
        public = path.with_suffix(".pub")
        if path.is_file() and public.is_file():
            return path
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519

        key = ed25519.Ed25519PrivateKey.generate()
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        blob = key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)  # ssh refuses a private key others can read
        path.write_bytes(private)
        public.write_text(blob.decode() + " learner@labkit\n")
        return path

    # ---- connecting ----------------------------------------------------------------------
    def dial(
        self, target: Target, port: int = SSH_PORT, timeout: float | None = None, wait: bool = True
    ) -> Sock:
        """A TCP connection to ``target.address:port`` from where the learner sits. A
        filtered port costs ``timeout`` seconds first when ``wait`` (as a dropped SYN does)."""
        limit = nc.connect_timeout() if timeout is None else timeout
        if isinstance(self.backend, SimBackend):
            return self._dial_sim(target, port, limit, wait)
        env = self.backend.env
        if isinstance(env, SshEnv) and (env.ssh.jump or any(h.ssh.jump for h in env.hosts)):
            return self._dial_via_controller(env, target, port, limit)
        return self._dial_direct(target, port, limit)

    def _dial_sim(self, target: Target, port: int, timeout: float, wait: bool) -> Sock:
        paths = self.backend.paths
        try:
            gateway = nc.gateway_address(paths.root)
            return nc.open_connection(gateway, target.address, port, timeout=timeout)
        except nc.ConnectFailed as exc:
            if exc.verdict == "filtered" and wait:
                time.sleep(timeout)
            raise GuestConnectFailed(
                target.name, target.address, port, exc.verdict, exc.text
            ) from None
        except nc.GatewayUnavailable as exc:
            raise GuestAccessError(
                f"Cannot reach {target.address}: {exc}.",
                "Start the sim: lab.ensure() in a notebook, `labkit sim up` in a terminal.",
            ) from None

    def _dial_direct(self, target: Target, port: int, timeout: float) -> Sock:
        try:
            return socket.create_connection((target.address, port), timeout=timeout)
        except TimeoutError:
            verdict, text = "filtered", "Connection timed out"
        except ConnectionRefusedError:
            verdict, text = "refused", "Connection refused"
        except OSError as exc:
            unreachable = exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH)
            verdict, text = ("unreachable" if unreachable else "error"), str(exc)
        raise GuestConnectFailed(target.name, target.address, port, verdict, text)

    def _dial_via_controller(self, env: SshEnv, target: Target, port: int, timeout: float) -> Sock:
        """Through the controller, which sits on the provider network: a ``direct-tcpip``
        channel over labkit's own verified SSH connection to it (as ``ssh -J`` would)."""
        import paramiko

        from labkit.hosts.ssh import HostConnection

        controller = HostConnection.for_host(
            env, env.controller.name, state_root=self.backend.paths.root.parent
        ).connect()
        transport = controller._transport  # the connection's own, verified and logged in
        assert transport is not None
        try:
            return transport.open_channel(
                "direct-tcpip", (target.address, port), ("127.0.0.1", 0), timeout=timeout
            )
        except (paramiko.ChannelException, paramiko.SSHException, OSError) as exc:
            controller.close()
            refused = isinstance(exc, paramiko.ChannelException) and exc.code == 2
            verdict = "refused" if refused else "filtered"
            raise GuestConnectFailed(target.name, target.address, port, verdict, str(exc)) from exc

    def ssh(
        self,
        server: Server | str,
        key: str | Path | paramiko.PKey | None = None,
        user: str | None = None,
        command: str | None = None,
        timeout: float | None = None,
        wait: float = KEYS_WAIT,
    ) -> GuestSession | Output:
        """Log in to ``server``'s guest (see the module docstring). ``key``: a private key
        file (or a paramiko key); None tries ssh-agent and ``~/.ssh/id_*`` as ``ssh`` does.
        ``user``: the image's default user unless given. ``timeout``: the connect timeout
        (default ``$LABKIT_CONNECT_TIMEOUT`` or 10 s). ``wait``: how long a booting guest
        may take to print its host keys. With ``command``, runs it, logs out and returns
        its :class:`Output`; else returns the open :class:`GuestSession`."""
        import paramiko

        target = self.target(server)
        status = target.server.status
        if status != "ACTIVE":
            raise GuestAccessError(
                f"{target.name} is {status}, not ACTIVE: no guest runs to log in to.",
                _STATUS_FIX.get(status, "").format(name=target.name)
                or f"lab.why_no_ssh({target.name!r}).",
            )
        console = self.trust_host_keys(target, wait)
        login = user or target.user
        limit = nc.connect_timeout() if timeout is None else timeout
        client = paramiko.SSHClient()
        client.set_log_channel(PARAMIKO_LOG)
        client.load_host_keys(str(self.known_hosts))
        client.set_missing_host_key_policy(
            paramiko.RejectPolicy() if console.trusted else _console_policy(console)
        )
        sock = self.dial(target, SSH_PORT, limit)
        try:
            client.connect(
                target.address,
                SSH_PORT,
                username=login,
                sock=sock,
                timeout=limit,
                banner_timeout=limit,
                auth_timeout=limit,
                **_key_arguments(key),
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise _host_key_error(target, exc.key) from None
        except paramiko.AuthenticationException as exc:
            client.close()
            shown = key if isinstance(key, str | Path) else "ssh-agent and ~/.ssh/id_*"
            reason = str(exc).rstrip(".") or "public key refused"
            raise GuestAccessError(
                f"{login}@{target.address} ({target.name}) refused the key {shown}: {reason}.",
                f"Offer the private key of the keypair {target.server.key_name!r} the server "
                f"was booted with (and the image's user, {target.user!r}); "
                f"lab.why_no_ssh({target.name!r}, key=...) compares them.",
            ) from None
        except paramiko.SSHException as exc:
            client.close()
            if "known_hosts" in str(exc) or "not found" in str(exc):
                transport_key = getattr(exc, "key", None)
                raise _host_key_error(target, transport_key) from None
            raise GuestAccessError(
                f"SSH to {target.address} ({target.name}) failed: {exc}.",
                f"lab.why_no_ssh({target.name!r}) checks each hop.",
            ) from None
        except OSError as exc:
            client.close()
            raise GuestAccessError(
                f"SSH to {target.address} ({target.name}) failed: {exc}.",
                f"lab.why_no_ssh({target.name!r}) checks each hop.",
            ) from None
        session = GuestSession(client, target, login)
        if command is None:
            return session
        with session:
            return session.run(command, timeout=max(limit, 60.0))

    # ---- the terminal's ssh --------------------------------------------------------------
    def ssh_command(
        self,
        server: Server | str,
        key: str | None = None,
        user: str | None = None,
        command: list[str] | None = None,
        wait: float = KEYS_WAIT,
    ) -> list[str]:
        """The system ``ssh`` command line that logs in to ``server`` (after recording its
        host keys from the console): ``-F <state>/ssh_config`` on the sim, strict options
        naming the lab's known_hosts elsewhere."""
        target = self.target(server)
        console = self.trust_host_keys(target, wait)
        if not console.trusted:
            raise GuestAccessError(
                f"{target.name}'s console shows fingerprints but not the keys themselves.",
                "OpenSSH needs the keys in known_hosts; compare the fingerprint it shows "
                "with `openstack console log show` yourself, or use lab.ssh() in a notebook.",
            )
        argv = ["ssh"]
        if isinstance(self.backend, SimBackend):
            config = self.backend.paths.ssh_config
            if not config.exists():
                raise GuestAccessError(
                    f"No {config}: it is written when the sim starts.",
                    "Start the sim (`labkit sim up`), then try again.",
                )
            argv += ["-F", str(config)]
        else:
            argv += [
                "-o",
                f"UserKnownHostsFile={self.known_hosts}",
                "-o",
                "StrictHostKeyChecking=yes",
            ]
            env = self.backend.env
            if isinstance(env, SshEnv) and env.ssh.jump:
                argv += ["-J", env.ssh.jump]
        if key:
            argv += ["-i", str(Path(key).expanduser())]
        argv.append(f"{user or target.user}@{target.address}")
        if command:
            argv += ["--", *command]
        return argv

    def ssh_config(self) -> Path:
        """The OpenSSH client config for this lab's guests (``ssh -F PATH ...``): on the sim
        the one the sim writes (its ProxyCommand goes through the sim's gateway); elsewhere
        one labkit writes here -- the guests are reached directly (or through the env's
        jump host), and only host keys recorded in the lab's known_hosts, which come from
        the consoles, are accepted."""
        config = self.backend.paths.ssh_config
        if isinstance(self.backend, SimBackend):
            return config
        lines = [
            "# Written by labkit: the lab's guests, host keys from their console logs only.",
            "Host *",
            f"    UserKnownHostsFile {self.known_hosts}",
            "    StrictHostKeyChecking yes",
            "    IdentitiesOnly yes",
        ]
        env = self.backend.env
        if isinstance(env, SshEnv) and env.ssh.jump:
            lines.append(f"    ProxyJump {env.ssh.jump}")
        text = "\n".join(lines) + "\n"
        if not config.is_file() or config.read_text() != text:
            config.parent.mkdir(parents=True, exist_ok=True)
            config.write_text(text)
        return config

    # ---- why no SSH? ---------------------------------------------------------------------
    def why_no_ssh(
        self, server: Server | str, key: str | Path | None = None, user: str | None = None
    ) -> SshDiagnosis:
        """Check each hop to ``server``'s SSH server in order (see the module docstring);
        ``key`` is the private (or ``.pub``) key file you offer."""
        from openstack import exceptions

        conn = self._conn()
        ident = server if isinstance(server, str) else server.id
        try:
            found = conn.compute.find_server(ident, ignore_missing=False, all_projects=True)
        except exceptions.NotFoundException:
            raise GuestAccessError(
                f"No server {ident!r}.", "`openstack server list --all-projects` lists them."
            ) from None
        srv = conn.compute.get_server(found.id)
        address = fixed_address(srv) or ""
        login = user or default_user(conn, srv)
        report = SshDiagnosis(str(srv.name), address, login)
        hops = (
            self._hop_server,
            self._hop_port,
            self._hop_rule,
            self._hop_keypair,
            self._hop_metadata,
            self._hop_sshd,
        )
        state: dict[str, Any] = {"conn": conn, "server": srv, "key": key, "user": login}
        for hop in hops:
            if report.failed is not None:
                report.checks.append(Check(_HOP_NAMES[hop.__name__], None, "not checked"))
                continue
            report.checks.append(hop(state, report))
        return report

    def _hop_server(self, state: dict[str, Any], report: SshDiagnosis) -> Check:
        srv = state["server"]
        name = "the server is ACTIVE"
        if srv.status == "ACTIVE":
            return Check(name, True, f"ACTIVE on {srv.compute_host or 'its host'}")
        found = f"status {srv.status}"
        fault = srv.fault or {}
        if fault.get("message"):
            found += f" (fault: {fault['message']})"
        fix = _STATUS_FIX.get(srv.status, "Wait, or read `openstack server show {name}`.")
        return Check(name, False, found, fix.format(name=srv.name))

    def _hop_port(self, state: dict[str, Any], report: SshDiagnosis) -> Check:
        conn, srv = state["conn"], state["server"]
        name = "its port is ACTIVE with an address"
        ports = list(conn.network.ports(device_id=srv.id))
        state["ports"] = ports
        if not ports:
            return Check(
                name,
                False,
                "no port has this server as its device",
                f"Attach one: `openstack server add network {srv.name} provider`.",
            )
        port = next(
            (p for p in ports for ip in p.fixed_ips if ip["ip_address"] == report.address),
            ports[0],
        )
        state["port"] = port
        addresses = [ip["ip_address"] for ip in port.fixed_ips]
        if not addresses:
            return Check(
                name,
                False,
                f"port {port.id[:8]} has no fixed IP",
                "Its subnet's pool may be exhausted: `openstack subnet show` (allocation_pools).",
            )
        if port.status != "ACTIVE":
            host = port.binding_host_id or "its host"
            return Check(
                name,
                False,
                f"port {port.id[:8]} ({addresses[0]}) is {port.status}",
                f"The Linux bridge agent on {host} has not plugged it: is it alive? "
                "`openstack network agent list`; on the host, "
                "`service neutron-linuxbridge-agent status`.",
            )
        return Check(name, True, f"port {port.id[:8]} ACTIVE with {', '.join(addresses)}")

    def _rule_check(
        self, state: dict[str, Any], protocol: str, port: int | None, hop: str
    ) -> Check:
        conn, the_port = state["conn"], state["port"]
        source = self.source_address()
        where = f"from {source}" if source else "from anywhere"
        label = "tcp/22" if protocol == "tcp" else "icmp"
        if the_port.is_port_security_enabled is False:
            return Check(hop, True, "port security is off on this port: nothing is filtered")
        groups = list(the_port.security_group_ids or [])
        names: dict[str, str] = {}
        for group_id in groups:
            with contextlib.suppress(Exception):
                names[group_id] = conn.network.get_security_group(group_id).name
        shown = ", ".join(names.get(g, g[:8]) for g in groups) or "none"
        for group_id in groups:
            for rule in conn.network.security_group_rules(security_group_id=group_id):
                if _rule_lets_in(rule, protocol, port, source):
                    peer = rule.remote_ip_prefix or "anywhere"
                    return Check(
                        hop,
                        True,
                        f"group {names.get(group_id, group_id[:8])} lets {label} in from {peer}",
                    )
        group = names.get(groups[0], groups[0]) if groups else "default"
        flags = "--protocol tcp --dst-port 22" if protocol == "tcp" else "--protocol icmp"
        found = f"no ingress {label} rule {where} in the port's groups ({shown})"
        if protocol == "tcp":
            found += ": the connection is filtered (it times out)"
        return Check(
            hop,
            False,
            found,
            f"`openstack security group rule create {flags} {group}`"
            + (" (as the project's user)" if groups else ""),
        )

    def _hop_rule(self, state: dict[str, Any], report: SshDiagnosis) -> Check:
        check = self._rule_check(state, "tcp", SSH_PORT, "a security group lets tcp/22 in")
        ping = self._rule_check(
            state, "icmp", None, "ping (not needed for SSH): a security group lets icmp in"
        )
        report.extra.append(ping)
        return check

    def _hop_keypair(self, state: dict[str, Any], report: SshDiagnosis) -> Check:
        from openstack import exceptions

        conn, srv, key = state["conn"], state["server"], state["key"]
        name = "the server's keypair is the key you offer"
        if not srv.key_name:
            return Check(
                name,
                False,
                "the server was booted without a keypair (--key-name)",
                "A guest gets its key at first boot only: boot a new server with "
                "--key-name KEYPAIR (or put the key in user data's ssh_authorized_keys).",
            )
        try:
            keypair = conn.compute.get_keypair(srv.key_name, user_id=srv.user_id)
        except exceptions.SDKException:
            keypair = None
        state["keypair"] = keypair
        if key is None:
            where = f"fingerprint {keypair.fingerprint}" if keypair is not None else "deleted since"
            return Check(
                name,
                None,
                f"booted with keypair {srv.key_name!r} ({where}); pass key=... to compare",
            )
        try:
            key_type, blob = _public_key_of(key)
        except (OSError, ValueError) as exc:
            return Check(name, None, f"cannot read the key {key}: {exc}")
        state["offered"] = (key_type, blob)
        mine = guestkeys.md5_fingerprint(blob)
        if keypair is None:
            return Check(
                name,
                None,
                f"keypair {srv.key_name!r} no longer exists; the guest still has the key it "
                "got at boot (the console check below compares it)",
            )
        if keypair.fingerprint == mine:
            return Check(name, True, f"{key} matches keypair {srv.key_name!r} ({mine})")
        return Check(
            name,
            False,
            f"{key} has fingerprint {mine}; keypair {srv.key_name!r} has {keypair.fingerprint}",
            f"Offer the private key of {srv.key_name!r} (`openstack keypair show "
            f"{srv.key_name}` shows its fingerprint; `ssh-keygen -E md5 -lf KEY` shows a "
            "file's). A running server's key cannot be swapped: boot a new one with the key "
            "you have.",
        )

    def _hop_metadata(self, state: dict[str, Any], report: SshDiagnosis) -> Check:
        srv, login = state["server"], state["user"]
        name = "the guest got its key from the metadata service"
        try:
            text = self.console(srv.id)
        except Exception as exc:  # the console is optional on some clouds
            return Check(name, None, f"no console log to read ({exc})")
        failures = guestkeys.metadata_failures(text)
        installed = guestkeys.authorized_keys(text).of(login)
        if failures and not installed:
            return Check(
                name,
                False,
                f"cloud-init could not reach the metadata service: {failures[-1][:160]}",
                "The DHCP agent serves 169.254.169.254 on the network "
                "(enable_isolated_metadata = true in dhcp_agent.ini), the "
                "neutron-metadata-agent forwards to nova-api's metadata: "
                "`openstack network agent list`; then reboot the server "
                f"(`openstack server reboot {srv.name}`) so cloud-init tries again.",
            )
        if installed is None:
            done = "Cloud-init v." in text and "finished" in text
            found = (
                f"the console says nothing about {login}'s keys"
                if done
                else "cloud-init has not finished on the console yet (still booting?)"
            )
            return Check(name, None, found)
        if not installed:
            return Check(
                name,
                False,
                f"cloud-init installed no key for {login}",
                "The server needs --key-name at boot (or ssh_authorized_keys in user data); "
                "also check the user: the image's default user is "
                f"{state['user']!r}.",
            )
        offered = state.get("offered")
        if offered is not None and not any(k.matches(*offered) for k in installed):
            return Check(
                name,
                False,
                f"{login}'s authorized keys ({len(installed)}) do not include the key you offer",
                "Offer the key the server was booted with.",
            )
        return Check(name, True, f"{len(installed)} key(s) in {login}'s authorized_keys")

    def _hop_sshd(self, state: dict[str, Any], report: SshDiagnosis) -> Check:
        srv = state["server"]
        name = "the guest's SSH server answers"
        target = Target(srv, report.address, state["user"])
        try:
            sock = self.dial(target, SSH_PORT, BANNER_TIMEOUT, wait=False)
        except GuestConnectFailed as exc:
            fixes = {
                "filtered": "The rule is there but packets are still dropped: has the Linux "
                "bridge agent on the server's host applied it (`openstack network agent "
                "list`)? Is your address inside the rule's remote prefix?",
                "refused": "The guest is up but sshd is not listening: wait for the boot to "
                f"finish, or reboot it (`openstack server reboot {srv.name}`).",
                "unreachable": "Nothing answers at the address: is the guest running on its "
                f"host? `openstack server show {srv.name}`, `openstack console log show`.",
            }
            return Check(name, False, exc.message, fixes.get(exc.verdict, exc.hint))
        except GuestAccessError as exc:
            return Check(name, False, exc.message, exc.hint)
        try:
            banner = _read_banner(sock, BANNER_TIMEOUT)
        finally:
            with contextlib.suppress(Exception):
                sock.close()
        if banner.startswith("SSH-"):
            return Check(name, True, banner)
        return Check(
            name,
            False,
            f"something answered without an SSH banner: {banner[:60]!r}",
            f"Reboot the server: `openstack server reboot {srv.name}`.",
        )


_HOP_NAMES = {
    "_hop_server": "the server is ACTIVE",
    "_hop_port": "its port is ACTIVE with an address",
    "_hop_rule": "a security group lets tcp/22 in",
    "_hop_keypair": "the server's keypair is the key you offer",
    "_hop_metadata": "the guest got its key from the metadata service",
    "_hop_sshd": "the guest's SSH server answers",
}


def _console_policy(console: guestkeys.ConsoleHostKeys) -> paramiko.MissingHostKeyPolicy:
    """A host-key policy for a console that shows fingerprints but no keys: paramiko asks
    it about every key not in known_hosts, and it accepts only a key the console vouches
    for."""
    import paramiko

    class ConsoleFingerprints(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client: Any, hostname: str, key: paramiko.PKey) -> None:
            if not console.vouches_for(key.get_name(), key.get_base64()):
                raise paramiko.SSHException(f"Server {hostname!r} not found in known_hosts")

    return ConsoleFingerprints()


def _host_key_error(target: Target, key: Any) -> GuestAccessError:
    seen = ""
    if key is not None:
        seen = f" ({key.get_name()} {guestkeys.sha256_fingerprint(key.get_base64())})"
    return GuestAccessError(
        f"{target.address} offered a host key{seen} that {target.name}'s console log does "
        "not show: labkit refuses it.",
        "If the server was just rebuilt, its console prints new keys shortly -- try again. "
        "Otherwise another machine answers at that address: do not log in.",
    )


def _key_arguments(key: str | Path | paramiko.PKey | None) -> dict[str, Any]:
    if key is None:
        return {"allow_agent": True, "look_for_keys": True}
    if isinstance(key, str | Path):
        path = Path(key).expanduser()
        if path.suffix == ".pub":
            path = path.with_suffix("")  # the private key next to it
        if not path.is_file():
            raise GuestAccessError(
                f"No private key file {path}.",
                "Pass the private key (not the .pub) you imported with "
                "`openstack keypair create --public-key KEY.pub`.",
            )
        return {"key_filename": str(path), "allow_agent": False, "look_for_keys": False}
    return {"pkey": key, "allow_agent": False, "look_for_keys": False}


def _public_key_of(key: str | Path) -> tuple[str, str]:
    """(type, base64 blob) of a public key file, or of the public half of a private one."""
    path = Path(key).expanduser()
    pub = path if path.suffix == ".pub" else Path(f"{path}.pub")
    if pub.is_file():
        return guestkeys.public_key_parts(pub.read_text())
    import paramiko

    try:
        pkey = paramiko.PKey.from_path(path)
    except (paramiko.SSHException, ValueError) as exc:
        raise ValueError(str(exc) or "not a key file") from None
    return pkey.get_name(), pkey.get_base64()


def _read_banner(sock: Sock, timeout: float) -> str:
    """The first line the server sends (``SSH-2.0-OpenSSH_...``)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\n" not in data and len(data) < 256:
            chunk = sock.recv(256)
            if not chunk:
                break
            data += chunk
    except (TimeoutError, OSError):
        pass
    return data.split(b"\n", 1)[0].decode(errors="replace").strip()
