"""SIGKILL in the middle of boots: after a restart nothing is stuck and nothing leaks.

As a restarted nova-compute does (``init_host``), servers whose build was under way go to
ERROR and their claims in Placement are freed; build requests whose message died with the
process are buried in cell0. Every server is then ACTIVE or ERROR, and Placement's usages
are exactly what the ACTIVE servers hold.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from labkit.lab import Lab
from tests import sim_templates
from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture()
def paced_lab(
    tmp_path: Any, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Lab]:
    env = yaml.safe_load((REPO / "envs" / "sim.yaml").read_text())
    env["sim"]["pace"] = 0.3  # a boot takes about a second: time to kill it halfway
    env["sim"]["deterministic"] = False
    path = tmp_path / "paced.yaml"
    path.write_text(yaml.safe_dump(env))
    monkeypatch.delenv("LABKIT_SIM_DETERMINISTIC", raising=False)
    # Nova installed (at full speed, once per run: tests/sim_templates.py), then paced.
    lab = sim_templates.lab_from_template(tmp_path_factory, "paced", "nova-compute", env=path)
    yield lab
    from labkit.sim import process

    process.stop(lab.paths)


def test_sigkill_during_boots_leaves_a_consistent_cloud(paced_lab: Lab) -> None:
    conn = paced_lab.connect("admin")
    flavor = conn.compute.find_flavor("m1.tiny")
    image = conn.image.find_image("cirros")
    for n in range(6):
        conn.compute.create_server(
            name=f"k{n}", flavor_id=flavor.id, image_id=image.id, networks="none"
        )
    time.sleep(0.8)
    pid = paced_lab.sim.health()["pid"]
    building = {s.name for s in conn.compute.servers() if s.status == "BUILD"}
    os.kill(pid, signal.SIGKILL)
    assert building, "every boot finished before the kill: the test proves nothing"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            time.sleep(0.05)
        except ProcessLookupError:
            break
    paced_lab.up()
    paced_lab.identity.forget_connections()
    conn = paced_lab.connect("admin")
    servers = list(conn.compute.servers(details=True))
    assert len(servers) == 6
    statuses = {s.name: s.status for s in servers}
    assert set(statuses.values()) <= {"ACTIVE", "ERROR"}, statuses
    # A build cut short is not resumed after the restart (the servers still building a
    # moment before the kill may have finished in that moment, so some may be ACTIVE).
    assert "ERROR" in statuses.values(), statuses
    used_ram = sum(s.flavor["ram"] for s in servers if s.status == "ACTIVE")
    total = 0
    for provider in conn.placement.resource_providers():
        usages = conn.placement.get(f"/resource_providers/{provider.id}/usages").json()["usages"]
        total += usages.get("MEMORY_MB", 0)
    assert total == used_ram
    for server in servers:
        conn.compute.delete_server(server)
    for server in servers:
        conn.compute.wait_for_delete(server, interval=0.2, wait=60)
    for provider in conn.placement.resource_providers():
        usages = conn.placement.get(f"/resource_providers/{provider.id}/usages").json()["usages"]
        assert usages.get("MEMORY_MB", 0) == 0
