"""Shared fixtures: a private sim per test session (per xdist worker), reached only through
the real clients -- openstacksdk connections and the ``openstack`` CLI."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests import osc_fork, sim_templates
from tests.browser.harness import browser, page, screenshot  # noqa: F401  (one Chromium per worker)

if TYPE_CHECKING:
    from openstack.connection import Connection

    from labkit.lab import Lab

REPO = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "openstack")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--portable",
        action="store_true",
        help="force labkit's portable fallbacks (LABKIT_PORTABLE=1) in every sim the tests "
        "start: the paths macOS and Windows take, on this machine",
    )


@pytest.fixture(scope="session", autouse=True)
def portable_fallbacks(request: pytest.FixtureRequest) -> Iterator[bool]:
    """With --portable, LABKIT_PORTABLE=1 for the whole session (sims inherit it)."""
    if not request.config.getoption("--portable"):
        yield False
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LABKIT_PORTABLE", "1")
        yield True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def private_sim(
    tmp_path_factory: pytest.TempPathFactory, name: str, layer: str | None = None
) -> Iterator[Lab]:
    """A sim with base + keystone installed on its own port and state folder (both given to
    the Lab, nothing set in os.environ); on teardown, fail if it ever answered a client with
    an internal error.

    With ``layer``, everything up to that layer is installed: copied from this run's
    template of it (tests/sim_templates.py: installed from scratch once, each copy checked
    by the installer), for fixtures that want a lab with those layers, not an install."""
    from labkit.lab import Lab

    if layer is None:
        state_root = tmp_path_factory.mktemp(name)
        lab = Lab.from_env(REPO / "envs" / "sim.yaml", state_root=state_root, sim_port=free_port())
        lab.ensure("keystone")
    else:
        lab = sim_templates.lab_from_template(tmp_path_factory, name, layer)
    yield lab
    from labkit.sim import process

    try:
        health = lab.sim.health()
    finally:
        process.stop(lab.paths)
    # The sim must never have answered a client with a 500 (a bug, logged with traceback).
    assert health["internal_errors"] == 0, (
        f"the sim hit {health['internal_errors']} internal errors; see {lab.paths.logs}/sim.log"
    )


@pytest.fixture(scope="session")
def nova_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A sim with every layer up to nova-compute, shared by the Nova tests of a worker."""
    yield from private_sim(tmp_path_factory, "nova", layer="nova-compute")


@pytest.fixture(scope="session")
def nova_admin(nova_lab: Lab) -> Connection:
    """The admin's openstacksdk connection to :func:`nova_lab`."""
    return nova_lab.connect("admin")


@pytest.fixture(scope="session")
def nova_demo(nova_lab: Lab) -> Connection:
    """The demo user's openstacksdk connection to :func:`nova_lab`."""
    return nova_lab.connect("demo")


@pytest.fixture(scope="session")
def sim_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The session's shared sim (one per xdist worker)."""
    yield from private_sim(tmp_path_factory, "labstate")


class CurrentConnection:
    """The lab's connection for a user, as it is now: openstacksdk reads the catalog once
    per connection and the lab makes a new one after each install, so a session fixture that
    kept the first would miss services installed later (Placement, Neutron, Nova)."""

    def __init__(self, lab: Lab, user: str) -> None:
        self._lab = lab
        self._user = user

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lab.connect(self._user), name)


@pytest.fixture(scope="session")
def admin(sim_lab: Lab) -> Connection:
    return CurrentConnection(sim_lab, "admin")  # type: ignore[return-value]


@pytest.fixture(scope="session")
def demo(sim_lab: Lab) -> Connection:
    return CurrentConnection(sim_lab, "demo")  # type: ignore[return-value]


def openstack_cli(lab: Lab) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real ``openstack`` CLI against a lab: ``run("token issue", cloud="lab-demo")``
    answers like ``subprocess.run([openstack, "token", "issue"], capture_output=True,
    text=True)`` with the lab's clouds.yaml and ``OS_CLOUD`` in the environment."""
    clouds = lab.paths.clouds_yaml  # written when keystone was installed

    def run(
        command: str, cloud: str = "lab-admin", check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(OS_CLIENT_CONFIG_FILE=str(clouds), OS_CLOUD=cloud)
        # A process of the real CLI per command, forked from one that has imported it
        # already (tests/osc_fork.py): the same as running the script, 10x less CPU.
        result = osc_fork.run(shlex.split(command), env, stdin=stdin, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"openstack {command} failed:\n{result.stderr}")
        return result

    return run


@pytest.fixture(scope="session")
def osc(sim_lab: Lab) -> Callable[..., subprocess.CompletedProcess[str]]:
    """The real ``openstack`` CLI against the session's sim."""
    return openstack_cli(sim_lab)


@pytest.fixture()
def unique() -> Callable[[str], str]:
    """Names that do not collide between tests sharing one sim."""
    counter = iter(range(10**6))
    token = os.urandom(3).hex()
    return lambda prefix: f"{prefix}-{token}-{next(counter)}"


@pytest.fixture(scope="session")
def glance_lab(sim_lab: Lab) -> Lab:
    """The session's sim with Glance installed too (its install plan, like notebook 03)."""
    return sim_lab.ensure("glance")
