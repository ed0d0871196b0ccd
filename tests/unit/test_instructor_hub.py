"""The JupyterHub recipe's per-user lab (labkit.instructor.hub) without a Hub: ports picked
once and kept, never shared, skipping a port in use; the environment a user's server gets;
the pre-spawn hook on a stand-in spawner. The real Hub: tests/hub (make test-hub)."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from labkit.instructor import hub


def test_each_user_keeps_a_port_of_their_own(tmp_path: Path) -> None:
    alice = hub.user_port(tmp_path, "alice")
    bob = hub.user_port(tmp_path, "bob")
    assert alice != bob and hub.FIRST_PORT <= min(alice, bob) <= hub.LAST_PORT
    assert hub.user_port(tmp_path, "alice") == alice  # the same at every start
    recorded = json.loads((tmp_path / hub.USERS_FILE).read_text())
    assert recorded == {"alice": {"port": alice}, "bob": {"port": bob}}


def test_a_port_in_use_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        monkeypatch.setattr(hub, "FIRST_PORT", port)
        monkeypatch.setattr(hub, "LAST_PORT", port + 50)
        got = hub.user_port(tmp_path, "carol")
        assert port < got <= port + 50


def test_users_starting_at_once_never_share_a_port(tmp_path: Path) -> None:
    names = [f"user{i}" for i in range(8)]
    got: dict[str, int] = {}
    threads = [
        threading.Thread(target=lambda n=n: got.__setitem__(n, hub.user_port(tmp_path, n)))
        for n in names
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got.values())) == len(names)
    assert json.loads((tmp_path / hub.USERS_FILE).read_text()) == {
        n: {"port": p} for n, p in got.items()
    }


def test_the_hook_gives_the_server_its_lab_and_the_notebooks(tmp_path: Path) -> None:
    home = tmp_path / "homes" / "dora"
    spawner = SimpleNamespace(user=SimpleNamespace(name="dora"), home_dir=str(home), environment={})
    hub.pre_spawn_hook(tmp_path / "hub")(spawner)
    env = spawner.environment
    assert env["LABKIT_ENV"] == "sim"
    assert env["LABKIT_STATE_DIR"] == str(home / ".local" / "state" / "labkit")
    assert env["LABKIT_SIM_PORT"] == str(hub.user_port(tmp_path / "hub", "dora"))
    assert Path(env["LABKIT_ENVS_DIR"], "sim.yaml").is_file()
    assert (home / "notebooks" / "02-keystone.ipynb").is_file()
    # A second start leaves the user's own copy as they changed it.
    (home / "notebooks" / "02-keystone.ipynb").write_text("mine")
    hub.pre_spawn_hook(tmp_path / "hub")(spawner)
    assert (home / "notebooks" / "02-keystone.ipynb").read_text() == "mine"
