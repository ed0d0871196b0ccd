"""Install steps as data: what the Install Guide tells you to do, one step at a time.

A plan is a list of steps. The same list is shown in a notebook, applied to real hosts over
SSH (:mod:`labkit.install.ssh_runner`) and applied to the sim's simulated hosts
(:mod:`labkit.install.sim_runner`). Every step can say whether it is already done, so a
second run changes nothing and says so step by step.

Secrets appear in steps under the Install Guide's own placeholder names (``KEYSTONE_DBPASS``,
``ADMIN_PASS`` ...): that is how plans are displayed, and runners substitute the real values
only when they execute a step.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

# The Install Guide's password placeholders (Zed "Security" page), plus the lab's own.
SECRET_NAMES = (
    "ADMIN_PASS",
    "DEMO_PASS",
    "KEYSTONE_DBPASS",
    "GLANCE_DBPASS",
    "GLANCE_PASS",
    "PLACEMENT_DBPASS",
    "PLACEMENT_PASS",
    "NOVA_DBPASS",
    "NOVA_PASS",
    "NEUTRON_DBPASS",
    "NEUTRON_PASS",
    "METADATA_SECRET",
    "RABBIT_PASS",
    "DB_ROOT_PASS",
)
_SECRET = re.compile(r"\b(" + "|".join(SECRET_NAMES) + r")\b")


def fill_secrets(text: str, secrets: dict[str, str]) -> str:
    """Replace placeholder names by their values (only names in :data:`SECRET_NAMES`)."""
    return _SECRET.sub(lambda m: secrets.get(m.group(1), m.group(1)), text)


def mask_secrets(text: str, secrets: dict[str, str]) -> str:
    """The reverse, for output that echoes a value back: show the placeholder instead."""
    for name, value in sorted(secrets.items(), key=lambda kv: -len(kv[1])):
        if value and len(value) >= 4:
            text = text.replace(value, name)
    return text


# ---- checks: how a runner tells that a command step has already been done -------------------


@dataclass(frozen=True)
class Check:
    """A named, runner-independent condition. Runners implement each ``what``.

    ``file-exists`` (arg: path), ``file-absent`` (path), ``dir-not-empty`` (path),
    ``db-has-tables`` (database name), ``keystone-user`` (user name), ``sql-row``
    ("database:SELECT COUNT(*) ..." is not 0),
    ``never`` (always run).
    """

    what: str
    arg: str = ""

    def describe(self) -> str:
        return {
            "file-exists": f"{self.arg} exists",
            "file-absent": f"{self.arg} is gone",
            "dir-not-empty": f"{self.arg} has files",
            "db-has-tables": f"database {self.arg} has tables",
            "keystone-user": f"Keystone user {self.arg} exists",
            "sql-row": f"database {self.arg.partition(':')[0]} has a row for "
            f"{self.arg.partition(' WHERE ')[2] or self.arg}",
            "never": "always runs",
        }.get(self.what, f"{self.what} {self.arg}")


# ---- steps ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """Base: a title a person reads, the host it runs on, and why it matters."""

    kind: ClassVar[str] = "step"
    title: str
    host: str
    why: str = ""

    def commands(self) -> list[str]:
        """The shell lines a person following the Install Guide would type."""
        return []

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class Packages(Step):
    kind: ClassVar[str] = "packages"
    names: tuple[str, ...] = ()

    def commands(self) -> list[str]:
        return [
            "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
            + " ".join(self.names)
        ]


@dataclass(frozen=True)
class IniSet(Step):
    """``crudini --set`` for each (section, key, value): how the guide's config edits are made."""

    kind: ClassVar[str] = "ini-set"
    path: str = ""
    settings: tuple[tuple[str, str, str], ...] = ()

    def commands(self) -> list[str]:
        return [
            f"crudini --set {self.path} {section} {key} {_quote(value)}"
            for section, key, value in self.settings
        ]


@dataclass(frozen=True)
class WriteFile(Step):
    kind: ClassVar[str] = "write-file"
    path: str = ""
    content: str = ""
    mode: str = "0644"

    def commands(self) -> list[str]:
        return [
            f"cat > {self.path} <<'EOF'\n{self.content.rstrip()}\nEOF",
            f"chmod {self.mode} {self.path}",
        ]


@dataclass(frozen=True)
class ReplaceLine(Step):
    """Replace the line matching ``pattern`` (a regex) by ``line``, like the guide's "edit the
    file and change -l 127.0.0.1 to the management address" (``sed -i``)."""

    kind: ClassVar[str] = "replace-line"
    path: str = ""
    pattern: str = ""
    line: str = ""

    def commands(self) -> list[str]:
        return [f"sed -i 's|{self.pattern}|{self.line}|' {self.path}"]


@dataclass(frozen=True)
class Database(Step):
    """A MariaDB database and a user with all privileges on it, from localhost and anywhere."""

    kind: ClassVar[str] = "database"
    name: str = ""
    user: str = ""
    password: str = ""  # a placeholder name, e.g. KEYSTONE_DBPASS

    def commands(self) -> list[str]:
        return [
            "mysql",
            f"CREATE DATABASE {self.name};",
            f"GRANT ALL PRIVILEGES ON {self.name}.* TO '{self.user}'@'localhost' "
            f"IDENTIFIED BY '{self.password}';",
            f"GRANT ALL PRIVILEGES ON {self.name}.* TO '{self.user}'@'%' "
            f"IDENTIFIED BY '{self.password}';",
        ]


@dataclass(frozen=True)
class ProbeDatabase(Step):
    """Connect to a database as its service will, before a ``*-manage db_sync``.

    oslo.db retries an unreachable database 10 x 10 s before it fails, so a db_sync against a
    MariaDB still bound to 127.0.0.1 sits silent for ~100 s. This probe fails in seconds and
    says why."""

    kind: ClassVar[str] = "probe-database"
    url: str = ""  # the service's [database] connection, with a password placeholder

    def commands(self) -> list[str]:
        return [f"mysql --connect-timeout=5 ... -e 'SELECT 1'   # as {self.url}"]


@dataclass(frozen=True)
class RabbitUser(Step):
    kind: ClassVar[str] = "rabbit-user"
    user: str = "openstack"
    password: str = "RABBIT_PASS"

    def commands(self) -> list[str]:
        return [
            f"rabbitmqctl add_user {self.user} {self.password}",
            f'rabbitmqctl set_permissions {self.user} ".*" ".*" ".*"',
        ]


@dataclass(frozen=True)
class Command(Step):
    """A command, optionally as a service user (``su -s /bin/sh -c "..." keystone``)."""

    kind: ClassVar[str] = "command"
    command: str = ""
    user: str = ""
    done_when: Check = field(default_factory=lambda: Check("never"))
    # A verification (``placement-status upgrade check``): runs every time, changes nothing,
    # so a run reports it "ok" -- never "changed" -- and a second run still changes nothing.
    verify: bool = False

    def commands(self) -> list[str]:
        if self.user:
            return [f'su -s /bin/sh -c "{self.command}" {self.user}']
        return [self.command]


@dataclass(frozen=True)
class Service(Step):
    """Make sure a service runs; restart it when a file it reads changed in this run."""

    kind: ClassVar[str] = "service"
    name: str = ""
    restart_on: tuple[str, ...] = ()

    def commands(self) -> list[str]:
        return [f"service {self.name} restart"]


@dataclass(frozen=True)
class WaitHttp(Step):
    """Poll a URL until it answers (bounded: services take seconds to start, or hang)."""

    kind: ClassVar[str] = "wait-http"
    url: str = ""
    timeout: float = 90.0

    def commands(self) -> list[str]:
        return [
            f"curl -sf -m 5 -o /dev/null {self.url}   # until it answers, "
            f"at most {self.timeout:.0f} s"
        ]


@dataclass(frozen=True)
class IdentityObjects(Step):
    """Keystone objects a layer needs (service user, role, service, endpoints, projects).

    Made through openstacksdk in one process -- each ``openstack`` CLI call costs ~3 s on a
    small lab machine -- while ``commands()`` shows the Install Guide's equivalent CLI lines.
    """

    kind: ClassVar[str] = "identity-objects"
    projects: tuple[tuple[str, str], ...] = ()  # (name, description)
    users: tuple[tuple[str, str], ...] = ()  # (name, password placeholder)
    roles: tuple[str, ...] = ()
    grants: tuple[tuple[str, str, str], ...] = ()  # (project, user, role)
    services: tuple[tuple[str, str, str], ...] = ()  # (name, type, description)
    endpoints: tuple[tuple[str, str, str], ...] = ()  # (service type, interface, url)
    region: str = "RegionOne"

    def commands(self) -> list[str]:
        lines = [
            f'openstack project create --domain default --description "{d}" {n}'
            for n, d in self.projects
        ]
        lines += [
            f"openstack user create --domain default --password {p} {n}" for n, p in self.users
        ]
        lines += [f"openstack role create {r}" for r in self.roles]
        lines += [f"openstack role add --project {p} --user {u} {r}" for p, u, r in self.grants]
        lines += [
            f'openstack service create --name {n} --description "{d}" {t}'
            for n, t, d in self.services
        ]
        lines += [
            f"openstack endpoint create --region {self.region} {t} {i} {u}"
            for t, i, u in self.endpoints
        ]
        return lines


@dataclass(frozen=True)
class ChooseSetting(Step):
    """Set one config value chosen by a test run on the host itself: ``if_true`` when the
    ``probe`` shell command succeeds there, else ``if_false``.

    For what only the host can tell: whether KVM really works (``[libvirt] virt_type``),
    whether its ``/`` is a mount point (libvirt's ``namespaces``). ``section`` "" means a
    file of plain ``key = value`` lines (libvirt's qemu.conf), else an ini section.
    ``sim_answer`` is what the probe says on the sim's simulated hosts (no KVM, a real root
    file system), so the sim shows the same step with the value it would pick.
    """

    kind: ClassVar[str] = "choose-setting"
    path: str = ""
    section: str = ""
    key: str = ""
    probe: str = ""
    if_true: str = ""
    if_false: str = ""
    sim_answer: bool = False

    def setting_line(self, value: str) -> str:
        return f"{self.key} = {value}"

    def commands(self) -> list[str]:
        if self.section:
            set_true = f"crudini --set {self.path} {self.section} {self.key} {_quote(self.if_true)}"
            set_false = (
                f"crudini --set {self.path} {self.section} {self.key} {_quote(self.if_false)}"
            )
        else:
            set_true = f"echo {_quote(self.setting_line(self.if_true))} >> {self.path}"
            set_false = f"echo {_quote(self.setting_line(self.if_false))} >> {self.path}"
        return [f"if {self.probe}; then\n    {set_true}\nelse\n    {set_false}\nfi"]


@dataclass(frozen=True)
class ServicesUp(Step):
    """Wait until the cloud itself reports services up: Nova's ``compute service list`` or
    Neutron's ``network agent list`` (bounded, like :class:`WaitHttp`).

    An init script returning 0 says little: an agent can start, fail in its first second
    (a missing tool, a wrong option) and be gone. The service's own heartbeat, seen by the
    API, is the real verification -- and ``discover_hosts`` only maps a compute host that
    has already registered."""

    kind: ClassVar[str] = "services-up"
    api: str = "compute"  # "compute" (Nova services) or "network" (Neutron agents)
    expect: tuple[tuple[str, str], ...] = ()  # (binary, host)
    timeout: float = 120.0

    def commands(self) -> list[str]:
        listing = "compute service list" if self.api == "compute" else "network agent list"
        wanted = ", ".join(f"{binary} on {host}" for binary, host in self.expect)
        return [f"openstack {listing}   # until {wanted} up, at most {self.timeout:.0f} s"]


@dataclass(frozen=True)
class Image(Step):
    """Upload an image and wait until Glance says it is active (the guide's "verify" step).

    ``source`` names a file of the lab's image mirror (generated, valid qcow2 images), so
    the check needs no internet on any env kind.
    """

    kind: ClassVar[str] = "image"
    name: str = "cirros"
    source: str = "cirros/0.6.2/cirros-0.6.2-x86_64-disk.img"
    disk_format: str = "qcow2"
    container_format: str = "bare"
    visibility: str = "public"

    def commands(self) -> list[str]:
        file = self.source.rpartition("/")[2]
        return [
            f"openstack image create --disk-format {self.disk_format} --container-format "
            f"{self.container_format} --file {file} --{self.visibility} {self.name}"
        ]


@dataclass(frozen=True)
class Flavors(Step):
    """Create flavors through the compute API (the guide's ``openstack flavor create``)."""

    kind: ClassVar[str] = "flavors"
    flavors: tuple[tuple[str, str, int, int, int], ...] = ()  # (name, id, vcpus, ram MB, disk GB)

    def commands(self) -> list[str]:
        return [
            f"openstack flavor create --id {fid} --vcpus {vcpus} --ram {ram} --disk {disk} {name}"
            for name, fid, vcpus, ram, disk in self.flavors
        ]


STEP_KINDS: dict[str, type[Step]] = {
    cls.kind: cls
    for cls in (
        Packages,
        IniSet,
        WriteFile,
        ReplaceLine,
        Database,
        ProbeDatabase,
        RabbitUser,
        Command,
        Service,
        WaitHttp,
        IdentityObjects,
        ChooseSetting,
        Image,
        Flavors,
    )
}


def step_from_dict(data: dict[str, Any]) -> Step:
    """Rebuild a step sent as JSON (the sim receives steps this way)."""
    kind = data.get("kind")
    if kind not in STEP_KINDS:
        raise ValueError(f"unknown step kind {kind!r}; known: {', '.join(sorted(STEP_KINDS))}")
    cls = STEP_KINDS[kind]
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name == "done_when" and isinstance(value, dict):
            value = Check(**value)
        elif isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        values[f.name] = value
    return cls(**values)


def _quote(value: str) -> str:
    if value and all(c.isalnum() or c in "_-./:@,=+" for c in value):
        return value
    return "'" + value.replace("'", "'\\''") + "'"
