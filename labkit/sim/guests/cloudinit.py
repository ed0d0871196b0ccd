"""cloud-init inside a guest: find the instance's data, make the machine that instance.

A cloud image is the same for every server; cloud-init is what makes it *yours* at first
boot. It runs in four stages (systemd units), and the console shows each one starting:

1. ``init-local`` -- before the network: a config drive (``--config-drive true``) is read
   here, from the ISO Nova attached as ``/dev/sr0``;
2. ``init`` -- the network is up: without a config drive, the OpenStack datasource probes
   ``http://169.254.169.254/openstack`` and reads ``openstack/latest/meta_data.json``
   (hostname, ``public_keys``, uuid), ``user_data``, ``network_data.json`` and
   ``vendor_data2.json``. The request leaves through the guest's port, so its security
   groups' egress rules apply, and Neutron's metadata proxy knows the instance by its
   address. Then the per-instance modules: hostname, the default user and the ``users`` of
   ``#cloud-config``, ``write_files``, and ``ssh``: new host keys, and the public keys
   installed in the default user's ``~/.ssh/authorized_keys``;
3. ``modules:config`` -- ``runcmd`` is written out as a script;
4. ``modules:final`` -- ``packages``, the user scripts (``runcmd``), the table of the
   authorized keys' fingerprints, the host keys printed between ``-----BEGIN SSH HOST KEY
   ...-----`` markers, and the final message: ``Cloud-init v. 23.1 finished at ...``.

What ran for which instance is cached (``/var/lib/cloud/instance``): on a reboot the cache
still names this instance, so only the per-boot work runs -- no new host keys, no second
``runcmd``, and no new key block on the console. If the metadata service cannot be reached
(no egress rule, no metadata proxy) cloud-init logs ``url_helper.py[WARNING]: Calling
'http://169.254.169.254/openstack' failed ...``, falls back to ``DataSourceNone``, and the
default user has no key: nothing can log in -- the classic "why can't I SSH?".

Everything cloud-init prints goes to the console and to ``/var/log/cloud-init-output.log``.
This module is pure: the datasource, the clock, the console and the script runner are
handed in, so tests drive it without a sim.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import gzip
import hashlib
import ipaddress
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml

from labkit.sim.core.hypervisor import GuestNic
from labkit.sim.core.wire import METADATA_ADDRESS, Verdict, WireError, WireResponse
from labkit.sim.guests.boot import BootClock, ConsoleLog
from labkit.sim.guests.keys import HostKey, fingerprints_block, keys_block, make_host_keys
from labkit.sim.guests.system import GuestSystem

VERSION = "23.1"
METADATA_URL = f"http://{METADATA_ADDRESS}"
DOCUMENTS = ("meta_data.json", "user_data", "network_data.json", "vendor_data2.json")
DISABLE_ROOT_OPTS = (
    "no-port-forwarding,no-agent-forwarding,no-X11-forwarding,command=\"echo 'Please login "
    'as the user \\"{user}\\" rather than the user \\"root\\".\';echo;sleep 10;exit 142" '
)
RUNCMD = "/var/lib/cloud/instance/scripts/runcmd"
USER_SCRIPT = "/var/lib/cloud/instance/scripts/part-001"
USER_DATA = "/var/lib/cloud/instance/user-data.txt"


class Interrupted(Exception):
    """The guest was powered off while cloud-init ran: nothing more is written."""


class SourceError(Exception):
    """A datasource read failed; the text is url_helper's reason (``request error [...]``)."""


class Datasource(Protocol):
    label: str  # as the final message names it: "DataSourceOpenStack [net,ver=2]"
    base_url: str  # what cloud-init says it reads from

    def probe(self) -> None:
        """Raises :class:`SourceError` when the source is not there."""

    def read(self, name: str) -> bytes | None:
        """``openstack/latest/<name>``: its bytes, None when absent (a 404); raises
        :class:`SourceError` for anything else."""

    def read_all(self, names: tuple[str, ...]) -> dict[str, bytes | None]:
        """Several files (:meth:`read` each)."""


class MetadataService:
    """The OpenStack metadata service, over HTTP through the wire (``fetch`` sends a GET
    for a path and returns the response, or raises WireError)."""

    label = "DataSourceOpenStack [net,ver=2]"
    base_url = METADATA_URL

    def __init__(
        self,
        fetch: Callable[[str], WireResponse],
        seed: str,
        pool: concurrent.futures.Executor | None = None,
    ) -> None:
        self._fetch = fetch
        self._pool = pool  # cloud-init reads one file after the other; the sim need not
        # urllib3 names the connection object that failed by its address in memory
        self._object = f"0x7f{hashlib.sha256(seed.encode()).hexdigest()[:10]}"

    def _get(self, path: str) -> WireResponse:
        try:
            return self._fetch(path)
        except WireError as exc:
            raise SourceError(self._connection_error(path, exc.verdict)) from None

    def _connection_error(self, path: str, verdict: Verdict) -> str:
        pool = f"HTTPConnectionPool(host='{METADATA_ADDRESS}', port=80): Max retries exceeded "
        pool += f"with url: {path}"
        conn = f"<urllib3.connection.HTTPConnection object at {self._object}>"
        if verdict is Verdict.FILTERED:
            cause = (
                f"ConnectTimeoutError({conn}, 'Connection to {METADATA_ADDRESS} timed out. "
                "(connect timeout=10.0)')"
            )
        else:
            errno = (
                "[Errno 113] No route to host"
                if verdict is Verdict.UNREACHABLE
                else ("[Errno 111] Connection refused")
            )
            cause = f"NewConnectionError('{conn}: Failed to establish a new connection: {errno}')"
        return f"request error [{pool} (Caused by {cause}))]"

    def probe(self) -> None:
        answer = self._get("/openstack")
        if answer.status != 200:
            raise SourceError(_status_error(answer.status, f"{METADATA_URL}/openstack"))

    def read(self, name: str) -> bytes | None:
        path = f"/openstack/latest/{name}"
        answer = self._get(path)
        if answer.status == 404:
            return None
        if answer.status != 200:
            raise SourceError(_status_error(answer.status, METADATA_URL + path))
        return answer.body

    def read_all(self, names: tuple[str, ...]) -> dict[str, bytes | None]:
        if self._pool is None:
            return {name: self.read(name) for name in names}
        futures = {name: self._pool.submit(self.read, name) for name in names}
        return {name: future.result() for name, future in futures.items()}


def _status_error(status: int, url: str) -> str:
    kind = "Client" if status < 500 else "Server"
    reason = {
        403: "Forbidden",
        404: "Not Found",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
    }.get(status, "Error")
    return f"request error [{status} {kind} Error: {reason} for url: {url}]"


class ConfigDrive:
    """The config drive Nova attaches (an ISO labelled ``config-2``): the same documents,
    read from ``/dev/sr0`` with no network at all."""

    label = "DataSourceConfigDrive [net,ver=2][source=/dev/sr0]"
    base_url = "/dev/sr0"

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def probe(self) -> None:
        if "openstack/latest/meta_data.json" not in self.files:
            raise SourceError("no openstack/latest/meta_data.json on the config drive")

    def read(self, name: str) -> bytes | None:
        return self.files.get(f"openstack/latest/{name}")

    def read_all(self, names: tuple[str, ...]) -> dict[str, bytes | None]:
        return {name: self.read(name) for name in names}


ScriptRunner = Callable[[str, str], tuple[int, str]]  # (path, script) -> (status, output)


@dataclass
class CloudInit:
    """One boot's cloud-init. Call the stages in order; each may raise Interrupted."""

    system: GuestSystem
    uuid: str
    nics: tuple[GuestNic, ...]
    clock: BootClock
    console: ConsoleLog
    source: Datasource
    run_script: ScriptRunner
    key_seed: str | None = None  # deterministic host keys (None: random)
    alive: Callable[[], bool] = lambda: True
    pid: int = 0
    # filled as it runs
    found: bool = False  # the datasource answered
    new_instance: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    host_keys: list[HostKey] = field(default_factory=list)

    # ---- output ---------------------------------------------------------------------------
    def _line(self, text: str, service: bool = True) -> None:
        if not self.alive():
            raise Interrupted()
        shown = f"{self.clock.stamp()} cloud-init[{self.pid}]: {text}" if service else text
        self.console.write(shown)
        self.system.write(
            "/var/log/cloud-init-output.log", f"{text}\n", group="adm", mode=0o640, append=True
        )

    def say(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            self._line(line)

    def warn(self, module: str, text: str, level: str = "WARNING") -> None:
        stamp = self.clock.now().strftime("%Y-%m-%d %H:%M:%S,") + f"{self.clock.now():%f}"[:3]
        self._line(f"{stamp} - {module}[{level}]: {text}")

    def logger(self, tag: str, lines: list[str]) -> None:
        """``logger -p user.info -t TAG``: syslog's priority and header on each line."""
        for line in lines:
            self._line(f"<14>{self.clock.syslog()} {tag}: {line}", service=False)

    def _stage(self, name: str) -> None:
        self.say(
            f"Cloud-init v. {VERSION} running '{name}' at {self.clock.date()}. Up "
            f"{self.clock.uptime:.2f} seconds."
        )

    # ---- stages ---------------------------------------------------------------------------
    def init_local(self) -> None:
        self.pid = self.pid or 400 + int(self.clock.jitter(100))
        self._stage("init-local")
        self.clock.advance(0.4)

    def init(self) -> None:
        self.clock.advance(1.2)
        self._stage("init")
        for line in _net_tables(self.nics):
            self.say(f"ci-info: {line}")
        self.new_instance = self.system.instance_id != self.uuid
        if self.new_instance:
            self._crawl()
        else:
            self.found = True
            cached = self.system.files.get(USER_DATA)
            self.config = _cloud_config(cached.content if cached else "", self.warn)
        self._per_boot_early()
        if self.new_instance:
            self._set_hostname()
            self._users()
            self._write_files(deferred=False)
            self._ssh()
            self.system.instance_id = self.uuid if self.found else "iid-datasource-none"
            self.system.datasource = self.source.label if self.found else "DataSourceNone"
        self.clock.advance(0.8)

    def modules_config(self) -> None:
        self._stage("modules:config")
        if self.new_instance and self.config.get("runcmd"):
            script = "#!/bin/sh\n" + "".join(
                f"{_command_line(c)}\n" for c in self.config["runcmd"] if c is not None
            )
            self.system.write(RUNCMD, script, mode=0o700)
        self.clock.advance(0.9)

    def modules_final(self) -> None:
        self.clock.advance(0.6)
        self._stage("modules:final")
        if self.new_instance:
            self._packages()
            self._write_files(deferred=True)
            self._scripts()
            self._authkey_fingerprints()
            self._keys_to_console()
        self.clock.advance(0.3)
        self._final_message()

    # ---- init: the datasource ---------------------------------------------------------------
    def _crawl(self) -> None:
        """DataSourceOpenStack.get_data (or ConfigDrive's): probe, then read the files."""
        try:
            self.source.probe()
        except SourceError as exc:
            self._unreachable(str(exc))
            return
        try:
            raw = self.source.read_all(DOCUMENTS)
        except SourceError as exc:
            url = f"{self.source.base_url}/openstack/latest/meta_data.json"
            self.warn("url_helper.py", f"Calling '{url}' failed [0/-1s]: {exc}")
            self.warn(
                "util.py",
                "Getting data from <class 'cloudinit.sources.DataSource"
                f"{'OpenStack' if 'OpenStack' in self.source.label else 'ConfigDrive'}"
                f"'> failed",
            )
            return
        meta = raw.get("meta_data.json")
        if meta is None:
            self.warn("util.py", f"Broken metadata address {self.source.base_url}")
            return
        try:
            self.metadata = json.loads(meta)
        except ValueError:
            self.warn("util.py", f"Broken metadata address {self.source.base_url}")
            return
        self.found = True
        user_data = _decode_user_data(raw.get("user_data"))
        self.system.write(USER_DATA, user_data, mode=0o600)
        self.config = _cloud_config(user_data, self.warn)
        if user_data and not user_data.startswith(("#cloud-config", "#!")):
            self.warn(
                "__init__.py",
                "Unhandled non-multipart (text/x-not-multipart) userdata: "
                f"'{user_data[:40].encode()!r}...'",
            )

    def _unreachable(self, reason: str) -> None:
        url = f"{METADATA_URL}/openstack"
        self.warn("url_helper.py", f"Calling '{url}' failed [0/-1s]: {reason}")
        if "timed out" in reason:
            self.clock.advance(10.0)  # urllib3's connect timeout
        self.warn("url_helper.py", f"Timed out, no response from urls: ['{url}']", "ERROR")
        self.warn(
            "DataSourceOpenStack.py",
            f"Giving up on OpenStack md from ['{url}'] after {int(self.clock.uptime) % 20} seconds",
        )

    # ---- init: per-instance modules ---------------------------------------------------------
    def _per_boot_early(self) -> None:
        """bootcmd (every boot, before anything else)."""
        commands = self.config.get("bootcmd") or []
        if isinstance(commands, list) and commands:
            script = "".join(f"{_command_line(c)}\n" for c in commands if c is not None)
            _, output = self.run_script("/var/lib/cloud/instance/boothooks/bootcmd", script)
            if output:
                self.say(output.rstrip("\n"))

    def _set_hostname(self) -> None:
        """cc_set_hostname: ``hostname``/``fqdn`` of the user data, else the metadata's."""
        config, system = self.config, self.system
        if config.get("preserve_hostname") is True:
            return
        fqdn = str(config.get("fqdn") or "")
        name = str(config.get("hostname") or "")
        if not name:
            name = str(self.metadata.get("hostname") or "")
        if not name and not fqdn:
            return
        if not fqdn and "." in name:
            fqdn = name
        short = name.split(".")[0] if name else fqdn.split(".")[0]
        system.hostname, system.fqdn = short, fqdn or short
        system.write("/etc/hostname", f"{short}\n")
        names = f"{fqdn} {short}" if fqdn and fqdn != short else short
        system.write("/etc/hosts", f"127.0.0.1 localhost\n127.0.1.1 {names}\n")

    def _users(self) -> None:
        """cc_users_groups: the default user unless ``users`` leaves it out, then the
        listed users with their groups, sudo rules and keys."""
        system, profile = self.system, self.system.profile
        listed = self.config.get("users", ["default"])
        if not isinstance(listed, list):
            listed = ["default"]
        for entry in listed:
            if entry == "default":
                system.add_user(
                    system.default_user,
                    list(profile.groups),
                    sudo=True,
                    gecos=profile.distro.capitalize(),
                )
            elif isinstance(entry, str):
                system.add_user(entry)
            elif isinstance(entry, dict) and entry.get("name"):
                groups = entry.get("groups") or []
                if isinstance(groups, str):
                    groups = [g.strip() for g in groups.split(",") if g.strip()]
                sudo = entry.get("sudo")
                user = system.add_user(
                    str(entry["name"]),
                    [str(g) for g in groups],
                    sudo=bool(sudo) and sudo is not False and "NOPASSWD" in str(sudo),
                    shell=entry.get("shell"),
                    gecos=str(entry.get("gecos") or ""),
                )
                keys = entry.get("ssh_authorized_keys") or entry.get("ssh-authorized-keys")
                if isinstance(keys, list):
                    system.add_authorized_keys(user.name, [str(k) for k in keys])
        for user in system.users.values():
            if user.sudo and user.name != "root":
                system.write(
                    "/etc/sudoers.d/90-cloud-init-users",
                    f"# User rules for {user.name}\n{user.name} ALL=(ALL) NOPASSWD:ALL\n",
                    mode=0o440,
                    append=True,
                )

    def _write_files(self, deferred: bool) -> None:
        for entry in self.config.get("write_files") or []:
            if not isinstance(entry, dict) or not entry.get("path"):
                continue
            if bool(entry.get("defer")) != deferred:
                continue
            content = _file_content(entry)
            if content is None:
                self.warn(
                    "cc_write_files.py",
                    f"Unknown encoding type {entry.get('encoding')}, assuming text/plain",
                )
                content = str(entry.get("content") or "")
            owner, _, group = str(entry.get("owner") or "root:root").partition(":")
            try:
                mode = int(str(entry.get("permissions") or "0644"), 8)
            except ValueError:
                mode = 0o644
            self.system.write(
                str(entry["path"]),
                content,
                owner,
                group or owner,
                mode,
                append=bool(entry.get("append")),
            )

    def _ssh(self) -> None:
        """cc_ssh: new host keys, then the public keys for the default user (and, with
        ``disable_root``, for root behind a command that tells you to use that user)."""
        system = self.system
        self.host_keys = make_host_keys(system.hostname, self.key_seed)
        for key in self.host_keys:
            system.write(key.path, key.private_openssh().decode(), mode=0o600)
            system.write(f"{key.path}.pub", f"{key.public_line()}\n")
        keys = _public_keys(self.metadata)
        extra = self.config.get("ssh_authorized_keys") or []
        if isinstance(extra, list):
            keys += [str(k) for k in extra]
        default = system.default_user if system.default_user in system.users else None
        if default is not None and keys:
            system.add_authorized_keys(default, keys)
        if self.config.get("disable_root", True) and keys:
            prefix = DISABLE_ROOT_OPTS.format(user=default or "root")
            system.add_authorized_keys("root", keys, prefix=prefix)
        elif keys:
            system.add_authorized_keys("root", keys)

    # ---- final --------------------------------------------------------------------------------
    def _packages(self) -> None:
        wanted = self.config.get("packages") or []
        if not isinstance(wanted, list) or not wanted:
            return
        names = [str(p[0] if isinstance(p, list) and p else p) for p in wanted]
        self.say(
            "Reading package lists...\nBuilding dependency tree...\nReading state information..."
        )
        for name in names:
            if name not in self.system.packages:
                self.system.packages.append(name)
                self.say(f"Setting up {name} ...")

    def _scripts(self) -> None:
        """scripts-user: the user-data shell script, then runcmd's script."""
        failed = False
        for path in (USER_SCRIPT, RUNCMD):
            if path == USER_SCRIPT:
                text = self.system.files.get(USER_DATA)
                if text is None or not text.content.startswith("#!"):
                    continue
                self.system.write(USER_SCRIPT, text.content, mode=0o700)
            script = self.system.files.get(path)
            if script is None:
                continue
            status, output = self.run_script(path, script.content)
            if output:
                self.say(output.rstrip("\n"))
            if status != 0:
                failed = True
                self.warn("subp.py", f"Failed running {path} [{status}]")
        if failed:
            self.warn(
                "cc_scripts_user.py",
                "Failed to run module scripts-user (scripts in /var/lib/cloud/instance/scripts)",
            )
            self.warn(
                "util.py",
                "Running module scripts-user (<module 'cloudinit.config."
                "cc_scripts_user' from '/usr/lib/python3/dist-packages/cloudinit/config/"
                "cc_scripts_user.py'>) failed",
            )

    def _authkey_fingerprints(self) -> None:
        """cc_ssh_authkey_fingerprints: per user, a table of the keys sshd will accept."""
        for user in self.system.users.values():
            if user.name == "root":
                continue
            keys = self.system.authorized_keys(user.name)
            path = self.system.authorized_keys_path(user.name)
            if not keys:
                self.say(
                    f"ci-info: no authorized SSH keys fingerprints found for user {user.name}."
                )
                continue
            rows = [_authkey_row(k) for k in keys]
            table = _table(["Keytype", "Fingerprint (sha256)", "Options", "Comment"], rows)
            width = len(table[0])
            title = f"Authorized keys from {path} for user {user.name}"
            self.say(f"ci-info: {title:+^{width}}")
            for line in table:
                self.say(f"ci-info: {line}")

    def _keys_to_console(self) -> None:
        self.logger("ec2", ["", *fingerprints_block(self.host_keys), *keys_block(self.host_keys)])

    def _final_message(self) -> None:
        source = self.source.label if self.found else "DataSourceNone"
        template = self.config.get("final_message")
        uptime = f"{self.clock.uptime:.2f}"
        if isinstance(template, str) and self.new_instance:
            text = (
                template.replace("$UPTIME", uptime)
                .replace("$TIMESTAMP", self.clock.date())
                .replace("$DATASOURCE", source)
                .replace("$VERSION", VERSION)
            )
        else:
            text = (
                f"Cloud-init v. {VERSION} finished at {self.clock.date()}. Datasource "
                f"{source}.  Up {uptime} seconds"
            )
        self.say(text)
        if not self.found:
            self.warn("cc_final_message.py", "Used fallback datasource")


# ---- helpers -------------------------------------------------------------------------------------


def _decode_user_data(raw: bytes | None) -> str:
    if not raw:
        return ""
    if raw[:2] == b"\x1f\x8b":
        with contextlib.suppress(OSError):
            raw = gzip.decompress(raw)
    return raw.decode("utf-8", "replace")


def _cloud_config(text: str, warn: Callable[[str, str], None]) -> dict[str, Any]:
    if not text.startswith("#cloud-config"):
        return {}
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        warn("util.py", f'Failed loading yaml blob. Invalid format{where}: "{problem}"')
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _command_line(entry: Any) -> str:
    """runcmd entries: a string as is, a list quoted word by word."""
    if isinstance(entry, list):
        return " ".join(shlex.quote(str(word)) for word in entry)
    return str(entry)


def _file_content(entry: dict[str, Any]) -> str | None:
    content = entry.get("content") or ""
    encoding = str(entry.get("encoding") or "text/plain").lower()
    if encoding in ("text/plain", "text"):
        return str(content)
    try:
        data = base64.b64decode(str(content))
        if encoding in ("b64", "base64"):
            return data.decode("utf-8", "replace")
        if encoding in ("gz+b64", "gzip+base64", "gz+base64", "gzip+b64"):
            return gzip.decompress(data).decode("utf-8", "replace")
    except (ValueError, OSError):
        return ""
    return None


def _public_keys(metadata: dict[str, Any]) -> list[str]:
    found = metadata.get("public_keys") or {}
    if isinstance(found, dict):
        return [str(v) for v in found.values() if v]
    if isinstance(found, list):
        return [str(v) for v in found if v]
    return []


def _authkey_row(line: str) -> list[str]:
    words = line.split()
    at = next((n for n, w in enumerate(words) if w.startswith("AAAA")), -1)
    if at < 1:
        return ["-", "-", "-", "-"]
    try:
        digest = hashlib.sha256(base64.b64decode(words[at])).digest()
        fingerprint = ":".join(f"{b:02x}" for b in digest)
    except ValueError:
        fingerprint = "-"
    options = " ".join(words[: at - 1]) or "-"
    return [words[at - 1], fingerprint, options, " ".join(words[at + 1 :]) or "-"]


def _table(fields: list[str], rows: list[list[str]]) -> list[str]:
    """cloud-init's SimpleTable: centred cells between ``+---+`` rules."""
    widths = [max(len(str(r[i])) for r in [fields, *rows]) for i in range(len(fields))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def row(cells: list[str]) -> str:
        return "|" + "|".join(str(c).center(widths[i] + 2) for i, c in enumerate(cells)) + "|"

    return [rule, row(fields), rule, *(row(r) for r in rows), rule]


def _net_tables(nics: tuple[GuestNic, ...]) -> list[str]:
    """The ``Net device info`` and ``Route IPv4 info`` tables cloud-init prints at init."""
    devices: list[list[str]] = []
    routes: list[list[str]] = []
    for n, nic in enumerate(nics):
        net = ipaddress.ip_network(nic.cidr, strict=False)
        devices.append([f"eth{n}", "True", nic.address, str(net.netmask), "global", nic.mac])
        if nic.gateway and not routes:
            routes.append([str(len(routes)), "0.0.0.0", nic.gateway, "0.0.0.0", f"eth{n}", "UG"])
        routes.append(
            [
                str(len(routes)),
                str(net.network_address),
                "0.0.0.0",
                str(net.netmask),
                f"eth{n}",
                "U",
            ]
        )
    devices.append(["lo", "True", "127.0.0.1", "255.0.0.0", "host", "."])
    out: list[str] = []
    for title, fields, rows in (
        ("Net device info", ["Device", "Up", "Address", "Mask", "Scope", "Hw-Address"], devices),
        (
            "Route IPv4 info",
            ["Route", "Destination", "Gateway", "Genmask", "Interface", "Flags"],
            routes,
        ),
    ):
        table = _table(fields, rows)
        out.append(f"{title:+^{len(table[0])}}")
        out += table
    return out
