"""The installers for real: local lab hosts, then base, Keystone and Glance over SSH.

Checks real results -- a token from the real Keystone, the same `openstack` commands as on
the sim, an active image in the real Glance -- then that a second run changes nothing, that
the notebooks run against the real lab with papermill, and that `down` leaves nothing.
Timings per layer go to the session summary (``make test-real``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit import install
from labkit.envs import SshEnv, load_env
from labkit.hosts import local
from labkit.hosts.layout import default_cache_dir
from labkit.install.runner import CHANGED, DONE, VERIFIED
from labkit.lab import Lab

pytestmark = pytest.mark.real

REPO = Path(__file__).resolve().parents[2]
ENV_FILE = REPO / "envs" / "lab-local.yaml"
LAYERS = [name for name in ("base", "keystone", "glance") if name in install.names()]


@pytest.fixture(scope="module")
def real_lab(tmp_path_factory: pytest.TempPathFactory, real_timings: list[str]) -> Iterator[Lab]:
    env = load_env(ENV_FILE)
    assert isinstance(env, SshEnv) and env.local
    state_root = tmp_path_factory.mktemp("real-install")
    # The machine's shared rootfs/apt cache, fixed before LABKIT_STATE_DIR moves to a temp
    # folder (the default cache lives under the state root); notebook kernels inherit it.
    os.environ.setdefault("LABKIT_CACHE_DIR", str(default_cache_dir()))
    os.environ["LABKIT_STATE_DIR"] = str(state_root)
    started = time.monotonic()
    local.up(env, state_root=state_root, cache_dir=default_cache_dir(), say=lambda _: None)
    real_timings.append(f"hosts up: {time.monotonic() - started:.1f} s")
    lab = Lab(env, state_root)
    lab.started = started  # type: ignore[attr-defined]
    yield lab
    if local.leftovers(env, state_root=state_root, cache_dir=default_cache_dir()):
        local.down(env, state_root=state_root, cache_dir=default_cache_dir())


def test_installers_run_layer_by_layer(real_lab: Lab, real_timings: list[str]) -> None:
    for layer in LAYERS:
        started = time.monotonic()
        results = real_lab.install(layer, show=False)
        real_timings.append(
            f"install {layer}: {time.monotonic() - started:.1f} s "
            f"({sum(r.status == CHANGED for r in results)} steps changed)"
        )
        assert all(r.status in (CHANGED, DONE, VERIFIED) for r in results)
    real_timings.append(f"hosts up -> all layers: {time.monotonic() - real_lab.started:.1f} s")  # type: ignore[attr-defined]


def test_a_token_from_the_real_keystone(real_lab: Lab) -> None:
    conn = real_lab.connect("admin")
    access = conn.session.auth.get_access(conn.session)
    assert access.project_name == "admin" and "admin" in access.role_names
    assert access.auth_token.startswith("gAAAAA")


def _osc(real_lab: Lab, command: str, cloud: str = "lab-admin") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_CLIENT_CONFIG_FILE=str(real_lab.paths.clouds_yaml), OS_CLOUD=cloud)
    return subprocess.run(
        [str(Path(sys.executable).parent / "openstack"), *command.split()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_same_cli_commands_as_on_the_sim(real_lab: Lab) -> None:
    token = json.loads(_osc(real_lab, "token issue -f json").stdout)
    assert token["id"].startswith("gAAAAA")
    projects = {p["Name"] for p in json.loads(_osc(real_lab, "project list -f json").stdout)}
    assert {"admin", "service", "demo"} <= projects
    catalog = json.loads(_osc(real_lab, "catalog list -f json").stdout)
    assert "identity" in {c["Type"] for c in catalog}
    assignments = json.loads(_osc(real_lab, "role assignment list --names -f json").stdout)
    assert any(a["User"] == "demo@Default" and a["Role"] == "member" for a in assignments)
    denied = _osc(real_lab, "user create --password x evil", cloud="lab-demo")
    assert denied.returncode == 1
    assert "identity:create_user" in denied.stderr


def test_a_second_run_changes_nothing(real_lab: Lab, real_timings: list[str]) -> None:
    started = time.monotonic()
    for layer in LAYERS:
        results = real_lab.install(layer, show=False)
        changed = [r.step.title for r in results if r.status == CHANGED]
        assert changed == [], f"{layer}: a second run changed {changed}"
    real_timings.append(f"second run of all layers: {time.monotonic() - started:.1f} s")


NOTEBOOKS = REPO / "notebooks"
# What each notebook must show against the real lab, beyond finishing without an error.
REAL_EXPECTED = {
    "01-hosts": ["controller  mariadb", "bind-address = 10.64.0.2"],
    "02-keystone": ["| id         | gAAAAA", "ProjectScopedPayload, decrypted with key file"],
    "03-glance": [
        "trusty: queued -> importing -> active",
        "All match: the bytes Glance stored are the bytes the publisher signed off.",
        "/var/lib/glance/images/",
        "| trusty | active |",
    ],
}


def _outputs(nb: object) -> str:
    parts: list[str] = []
    for cell in nb.cells:  # type: ignore[attr-defined]
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out["text"])
            elif "data" in out:
                parts.append(str(out["data"].get("text/plain", "")))
    return "\n".join(parts)


@pytest.mark.parametrize("name", list(REAL_EXPECTED))
def test_notebooks_run_against_the_real_lab(
    real_lab: Lab, name: str, tmp_path: Path, real_timings: list[str]
) -> None:
    import papermill

    # The kernel inherits LABKIT_STATE_DIR (set by the fixture): the notebooks use this
    # lab's state folder, secrets and known_hosts, not the default one.
    assert os.environ["LABKIT_STATE_DIR"] == str(real_lab.paths.root.parent)
    started = time.monotonic()
    nb = papermill.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(tmp_path / f"{name}.out.ipynb"),
        parameters={"env": str(ENV_FILE)},
        cwd=str(NOTEBOOKS),
        kernel_name="python3",
        progress_bar=False,
        execution_timeout=900,
    )
    real_timings.append(f"papermill {name}: {time.monotonic() - started:.1f} s")
    text = _outputs(nb)
    for expected in REAL_EXPECTED[name]:
        assert expected in text, f"{name}: {expected!r} not in the outputs"
    assert nb.metadata.papermill.exception is not True


def test_down_leaves_nothing(real_lab: Lab, real_timings: list[str]) -> None:
    assert isinstance(real_lab.env, SshEnv)
    root = real_lab.paths.root.parent
    started = time.monotonic()
    local.down(real_lab.env, state_root=root, cache_dir=default_cache_dir())
    real_timings.append(f"hosts down: {time.monotonic() - started:.1f} s")
    assert local.leftovers(real_lab.env, state_root=root, cache_dir=default_cache_dir()) == []
