"""Run install steps on real hosts over SSH, as a person following the Install Guide would.

Each step becomes the shell commands its ``commands()`` shows, plus a check that tells
whether it is already done (``dpkg-query``, ``crudini --get``, ``mysql``, ``pgrep`` ...), so
a second run changes nothing. Output streams to the caller line by line; secrets are filled
in only on the wire and masked in everything shown back.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from labkit.cloud import Credentials
from labkit.config import StatePaths
from labkit.envs import SshEnv
from labkit.errors import InstallError
from labkit.install import client_steps, profiles
from labkit.install import steps as st

Say = Callable[[str], None]
# Layers a lab installs only when asked (notebook 05's dashboard): their packages are not
# installed ahead with the others'.
OPTIONAL_LAYERS = ("horizon",)


class SshRunner:
    def __init__(
        self, env: SshEnv, paths: StatePaths, secrets: dict[str, str], say: Say | None = None
    ) -> None:
        self.env = env
        self.paths = paths
        self.secrets = secrets
        self.profile = profiles.get(env.distro)
        self._say = say
        self._connections: dict[str, Any] = {}
        self._apt_ready: set[str] = set()
        self._init: dict[str, str] = {}
        self._probes: dict[tuple[str, str], bool] = {}  # (host, probe) -> answer, per run
        self._ahead_asked = False

    # ---- plumbing ---------------------------------------------------------------------------
    def _conn(self, host: str) -> Any:
        if host not in self._connections:
            from labkit.hosts.ssh import HostConnection

            state_root = self.paths.root.parent
            self._connections[host] = HostConnection.for_host(
                self.env, host, state_root=state_root
            ).connect()
        return self._connections[host]

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()

    def _run(
        self,
        host: str,
        command: str,
        *,
        user: str | None = None,
        check: bool = False,
        timeout: float = 1800.0,
    ) -> Any:
        real = st.fill_secrets(command, self.secrets)
        echo = self._echo if self._say else None
        return self._conn(host).run(real, user=user, check=check, timeout=timeout, on_output=echo)

    def _echo(self, stream: str, line: str) -> None:
        if self._say:
            self._say(st.mask_secrets(line, self.secrets))

    def _ok(self, host: str, command: str) -> bool:
        return bool(self._run(host, command).exit_code == 0)

    def _output(self, result: Any) -> list[str]:
        text = (result.stdout or "") + (result.stderr or "")
        return [st.mask_secrets(line, self.secrets) for line in text.splitlines()][-40:]

    # ---- the runner protocol ----------------------------------------------------------------
    def check(self, step: st.Step, changed_paths: set[str]) -> bool:
        if isinstance(step, (st.WaitHttp, st.ProbeDatabase)):
            return False
        if client_steps.is_client_step(step):
            return client_steps.check(self._admin(), step, self.secrets)
        method = getattr(self, f"_check_{step.kind.replace('-', '_')}")
        return bool(method(step, changed_paths))

    def apply(self, step: st.Step, changed_paths: set[str]) -> tuple[int, list[str]]:
        if isinstance(step, st.Image) and self.env.local:
            return self._web_download(step)
        if client_steps.is_client_step(step):
            return client_steps.apply(self._admin(), step, self.secrets)
        method = getattr(self, f"_apply_{step.kind.replace('-', '_')}")
        return method(step, changed_paths)  # type: ignore[no-any-return]

    # ---- packages -----------------------------------------------------------------------------
    def _check_packages(self, step: st.Packages, changed: set[str]) -> bool:
        names = " ".join(shlex.quote(n) for n in self._package_names(step))
        result = self._run(step.host, f"dpkg-query -W -f='${{Status}}\\n' {names}")
        lines = result.stdout.splitlines()
        return (
            result.exit_code == 0
            and bool(lines)
            and all(line.strip() == "install ok installed" for line in lines)
        )

    def _package_names(self, step: st.Packages) -> list[str]:
        names = self.profile.package_names(step.names)
        if self._init_kind(step.host) == "sysv":
            names += self.profile.sysv_extras(step.names)
        return names

    def _apply_packages(self, step: st.Packages, changed: set[str]) -> tuple[int, list[str]]:
        """``apt-get install`` of the step's packages -- and, on hosts without an init system
        (local lab hosts), of every later layer's packages for this host in the same
        transaction, while the other hosts install theirs at the same time.

        Nothing starts at install there (postinst's invoke-rc.d finds no runlevel), so
        installing ahead changes no service: the later layers' package steps then find their
        packages installed ("already done") and configure and start them as before. One
        transaction per host instead of one per layer saves apt's own work (lists, the
        dependency solver, triggers) several times over, and the hosts' installs overlap.
        """
        names = self._package_names(step)
        ahead = self._ahead(step.host) if self._init_kind(step.host) == "sysv" else {}
        mine = names + [n for n in ahead.pop(step.host, []) if n not in names]
        others = {host: pkgs for host, pkgs in ahead.items() if pkgs}
        for host in [step.host, *others]:
            self._conn(host)  # connect before the threads: one connection per host
        with ThreadPoolExecutor(max_workers=1 + len(others)) as pool:
            background = {h: pool.submit(self._apt_install, h, pkgs) for h, pkgs in others.items()}
            code, out = self._apt_install(step.host, mine, echo=True)
            done = {h: job.result() for h, job in background.items()}
        if len(mine) > len(names):
            out.append(
                f"installed with them for the later layers on {step.host}: "
                + " ".join(sorted(set(mine) - set(names)))
            )
        for host, (other_code, other_out) in done.items():
            said = "installed" if other_code == 0 else f"FAILED (exit {other_code}), retried later"
            out.append(f"at the same time on {host}, {said}: " + " ".join(sorted(others[host])))
            if other_code != 0:
                out += other_out[-5:]
        return code, out

    def _apt_install(
        self, host: str, names: list[str], echo: bool = False
    ) -> tuple[int, list[str]]:
        out: list[str] = []
        if host not in self._apt_ready:
            # A fresh host (or a cached root) may have no package lists yet.
            fresh = self._conn(host).run(
                "find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 | grep -q .",
                check=False,
                timeout=60,
            )
            if fresh.exit_code != 0:
                update = self._conn(host).run("apt-get update -q", check=False, timeout=600)
                out += self._output(update)
                if update.exit_code != 0:
                    return update.exit_code, out
            self._apt_ready.add(host)
        quoted = " ".join(shlex.quote(n) for n in names)
        options = " ".join(self.profile.apt_options)
        command = f"DEBIAN_FRONTEND=noninteractive apt-get install -y -q {options} {quoted}"
        if echo:
            result = self._run(host, command, timeout=1800)
        else:  # a host installing in the background: its lines would interleave
            result = self._conn(host).run(command, check=False, timeout=1800)
        return result.exit_code, out + self._output(result)

    def _ahead(self, host: str) -> dict[str, list[str]]:
        """Per sysv host of the env, the packages the lab's layers install there that are
        not installed yet (asked once per runner: afterwards they are being installed)."""
        if self._ahead_asked:
            return {}
        self._ahead_asked = True
        from labkit import install
        from labkit.install.context import PlanContext

        ctx = PlanContext.for_env(self.env)
        steps: dict[str, list[st.Packages]] = {}
        for layer in install.names():
            if layer not in OPTIONAL_LAYERS:
                for step in install.get(layer).plan(ctx):
                    if isinstance(step, st.Packages):
                        steps.setdefault(step.host, []).append(step)
        missing: dict[str, list[str]] = {}
        for name, packages in steps.items():
            try:
                if name != host and self._init_kind(name) != "sysv":
                    continue
            except Exception:  # another host that does not answer: its own steps will say
                if name == host:
                    raise
                continue
            names: list[str] = []
            for step in packages:
                names += [n for n in self._package_names(step) if n not in names]
            quoted = " ".join(shlex.quote(n) for n in names)
            result = self._run(name, f"dpkg-query -W -f='${{Package}} ${{Status}}\\n' {quoted}")
            installed = {
                line.split()[0]
                for line in result.stdout.splitlines()
                if line.strip().endswith("install ok installed")
            }
            missing[name] = [n for n in names if n not in installed]
        return missing

    # ---- files ------------------------------------------------------------------------------
    def _check_ini_set(self, step: st.IniSet, changed: set[str]) -> bool:
        # One crudini for the whole file (``--format=lines`` prints every setting as
        # "[ section ] key = value", keys before any section under DEFAULT) instead of one
        # ``crudini --get`` per setting: a layer checks up to 40 settings, each a Python
        # start on the host.
        result = self._run(step.host, f"crudini --get --format=lines {shlex.quote(step.path)}")
        if result.exit_code != 0:
            return False
        current = crudini_lines(result.stdout)
        return all(
            current.get((section, key)) == st.fill_secrets(value, self.secrets)
            for section, key, value in step.settings
        )

    def _apply_ini_set(self, step: st.IniSet, changed: set[str]) -> tuple[int, list[str]]:
        # The step shows one ``crudini --set`` per setting, as the guide types them; applied,
        # they are one ``crudini --merge`` of the same settings read from stdin: the same
        # file (each key set in place, new keys at the end of their section), but one parse
        # of Debian's 10,000-line nova.conf instead of one per setting (~0.5 s each).
        result = self._conn(step.host).run(
            f"crudini --merge {shlex.quote(step.path)}",
            check=False,
            stdin=st.fill_secrets(merge_input(step.settings), self.secrets),
        )
        if result.exit_code == 0:
            changed.add(step.path)
        return result.exit_code, self._output(result)

    def _check_write_file(self, step: st.WriteFile, changed: set[str]) -> bool:
        result = self._run(step.host, f"cat {shlex.quote(step.path)}")
        wanted = st.fill_secrets(step.content, self.secrets)
        return bool(result.exit_code == 0 and result.stdout == wanted)

    def _apply_write_file(self, step: st.WriteFile, changed: set[str]) -> tuple[int, list[str]]:
        self._run(step.host, f"mkdir -p {shlex.quote(str(Path(step.path).parent))}")
        self._conn(step.host).write_file(
            step.path, st.fill_secrets(step.content, self.secrets), mode=int(step.mode, 8)
        )
        changed.add(step.path)
        return 0, [f"wrote {step.path}"]

    def _check_replace_line(self, step: st.ReplaceLine, changed: set[str]) -> bool:
        return self._ok(
            step.host, f"grep -qxF -- {shlex.quote(step.line)} {shlex.quote(step.path)}"
        )

    def _apply_replace_line(self, step: st.ReplaceLine, changed: set[str]) -> tuple[int, list[str]]:
        result = self._run(step.host, step.commands()[0])
        if result.exit_code == 0:
            changed.add(step.path)
        return result.exit_code, self._output(result)

    # ---- databases and the message queue --------------------------------------------------
    def _check_database(self, step: st.Database, changed: set[str]) -> bool:
        exists = self._run(
            step.host,
            'mysql -N -e "SELECT COUNT(*) FROM '
            "information_schema.SCHEMATA WHERE SCHEMA_NAME="
            f"'{step.name}'\"",
        )
        if exists.exit_code != 0 or exists.stdout.strip() != "1":
            return False
        # --password= (not -pSECRET): placeholders are replaced only as whole words.
        return self._ok(
            step.host,
            f"mysql -u {step.user} --password={step.password} "
            f"-h {self.env.controller.name} -e 'SELECT 1' {step.name}",
        )

    def _apply_database(self, step: st.Database, changed: set[str]) -> tuple[int, list[str]]:
        sql = f"CREATE DATABASE IF NOT EXISTS {step.name}; " + " ".join(
            f"GRANT ALL PRIVILEGES ON {step.name}.* TO '{step.user}'@'{origin}' "
            f"IDENTIFIED BY '{step.password}';"
            for origin in ("localhost", "%")
        )
        result = self._run(step.host, f"mysql -e {shlex.quote(sql)}")
        return result.exit_code, self._output(result) or [f"database {step.name} ready"]

    # ---- settings only the host can choose ----------------------------------------------------
    def _probe(self, host: str, probe: str) -> bool:
        if (host, probe) not in self._probes:
            self._probes[host, probe] = self._run(host, probe, timeout=120).exit_code == 0
        return self._probes[host, probe]

    def _current(self, step: st.ChooseSetting) -> list[str]:
        """The values the file sets for the key now (several if repeated, none if unset)."""
        path = shlex.quote(step.path)
        if step.section:
            result = self._run(
                step.host,
                f"crudini --get {path} {shlex.quote(step.section)} {shlex.quote(step.key)}",
            )
            return [result.stdout.strip()] if result.exit_code == 0 else []
        result = self._run(step.host, f"grep -E {shlex.quote(_line_re(step.key))} {path}")
        return [line.partition("=")[2].strip() for line in result.stdout.splitlines()]

    def _check_choose_setting(self, step: st.ChooseSetting, changed: set[str]) -> bool:
        wanted = step.if_true if self._probe(step.host, step.probe) else step.if_false
        return self._current(step) == [wanted]

    def _apply_choose_setting(
        self, step: st.ChooseSetting, changed: set[str]
    ) -> tuple[int, list[str]]:
        answer = self._probe(step.host, step.probe)
        wanted = step.if_true if answer else step.if_false
        path = shlex.quote(step.path)
        if step.section:
            command = (
                f"crudini --set {path} {shlex.quote(step.section)} {shlex.quote(step.key)} "
                f"{shlex.quote(wanted)}"
            )
        else:
            command = (
                f"sed -i -E {shlex.quote('/' + _line_re(step.key) + '/d')} {path} && "
                f"echo {shlex.quote(step.setting_line(wanted))} >> {path}"
            )
        result = self._run(step.host, command)
        if result.exit_code == 0:
            changed.add(step.path)
        said = "succeeded" if answer else "failed"
        return result.exit_code, [
            *self._output(result),
            f"probe {said} on {step.host}: {step.key} = {wanted} in {step.path}",
        ]

    def _check_probe_database(self, step: st.ProbeDatabase, changed: set[str]) -> bool:
        return False

    def _apply_probe_database(
        self, step: st.ProbeDatabase, changed: set[str]
    ) -> tuple[int, list[str]]:
        url = urlsplit(st.fill_secrets(step.url, self.secrets))
        user, password = unquote(url.username or ""), unquote(url.password or "")
        database = url.path.lstrip("/")
        result = self._conn(step.host).run(
            f"mysql --connect-timeout=5 -h {shlex.quote(url.hostname or 'localhost')} "
            f"-u {shlex.quote(user)} -p{shlex.quote(password)} -e 'SELECT 1' "
            f"{shlex.quote(database)}",
            check=False,
            timeout=30,
        )
        lines = self._output(result)
        return result.exit_code, lines or [f"{database} answers on {url.hostname}"]

    def _check_rabbit_user(self, step: st.RabbitUser, changed: set[str]) -> bool:
        return self._ok(
            step.host, f"rabbitmqctl -q authenticate_user {step.user} {shlex.quote(step.password)}"
        ) and self._ok(step.host, f"rabbitmqctl -q list_user_permissions {step.user} | grep -q '/'")

    def _apply_rabbit_user(self, step: st.RabbitUser, changed: set[str]) -> tuple[int, list[str]]:
        exists = self._ok(step.host, f"rabbitmqctl -q list_users | grep -qw {step.user}")
        first = (
            f"rabbitmqctl change_password {step.user} {shlex.quote(step.password)}"
            if exists
            else f"rabbitmqctl add_user {step.user} {shlex.quote(step.password)}"
        )
        result = self._run(
            step.host, f"{first} && rabbitmqctl set_permissions {step.user} '.*' '.*' '.*'"
        )
        return result.exit_code, self._output(result)

    # ---- commands and services -------------------------------------------------------------
    def _check_command(self, step: st.Command, changed: set[str]) -> bool:
        what, arg = step.done_when.what, shlex.quote(step.done_when.arg)
        if what == "never":
            return False
        if what == "file-exists":
            return self._ok(step.host, f"test -e {arg}")
        if what == "file-absent":
            return self._ok(step.host, f"test ! -e {arg}")
        if what == "dir-not-empty":
            return self._ok(step.host, f'test -n "$(ls -A {arg} 2>/dev/null)"')
        if what == "db-has-tables":
            result = self._run(
                step.host,
                'mysql -N -e "SELECT COUNT(*) FROM '
                "information_schema.TABLES WHERE TABLE_SCHEMA="
                f"'{step.done_when.arg}'\"",
            )
            return result.exit_code == 0 and result.stdout.strip() not in ("", "0")
        if what == "keystone-user":
            result = self._run(
                step.host,
                'mysql -N -e "SELECT COUNT(*) FROM '
                "keystone.local_user WHERE name="
                f"'{step.done_when.arg}'\"",
            )
            return result.exit_code == 0 and result.stdout.strip() not in ("", "0")
        if what == "sql-row":
            database, _, query = step.done_when.arg.partition(":")
            result = self._run(
                step.host, f"mysql -N {shlex.quote(database)} -e {shlex.quote(query)}"
            )
            return result.exit_code == 0 and result.stdout.strip() not in ("", "0")
        raise InstallError(f"SSH runner cannot check {what!r}", "This is a labkit bug.")

    def _apply_command(self, step: st.Command, changed: set[str]) -> tuple[int, list[str]]:
        result = self._run(step.host, step.command, user=step.user or None, timeout=1800)
        return result.exit_code, self._output(result)

    def _init_kind(self, host: str) -> str:
        if host not in self._init:
            self._init[host] = (
                "systemd" if self._ok(host, "test -d /run/systemd/system") else "sysv"
            )
        return self._init[host]

    def _running(self, host: str, service: str) -> bool:
        pattern = self.profile.processes.get(service, service)
        # "[m]ariadbd" matches mariadbd but not the shell whose command line carries the
        # pattern itself (pgrep -f would otherwise find its own parent).
        bracketed = f"[{pattern[0]}]{pattern[1:]}"
        return self._ok(host, f"pgrep -f {shlex.quote(bracketed)} >/dev/null")

    def _check_service(self, step: st.Service, changed: set[str]) -> bool:
        must_restart = bool(set(step.restart_on) & changed)
        return self._running(step.host, step.name) and not must_restart

    def _apply_service(self, step: st.Service, changed: set[str]) -> tuple[int, list[str]]:
        running = self._running(step.host, step.name)
        action = "restart" if running else "start"
        if self._init_kind(step.host) == "systemd":
            command = f"systemctl {action} {step.name}"
        else:
            command = f"/etc/init.d/{step.name} {action}"
        result = self._run(step.host, command, timeout=300)
        out = self._output(result)
        if result.exit_code != 0:
            return result.exit_code, out
        # Init scripts return before the daemon is up (or when it already died): look for it.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._running(step.host, step.name):
                return 0, out
            time.sleep(0.2)
        return 1, [
            *out,
            f"{step.name}: no process matching "
            f"{self.profile.processes.get(step.name, step.name)!r} after 60 s; "
            f"see /var/log/{step.name.split('-')[0]}/ on {step.host}",
        ]

    def _apply_wait_http(self, step: st.WaitHttp, changed: set[str]) -> tuple[int, list[str]]:
        # Bounded on both levels: each probe (curl -m 5) and the whole wait. A uwsgi whose
        # workers die and respawn keeps the port open and hangs requests (pitfall 7).
        started = time.monotonic()
        last = ""
        while time.monotonic() - started < step.timeout:
            result = self._run(
                step.host,
                f"curl -s -o /dev/null -w '%{{http_code}}' -m 5 {shlex.quote(step.url)}",
                timeout=30,
            )
            last = result.stdout.strip()
            if last.isdigit() and 0 < int(last) < 500:
                return 0, [f"{step.url} answered {last} after {time.monotonic() - started:.0f} s"]
            time.sleep(0.5)
        return 1, [f"{step.url} did not answer within {step.timeout:.0f} s (last: {last})"]

    # ---- images -------------------------------------------------------------------------------
    def _web_download(self, step: st.Image) -> tuple[int, list[str]]:
        """On local lab hosts Glance pulls the image from the lab's mirror on the bridge
        (web-download, as notebook 03 does), where ``cirros`` and ``trusty`` are the lab's
        bootable guest image: real Nova then boots a guest that answers SSH. The image's
        properties say who logs in (``os_admin_user``)."""
        from labkit.hosts import image_mirror
        from labkit.hosts.layout import layout

        lay = layout(self.env, self.paths.root.parent)
        image_mirror.ensure(lay)
        guest = image_mirror.guest_files(lay.rootfs_cache).get(step.source)
        extra: dict[str, Any] = {}
        if guest is not None:
            # Its properties only: like CirrOS, no min_ram (m1.nano must be accepted, as the
            # notebooks boot it; the guest needs 128 MB to finish booting, not to be ACTIVE).
            extra = dict(guest.properties)
        conn = self._admin()
        for old in conn.image.images(name=step.name):  # a failed import's leftover
            if old.status != "active":
                conn.image.delete_image(old, ignore_missing=True)
        image = conn.image.create_image(
            name=step.name,
            disk_format=step.disk_format,
            container_format=step.container_format,
            visibility=step.visibility,
            **extra,
        )
        url = image_mirror.url(lay) + step.source
        conn.image.import_image(image, method="web-download", uri=url)
        image = conn.image.wait_for_status(
            image, "active", failures=["killed"], interval=0.5, wait=300
        )
        what = f"the lab's bootable guest image (user {guest.default_user})" if guest else url
        return 0, [
            f"image {image.name} ({image.id}) is {image.status}: {image.size} bytes, "
            f"md5 {image.checksum}, web-download of {what}"
        ]

    # ---- Keystone objects ---------------------------------------------------------------------
    def _admin(self) -> Any:
        ctx_url = f"http://{self.env.controller.address}:5000/v3/"
        creds = Credentials(ctx_url, "admin", self.secrets["ADMIN_PASS"], "admin", self.env.region)
        # Fresh each time: an earlier step of the plan may have changed the catalog.
        return creds.connect()


def merge_input(settings: tuple[tuple[str, str, str], ...]) -> str:
    """Settings as the ini text ``crudini --merge`` reads: each section once, in the order
    it first appears, its keys in order (a key given twice: the last value, as with two
    ``crudini --set``)."""
    sections: dict[str, dict[str, str]] = {}
    for section, key, value in settings:
        sections.setdefault(section, {})[key] = value
    return "".join(
        f"[{section}]\n" + "".join(f"{key} = {value}\n" for key, value in keys.items())
        for section, keys in sections.items()
    )


def crudini_lines(text: str) -> dict[tuple[str, str], str]:
    """``crudini --get --format=lines FILE`` as {(section, key): value}: each line is
    "[ section ] key = value", or "[ section ] key" when the value is empty."""
    current: dict[tuple[str, str], str] = {}
    for line in text.splitlines():
        head, sep, rest = line.partition(" ] ")
        if sep and head.startswith("[ "):
            key, _, value = rest.partition(" = ")
            current[head[2:], key.strip()] = value.strip()
    return current


def _line_re(key: str) -> str:
    """An extended regex for an uncommented ``key = ...`` line (qemu.conf style)."""
    return rf"^[[:space:]]*{key}[[:space:]]*="
