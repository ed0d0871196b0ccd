"""Compute API response shapes, per microversion (``nova/api/openstack/compute/views``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, select

from labkit.sim.core.http import Call
from labkit.sim.core.sql import Prepared
from labkit.sim.nova import models as m
from labkit.sim.nova.api import security_groups as secgroups
from labkit.sim.nova.api._helpers import caller, links, microversion_at_least, nova

_REBOOT = {
    "rebooting": "REBOOT",
    "reboot_pending": "REBOOT",
    "reboot_started": "REBOOT",
    "rebooting_hard": "HARD_REBOOT",
    "reboot_pending_hard": "HARD_REBOOT",
    "reboot_started_hard": "HARD_REBOOT",
}
_REBUILD = dict.fromkeys(
    ("rebuilding", "rebuild_block_device_mapping", "rebuild_spawning"), "REBUILD"
)
_RESIZE = dict.fromkeys(
    ("resize_prep", "resize_migrating", "resize_migrated", "resize_finish"), "RESIZE"
)
# Nova's state map (nova/api/openstack/common.py): per vm_state, a default status and what
# some task states show instead.
_STATE_MAP: dict[str, tuple[str, dict[str, str]]] = {
    "active": (
        "ACTIVE",
        {
            **_REBOOT,
            **_REBUILD,
            **_RESIZE,
            "updating_password": "PASSWORD",
            "migrating": "MIGRATING",
        },
    ),
    "building": ("BUILD", {}),
    "stopped": ("SHUTOFF", {**_REBUILD, **_RESIZE}),
    "resized": ("VERIFY_RESIZE", {"resize_reverting": "REVERT_RESIZE"}),
    "paused": ("PAUSED", {"migrating": "MIGRATING"}),
    "suspended": ("SUSPENDED", {}),
    "rescued": ("RESCUE", {}),
    "error": ("ERROR", {**_REBUILD}),
    "deleted": ("DELETED", {}),
    "soft-delete": ("SOFT_DELETED", {}),
    "shelved": ("SHELVED", {}),
    "shelved_offloaded": ("SHELVED_OFFLOADED", {}),
}


# The microversions a server's shape changes at. A list renders one request's answer for
# every server, so what the request says -- its microversion, the caller's admin role, the
# URL root of its links -- is worked out once per request (:func:`_view`), not per server.
_SHAPE_VERSIONS = ("2.3", "2.9", "2.16", "2.19", "2.26", "2.47", "2.63", "2.73")


@dataclass(frozen=True)
class _View:
    root: str  # the service root links are made from (``Call.root_url``)
    is_admin: bool
    at_least: frozenset[str]  # the _SHAPE_VERSIONS this request's microversion reaches


def _view(call: Call) -> _View:
    found = call.extra.get("nova.view")
    if not isinstance(found, _View):
        found = _View(
            root=call.root_url,
            is_admin=caller(call).is_admin,
            at_least=frozenset(v for v in _SHAPE_VERSIONS if microversion_at_least(call, v)),
        )
        call.extra["nova.view"] = found
    return found


def _links(view: _View, kind: str, ident: str) -> list[dict[str, str]]:
    """``_helpers.links`` with the root already worked out."""
    return [
        {"rel": "self", "href": f"{view.root}/v2.1/{kind}/{ident}"},
        {"rel": "bookmark", "href": f"{view.root}/{kind}/{ident}"},
    ]


def status(instance: dict[str, Any]) -> str:
    vm, task = str(instance.get("vm_state")), instance.get("task_state")
    default, by_task = _STATE_MAP.get(vm, ("UNKNOWN", {}))
    return by_task.get(str(task), default) if task else default


# the statuses whose servers show ``progress`` (the view builder's _progress_statuses)
_PROGRESS_STATUSES = frozenset(
    ("ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING")
)


def disk_config(instance: dict[str, Any]) -> str:
    """``OS-DCF:diskConfig``: AUTO when the instance's ``auto_disk_config`` is set."""
    return "AUTO" if instance.get("auto_disk_config") else "MANUAL"


def host_status(call: Call, host: str | None) -> str:
    """``API.get_instance_host_status``: its host's nova-compute forced down is DOWN,
    disabled MAINTENANCE, up UP, else UNKNOWN; no host (or no compute there) is ``""``. The
    services are read once per request."""
    if not host:
        return ""
    found = call.extra.get("nova.host_status")
    if not isinstance(found, dict):
        api = nova(call)
        found = {}
        cell = api.nova_cells.cell1()
        if cell is not None:
            for values in _COMPUTE_SERVICES.all(cell[1]):
                row = m.Service(**dict(zip(_SERVICE_KEYS, values, strict=True)))
                if row.forced_down:
                    found[row.host] = "DOWN"
                elif row.disabled:
                    found[row.host] = "MAINTENANCE"
                else:
                    found[row.host] = "UP" if api.service_is_up(row) else "UNKNOWN"
        call.extra["nova.host_status"] = found
    return str(found.get(host, ""))


# Read for every server a poll shows (compiled once, core/sql.py): the compute services'
# rows, made into the objects a session would have loaded, and every server group's members.
_SERVICES = cast(Table, m.Service.__table__)
_SERVICE_KEYS = tuple(_SERVICES.c.keys())
_COMPUTE_SERVICES = Prepared(select(*_SERVICES.c).where(_SERVICES.c.binary == "nova-compute"))
_GROUP_MEMBERS = Prepared(select(m.InstanceGroup.uuid, m.InstanceGroup.members))


def host_id(instance: dict[str, Any]) -> str:
    host = instance.get("host")
    if not host:
        return ""
    return hashlib.sha224((instance["project_id"] + host).encode()).hexdigest()


def _time(value: str | None) -> str | None:
    """``2030-01-01T09:00:00.000000`` -> ``2030-01-01T09:00:00Z`` (Nova's isotime)."""
    if not value:
        return None
    return value.split(".")[0] + "Z"


def _usg_time(value: str | None) -> str | None:
    return value or None


def flavor_in_server(call: Call, flavor: dict[str, Any]) -> dict[str, Any]:
    view = _view(call)
    if "2.47" in view.at_least:
        out = {
            "vcpus": flavor["vcpus"],
            "ram": flavor["memory_mb"],
            "disk": flavor["root_gb"],
            "ephemeral": flavor.get("ephemeral_gb", 0),
            "swap": flavor.get("swap", 0),
            "original_name": flavor["name"],
        }
        # os_compute_api:servers:show:flavor-extra-specs: every caller, by default
        out["extra_specs"] = dict(flavor.get("extra_specs") or {})
        return out
    return {"id": flavor["flavorid"], "links": _links(view, "flavors", flavor["flavorid"])[1:]}


def addresses(instance: dict[str, Any], extended: bool = True) -> dict[str, list[dict[str, Any]]]:
    """The server's fixed addresses per network; ``extended`` adds the OS-EXT-IPS type and
    MAC address (every view but the pre-2.75 update and rebuild answers)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for port in instance.get("network_info") or []:
        for ip in port.get("fixed_ips", []):
            address: dict[str, Any] = {"version": 6 if ":" in ip else 4, "addr": ip}
            if extended:
                address["OS-EXT-IPS:type"] = "fixed"
                address["OS-EXT-IPS-MAC:mac_addr"] = port.get("mac_address", "")
            out.setdefault(port["network_name"], []).append(address)
    return out


# What Nova's view builder leaves out of the ``PUT /servers/{id}`` and rebuild answers
# before 2.75 (``show_all_attributes`` False): the attributes that were extensions in v2.0.
_EXTENDED_PREFIXES = ("OS-EXT-AZ:", "OS-EXT-SRV-ATTR:", "OS-EXT-STS:", "OS-SRV-USG:")
_EXTENDED_KEYS = frozenset(
    ("config_drive", "security_groups", "host_status", "os-extended-volumes:volumes_attached")
)


def server_after_change(call: Call, instance: dict[str, Any], keypair: bool) -> dict[str, Any]:
    """The server as ``PUT /servers/{id}`` (update) and the rebuild action answer. From 2.75
    that is the full view of ``GET``; before it Nova leaves out the extended attributes --
    availability zone, config drive, the SRV-ATTR/STS/SRV-USG fields, security groups, host
    status, attached volumes -- shows addresses without type and MAC, and shows ``key_name``
    only when ``keypair`` (rebuild from 2.54)."""
    if microversion_at_least(call, "2.75"):
        return server(call, instance, show_server_groups=True)
    out = {
        key: value
        for key, value in server(call, instance, groups={}, show_server_groups=True).items()
        if not key.startswith(_EXTENDED_PREFIXES) and key not in _EXTENDED_KEYS
    }
    out["addresses"] = addresses(instance, extended=False)
    if not keypair:
        out.pop("key_name", None)
    return out


def server_brief(call: Call, instance: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": instance["uuid"],
        "name": instance["display_name"],
        "links": _links(_view(call), "servers", instance["uuid"]),
    }


def server_groups_of(call: Call, uuid: str) -> list[str]:
    """``_get_server_groups``: the server group the server is a member of, as a list."""
    rows = _GROUP_MEMBERS.all(nova(call).nova_cells.api)
    return [group for group, members in rows if uuid in (members or [])][:1]


def server(
    call: Call,
    instance: dict[str, Any],
    groups: dict[str, list[dict[str, Any]]] | None = None,
    show_server_groups: bool = False,
) -> dict[str, Any]:
    """One server in full. ``groups`` are security-group bindings already fetched for a
    list (:func:`servers`); without them this server's are asked of Neutron. The show,
    update and rebuild answers add ``server_groups`` from 2.71 (``show_server_groups``);
    the list does not."""
    view = _view(call)
    image = instance.get("image_ref") or ""
    out: dict[str, Any] = {
        **server_brief(call, instance),
        "status": status(instance),
        "tenant_id": instance["project_id"],
        "user_id": instance["user_id"],
        "metadata": dict(instance.get("metadata") or {}),
        "hostId": host_id(instance),
        "image": {"id": image, "links": _links(view, "images", image)[1:]} if image else "",
        "flavor": flavor_in_server(call, instance["flavor"]),
        "created": _time(instance.get("created_at")),
        "updated": _time(instance.get("updated_at") or instance.get("created_at")),
        "addresses": addresses(instance),
        "accessIPv4": instance.get("access_ip_v4") or "",
        "accessIPv6": instance.get("access_ip_v6") or "",
        "OS-DCF:diskConfig": disk_config(instance),
        "OS-EXT-AZ:availability_zone": instance.get("availability_zone") or "",
        "config_drive": instance.get("config_drive") or "",
        "key_name": instance.get("key_name"),
        "OS-SRV-USG:launched_at": _usg_time(instance.get("launched_at")),
        "OS-SRV-USG:terminated_at": _usg_time(instance.get("terminated_at")),
        "OS-EXT-STS:task_state": instance.get("task_state"),
        "OS-EXT-STS:vm_state": instance.get("vm_state"),
        "OS-EXT-STS:power_state": instance.get("power_state", 0),
        "os-extended-volumes:volumes_attached": [],
    }
    if out["status"] in _PROGRESS_STATUSES:
        out["progress"] = instance.get("progress", 0)
    # the groups of the server's ports, from Neutron (none: no "security_groups" at all)
    bound = groups if groups is not None else secgroups.bindings(call, [instance["uuid"]])
    if bound.get(instance["uuid"]):
        out["security_groups"] = bound[instance["uuid"]]
    if view.is_admin:
        out["OS-EXT-SRV-ATTR:host"] = instance.get("host")
        out["OS-EXT-SRV-ATTR:instance_name"] = f"instance-{int(instance.get('id') or 0):08x}"
        out["OS-EXT-SRV-ATTR:hypervisor_hostname"] = instance.get("node")
        if "2.3" in view.at_least:
            out["OS-EXT-SRV-ATTR:reservation_id"] = instance.get("reservation_id", "")
            out["OS-EXT-SRV-ATTR:launch_index"] = instance.get("launch_index", 0)
            out["OS-EXT-SRV-ATTR:hostname"] = instance.get("hostname", "")
            out["OS-EXT-SRV-ATTR:kernel_id"] = ""
            out["OS-EXT-SRV-ATTR:ramdisk_id"] = ""
            out["OS-EXT-SRV-ATTR:root_device_name"] = "/dev/vda"
            out["OS-EXT-SRV-ATTR:user_data"] = instance.get("user_data")
    if "2.9" in view.at_least:
        out["locked"] = bool(instance.get("locked"))
    if "2.16" in view.at_least and view.is_admin:  # os_compute_api:servers:show:host_status
        out["host_status"] = host_status(call, instance.get("host"))
    if "2.19" in view.at_least:
        out["description"] = instance.get("display_description")
    if "2.26" in view.at_least:
        out["tags"] = list(instance.get("tags") or [])
    if "2.63" in view.at_least:
        out["trusted_image_certificates"] = None
    if "2.73" in view.at_least:
        out["locked_reason"] = instance.get("locked_reason")
    if show_server_groups and microversion_at_least(call, "2.71"):
        out["server_groups"] = server_groups_of(call, instance["uuid"])
    fault = instance.get("fault")
    if fault and out["status"] in ("ERROR", "DELETED"):
        shown = {
            "code": fault["code"],
            "created": _time(fault.get("created")),
            "message": fault["message"],
        }
        if view.is_admin:
            shown["details"] = fault.get("details", "")
        out["fault"] = shown
    return out


def servers(call: Call, instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Servers in full, their security groups fetched from Neutron in one go (one ports
    query and one groups query per 150 servers), as Nova's list view does."""
    groups = secgroups.bindings(call, [i["uuid"] for i in instances])
    return [server(call, i, groups) for i in instances]


def flavor(call: Call, row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.flavorid,
        "name": row.name,
        "ram": row.memory_mb,
        "disk": row.root_gb,
        "swap": row.swap if microversion_at_least(call, "2.75") or row.swap else "",
        "OS-FLV-EXT-DATA:ephemeral": row.ephemeral_gb,
        "OS-FLV-DISABLED:disabled": row.disabled,
        "vcpus": row.vcpus,
        "os-flavor-access:is_public": row.is_public,
        "rxtx_factor": row.rxtx_factor,
        "links": links(call, "flavors", row.flavorid),
    }
    if microversion_at_least(call, "2.55"):
        out["description"] = row.description
    if microversion_at_least(call, "2.61"):
        out["extra_specs"] = dict(row.extra_specs or {})
    return out


def flavor_for_instance(row: Any) -> dict[str, Any]:
    """The flavor as the instance keeps it (a copy: later flavor changes do not move it)."""
    return {
        "flavorid": row.flavorid,
        "name": row.name,
        "vcpus": row.vcpus,
        "memory_mb": row.memory_mb,
        "root_gb": row.root_gb,
        "ephemeral_gb": row.ephemeral_gb,
        "swap": row.swap,
        "extra_specs": dict(row.extra_specs or {}),
    }
