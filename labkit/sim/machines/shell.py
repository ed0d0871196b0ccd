"""Apply install steps to a simulated host, or say whether they are already done.

This is the sim's side of :mod:`labkit.install.sim_runner`: the same step objects that run
over SSH on real hosts arrive here as JSON. Files are edited for real (under the state
folder), packages and services are recorded, and command steps run the sim's versions of
``keystone-manage``, ``glance-manage`` and friends, registered by the rooms.
"""

from __future__ import annotations

import re
import shlex
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import MetaData

from labkit.install import steps as st
from labkit.sim.core import ini
from labkit.sim.core.service import Command
from labkit.sim.machines.machines import (
    DatabaseUnreachable,
    Machines,
    database_file,
    is_safe_path,
)

CheckHandler = Callable[[str], bool]


@dataclass
class Outcome:
    done: bool = False
    changed: bool = False
    exit_code: int = 0
    output: list[str] = field(default_factory=list)


class StepFailed(Exception):
    def __init__(self, exit_code: int, output: list[str]) -> None:
        super().__init__(output[-1] if output else f"exit {exit_code}")
        self.exit_code = exit_code
        self.output = output


class Shell:
    def __init__(self, machines: Machines) -> None:
        self.m = machines
        self.checks: dict[str, CheckHandler] = {}
        # The OpenStack commands rooms install on the hosts (keystone-manage ...).
        self.commands: dict[str, Command] = {}

    def add_command(self, command: Command) -> None:
        self.commands[command.name] = command

    # ---- entry points -----------------------------------------------------------------------
    def check(self, step: st.Step, secrets: dict[str, str], changed_paths: set[str]) -> bool:
        self.m.check_host(step.host)
        return bool(self._dispatch(step, secrets, changed_paths, apply=False).done)

    def apply(self, step: st.Step, secrets: dict[str, str], changed_paths: set[str]) -> Outcome:
        self.m.check_host(step.host)
        try:
            return self._dispatch(step, secrets, changed_paths, apply=True)
        except StepFailed as failed:
            return Outcome(changed=False, exit_code=failed.exit_code, output=failed.output)

    def _dispatch(
        self, step: st.Step, secrets: dict[str, str], changed: set[str], apply: bool
    ) -> Outcome:
        handler = {
            st.Packages: self._packages,
            st.IniSet: self._ini,
            st.WriteFile: self._file,
            st.ReplaceLine: self._replace_line,
            st.ProbeDatabase: self._probe_database,
            st.Database: self._database,
            st.RabbitUser: self._rabbit,
            st.Command: self._command,
            st.Service: self._service,
        }.get(type(step))
        if handler is None:
            raise StepFailed(2, [f"{step.kind} steps are run by labkit itself, not on a host"])
        outcome: Outcome = handler(step, secrets, changed, apply)  # type: ignore[operator]
        return outcome

    # ---- step kinds ---------------------------------------------------------------------------
    def _packages(
        self, step: st.Packages, secrets: dict[str, str], changed: set[str], apply: bool
    ) -> Outcome:
        have = self.m.installed(step.host)
        if all(n in have for n in step.names):
            return Outcome(
                done=True,
                output=[f"{n} is already the newest version ({have[n]})." for n in step.names],
            )
        if not apply:
            return Outcome(done=False)
        try:
            return Outcome(changed=True, output=self.m.install(step.host, step.names))
        except KeyError as exc:
            raise StepFailed(
                100, ["Reading package lists... Done", f"E: Unable to locate package {exc.args[0]}"]
            ) from None

    def _ini(
        self, step: st.IniSet, secrets: dict[str, str], changed: set[str], apply: bool
    ) -> Outcome:
        self._safe(step.path)
        text = self.m.read(step.host, step.path) or ""
        wanted = [(s, k, st.fill_secrets(v, secrets)) for s, k, v in step.settings]
        if all(ini.get(text, s, k) == v for s, k, v in wanted):
            return Outcome(done=True)
        if not apply:
            return Outcome(done=False)
        for section, key, value in wanted:
            text = ini.set_value(text, section, key, value)
        self.m.write(step.host, step.path, text)
        changed.add(step.path)
        return Outcome(changed=True)

    def _file(
        self, step: st.WriteFile, secrets: dict[str, str], changed: set[str], apply: bool
    ) -> Outcome:
        self._safe(step.path)
        content = st.fill_secrets(step.content, secrets)
        if self.m.read(step.host, step.path) == content:
            return Outcome(done=True)
        if not apply:
            return Outcome(done=False)
        self.m.write(step.host, step.path, content, int(step.mode, 8))
        changed.add(step.path)
        return Outcome(changed=True)

    def _replace_line(
        self, step: st.ReplaceLine, secrets: dict[str, str], changed: set[str], apply: bool
    ) -> Outcome:
        self._safe(step.path)
        text = self.m.read(step.host, step.path)
        if text is None:
            raise StepFailed(2, [f"sed: can't read {step.path}: No such file or directory"])
        lines = text.splitlines()
        if step.line in lines:
            return Outcome(done=True)
        if not apply:
            return Outcome(done=False)
        pattern = re.compile(step.pattern)
        new = [step.line if pattern.search(line) else line for line in lines]
        self.m.write(step.host, step.path, "\n".join(new) + "\n")
        changed.add(step.path)
        return Outcome(changed=True)

    def _database(
        self, step: st.Database, secrets: dict[str, str], changed: set[str], apply: bool
    ) -> Outcome:
        password = st.fill_secrets(step.password, secrets)
        if step.name in self.m.databases(step.host) and self.m.has_grant(
            step.host, step.name, step.user, password
        ):
            return Outcome(done=True)
        if not apply:
            return Outcome(done=False)
        try:
            return Outcome(
                changed=True,
                output=self.m.create_database(step.host, step.name, step.user, password),
            )
        except RuntimeError as exc:
            raise StepFailed(1, [str(exc)]) from None

    def _probe_database(
        self, step: st.ProbeDatabase, secrets: dict[str, str], changed: set[str], apply: bool
    ) -> Outcome:
        if not apply:
            return Outcome(done=False)  # a probe always runs
        url = st.fill_secrets(step.url, secrets)
        try:
            self.m.open_database(step.host, url, MetaData()).dispose()
        except DatabaseUnreachable as exc:
            raise StepFailed(1, [str(exc)]) from None
        return Outcome(changed=False, output=[f"{urlsplit(url).path.lstrip('/')} answers"])

    def _rabbit(
        self, step: st.RabbitUser, secrets: dict[str, str], changed: set[str], apply: bool
    ) -> Outcome:
        password = st.fill_secrets(step.password, secrets)
        account = self.m.rabbit_user(step.host, step.user)
        if account is not None and account.password == password and account.permissions:
            return Outcome(done=True)
        if not apply:
            return Outcome(done=False)
        try:
            return Outcome(
                changed=True, output=self.m.add_rabbit_user(step.host, step.user, password)
            )
        except RuntimeError as exc:
            raise StepFailed(69, [str(exc)]) from None

    def _service(
        self, step: st.Service, secrets: dict[str, str], changed: set[str], apply: bool
    ) -> Outcome:
        state = self.m.service_state(step.host, step.name)
        must_restart = state == "running" and bool(set(step.restart_on) & changed)
        if state == "running" and not must_restart:
            return Outcome(done=True, output=[f"{step.name} is running."])
        if not apply:
            return Outcome(done=False)
        try:
            return Outcome(
                changed=True, output=self.m.start(step.host, step.name, restart=must_restart)
            )
        except RuntimeError as exc:
            raise StepFailed(1, [f"Starting {step.name}: failed!", str(exc)]) from None

    def _command(
        self, step: st.Command, secrets: dict[str, str], changed: set[str], apply: bool
    ) -> Outcome:
        if step.done_when.what != "never" and self._condition(step.host, step.done_when):
            return Outcome(done=True, output=[f"already done: {step.done_when.describe()}"])
        if not apply:
            return Outcome(done=False)
        argv = shlex.split(st.fill_secrets(step.command, secrets))
        if not argv:
            raise StepFailed(2, ["empty command"])
        command = self.commands.get(argv[0])
        if command is None:
            raise StepFailed(
                127,
                [
                    f"sh: 1: {argv[0]}: not found (the sim knows: "
                    f"{', '.join(sorted(self.commands))})"
                ],
            )
        if command.package not in self.m.installed(step.host):
            raise StepFailed(127, [f"sh: 1: {argv[0]}: not found"])
        try:
            code, lines = command.run(step.host, argv, step.user)
        except DatabaseUnreachable as exc:
            # oslo.db retries for ~100 s before giving up; the sim says so and gives up at once.
            raise StepFailed(
                1,
                [
                    "oslo_db.exception.DBConnectionError: " + str(exc),
                    "(a real host retries 10 x 10 s before this error)",
                ],
            ) from None
        if code != 0:
            raise StepFailed(code, lines)
        return Outcome(changed=True, output=lines)

    # ---- helpers -------------------------------------------------------------------------------
    def _condition(self, host: str, check: st.Check) -> bool:
        if check.what == "file-exists":
            return self.m.path(host, check.arg).exists()
        if check.what == "dir-not-empty":
            folder = self.m.path(host, check.arg)
            return folder.is_dir() and any(folder.iterdir())
        if check.what == "db-has-tables":
            path = database_file(self.m, check.arg)
            if path is None or not path.is_file():
                return False
            with sqlite3.connect(path) as conn:
                count = conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type='table'")
                return bool(count.fetchone()[0])
        if check.what == "sql-row":  # "database:SELECT COUNT(*) ..." is non-zero
            database, _, query = check.arg.partition(":")
            path = database_file(self.m, database)
            if path is None or not path.is_file():
                return False
            try:
                with sqlite3.connect(path) as conn:
                    row = conn.execute(query).fetchone()
            except sqlite3.Error:
                return False
            return bool(row and row[0])
        handler = self.checks.get(check.what)
        if handler is None:
            raise StepFailed(2, [f"the sim cannot check {check.what!r}"])
        return handler(check.arg)

    @staticmethod
    def _safe(path: str) -> None:
        if not is_safe_path(path):
            raise StepFailed(2, [f"refusing path {path!r}: use a plain absolute path"])
