"""The ``horizon`` layer on the sim: the file it writes, the process it runs, and how
``labkit`` shows and stops it."""

from __future__ import annotations

import contextlib
import io

import pytest

from labkit import cli
from labkit.horizon import server
from labkit.install import horizon as layer
from labkit.lab import Lab

pytestmark = pytest.mark.slow  # a sim with every layer and the real Horizon


def test_the_plan_writes_section_7s_local_settings_on_the_controller(horizon_lab: Lab) -> None:
    text = horizon_lab.read_file("controller", layer.LOCAL_SETTINGS)
    port = horizon_lab.backend.plan_context().identity_url
    assert f'OPENSTACK_KEYSTONE_URL = "{port.rstrip("/")}"' in text or (
        f"OPENSTACK_KEYSTONE_URL = '{port.rstrip('/')}'" in text
    )
    for setting in (
        "OPENSTACK_HOST",
        'SESSION_ENGINE = "django.contrib.sessions.backends.cache"',
        "django.core.cache.backends.memcached.MemcachedCache",
        "OPENSTACK_KEYSTONE_MULTIDOMAIN_SUPPORT = True",
        'OPENSTACK_KEYSTONE_DEFAULT_DOMAIN = "Default"',
        '"identity": 3',
        '"enable_router": False',
        "TIME_ZONE",
    ):
        assert setting in text, setting
    # What runs is that file plus labkit's few lines (a Django cache for one process).
    running = server.settings_dir(horizon_lab.paths.root) / "local" / "local_settings.py"
    assert running.read_text().startswith(text.rstrip())
    assert "LocMemCache" in running.read_text()


def test_installing_again_keeps_the_running_dashboard(horizon_lab: Lab) -> None:
    before = server.running(horizon_lab.paths.root)
    assert before is not None
    horizon_lab.install("horizon", show=False)
    after = server.running(horizon_lab.paths.root)
    assert after == before  # same process, same port


def test_sim_status_and_horizon_status_show_the_dashboards_url(horizon_lab: Lab) -> None:
    handle = server.running(horizon_lab.paths.root)
    assert handle is not None
    root = str(horizon_lab.paths.root.parent)
    for argv in (
        ["--state-dir", root, "sim", "status"],
        ["--state-dir", root, "horizon", "status"],
    ):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert cli.main(argv) == 0
        assert f"dashboard: {handle.url}" in out.getvalue(), out.getvalue()
