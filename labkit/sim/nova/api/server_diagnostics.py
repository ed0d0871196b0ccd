"""``GET /servers/{id}/diagnostics`` (admin): what the libvirt driver reads of a running
domain (``nova/api/openstack/compute/server_diagnostics.py``) -- before 2.48 libvirt's own
flat dict (``cpu0_time``, ``memory``, ``vda_read`` ..., ``tap<port>_rx`` ...), from 2.48 the
common shape (state, driver, hypervisor, uptime, cpu/nic/disk details, memory details).

The checks are Nova's: a server without a host is not ready (409), one whose power state is
not running is the compute's InstanceInvalidState (409). The figures are the sim's: the
guests keep no disk or network counters, so those are 0; CPU time is the uptime spread over
the vCPUs, the memory the flavor's. Nova asks the compute over RPC; nova-api answers here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.nova.api import _instance as srv
from labkit.sim.nova.api._helpers import microversion_at_least, nova, require_admin
from labkit.sim.nova.errors import conflict, invalid_state

routes = Routes()
RUNNING = 1  # power_state.RUNNING
POWER_STATES = {
    0: "pending",
    1: "running",
    3: "paused",
    4: "shutdown",
    6: "crashed",
    7: "suspended",
}
_NIC_COUNTERS = (
    "rx_octets",
    "rx_errors",
    "rx_drop",
    "rx_packets",
    "tx_octets",
    "tx_errors",
    "tx_drop",
    "tx_packets",
)


def _uptime(call: Call, inst: dict[str, Any]) -> int:
    launched = inst.get("launched_at")
    if not launched:
        return 0
    started = datetime.fromisoformat(str(launched).replace("Z", "+00:00"))
    if started.tzinfo is None:
        started = started.replace(tzinfo=nova(call).runtime.now().tzinfo)
    return max(0, int((nova(call).runtime.now() - started).total_seconds()))


def _libvirt_dict(inst: dict[str, Any], uptime: int) -> dict[str, Any]:
    """``LibvirtDriver.get_diagnostics``: per vCPU its time (ns), the memory (KiB), the
    root disk's and each tap device's counters."""
    flavor = inst["flavor"]
    vcpus = int(flavor.get("vcpus") or 1)
    memory_kib = int(flavor.get("memory_mb") or 0) * 1024
    out: dict[str, Any] = {f"cpu{i}_time": uptime * 10**9 // vcpus for i in range(vcpus)}
    out.update({"memory": memory_kib, "memory-actual": memory_kib, "memory-rss": memory_kib})
    out.update(vda_read=0, vda_read_req=0, vda_write=0, vda_write_req=0, vda_errors=-1)
    for nic in inst.get("network_info") or []:
        tap = f"tap{str(nic.get('port_id', ''))[:11]}"
        for counter in ("rx", "rx_drop", "rx_errors", "rx_packets", "tx", "tx_drop"):
            out[f"{tap}_{counter}"] = 0
        out.update({f"{tap}_tx_errors": 0, f"{tap}_tx_packets": 0})
    return out


def _common_view(call: Call, inst: dict[str, Any], uptime: int) -> dict[str, Any]:
    """The 2.48 view (``instance_diagnostics``)."""
    flavor = inst["flavor"]
    vcpus = int(flavor.get("vcpus") or 1)
    nics = list(inst.get("network_info") or [])
    memory = int(flavor.get("memory_mb") or 0)
    return {
        "state": POWER_STATES.get(int(inst.get("power_state") or 0), "pending"),
        "driver": "libvirt",
        "hypervisor": nova(call).nova_conf.virt_type,
        "hypervisor_os": "linux",
        "uptime": uptime,
        "config_drive": bool(inst.get("config_drive")),
        "num_cpus": vcpus,
        "num_nics": len(nics),
        "num_disks": 1,
        "memory_details": {"maximum": memory, "used": memory},
        "cpu_details": [
            {"id": i, "time": uptime * 10**9 // vcpus, "utilisation": None} for i in range(vcpus)
        ],
        "nic_details": [
            {
                "mac_address": nic.get("mac_address") or None,
                **dict.fromkeys(_NIC_COUNTERS, 0),
                "rx_rate": None,
                "tx_rate": None,
            }
            for nic in nics
        ],
        "disk_details": [
            {
                "read_bytes": 0,
                "read_requests": 0,
                "write_bytes": 0,
                "write_requests": 0,
                "errors_count": -1,
            }
        ],
    }


@routes.get("/v2.1/servers/{server_id}/diagnostics")
def diagnostics(call: Call, server_id: str) -> Response:
    _, inst = srv.lookup(call, server_id)
    require_admin(call, "os_compute_api:os-server-diagnostics")
    if not inst.get("host"):
        raise conflict(f"Instance {inst['uuid']} is not ready")
    power = int(inst.get("power_state") or 0)
    if power != RUNNING:
        raise invalid_state(
            inst["uuid"], "power state", POWER_STATES.get(power, "pending"), "get_diagnostics"
        )
    uptime = _uptime(call, inst)
    if microversion_at_least(call, "2.48"):
        return json_response(_common_view(call, inst, uptime))
    return json_response(_libvirt_dict(inst, uptime))
