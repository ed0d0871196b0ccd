"""``/etc/glance/glance-api.conf`` as the sim's Glance reads it at start.

Only the options the sim acts on are read; each keeps Zed's default. Two things are the
sim's own, both documented in the room's LIMITATIONS:

* ``[DEFAULT] use_keystone_limits = True`` turns on unified-limits quotas as in Zed, but the
  limits themselves come from ``[labkit_limits]`` (defaults, like Keystone's registered
  limits) and ``[labkit_limits:PROJECT]`` (a project's own limits, PROJECT = id or name),
  because the sim's Keystone does not emulate ``/v3/limits``.
* Paths are paths on the simulated controller; the room maps them into the state folder.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from pathlib import Path

from labkit.sim.core.authtoken import AuthTokenConf
from labkit.sim.core.conf import ConfFile, split_list
from labkit.sim.glance.schemas import CONTAINER_FORMATS, DISK_FORMATS

CONF_PATH = "/etc/glance/glance-api.conf"
DEFAULT_IMPORT_METHODS = ("glance-direct", "web-download", "copy-image")
# glance_store registers its reserved stores under /var/lib/glance/<store id>/.
RESERVED_STORES = ("os_glance_staging_store", "os_glance_tasks_store")
QUOTA_NAMES = (
    "image_size_total",
    "image_stage_total",
    "image_count_total",
    "image_count_uploading",
)


@dataclass(frozen=True)
class ImportFilter:
    """``[import_filtering_opts]``: which URLs web-download may fetch (Zed defaults)."""

    allowed_schemes: tuple[str, ...] = ("http", "https")
    disallowed_schemes: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    disallowed_hosts: tuple[str, ...] = ()
    allowed_ports: tuple[int, ...] = (80, 443)
    disallowed_ports: tuple[int, ...] = ()
    # Set when a port list does not parse. Glance declares both port options with
    # bounds=True: oslo.config then demands "[80,443]" *with* brackets, and with a bare
    # "80,443" every web-download URL fails the filter (seen on a real Zed host).
    unreadable: str = ""


@dataclass(frozen=True)
class GlanceConf:
    database_connection: str
    flavor: str = ""
    enabled_backends: dict[str, str] = field(default_factory=dict)
    default_backend: str = ""
    store_dirs: dict[str, str] = field(default_factory=dict)  # store id -> datadir
    single_store_dir: str = "/var/lib/glance/images/"
    node_staging_dir: str = "/tmp/staging/"
    enabled_import_methods: tuple[str, ...] = DEFAULT_IMPORT_METHODS
    hashing_algorithm: str = "sha512"
    image_size_cap: int = 1099511627776
    limit_param_default: int = 25
    api_limit_max: int = 1000
    image_member_quota: int = 128
    image_property_quota: int = 128
    image_tag_quota: int = 128
    image_cache_dir: str = ""
    public_endpoint: str = ""
    disk_formats: tuple[str, ...] = DISK_FORMATS
    container_formats: tuple[str, ...] = CONTAINER_FORMATS
    use_keystone_limits: bool = False
    limits: dict[str, dict[str, int]] = field(default_factory=dict)  # "" = registered defaults
    authtoken: AuthTokenConf = field(default_factory=AuthTokenConf)
    import_filter: ImportFilter = ImportFilter()

    @property
    def multistore(self) -> bool:
        return bool(self.enabled_backends)

    @property
    def keystone_auth(self) -> bool:
        """paste_deploy flavor = keystone selects the pipeline with authtoken + context."""
        return self.flavor.startswith("keystone")

    def store_dir(self, store: str | None = None) -> str:
        if not self.multistore:
            return self.single_store_dir
        return self.store_dirs.get(store or self.default_backend, "")

    @property
    def staging_dir(self) -> str:
        if self.multistore:
            return self.store_dirs.get(
                "os_glance_staging_store", "/var/lib/glance/os_glance_staging_store/"
            )
        return self.node_staging_dir

    @property
    def store_ids(self) -> list[str]:
        """What ``OpenStack-image-store-ids`` lists: the backends plus the reserved ones."""
        return [*self.enabled_backends, *RESERVED_STORES]

    @classmethod
    def read(cls, path: Path) -> GlanceConf:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read(path)
        return cls.parse(parser)

    @classmethod
    def parse(cls, parser: configparser.ConfigParser) -> GlanceConf:
        def get(section: str, key: str, default: str = "") -> str:
            return parser.get(section, key, fallback=default).strip()

        def get_int(section: str, key: str, default: int) -> int:
            try:
                return int(get(section, key, str(default)))
            except ValueError:
                raise ValueError(f"glance-api.conf [{section}] {key}: not an integer") from None

        backends = dict(_pairs(get("DEFAULT", "enabled_backends")))
        store_dirs = {
            s: get(s, "filesystem_store_datadir", f"/var/lib/glance/{s}/")
            for s in (*backends, *RESERVED_STORES)
            if backends.get(s, "file") == "file"
        }
        auth = AuthTokenConf.from_conf(ConfFile(parser, "glance-api.conf"))
        staging = get("DEFAULT", "node_staging_uri", "file:///tmp/staging/")
        return cls(
            database_connection=get("database", "connection"),
            flavor=get("paste_deploy", "flavor"),
            enabled_backends=backends,
            default_backend=get("glance_store", "default_backend"),
            store_dirs=store_dirs,
            single_store_dir=get(
                "glance_store", "filesystem_store_datadir", "/var/lib/glance/images/"
            ),
            node_staging_dir=staging.removeprefix("file://"),
            enabled_import_methods=tuple(
                _list(get("DEFAULT", "enabled_import_methods")) or DEFAULT_IMPORT_METHODS
            ),
            hashing_algorithm=get("DEFAULT", "hashing_algorithm", "sha512"),
            image_size_cap=get_int("DEFAULT", "image_size_cap", 1099511627776),
            limit_param_default=get_int("DEFAULT", "limit_param_default", 25),
            api_limit_max=get_int("DEFAULT", "api_limit_max", 1000),
            image_member_quota=get_int("DEFAULT", "image_member_quota", 128),
            image_property_quota=get_int("DEFAULT", "image_property_quota", 128),
            image_tag_quota=get_int("DEFAULT", "image_tag_quota", 128),
            image_cache_dir=get("DEFAULT", "image_cache_dir"),
            public_endpoint=get("DEFAULT", "public_endpoint"),
            disk_formats=tuple(_list(get("image_format", "disk_formats")) or DISK_FORMATS),
            container_formats=tuple(
                _list(get("image_format", "container_formats")) or CONTAINER_FORMATS
            ),
            use_keystone_limits=get("DEFAULT", "use_keystone_limits").lower() == "true",
            limits=_limits(parser),
            authtoken=auth,
            import_filter=ImportFilter(
                allowed_schemes=tuple(
                    _list(get("import_filtering_opts", "allowed_schemes", "http,https"))
                ),
                disallowed_schemes=tuple(_list(get("import_filtering_opts", "disallowed_schemes"))),
                allowed_hosts=tuple(_list(get("import_filtering_opts", "allowed_hosts"))),
                disallowed_hosts=tuple(_list(get("import_filtering_opts", "disallowed_hosts"))),
                allowed_ports=_ports(get("import_filtering_opts", "allowed_ports", "[80,443]")),
                disallowed_ports=_ports(get("import_filtering_opts", "disallowed_ports", "[]")),
                unreadable=_unbounded(parser, ("allowed_ports", "disallowed_ports")),
            ),
        )


_list = split_list


def _pairs(value: str) -> list[tuple[str, str]]:
    """oslo.config DictOpt ``fs:file, other:rbd``."""
    out = []
    for item in _list(value):
        key, _, kind = item.partition(":")
        out.append((key.strip(), kind.strip()))
    return out


def _unbounded(parser: configparser.ConfigParser, options: tuple[str, ...]) -> str:
    """The first of ``options`` set without the brackets its bounds=True ListOpt requires."""
    for option in options:
        value = parser.get("import_filtering_opts", option, fallback="").strip()
        if value and not (value.startswith("[") and value.endswith("]")):
            return f"[import_filtering_opts] {option} = {value}"
    return ""


def _ports(value: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in _list(value))
    except ValueError:
        raise ValueError(
            "glance-api.conf [import_filtering_opts]: ports must be integers"
        ) from None


def _limits(parser: configparser.ConfigParser) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for section in parser.sections():
        if section != "labkit_limits" and not section.startswith("labkit_limits:"):
            continue
        project = section.partition(":")[2].strip()
        values: dict[str, int] = {}
        for name in QUOTA_NAMES:
            if parser.has_option(section, name):
                try:
                    values[name] = int(parser.get(section, name))
                except ValueError:
                    raise ValueError(
                        f"glance-api.conf [{section}] {name}: not an integer"
                    ) from None
        out[project] = values
    return out
