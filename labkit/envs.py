"""Lab environments: the files in ``envs/`` that say where the lab runs.

Three kinds:

* ``sim``   -- the embedded emulator on this machine (the default, no hardware needed);
* ``ssh``   -- real lab hosts reached over SSH, where labkit installs OpenStack for real;
* ``cloud`` -- an existing cloud named in a clouds.yaml; install cells are skipped.

``load_env("sim")`` finds ``envs/sim.yaml`` (see :func:`find_env_file`);
``load_env("path/to/file.yaml")`` loads that file. A file that does not validate is refused
with an :class:`~labkit.errors.EnvError` naming the file, the field and what is allowed.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from labkit.errors import EnvError

Role = Literal["controller", "worker"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Network(_Strict):
    """The management network every host sits on (the seed's 10.64.0.0/24)."""

    cidr: str = "10.64.0.0/24"
    gateway: str = "10.64.0.1"
    # Addresses the flat provider network hands to guests (dnsmasq-style DHCP range).
    guest_pool: tuple[str, str] = ("10.64.0.100", "10.64.0.199")

    @model_validator(mode="after")
    def _addresses_in_cidr(self) -> Network:
        net = ipaddress.ip_network(self.cidr, strict=True)
        for label, addr in [
            ("gateway", self.gateway),
            ("guest_pool", self.guest_pool[0]),
            ("guest_pool", self.guest_pool[1]),
        ]:
            if ipaddress.ip_address(addr) not in net:
                raise ValueError(f"{label} {addr} is outside {self.cidr}")
        return self


class SshSettings(_Strict):
    """How to reach a host: user, private key, optional jump host, port."""

    user: str | None = None
    key: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    jump: str | None = None


class Host(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")]
    address: str
    roles: tuple[Role, ...] = Field(min_length=1)
    # Declared size. The sim uses it as the host's real size; on real hosts preflight measures.
    cpus: int = Field(default=2, ge=1)
    ram_gb: float = Field(default=8, gt=0)
    disk_gb: float = Field(default=250, gt=0)
    ssh: SshSettings = SshSettings()


class SimSettings(_Strict):
    port: int | None = Field(default=None, ge=1024, le=65535)
    deterministic: bool = True
    seed: int = 2015
    # keystone.conf [identity] password_hash_rounds. Keystone's bcrypt default is 12; the sim
    # defaults to bcrypt's minimum so that a token costs milliseconds (notebook 02 says so).
    password_hash_rounds: int = Field(default=4, ge=4, le=31)
    # Seconds between the steps of a server's boot (scheduling -> networking -> ... ->
    # active): 0 = instant (tests, benchmarks). In deterministic mode the steady clock moves
    # by that much instead of anyone waiting.
    pace: float = Field(default=0.0, ge=0.0, le=30.0)


class Passwords(_Strict):
    """Lab passwords for the sim (printed freely: it is a local toy cloud)."""

    admin: str = "ADMIN_PASS"
    demo: str = "DEMO_PASS"


class SecretsSettings(_Strict):
    """Where real-host passwords come from: generated once into the state folder (0600)."""

    source: Literal["generate"] = "generate"


class _BaseEnv(_Strict):
    name: str = ""
    description: str = ""
    region: str = "RegionOne"
    path: str = Field(default="", exclude=True)


class _HostsEnv(_BaseEnv):
    management_network: Network = Network()
    hosts: tuple[Host, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_hosts(self) -> _HostsEnv:
        net = ipaddress.ip_network(self.management_network.cidr)
        names = [h.name for h in self.hosts]
        for dup in {n for n in names if names.count(n) > 1}:
            raise ValueError(f"host name {dup!r} is used twice")
        addrs = [h.address for h in self.hosts]
        for dup in {a for a in addrs if addrs.count(a) > 1}:
            raise ValueError(f"address {dup} is used by two hosts")
        for h in self.hosts:
            if ipaddress.ip_address(h.address) not in net:
                raise ValueError(f"host {h.name}: address {h.address} is outside {net}")
        controllers = [h.name for h in self.hosts if "controller" in h.roles]
        if len(controllers) != 1:
            raise ValueError(
                f"exactly one host must have role 'controller' (found {len(controllers)})"
            )
        return self

    @property
    def controller(self) -> Host:
        return next(h for h in self.hosts if "controller" in h.roles)

    @property
    def workers(self) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if "worker" in h.roles)

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        from labkit.errors import RegistryMiss

        raise RegistryMiss("host", name, [h.name for h in self.hosts])


class SimEnv(_HostsEnv):
    kind: Literal["sim"]
    sim: SimSettings = SimSettings()
    passwords: Passwords = Passwords()


class SshEnv(_HostsEnv):
    kind: Literal["ssh"]
    distro: Literal["debian-12-zed"] = "debian-12-zed"
    ssh: SshSettings = SshSettings(user="root")
    known_hosts: str | None = None
    secrets: SecretsSettings = SecretsSettings()
    # Local lab hosts (`labkit hosts up`): made on this machine in network namespaces.
    local: bool = False


class CloudEnv(_BaseEnv):
    kind: Literal["cloud"]
    cloud: str
    clouds_yaml: str | None = None


Env = SimEnv | SshEnv | CloudEnv
_KINDS: dict[str, type[BaseModel]] = {"sim": SimEnv, "ssh": SshEnv, "cloud": CloudEnv}


def envs_search_path(start: Path | None = None) -> list[Path]:
    """Folders searched for ``NAME.yaml``: $LABKIT_ENVS_DIR, then ``envs/`` in the current
    folder and each parent (so notebooks in ``notebooks/`` find ``../envs``)."""
    dirs: list[Path] = []
    if os.environ.get("LABKIT_ENVS_DIR"):
        dirs.append(Path(os.environ["LABKIT_ENVS_DIR"]).expanduser())
    here = (start or Path.cwd()).resolve()
    for folder in [here, *here.parents]:
        if (folder / "envs").is_dir():
            dirs.append(folder / "envs")
    return dirs


def find_env_file(name_or_path: str | os.PathLike[str]) -> Path:
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix in {".yaml", ".yml"} or candidate.exists():
        if candidate.is_file():
            return candidate
        raise EnvError(str(candidate), ["the file does not exist"], "Check the path.")
    known: list[str] = []
    for folder in envs_search_path():
        for suffix in (".yaml", ".yml"):
            if (folder / f"{candidate}{suffix}").is_file():
                return folder / f"{candidate}{suffix}"
        known += sorted(p.stem for p in folder.glob("*.yaml"))
    raise EnvError(
        str(name_or_path),
        [f"no env file named {str(name_or_path)!r} in {[str(d) for d in envs_search_path()]}"],
        f"Known envs: {', '.join(dict.fromkeys(known)) or '(none found)'}. "
        "Pass a path to a .yaml file, or set LABKIT_ENVS_DIR.",
    )


def _describe(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _KINDS:  # pydantic's discriminator level adds no information
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def parse_env(data: Any, path: str) -> Env:
    """Validate already-loaded YAML data; ``path`` is only used in messages."""
    if not isinstance(data, dict):
        raise EnvError(path, ["the file must be a mapping of fields (kind: sim|ssh|cloud, ...)"])
    kind = data.get("kind")
    if kind not in _KINDS:
        raise EnvError(path, [f"field kind: {kind!r} is not allowed; allowed: sim, ssh, cloud"])
    data = {**data, "path": path}
    data.setdefault("name", Path(path).stem)
    try:
        env = _KINDS[kind].model_validate(data)
    except ValidationError as exc:
        problems = []
        errors = exc.errors()
        locs = [tuple(e["loc"]) for e in errors]
        for err in errors:
            loc = tuple(err["loc"])
            if any(other != loc and other[: len(loc)] == loc for other in locs):
                continue  # a follow-on of a more precise error below this field
            field = _describe(tuple(err["loc"]))
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                allowed = _allowed_fields(_KINDS[kind], tuple(err["loc"][:-1]))
                msg = f"unknown field; allowed here: {', '.join(allowed)}"
            elif err["type"] == "literal_error":
                allowed_values = msg.replace("Input should be", "allowed:")
                msg = f"{err.get('input')!r} is not allowed; {allowed_values}"
            problems.append(f"field {field}: {msg}")
        raise EnvError(path, problems) from None
    assert isinstance(env, SimEnv | SshEnv | CloudEnv)
    return env


def _allowed_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        field = current.model_fields.get(part)
        if field is None:
            return []
        annotation = field.annotation
        inner = getattr(annotation, "__args__", (annotation,))
        current = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return sorted(current.model_fields) if current is not None else []


def load_env(name_or_path: str | os.PathLike[str]) -> Env:
    path = find_env_file(name_or_path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise EnvError(str(path), [f"not valid YAML: {exc}"]) from None
    return parse_env(data, str(path))


# ---- hosts a lab added to itself (notebooks/07-scale-out) ------------------------------------

EXTRA_HOSTS_FILE = "extra-hosts.yaml"


def extra_hosts_path(state_dir: Path) -> Path:
    """``<state folder>/extra-hosts.yaml``: the hosts ``lab.add_worker`` added to this lab.

    They belong to the lab, not to the env file in ``envs/`` (which every lab of that env
    shares, and which labkit never edits): every later ``Lab.from_env`` and every start of
    the sim merge them in, and ``labkit sim reset`` -- which deletes the state folder --
    takes them away again."""
    return state_dir / EXTRA_HOSTS_FILE


def read_extra_hosts(state_dir: Path) -> list[dict[str, Any]]:
    """The host entries recorded in ``state_dir`` (none when there is no file)."""
    path = extra_hosts_path(state_dir)
    if not path.is_file():
        return []
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise EnvError(str(path), [f"not valid YAML: {exc}"]) from None
    hosts = data.get("hosts") if isinstance(data, dict) else None
    if not isinstance(hosts, list) or not all(isinstance(h, dict) for h in hosts):
        raise EnvError(str(path), ["field hosts: must be a list of hosts (name, address, ...)"])
    return hosts


_E = TypeVar("_E", bound=SimEnv | SshEnv | CloudEnv)


def with_hosts(env: _E, hosts: Sequence[dict[str, Any]], origin: str) -> _E:
    """``env`` with ``hosts`` (env-file host entries) appended, validated as one env: a name
    or an address used twice, an address off the management network, are refused as an
    :class:`EnvError` naming ``origin`` too. Hosts whose name the env has are left out."""
    if isinstance(env, CloudEnv):
        return env
    names = {h.name for h in env.hosts}
    extra = [dict(h) for h in hosts if h.get("name") not in names]
    if not extra:
        return env
    data: dict[str, Any] = env.model_dump(mode="json")
    data["hosts"] = [*data["hosts"], *extra]
    try:
        merged = parse_env(data, env.path)
    except EnvError as exc:
        raise EnvError(
            f"{env.path} + {origin}",
            exc.problems,
            f"Fix or delete {origin} (`labkit sim reset` deletes the whole lab).",
        ) from None
    assert isinstance(merged, type(env))
    return merged


def with_extra_hosts(env: _E, state_dir: Path) -> _E:
    """``env`` with the hosts recorded in ``state_dir`` appended (:func:`with_hosts`). A
    recorded host whose name the env file has itself is left out: the env file wins."""
    if isinstance(env, CloudEnv):
        return env
    return with_hosts(env, read_extra_hosts(state_dir), str(extra_hosts_path(state_dir)))


def forget_extra_host(state_dir: Path, name: str) -> bool:
    """Drop ``name`` from ``state_dir``'s extra hosts; False when it was not recorded there."""
    hosts = read_extra_hosts(state_dir)
    kept = [h for h in hosts if h.get("name") != name]
    if len(kept) == len(hosts):
        return False
    _write_extra_hosts(state_dir, kept)
    return True


def without_host(env: _E, name: str) -> _E:
    """``env`` without host ``name`` (what the sim runs once a worker is removed)."""
    if isinstance(env, CloudEnv) or all(h.name != name for h in env.hosts):
        return env
    data: dict[str, Any] = env.model_dump(mode="json")
    data["hosts"] = [h for h in data["hosts"] if h.get("name") != name]
    stripped = parse_env(data, env.path)
    assert isinstance(stripped, type(env))
    return stripped


def record_extra_host(state_dir: Path, host: Host) -> Path:
    """Add ``host`` to ``state_dir``'s extra hosts (replacing an entry of the same name)."""
    entry = host.model_dump(mode="json", exclude_defaults=True)
    hosts = read_extra_hosts(state_dir)
    names = [h.get("name") for h in hosts]
    if host.name in names:
        hosts[names.index(host.name)] = entry
    else:
        hosts.append(entry)
    return _write_extra_hosts(state_dir, hosts)


def _write_extra_hosts(state_dir: Path, hosts: list[dict[str, Any]]) -> Path:
    path = extra_hosts_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# Hosts this lab added to itself (lab.add_worker); merged into the env on every\n"
        "# start. `labkit sim reset` removes them with the rest of the lab.\n"
    )
    path.write_text(header + yaml.safe_dump({"hosts": hosts}, sort_keys=False))
    return path
