"""A ``tempest.conf`` for a running sim: what tempest must be told about the cloud it tests.

What is read from the cloud itself (through the admin's openstacksdk connection): the
Identity v3 URI, the images (the smallest as ``image_ref``), the two smallest flavors that
fit it, the provider network, the Compute and Placement microversion ranges from their
version documents, Neutron's extension aliases and Glance's import methods. What the sim
emulates is stated here once, as the feature flags below: a flag is on only where the sim
serves the feature (a test of a feature the sim lacks is then skipped, as on a real cloud
deployed without it). Update them when a room learns the feature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labkit.lab import Lab

# [compute-feature-enabled]: what Nova in the sim does (labkit/sim/nova/__init__.py
# LIMITATIONS). No volumes, snapshots, shelve, migrations, rescue, pause/suspend, consoles.
COMPUTE_FEATURES: dict[str, bool] = {
    "disk_config": True,
    "change_password": False,
    "console_output": True,
    "resize": True,
    "pause": False,
    "shelve": False,
    "shelve_migrate": False,
    "suspend": False,
    "cold_migration": False,
    "live_migration": False,
    "metadata_service": True,
    "vnc_console": False,
    "spice_console": False,
    "serial_console": False,
    "rescue": False,
    "stable_rescue": False,
    "enable_instance_password": True,
    "interface_attach": False,
    "snapshot": False,
    "personality": False,
    "attach_encrypted_volume": False,
    "config_drive": True,
    "swap_volume": False,
    "volume_multiattach": False,
    "ide_bus": False,
    "unified_limits": False,
}
# The scheduler's filters (nova.conf [filter_scheduler] enabled_filters as the install writes
# it, Zed's default list): tempest skips tests that need others (SameHostFilter ...).
SCHEDULER_FILTERS = (
    "AvailabilityZoneFilter",
    "ComputeFilter",
    "ComputeCapabilitiesFilter",
    "ImagePropertiesFilter",
    "ServerGroupAntiAffinityFilter",
    "ServerGroupAffinityFilter",
)
# Keystone in the sim: no trusts, access rules, application credentials or PCI-DSS options.
IDENTITY_FEATURES: dict[str, bool] = {
    "trust": False,
    "api_v2": False,
    "api_v2_admin": False,
    "api_v3": True,
    "domain_specific_drivers": False,
    "security_compliance": False,
    "access_rules": False,
}


@dataclass(frozen=True)
class CloudFacts:
    """What tempest.conf needs from the running cloud."""

    identity_uri: str
    region: str
    admin_password: str
    images: list[str]  # ids, smallest first
    flavors: list[str]  # ids, smallest first, each big enough for images[0]
    network_name: str
    network_id: str
    network_external: bool
    compute_versions: tuple[str, str]  # (min, max) microversion
    placement_versions: tuple[str, str]
    network_extensions: list[str] = field(default_factory=list)
    image_import: bool = False
    compute_nodes: int = 1


def _version_range(conn: Any, service_type: str, low: str, high: str) -> tuple[str, str]:
    """(min, max) microversion from a service's version document (Nova: min_version/version,
    Placement: min_version/max_version)."""
    endpoint = conn.session.get_endpoint(service_type=service_type, interface="public")
    body = conn.session.get(endpoint, endpoint_filter=None, authenticated=False).json()
    doc = body["version"] if "version" in body else body["versions"][0]
    return str(doc[low]), str(doc[high])


def gather(lab: Lab) -> CloudFacts:
    """Read the facts from the lab's cloud as its admin."""
    conn = lab.connect("admin")
    images = sorted(conn.image.images(), key=lambda i: (i.size or 0, i.name))
    first = images[0]
    flavors = sorted(
        (f for f in conn.compute.flavors() if f.disk >= (first.min_disk or 0)),
        key=lambda f: (f.ram, f.vcpus, f.disk, f.id),
    )
    networks = sorted(conn.network.networks(is_shared=True), key=lambda n: n.name)
    network = networks[0]
    # The image proxy's endpoint is already versioned (.../image/v2); the unversioned one
    # would be the catalog's URL. Strip the version so both forms give one path.
    image_root = str(conn.image.get_endpoint()).rstrip("/").removesuffix("/v2")
    imports = conn.session.get(image_root + "/v2/info/import", raise_exc=False)
    methods = imports.json().get("import-methods", {}).get("value", []) if imports.ok else []
    credentials = lab.credentials("admin")
    return CloudFacts(
        identity_uri=credentials.auth_url,
        region=credentials.region,
        admin_password=credentials.password,
        images=[i.id for i in images],
        flavors=[f.id for f in flavors],
        network_name=network.name,
        network_id=network.id,
        network_external=bool(network.is_router_external),
        compute_versions=_version_range(conn, "compute", "min_version", "version"),
        placement_versions=_version_range(conn, "placement", "min_version", "max_version"),
        network_extensions=sorted(e.alias for e in conn.network.extensions()),
        image_import=bool(methods),
        compute_nodes=len(list(conn.compute.hypervisors())),
    )


def render(facts: CloudFacts, log_file: str) -> str:
    """The tempest.conf text for ``facts``."""
    conf: dict[str, dict[str, str]] = {}
    alt_image = facts.images[1] if len(facts.images) > 1 else facts.images[0]
    alt_flavor = facts.flavors[1] if len(facts.flavors) > 1 else facts.flavors[0]
    conf["DEFAULT"] = {"log_file": log_file, "use_stderr": "false"}
    conf["auth"] = {
        "use_dynamic_credentials": "true",
        # A provider-network lab: no project networks, every server on the shared one.
        "create_isolated_networks": "false",
        "admin_username": "admin",
        "admin_password": facts.admin_password,
        "admin_project_name": "admin",
        "admin_domain_name": "Default",
    }
    conf["identity"] = {
        "uri_v3": facts.identity_uri,
        "auth_version": "v3",
        "region": facts.region,
    }
    conf["identity-feature-enabled"] = _flags(IDENTITY_FEATURES)
    conf["compute"] = {
        "image_ref": facts.images[0],
        "image_ref_alt": alt_image,
        "flavor_ref": facts.flavors[0],
        "flavor_ref_alt": alt_flavor,
        "fixed_network_name": facts.network_name,
        "min_microversion": facts.compute_versions[0],
        "max_microversion": facts.compute_versions[1],
        "min_compute_nodes": str(facts.compute_nodes),
        "build_interval": "1",
        "build_timeout": "60",
    }
    conf["compute-feature-enabled"] = {
        **_flags(COMPUTE_FEATURES),
        "scheduler_enabled_filters": ",".join(SCHEDULER_FILTERS),
    }
    conf["placement"] = {
        "min_microversion": facts.placement_versions[0],
        "max_microversion": facts.placement_versions[1],
    }
    conf["image"] = {"build_interval": "1", "build_timeout": "60"}
    conf["image-feature-enabled"] = {
        "api_v2": "true",
        "import_image": _bool(facts.image_import),
        # Zed's Glance stores what it is given; format inspection on upload came later.
        "image_format_enforcement": "false",
    }
    conf["network"] = {
        "public_network_id": facts.network_id if facts.network_external else "",
        "floating_network_name": facts.network_name if facts.network_external else "",
        "shared_physical_network": "true",
        "build_interval": "1",
        "build_timeout": "60",
    }
    conf["network-feature-enabled"] = {
        "api_extensions": ",".join(facts.network_extensions),
        "floating_ips": "false",  # no L3 agent in the lab
        "ipv6": "false",
    }
    conf["validation"] = {"run_validation": "false"}  # guests are reached through the sim only
    conf["service_available"] = {
        "nova": "true",
        "neutron": "true",
        "glance": "true",
        "cinder": "false",
        "swift": "false",
        "horizon": "false",
    }
    lines: list[str] = []
    for section, options in conf.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {value}" for key, value in options.items())
        lines.append("")
    return "\n".join(lines)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _flags(flags: dict[str, bool]) -> dict[str, str]:
    return {name: _bool(on) for name, on in flags.items()}
