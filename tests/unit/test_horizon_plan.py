"""The horizon layer's plan and the settings it writes (no sim, no Horizon)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from labkit.horizon import settings
from labkit.install import horizon as layer
from labkit.install import layers_up_to
from labkit.install import steps as st
from labkit.lab import Lab

ENVS = Path(__file__).resolve().parents[2] / "envs"


def _assigned(text: str) -> dict[str, object]:
    """The names a settings file assigns, with their literal values."""
    out: dict[str, object] = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                out[node.targets[0].id] = ast.unparse(node.value)
    return out


def test_the_sim_plan_writes_section_7s_file_pointing_at_the_sims_keystone() -> None:
    lab = Lab.from_env(str(ENVS / "sim.yaml"), sim_port=18642)
    (step,) = lab.installs.plan("horizon")
    assert isinstance(step, st.WriteFile) and step.path == layer.LOCAL_SETTINGS
    values = _assigned(step.content)
    assert values["OPENSTACK_KEYSTONE_URL"] == "http://127.0.0.1:18642/identity/v3"
    assert values["SESSION_ENGINE"] == "django.contrib.sessions.backends.cache"
    assert values["CACHES"] == {
        "default": {
            "BACKEND": "django.core.cache.backends.memcached.MemcachedCache",
            "LOCATION": "controller:11211",
        }
    }
    assert values["OPENSTACK_KEYSTONE_MULTIDOMAIN_SUPPORT"] is True
    assert values["OPENSTACK_API_VERSIONS"] == {"identity": 3, "image": 2, "volume": 3}
    assert values["OPENSTACK_NEUTRON_NETWORK"]["enable_router"] is False  # type: ignore[index]
    assert {"TIME_ZONE", "ALLOWED_HOSTS", "OPENSTACK_KEYSTONE_DEFAULT_ROLE"} <= set(values)


def test_on_real_hosts_debians_package_gets_the_settings_as_its_last_snippet() -> None:
    lab = Lab.from_env(str(ENVS / "lab-2node.yaml"))
    install, configure, no_ssl, apache, wait = lab.installs.plan("horizon")
    assert isinstance(install, st.Packages) and install.names == ("openstack-dashboard-apache",)
    assert isinstance(configure, st.WriteFile) and configure.path == layer.SETTINGS_SNIPPET
    # Debian executes local_settings.d/*.py in name order after local_settings.py: ours
    # must sort after the package's own snippets (_0006_debian_cache.py sets LocMemCache).
    name = configure.path.rsplit("/", 1)[1]
    assert name > "_0006_debian_cache.py" and name.endswith(".py")
    assert "OPENSTACK_KEYSTONE_URL" in configure.content
    assert isinstance(no_ssl, st.Command) and no_ssl.done_when.what == "file-absent"
    assert isinstance(apache, st.Service) and apache.name == "apache2"
    assert apache.restart_on == (layer.SETTINGS_SNIPPET,)
    assert isinstance(wait, st.WaitHttp) and wait.url.endswith("/horizon/auth/login/")


def test_what_runs_next_to_the_sim_overrides_only_the_cache_and_static_files() -> None:
    text = settings.live_overrides("/state/horizon/secret_key", "/venv/static")
    values = _assigned(text)
    assert values["CACHES"] == {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    }
    assert values["STATIC_ROOT"] == "/venv/static" and values["COMPRESS_OFFLINE"] is True
    assert "SECRET_KEY" in values


def test_the_dashboard_comes_after_every_service_it_shows() -> None:
    order = layers_up_to("horizon")
    assert order[-1] == "horizon"
    assert {"keystone", "glance", "placement", "networking", "nova-controller"} <= set(order)


def test_the_dashboard_port_moves_past_a_taken_8080(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many labs on one machine each get a dashboard port without being told one."""
    import socket

    from labkit.horizon import server

    monkeypatch.delenv("LABKIT_HORIZON_PORT", raising=False)
    assert server.port(9999) == 9999
    assert server.port(None, current=8123) == 8123
    monkeypatch.setenv("LABKIT_HORIZON_PORT", "8765")
    assert server.port() == 8765
    monkeypatch.delenv("LABKIT_HORIZON_PORT")
    first = server.port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", first))
        taken.listen()
        assert server.port() > first >= server.DEFAULT_PORT
