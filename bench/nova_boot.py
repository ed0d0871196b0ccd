"""Nova in the sim: one boot to ACTIVE, 1,000 servers on 100 hosts, and listing them.

    python -m bench nova_boot

Targets (issue 9), each printed with the measured figure and its ratio to the target:

* boot -> ACTIVE through openstacksdk, instant pace: median < 50 ms (a real Zed all-in-one
  on this kind of machine took 14 s under TCG);
* 1,000 servers on 100 simulated hosts (ten ``min_count=100`` creates), from the first
  create to the last server ACTIVE: < 30 s wall clock, with the sim's peak RSS < 400 MiB;
* ``server list`` of those 1,000 servers -- ``GET /servers/detail``, what the Compute API
  answers -- p50 < 200 ms over HTTP.

Next to each wall-clock figure the sim process's CPU time is printed: the sim runs on one
core (one Python process), so on a quiet machine its CPU time is its wall time, and on a
busy one it is the figure that stays put. The openstacksdk listing is printed too, to show
how much of ``openstack server list`` is the client building its objects, not the sim.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

from bench.common import free_port, latency, load_note, process_cpu_seconds, repo_env
from labkit.lab import Lab

REAL_ZED_BOOT_S = 14.0  # measured on this kind of machine (real-install-notes.md)
BOOT_TARGET_MS = 50.0
MANY_TARGET_S = 30.0
RSS_LIMIT_MIB = 400.0
LIST_TARGET_MS = 200.0
POLL_S = 0.5  # how often the 1,000-server run asks how many are ACTIVE


def _lab(env: Path, root: Path) -> Lab:
    lab = Lab.from_env(str(env), state_root=root, sim_port=free_port())
    lab.ensure("nova-compute")
    return lab


def _stop(lab: Lab) -> None:
    from labkit.sim import process

    process.stop(lab.paths)


def _ratio(value: float, target: float, unit: str) -> str:
    return f"{value / target:.2f}x of the {target:g} {unit} target"


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


class Compute:
    """Raw HTTP to the Compute API with the admin token: one kept-alive connection, so what
    is measured is the sim (openstacksdk spends ~4 ms of its own per server it lists)."""

    def __init__(self, conn: Any) -> None:
        self.endpoint = conn.compute.get_endpoint().rstrip("/")
        self.http = httpx.Client(
            headers={"X-Auth-Token": conn.auth_token, "OpenStack-API-Version": "compute 2.1"},
            timeout=120,
        )

    def servers(self, query: str = "", detail: bool = False) -> list[dict[str, Any]]:
        path = "/servers/detail" if detail else "/servers"
        answer = self.http.get(f"{self.endpoint}{path}{query}")
        answer.raise_for_status()
        return list(answer.json()["servers"])

    def wait_all_active(self, count: int, timeout: float) -> tuple[int, int]:
        """(ACTIVE, ERROR) once ``count`` servers exist and none is still in BUILD, or at
        the timeout. One listing per poll (``?status=BUILD``), the final count after: the
        bench's own polling competes with the sim for the machine's two cores."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.servers("?status=BUILD") and len(self.servers()) >= count:
                break
            time.sleep(POLL_S)
        return len(self.servers("?status=ACTIVE")), len(self.servers("?status=ERROR"))


def boot_latency(lab: Lab, count: int = 30) -> tuple[list[float], float]:
    """Boot -> ACTIVE through openstacksdk, one server after the other (create, then poll
    ``get_server`` every 2 ms), as ``openstack server create --wait`` does. Returns the
    latencies in ms and the sim's CPU ms per boot."""
    conn = lab.connect("admin")
    conn.compute.update_quota_set(conn.current_project_id, instances=-1, cores=-1, ram=-1)
    flavor = conn.compute.find_flavor("m1.nano")
    image = conn.image.find_image("cirros")
    pid = lab.sim.health()["pid"]
    samples = []
    cpu_before = process_cpu_seconds(pid)
    for n in range(count):
        started = time.perf_counter()
        server = conn.compute.create_server(
            name=f"bench-{n}", flavor_id=flavor.id, image_id=image.id, networks="none"
        )
        while conn.compute.get_server(server.id).status != "ACTIVE":
            time.sleep(0.002)
        samples.append((time.perf_counter() - started) * 1000)
    cpu_ms = (process_cpu_seconds(pid) - cpu_before) * 1000 / count
    return samples, cpu_ms


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


def _one_by_one(root: Path) -> None:
    lab = _lab(repo_env("sim"), root / "one")
    try:
        samples, cpu_ms = boot_latency(lab)
    finally:
        _stop(lab)
    median = statistics.median(samples)
    print(
        f"boot -> ACTIVE through openstacksdk (instant pace, n={len(samples)}): "
        f"median {median:.1f} ms, max {max(samples):.1f} ms, sim CPU {cpu_ms:.1f} ms a boot  "
        f"({_ratio(median, BOOT_TARGET_MS, 'ms')}; a real Zed all-in-one took "
        f"{REAL_ZED_BOOT_S:.0f} s here: {REAL_ZED_BOOT_S * 1000 / median:.0f}x faster)",
        flush=True,
    )


def _many(root: Path, hosts: int = 100, batches: int = 10, per_batch: int = 100) -> None:
    total = batches * per_batch
    env = _many_hosts_env(root, hosts)
    started = time.perf_counter()
    lab = _lab(env, root / "many")
    print(f"{hosts} hosts installed (every layer) in {time.perf_counter() - started:.1f} s")
    try:
        conn = lab.connect("admin")
        conn.compute.update_quota_set(conn.current_project_id, instances=-1, cores=-1, ram=-1)
        flavor = conn.compute.find_flavor("m1.nano")
        image = conn.image.find_image("cirros")
        api = Compute(conn)
        pid = lab.sim.health()["pid"]
        cpu_before = process_cpu_seconds(pid)
        with PeakRss(pid) as rss:
            started = time.perf_counter()
            for batch in range(batches):
                conn.compute.create_server(
                    name=f"many-{batch}",
                    flavor_id=flavor.id,
                    image_id=image.id,
                    networks="none",
                    min_count=per_batch,
                    max_count=per_batch,
                )
            active, errors = api.wait_all_active(total, timeout=600)
            took = time.perf_counter() - started
        cpu_s = process_cpu_seconds(pid) - cpu_before
        placed = api.servers("?all_tenants=1", detail=True)
        hosts_used = {s.get("OS-EXT-SRV-ATTR:host") for s in placed}
        peak = rss.peak / 2**20
        print(
            f"{total:,} servers on {hosts} hosts: {active} ACTIVE ({errors} ERROR) in "
            f"{took:.1f} s, sim CPU {cpu_s:.1f} s ({active / took:.0f} servers/s; "
            f"{_ratio(took, MANY_TARGET_S, 's')}), spread over {len(hosts_used)} hosts; "
            f"sim peak RSS {peak:.0f} MiB ({_ratio(peak, RSS_LIMIT_MIB, 'MiB')})",
            flush=True,
        )
        _listing(conn, api, pid)
    finally:
        _stop(lab)


def _listing(conn: Any, api: Compute, pid: int, count: int = 10) -> None:
    api.servers(detail=True)  # warm up
    samples = []
    cpu_before = process_cpu_seconds(pid)
    for _ in range(count):
        t0 = time.perf_counter()
        found = api.servers(detail=True)
        samples.append((time.perf_counter() - t0) * 1000)
    cpu_ms = (process_cpu_seconds(pid) - cpu_before) * 1000 / count
    lat = latency(samples)
    print(
        f"server list: GET /servers/detail of {len(found)} servers over HTTP: p50 "
        f"{lat.p50:.0f} ms, p95 {lat.p95:.0f} ms, min {min(samples):.0f} ms, sim CPU "
        f"{cpu_ms:.0f} ms a listing (n={count}; {_ratio(lat.p50, LIST_TARGET_MS, 'ms')})",
        flush=True,
    )
    t0 = time.perf_counter()
    objects = list(conn.compute.servers(details=True))
    sdk_ms = (time.perf_counter() - t0) * 1000
    print(
        f"  the same through openstacksdk (conn.compute.servers(details=True)): "
        f"{len(objects)} servers in {sdk_ms:.0f} ms -- {sdk_ms - lat.p50:.0f} ms of it is "
        "openstacksdk building its Server objects, on the client's side",
        flush=True,
    )


def run() -> None:
    print(load_note(), flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-nova-") as tmp:
        root = Path(tmp)
        _one_by_one(root)
        _many(root)
    print(f"after: {load_note()}")
