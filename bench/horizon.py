"""The dashboard: the real Horizon 23.0.0 against a sim, page by page.

    python -m bench horizon

Prints, in milliseconds (p50 over a few loads, after one untimed warm-up load):

* starting the dashboard (``lab.install("horizon")``: the layer's plan and Horizon's
  process until its login page answers);
* logging in (the form's GET and POST, Keystone's two tokens and the project list);
* every page of the learner's tour, as demo and as admin;
* the instance list with 100 instances in the project (booted without a network: the
  provider network's pool has fewer than 100 free addresses) (Horizon shows 20 a page: one
  ``servers/detail?limit=21`` call, then the flavors, images and ports of those 20) and the
  Admin instance list of all projects.

Horizon's own time dominates (Django renders, policy checks, one client per service);
the sim answers each call in a few milliseconds. Needs ``.venv-horizon`` (``make horizon``).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.common import free_port, load_note, repo_env
from labkit.horizon import server as dashboard
from labkit.horizon.pages import ADMIN_PAGES, PAGES, DashboardSession
from labkit.lab import Lab

LOADS = 5
SERVERS = 100


def _ms(seconds: list[float]) -> str:
    return f"p50 {statistics.median(seconds) * 1000:7.0f} ms  (n={len(seconds)})"


def _page(session: DashboardSession, path: str, title: str) -> list[float]:
    session.open(path, title)  # warm-up; also checks the page shows no error
    return [session.open(path, title).seconds for _ in range(LOADS)]


def _boot_many(lab: Lab, count: int) -> None:
    admin = lab.connect("admin")
    demo = lab.connect("demo")
    project = admin.identity.find_project("demo", ignore_missing=False)
    admin.compute.update_quota_set(
        project.id, instances=count + 10, cores=count * 2 + 20, ram=count * 1024 + 51200
    )
    image = demo.image.find_image("trusty", ignore_missing=False)
    flavor = demo.compute.find_flavor("m1.nano", ignore_missing=False)
    # No network: the provider network's pool (10.64.0.100-199) has fewer than 100 free
    # addresses once the DHCP port took one.
    demo.compute.create_server(
        name="bench",
        image_id=image.id,
        flavor_id=flavor.id,
        networks="none",
        min_count=count,
        max_count=count,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        servers = list(demo.compute.servers(name="bench"))
        if len(servers) == count and all(s.status == "ACTIVE" for s in servers):
            return
        failed = [s for s in servers if s.status == "ERROR"]
        if failed:
            raise RuntimeError(f"{len(failed)} servers went to ERROR: {failed[0].fault}")
        time.sleep(1)
    raise RuntimeError(f"{count} servers did not all reach ACTIVE within 300 s")


def _roomy_env(folder: Path) -> Path:
    """The seed's two hosts with 32 cores each: 100 servers need more than 2 x 8 x 4.0
    (Zed's initial_cpu_allocation_ratio) vCPUs."""
    env = yaml.safe_load(repo_env("sim").read_text())
    for host in env["hosts"]:
        host["cpus"] = 32
    path = folder / "sim-roomy.yaml"
    path.write_text(yaml.safe_dump(env))
    return path


def run() -> None:
    print(load_note())
    with tempfile.TemporaryDirectory(prefix="bench-horizon-") as root:
        env = _roomy_env(Path(root))
        lab = Lab.from_env(str(env), state_root=Path(root) / "state", sim_port=free_port())
        os.environ["LABKIT_HORIZON_PORT"] = str(free_port())
        try:
            lab.ensure("nova-compute")
            started = time.perf_counter()
            lab.install("horizon", show=False)
            print(f"{'start the dashboard':<44} {(time.perf_counter() - started) * 1000:7.0f} ms")
            handle = dashboard.running(lab.paths.root)
            assert handle is not None
            url = handle.url.rstrip("/")
            users: dict[str, Any] = {u: lab.backend.credentials(u) for u in ("admin", "demo")}

            logins = []
            for _ in range(LOADS + 1):
                with DashboardSession(url) as session:
                    started = time.perf_counter()
                    session.login("demo", users["demo"].password)
                    logins.append(time.perf_counter() - started)
            print(
                f"{'login (form GET + POST, to Overview)':<44} first {logins[0] * 1000:.0f} ms, "
                f"then {_ms(logins[1:])}"
            )

            with DashboardSession(url) as demo:
                demo.login("demo", users["demo"].password)
                for path, title in PAGES:
                    print(f"  demo  {path:<36} {_ms(_page(demo, path, title))}")
                with DashboardSession(url) as admin:
                    admin.login("admin", users["admin"].password)
                    for path, title in ADMIN_PAGES:
                        print(f"  admin {path:<36} {_ms(_page(admin, path, title))}")

                    started = time.perf_counter()
                    _boot_many(lab, SERVERS)
                    print(f"{SERVERS} servers ACTIVE in {time.perf_counter() - started:.1f} s")
                    print(
                        f"  demo  /project/instances/ ({SERVERS} servers)  "
                        f"{_ms(_page(demo, '/project/instances/', 'Instances'))}"
                    )
                    print(
                        f"  admin /admin/instances/ ({SERVERS} servers)    "
                        f"{_ms(_page(admin, '/admin/instances/', 'Instances'))}"
                    )
        finally:
            dashboard.stop(lab.paths.root)
            from labkit.sim import process

            process.stop(lab.paths)
