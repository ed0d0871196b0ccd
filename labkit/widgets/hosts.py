"""Hosts against the requirements, and the services running on them.

Introduced in notebooks/01-hosts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from labkit.display import Table, relative_time
from labkit.layers import GUIDE_MINIMUM, SEED_NETWORK, SEED_REQUIREMENTS


def _need(roles: Sequence[str]) -> dict[str, float]:
    """The Install Guide's minimum for a host with these roles (a controller that is also a
    worker needs the larger of each)."""
    need = {"cpus": 0.0, "ram_gb": 0.0, "disk_gb": 0.0}
    for role in roles:
        for key, value in GUIDE_MINIMUM.get(role, {}).items():
            need[key] = max(need[key], float(value))
    return need


def _fits(have: float, guide: float, seed: float) -> tuple[str, str]:
    if have >= seed:
        return "ok", f"{have:g} (seed: {seed:g})"
    if have >= guide:
        return "warn", f"{have:g} (guide min {guide:g}, seed {seed:g})"
    return "fail", f"{have:g} < guide min {guide:g}"


def requirements_table(
    hosts: Sequence[Mapping[str, Any]], cidr: str, measured: bool = False
) -> Table:
    """One row per host: CPUs, RAM, disk against the seed's recipe and the guide's minimum.

    ``measured`` says where the sizes came from (preflight on real hosts) or the env file."""
    net = ipaddress.ip_network(cidr, strict=False)
    table = Table(
        ["host", "roles", "CPUs", "RAM GB", "disk GB", "network", "verdict"],
        title=f"Requirements: the seed's 'My First OpenStack' "
        f"({SEED_REQUIREMENTS['cpus']} CPU, {SEED_REQUIREMENTS['ram_gb']:g} GB "
        f"RAM, {SEED_REQUIREMENTS['disk_gb']:g}+ GB disk, "
        f"{SEED_NETWORK}) vs the hosts",
        note="sizes "
        + (
            "measured on the hosts"
            if measured
            else "as declared in the env file (the sim makes them so)"
        ),
    )
    for host in hosts:
        need = _need(host.get("roles", []))
        verdicts = [
            _fits(float(host["cpus"]), need["cpus"], float(SEED_REQUIREMENTS["cpus"])),
            _fits(float(host["ram_gb"]), need["ram_gb"], float(SEED_REQUIREMENTS["ram_gb"])),
            _fits(float(host["disk_gb"]), need["disk_gb"], float(SEED_REQUIREMENTS["disk_gb"])),
        ]
        on_net = ipaddress.ip_address(host["address"]) in net
        network = f"{host['address']} in {cidr}" if on_net else f"{host['address']} NOT in {cidr}"
        marks = [v[0] for v in verdicts] + ["ok" if on_net else "fail"]
        worst = "fail" if "fail" in marks else "warn" if "warn" in marks else "ok"
        verdict = {
            "ok": "fits the seed's recipe",
            "warn": "enough for a small lab",
            "fail": "too small",
        }[worst]
        table.add(
            host["name"],
            " + ".join(host.get("roles", [])),
            *(v[1] for v in verdicts),
            network,
            verdict,
            mark=worst,
        )
    return table


def services_table(hosts: Sequence[Mapping[str, Any]], now: str | None = None) -> Table:
    """Services per host with their state and since when (relative to the cloud's clock)."""
    table = Table(["host", "service", "state", "since"], title="Services on the hosts")
    for host in hosts:
        services = sorted(host.get("services", []), key=lambda s: s["name"])
        if not services:
            table.add(host["name"], "(none yet)", "", "", mark="dim")
        for svc in services:
            since = relative_time(svc["since"], now) if now and svc.get("since") else "-"
            mark = "ok" if svc["state"] == "running" else "fail"
            table.add(host["name"], svc["name"], svc["state"], since, mark=mark)
    return table
