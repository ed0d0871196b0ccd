"""Nova in the sim: one boot to ACTIVE, 1,000 servers on 100 hosts, and listing them.

Targets (issue 9): boot -> ACTIVE through openstacksdk, instant pace, median < 50 ms (a real
Zed all-in-one on this kind of machine took 14 s under TCG); 1,000 servers across 100
simulated hosts in < 30 s with the sim's peak RSS < 400 MiB; ``server list`` of 1,000
servers < 200 ms.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import yaml

from bench.common import free_port, load_note, repo_env
from labkit.lab import Lab

REAL_ZED_BOOT_S = 14.0  # measured on this kind of machine (real-install-notes.md)


def _lab(env: Path, root: Path) -> Lab:
    lab = Lab.from_env(str(env), state_root=root, sim_port=free_port())
    lab.ensure("nova-compute")
    return lab


def _stop(lab: Lab) -> None:
    from labkit.sim import process

    process.stop(lab.paths)


class PeakRss:
    """Samples a process's RSS every 50 ms while it runs."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            self._stop.wait(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _wait_all_active(conn: Any, count: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        servers = list(conn.compute.servers(details=True))
        active = sum(1 for s in servers if s.status == "ACTIVE")
        errors = sum(1 for s in servers if s.status == "ERROR")
        if active + errors >= count:
            return active
        time.sleep(0.2)
    return sum(1 for s in conn.compute.servers() if s.status == "ACTIVE")


def boot_latency(lab: Lab, count: int = 30) -> list[float]:
    conn = lab.connect("admin")
    conn.compute.update_quota_set(conn.current_project_id, instances=-1, cores=-1, ram=-1)
    flavor = conn.compute.find_flavor("m1.nano")
    image = conn.image.find_image("cirros")
    samples = []
    for n in range(count):
        started = time.perf_counter()
        server = conn.compute.create_server(
            name=f"bench-{n}", flavor_id=flavor.id, image_id=image.id, networks="none"
        )
        while conn.compute.get_server(server.id).status != "ACTIVE":
            time.sleep(0.002)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _many_hosts_env(folder: Path, hosts: int) -> Path:
    base = yaml.safe_load(repo_env("sim").read_text())
    base["hosts"] = [
        {
            "name": "controller" if i == 0 else f"worker{i}",
            "address": f"10.64.{1 + i // 250}.{2 + i % 250}",
            "roles": ["controller", "worker"] if i == 0 else ["worker"],
            "cpus": 32,
            "ram_gb": 128,
            "disk_gb": 2000,
        }
        for i in range(hosts)
    ]
    base["management_network"]["cidr"] = "10.64.0.0/16"
    path = folder / "sim-100.yaml"
    path.write_text(yaml.safe_dump(base))
    return path


def run() -> None:
    print(load_note())
    with tempfile.TemporaryDirectory(prefix="bench-nova-") as tmp:
        root = Path(tmp)
        lab = _lab(repo_env("sim"), root / "one")
        try:
            samples = boot_latency(lab)
        finally:
            _stop(lab)
        median = statistics.median(samples)
        print(
            f"boot -> ACTIVE through openstacksdk (instant pace, n={len(samples)}): "
            f"median {median:.1f} ms, max {max(samples):.1f} ms  "
            f"({median / 50:.2f}x of the 50 ms target; a real Zed all-in-one took "
            f"{REAL_ZED_BOOT_S:.0f} s here: {REAL_ZED_BOOT_S * 1000 / median:.0f}x faster)"
        )

        env = _many_hosts_env(root, 100)
        started = time.perf_counter()
        lab = _lab(env, root / "many")
        print(f"100 hosts installed (every layer) in {time.perf_counter() - started:.1f} s")
        try:
            conn = lab.connect("admin")
            conn.compute.update_quota_set(conn.current_project_id, instances=-1, cores=-1, ram=-1)
            flavor = conn.compute.find_flavor("m1.nano")
            image = conn.image.find_image("cirros")
            pid = lab.sim.health()["pid"]
            with PeakRss(pid) as rss:
                started = time.perf_counter()
                for batch in range(10):
                    conn.compute.create_server(
                        name=f"many-{batch}",
                        flavor_id=flavor.id,
                        image_id=image.id,
                        networks="none",
                        min_count=100,
                        max_count=100,
                    )
                active = _wait_all_active(conn, 1000, timeout=300)
                took = time.perf_counter() - started
            hosts = {s.compute_host for s in conn.compute.servers(details=True, all_projects=True)}
            print(
                f"1,000 servers on 100 hosts: {active} ACTIVE in {took:.1f} s "
                f"({active / took:.0f} servers/s; {took / 30:.2f}x of the 30 s target), "
                f"spread over {len(hosts)} hosts; sim peak RSS {rss.peak / 2**20:.0f} MiB "
                f"({rss.peak / 2**20 / 400:.2f}x of the 400 MiB limit)"
            )
            listing = []
            for _ in range(10):
                t0 = time.perf_counter()
                found = list(conn.compute.servers(details=True))
                listing.append((time.perf_counter() - t0) * 1000)
            print(
                f"server list (detail) of {len(found)} servers: median "
                f"{statistics.median(listing):.0f} ms "
                f"({statistics.median(listing) / 200:.2f}x of the 200 ms target)"
            )
        finally:
            _stop(lab)
