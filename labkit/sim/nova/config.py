"""``/etc/nova/nova.conf`` (and ``nova-compute.conf``) as the sim's Nova services read them.

Only the options the sim acts on are read; each keeps Zed's default. Every Nova service on
every host reads its own host's copy, as on real hosts: a wrong ``transport_url`` on worker1
breaks only worker1's nova-compute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from labkit.sim.core.authtoken import AuthTokenConf
from labkit.sim.core.conf import ConfFile

CONF_PATH = "/etc/nova/nova.conf"
COMPUTE_CONF_PATH = "/etc/nova/nova-compute.conf"
# Zed's [filter_scheduler] enabled_filters default (placement does RAM/disk/core/AZ).
DEFAULT_FILTERS = (
    "ComputeFilter",
    "ComputeCapabilitiesFilter",
    "ImagePropertiesFilter",
    "ServerGroupAntiAffinityFilter",
    "ServerGroupAffinityFilter",
)
# [api] config_drive_skip_versions (Zed): of the EC2 versions, the drive keeps 2009-04-04.
DEFAULT_SKIP_VERSIONS = (
    "1.0 2007-01-19 2007-03-01 2007-08-29 2007-10-10 2007-12-15 2008-02-01 2008-09-01"
)


@dataclass(frozen=True)
class ServiceAuth:
    """A ``[placement]`` / ``[neutron]`` / ``[service_user]`` section: how Nova logs in to
    reach another service."""

    auth_url: str = ""
    username: str = ""
    password: str = ""
    project_name: str = ""
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    region_name: str = ""
    valid_interfaces: str = "internal,public"

    @classmethod
    def from_conf(cls, conf: ConfFile, section: str) -> ServiceAuth:
        return cls(
            auth_url=conf.get(section, "auth_url"),
            username=conf.get(section, "username"),
            password=conf.get(section, "password"),
            project_name=conf.get(section, "project_name"),
            user_domain_name=conf.get(section, "user_domain_name", "Default"),
            project_domain_name=conf.get(section, "project_domain_name", "Default"),
            region_name=conf.get(section, "region_name"),
            valid_interfaces=conf.get(section, "valid_interfaces", "internal,public"),
        )


@dataclass(frozen=True)
class NovaConf:
    transport_url: str = ""
    my_ip: str = ""
    host: str = ""  # [DEFAULT] host; empty = the host's own name
    api_database: str = ""
    database: str = ""
    service_down_time: int = 60
    report_interval: int = 10
    rpc_response_timeout: int = 60
    compute_driver: str = "libvirt.LibvirtDriver"
    virt_type: str = "kvm"
    cpu_allocation_ratio: float = 4.0  # initial_cpu_allocation_ratio (Zed)
    ram_allocation_ratio: float = 1.0  # initial_ram_allocation_ratio
    disk_allocation_ratio: float = 1.0  # initial_disk_allocation_ratio
    reserved_host_memory_mb: int = 512
    reserved_host_disk_mb: int = 0
    reserved_host_cpus: int = 0
    enabled_filters: tuple[str, ...] = DEFAULT_FILTERS
    max_attempts: int = 3
    host_subset_size: int = 1
    ram_weight_multiplier: float = 1.0
    cpu_weight_multiplier: float = 1.0
    disk_weight_multiplier: float = 1.0
    discover_hosts_in_cells_interval: int = -1
    glance_api_servers: str = ""  # [glance] api_servers ("" = from the catalog)
    default_availability_zone: str = "nova"
    authtoken: AuthTokenConf = field(default_factory=AuthTokenConf)
    placement: ServiceAuth = field(default_factory=ServiceAuth)
    neutron: ServiceAuth = field(default_factory=ServiceAuth)
    metadata_proxy_shared_secret: str = ""
    service_metadata_proxy: bool = False
    # [api]: the metadata service (nova-api-metadata)
    use_forwarded_for: bool = False
    dhcp_domain: str = "novalocal"
    vendordata_providers: tuple[str, ...] = ("StaticJSON",)
    vendordata_jsonfile_path: str = ""
    metadata_cache_expiration: int = 15
    config_drive_skip_versions: str = DEFAULT_SKIP_VERSIONS
    force_config_drive: bool = False  # [DEFAULT], read by the compute hosts

    @classmethod
    def read(cls, path: Path, compute_path: Path | None = None) -> NovaConf:
        conf = ConfFile.read(path)
        if compute_path is not None and compute_path.is_file():
            conf.parser.read(compute_path)  # later files win, as with --config-file twice
        filters = conf.get_list("filter_scheduler", "enabled_filters")
        return cls(
            transport_url=conf.get("DEFAULT", "transport_url"),
            my_ip=conf.get("DEFAULT", "my_ip"),
            host=conf.get("DEFAULT", "host"),
            api_database=conf.get("api_database", "connection"),
            database=conf.get("database", "connection"),
            service_down_time=conf.get_int("DEFAULT", "service_down_time", 60),
            report_interval=conf.get_int("DEFAULT", "report_interval", 10),
            rpc_response_timeout=conf.get_int("DEFAULT", "rpc_response_timeout", 60),
            compute_driver=conf.get("DEFAULT", "compute_driver", "libvirt.LibvirtDriver"),
            virt_type=conf.get("libvirt", "virt_type", "kvm"),
            cpu_allocation_ratio=_ratio(conf, "cpu_allocation_ratio", "initial_cpu", 4.0),
            ram_allocation_ratio=_ratio(conf, "ram_allocation_ratio", "initial_ram", 1.0),
            disk_allocation_ratio=_ratio(conf, "disk_allocation_ratio", "initial_disk", 1.0),
            reserved_host_memory_mb=conf.get_int("DEFAULT", "reserved_host_memory_mb", 512),
            reserved_host_disk_mb=conf.get_int("DEFAULT", "reserved_host_disk_mb", 0),
            reserved_host_cpus=conf.get_int("DEFAULT", "reserved_host_cpus", 0),
            enabled_filters=tuple(filters) or DEFAULT_FILTERS,
            max_attempts=conf.get_int("scheduler", "max_attempts", 3),
            host_subset_size=conf.get_int("filter_scheduler", "host_subset_size", 1),
            ram_weight_multiplier=_float(conf, "filter_scheduler", "ram_weight_multiplier", 1.0),
            cpu_weight_multiplier=_float(conf, "filter_scheduler", "cpu_weight_multiplier", 1.0),
            disk_weight_multiplier=_float(conf, "filter_scheduler", "disk_weight_multiplier", 1.0),
            discover_hosts_in_cells_interval=conf.get_int(
                "scheduler", "discover_hosts_in_cells_interval", -1
            ),
            glance_api_servers=conf.get("glance", "api_servers"),
            default_availability_zone=conf.get("DEFAULT", "default_availability_zone", "nova"),
            authtoken=AuthTokenConf.from_conf(conf),
            placement=ServiceAuth.from_conf(conf, "placement"),
            neutron=ServiceAuth.from_conf(conf, "neutron"),
            metadata_proxy_shared_secret=conf.get("neutron", "metadata_proxy_shared_secret"),
            service_metadata_proxy=conf.get_bool("neutron", "service_metadata_proxy"),
            use_forwarded_for=conf.get_bool("api", "use_forwarded_for", False),
            dhcp_domain=conf.get("api", "dhcp_domain", "novalocal"),
            vendordata_providers=tuple(conf.get_list("api", "vendordata_providers", "StaticJSON")),
            vendordata_jsonfile_path=conf.get("api", "vendordata_jsonfile_path"),
            metadata_cache_expiration=conf.get_int("api", "metadata_cache_expiration", 15),
            config_drive_skip_versions=conf.get(
                "api", "config_drive_skip_versions", DEFAULT_SKIP_VERSIONS
            ),
            force_config_drive=conf.get_bool("DEFAULT", "force_config_drive", False),
        )


def _float(conf: ConfFile, section: str, key: str, default: float) -> float:
    value = conf.get(section, key, "")
    try:
        return float(value) if value else default
    except ValueError:
        raise ValueError(f"nova.conf [{section}] {key}: not a number: {value!r}") from None


def _ratio(conf: ConfFile, key: str, initial: str, default: float) -> float:
    """A set ``*_allocation_ratio`` wins; else ``initial_*_allocation_ratio`` (Zed)."""
    value = conf.get("DEFAULT", key, "")
    if value and value != "0.0":
        return _float(conf, "DEFAULT", key, default)
    return _float(conf, "DEFAULT", f"{initial}_allocation_ratio", default)
