"""A cloud env: the notebook views that need the lab's own hosts or passwords say so
instead of failing (no network: nothing here connects)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.lab import Lab

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def cloud(tmp_path: Path) -> Lab:
    return Lab.from_env(REPO / "envs" / "mycloud.yaml", state_root=tmp_path)


def test_install_views_skip_on_a_cloud(cloud: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    assert "installs nothing there" in str(cloud.show_plan("keystone"))
    assert cloud.install("keystone") == []
    assert cloud.rotate_fernet_keys() == []
    assert "Skipped" in capsys.readouterr().out


def test_keystone_views_explain_what_a_cloud_cannot_show(cloud: Lab) -> None:
    assert "fernet-keys" in str(cloud.keys_table())
    assert "clouds.yaml" in str(cloud.token_scopes("demo"))
    assert "clouds.yaml entry 'mycloud'" in str(cloud.show_openrc("demo"))
    assert "clouds.yaml entry 'mycloud'" in str(cloud.describe())


def test_sim_describe_and_layers_need_no_running_sim(tmp_path: Path) -> None:
    lab = Lab.from_env(REPO / "envs" / "sim.yaml", state_root=tmp_path)
    text = str(lab.describe())
    assert "host controller     10.64.0.2 (controller + worker)" in text
    assert "installed layers    none yet" in text
    assert "1 Hosts & network" in str(lab.draw_layers())
    assert "OS_PASSWORD=DEMO_PASS" in str(lab.show_openrc("demo"))
