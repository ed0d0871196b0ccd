"""A real Zed on local lab hosts next to the sim, in one run on the same machine.

    sudo .venv/bin/python -m bench real_lab          # root: it makes local lab hosts

Brings up ``envs/lab-local.yaml`` in a private state folder (the rootfs and apt caches are
the shared ones, so a second run is the "warm caches" figure; ``LABKIT_BENCH_COLD=1`` points
the cache at an empty folder for the cold figure), installs every layer -- base, Keystone,
Glance, Placement, Neutron, the Nova controller, nova-compute -- with the same installers
the notebooks use, boots the lab's guest image (:mod:`labkit.hosts.guest_image`, installed
as ``cirros``) on worker1 with a keypair and logs in to it over SSH, and prints, next to the
sim's figures for the same layers and the same boot and login:

* time per layer, the total from ``hosts up`` to an active image, to the first server
  ACTIVE and to SSH into it (boot -> SSH-ready next to the sim's; target for ``hosts up`` ->
  SSH into the first guest < 6 min warm; DevStack's
  stack.sh takes 41-63 min in users' logs, the seed talk budgets 2-3 hours);
* token issue latency, p50/p95 over 200 requests through keystoneauth: real vs sim;
* upload of the same 256 MiB file through the raw Image API: real Glance vs sim.

Then it takes the hosts down again. ``LABKIT_BENCH_REAL_ONLY=1`` stops after the first SSH
login (no sim, token or upload figures): the quick figure while working on the installers.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from keystoneauth1 import session as ka_session
from keystoneauth1.identity import v3

from bench.common import free_port, repo_env

SIZE = 256 << 20
TOKENS = 200
LAYERS = (
    "base",
    "keystone",
    "glance",
    "placement",
    "networking",
    "nova-controller",
    "nova-compute",
)


def _first_ssh(lab: Any, image: str, flavor: str, zone: str | None) -> tuple[float, float]:
    """Seconds from `server create` (with a keypair, the default group letting tcp/22 in)
    to ACTIVE, and to the first SSH login (lab.ssh: host keys from the console, paramiko)
    that runs a command. The server, keypair and rule are removed afterwards."""
    from labkit.errors import GuestAccessError

    conn = lab.connect("admin")
    key = lab.ssh_key()
    keypair = conn.compute.create_keypair(
        name="bench-key", public_key=key.with_suffix(".pub").read_text()
    )
    project = conn.current_project_id
    group = next(conn.network.security_groups(name="default", project_id=project))
    rule = conn.network.create_security_group_rule(
        security_group_id=group.id,
        direction="ingress",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        ether_type="IPv4",
    )
    network = conn.network.find_network("provider")
    started = time.monotonic()
    server = conn.compute.create_server(
        name="bench-ssh",
        image_id=conn.image.find_image(image).id,
        flavor_id=conn.compute.find_flavor(flavor).id,
        networks=[{"uuid": network.id}],
        key_name=keypair.name,
        **({"availability_zone": zone} if zone else {}),
    )
    try:
        server = conn.compute.wait_for_server(server, status="ACTIVE", interval=0.5, wait=600)
        active = time.monotonic() - started
        deadline = started + 600
        while True:
            try:
                lab.access.ssh(server.id, key=key, command="true", timeout=5, wait=120)
                break
            except GuestAccessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        return active, time.monotonic() - started
    finally:
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, interval=0.5, wait=300)
        conn.network.delete_security_group_rule(rule)
        conn.compute.delete_keypair(keypair)


def _slowest(results: list[Any], count: int = 6) -> None:
    """The layer's slowest steps: where its time went (host, seconds, title)."""
    for result in sorted(results, key=lambda r: -r.seconds)[:count]:
        step = result.step
        print(f"      {result.seconds:6.1f} s  {step.host:<10} {step.title[:70]}", flush=True)


def _token_latency(auth_url: str, password: str, count: int = TOKENS) -> tuple[float, float]:
    samples = []
    for _ in range(count):
        auth = v3.Password(
            auth_url=auth_url,
            username="admin",
            password=password,
            project_name="admin",
            user_domain_name="Default",
            project_domain_name="Default",
        )
        session = ka_session.Session(auth=auth)
        started = time.perf_counter()
        auth.get_auth_ref(session)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def _upload(image_url: str, token: str, path: Path) -> float:
    """Create an image and PUT ``path`` as its data; seconds from first byte to the 204."""
    url = urlsplit(image_url)
    prefix = url.path.rstrip("/")

    def request(
        method: str, route: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=900, blocksize=1 << 20)
        conn.request(
            method, prefix + route, body=body, headers={"X-Auth-Token": token, **(headers or {})}
        )
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, data

    status, data = request(
        "POST",
        "/v2/images",
        json.dumps({"name": "bench-256m", "disk_format": "raw", "container_format": "bare"}),
        {"Content-Type": "application/json"},
    )
    assert status == 201, data
    image_id = json.loads(data)["id"]
    with open(path, "rb") as body:
        started = time.perf_counter()
        status, data = request(
            "PUT",
            f"/v2/images/{image_id}/file",
            body,
            {
                "Content-Type": "application/octet-stream",
                "Content-Length": str(path.stat().st_size),
            },
        )
        seconds = time.perf_counter() - started
    assert status == 204, data
    request("DELETE", f"/v2/images/{image_id}")
    return seconds


def run() -> dict[str, float]:
    from labkit.envs import SshEnv
    from labkit.hosts import local
    from labkit.hosts.layout import default_cache_dir
    from labkit.lab import Lab
    from labkit.sim import process

    if os.geteuid() != 0:
        print(
            "real_lab needs root (it makes local lab hosts); skipped. "
            "Run: sudo .venv/bin/python -m bench real_lab"
        )
        return {}
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cache = root / "cold-cache" if os.environ.get("LABKIT_BENCH_COLD") else default_cache_dir()
        os.environ["LABKIT_CACHE_DIR"] = str(cache)
        data = root / "bench-256m.raw"
        with open(data, "wb") as out:
            block = os.urandom(1 << 20)
            for _ in range(SIZE >> 20):
                out.write(block)

        real = Lab.from_env(repo_env("lab-local"), state_root=root / "real")
        assert isinstance(real.env, SshEnv)
        started = time.monotonic()
        local.up(real.env, state_root=root / "real", cache_dir=cache, say=lambda _: None)
        figures["hosts_up_s"] = time.monotonic() - started
        print(
            f"hosts up: {figures['hosts_up_s']:.1f} s "
            f"({'cold' if os.environ.get('LABKIT_BENCH_COLD') else 'warm'} caches)"
        )
        try:
            glance_done = 0.0
            for layer in LAYERS:
                t0 = time.monotonic()
                results = real.install(layer, show=False)
                figures[f"{layer}_s"] = time.monotonic() - t0
                print(f"  install {layer:<15} {figures[f'{layer}_s']:6.1f} s", flush=True)
                _slowest(results)
                if layer == "glance":
                    glance_done = time.monotonic() - started
            figures["total_s"] = glance_done
            print(f"hosts up -> active image: {glance_done:.0f} s ({glance_done / 60:.1f} min)")
            # The lab's bootable guest image, web-downloaded by the install as cirros.
            real_active, real_ssh = _first_ssh(real, "cirros", "m1.tiny", "nova:worker1")
            figures["real_boot_s"], figures["real_ssh_s"] = real_active, real_ssh
            figures["first_active_s"] = time.monotonic() - started - (real_ssh - real_active)
            figures["first_ssh_s"] = time.monotonic() - started
            print(
                f"  server create -> ACTIVE on worker1 {real_active:.1f} s, -> SSH login "
                f"{real_ssh:.1f} s\n"
                f"hosts up -> first server ACTIVE: {figures['first_active_s']:.0f} s; "
                f"-> SSH into it: {figures['first_ssh_s']:.0f} s "
                f"({figures['first_ssh_s'] / 60:.1f} min; target < 6 min warm)",
                flush=True,
            )

            if os.environ.get("LABKIT_BENCH_REAL_ONLY"):
                return figures
            sim = Lab.from_env(repo_env("sim"), state_root=root / "sim", sim_port=free_port())
            sim.up()
            sim_total = 0.0
            for layer in LAYERS:
                t0 = time.monotonic()
                sim.install(layer, show=False)
                figures[f"sim_{layer}_s"] = time.monotonic() - t0
                sim_total += figures[f"sim_{layer}_s"]
            figures["sim_boot_s"], figures["sim_ssh_s"] = _first_ssh(sim, "cirros", "m1.tiny", None)
            print(
                "per layer, real vs sim: "
                + ", ".join(
                    f"{layer} {figures[f'{layer}_s']:.0f}/{figures[f'sim_{layer}_s']:.1f} s"
                    for layer in LAYERS
                )
                + f"\nall layers: real {sum(figures[f'{la}_s'] for la in LAYERS):.0f} s, sim "
                f"{sim_total:.1f} s; server create -> ACTIVE: real {figures['real_boot_s']:.1f}"
                f" s (TCG), sim {figures['sim_boot_s']:.1f} s; boot -> SSH-ready: real "
                f"{figures['real_ssh_s']:.1f} s, sim {figures['sim_ssh_s']:.1f} s",
                flush=True,
            )
            real_creds, sim_creds = real.credentials("admin"), sim.credentials("admin")
            rp50, rp95 = _token_latency(real_creds.auth_url, real_creds.password)
            sp50, sp95 = _token_latency(sim_creds.auth_url, sim_creds.password)
            print(
                f"token issue over {TOKENS}: real Keystone p50 {rp50:.1f} ms p95 {rp95:.1f} ms;"
                f" sim p50 {sp50:.1f} ms p95 {sp95:.1f} ms; real/sim x{rp50 / sp50:.0f}"
            )
            real_up = _upload(
                real.plan_context().image_url, real.connect("admin").session.get_token(), data
            )
            sim_up = _upload(
                sim.plan_context().image_url, sim.connect("admin").session.get_token(), data
            )
            mib = SIZE / (1 << 20)
            print(
                f"upload 256 MiB: real Glance {mib / real_up:.0f} MiB/s ({real_up:.2f} s); "
                f"sim {mib / sim_up:.0f} MiB/s ({sim_up:.2f} s); sim/real "
                f"x{real_up / sim_up:.1f}"
            )
            figures.update(
                real_token_p50_ms=rp50,
                sim_token_p50_ms=sp50,
                real_upload_mib_s=mib / real_up,
                sim_upload_mib_s=mib / sim_up,
            )
            process.stop(sim.paths)
        finally:
            t0 = time.monotonic()
            local.down(real.env, state_root=root / "real", cache_dir=cache)
            print(f"hosts down: {time.monotonic() - t0:.1f} s")
    return figures


if __name__ == "__main__":
    run()
