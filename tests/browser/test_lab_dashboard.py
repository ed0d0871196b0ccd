"""``lab.dashboard()``, ``lab.dashboard_screenshot()`` and ``lab.dashboard_requests()``
(:mod:`labkit.lab.dashboard`), the notebook's window on Horizon: against the real Horizon
of the dashboard fixtures, and their error paths without one."""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import re
import time
from pathlib import Path
from typing import Any

import pytest

from labkit.errors import LabkitError
from labkit.horizon import server, venv
from labkit.lab import Lab
from labkit.lab.backends import SimBackend
from labkit.lab.dashboard import Dashboard, page_requests, purpose
from tests.browser.harness import looks_blank, screenshot_path
from tests.horizon import fixtures

horizon_venv = fixtures.horizon_venv
horizon_lab = fixtures.horizon_lab
horizon_url = fixtures.horizon_url


def _event(n: int, source: str, target: str, action: str, rid: str, root: str = "") -> dict:
    return {
        "id": n,
        "kind": "http",
        "source": source,
        "target": target,
        "action": action,
        "status": "200",
        "duration_ms": 3.0,
        "request_id": rid,
        "global_request_id": root or rid,
    }


def test_page_requests_keeps_the_clients_calls_with_their_own_hops_under_them() -> None:
    events = [
        _event(1, "client", "sim", "GET /_sim/trace", "req-a"),
        _event(2, "nova-api", "keystone", "GET /identity/v3/auth/tokens", "req-b", "req-c"),
        _event(3, "client", "nova-api", "GET /compute/v2.1/servers/detail", "req-c"),
        {**_event(4, "nova-api", "nova-conductor", "build", "req-d", "req-c"), "kind": "rpc-cast"},
        _event(5, "client", "glance-api", "GET /image/v2/images", "req-e"),
    ]
    found = page_requests(events)
    assert [(r.service, r.method, r.path) for r in found] == [
        ("nova-api", "GET", "/compute/v2.1/servers/detail"),
        ("glance-api", "GET", "/image/v2/images"),
    ]
    assert found[0].behind == ("keystone: GET /identity/v3/auth/tokens",)
    assert found[1].behind == ()
    assert "instance rows" in purpose("nova-api", "/compute/v2.1/servers/detail?all=1")
    assert "image" in purpose("glance-api", "/image/v2/images")
    assert purpose("barbican-api", "/v1/secrets") == ""


class _NoLayers:
    def installed(self) -> list[str]:
        return ["keystone", "nova-compute"]


def test_without_the_horizon_layer_it_says_what_to_run(tmp_path: Path) -> None:
    lab = Lab.from_env("sim", state_root=tmp_path)
    board = Dashboard(lab.backend, _NoLayers())  # type: ignore[arg-type]
    with pytest.raises(LabkitError, match="not installed") as caught:
        board.url()
    assert "lab.ensure('horizon')" in str(caught.value.hint)


def test_without_horizons_venv_it_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = Lab.from_env("sim", state_root=tmp_path)

    class Installed:
        def installed(self) -> list[str]:
            return ["horizon"]

    monkeypatch.setenv("LABKIT_HORIZON_VENV", str(tmp_path / "no-venv"))
    board = Dashboard(lab.backend, Installed())  # type: ignore[arg-type]
    with pytest.raises(LabkitError, match="virtual environment") as caught:
        board.url()
    assert "make horizon" in str(caught.value.hint)
    assert not venv.is_ready()


def test_the_url_is_the_running_dashboard_and_comes_back_on_its_port(
    horizon_lab: Lab, horizon_url: str
) -> None:
    assert horizon_lab.dashboard() == f"{horizon_url}/"
    # Horizon gone (as when the sim stopped under it): its horizon.json stays behind ...
    handle = server.running(horizon_lab.paths.root)
    assert handle is not None
    from labkit import portable

    portable.kill(handle.pid)
    for _ in range(100):
        if not portable.pid_alive(handle.pid):
            break
        time.sleep(0.05)
    assert server.running(horizon_lab.paths.root) is None
    # ... and the next call starts it again on the same port, answering its login page
    assert horizon_lab.dashboard() == f"{horizon_url}/"
    again = server.running(horizon_lab.paths.root)
    assert again is not None and again.pid != handle.pid
    import httpx

    assert httpx.get(f"{horizon_url}/auth/login/", timeout=30).status_code == 200


def test_requests_of_a_page_load_name_each_service_and_its_logged_request_id(
    horizon_lab: Lab,
) -> None:
    table = horizon_lab.dashboard_requests("project/instances")
    assert isinstance(horizon_lab.backend, SimBackend)
    assert "/project/instances/" in table.title
    rows = {(r[0], r[1]) for r in table.rows}
    assert ("nova-api", "GET /compute/v2.1/servers/detail") in rows, rows
    assert {"keystone", "nova-api", "glance-api", "neutron-api"} <= {r[0] for r in table.rows}
    assert all(str(r[3]).startswith("2") for r in table.rows), table
    total = int(re.search(r": (\d+) API requests", table.title).group(1))  # type: ignore[union-attr]
    assert total == sum(int(r[2]) for r in table.rows)
    for row in table.rows:  # each id is the one the answering service logged the call under
        service, request_id = str(row[0]), str(row[4])
        assert re.fullmatch(r"req-[0-9a-f-]{36}", request_id), request_id
        logged = "\n".join(horizon_lab.sim.log(service, tail=400))
        assert request_id in logged, (service, request_id)
    assert "The page took" in table.note


def test_requests_of_an_admin_page(horizon_lab: Lab) -> None:
    found, seconds = horizon_lab.horizon.page_load("admin/hypervisors", user="admin")
    assert seconds > 0
    paths = [r.path for r in found if r.service == "nova-api"]
    assert any("/os-hypervisors" in p for p in paths), paths


def test_a_screenshot_is_a_png_of_the_page_even_from_inside_an_event_loop(
    horizon_lab: Lab,
) -> None:
    from PIL import Image as PILImage

    async def in_a_kernel() -> Any:  # a Jupyter kernel runs its cells inside an asyncio loop
        return horizon_lab.dashboard_screenshot("project/key_pairs", user="demo")

    # On a thread of its own: this worker's main thread may already host the session's
    # Playwright (the browser fixture), whose loop counts as running there.
    with concurrent.futures.ThreadPoolExecutor(1) as kernel:
        image = kernel.submit(asyncio.run, in_a_kernel()).result(timeout=120)
    data = image.data
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with PILImage.open(io.BytesIO(data)) as png:
        assert png.size == (1280, 800)
    path = screenshot_path("lab-dashboard-key-pairs")
    path.write_bytes(data)
    assert looks_blank(path) == ""


def test_a_wrong_page_is_an_error_not_a_login_form(horizon_lab: Lab) -> None:
    with pytest.raises(LabkitError, match="HTTP 404"):
        horizon_lab.dashboard_requests("project/no-such-panel")
