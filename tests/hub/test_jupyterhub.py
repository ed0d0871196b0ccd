"""The JupyterHub recipe (envs/jupyterhub/jupyterhub_config.py), for real: a Hub with two
users who log in with a password, each gets a Jupyter server of their own, and notebook 02 runs
in each -- cell by cell through the user's Jupyter server's kernels API (a kernel's websocket),
as a browser would run it. Then each user must have had a sim of their own: its own port and
state folder, in their own home, with Keystone installed by *their* notebook.

Opt-in (``make test-hub``, LABKIT_HUB=1): it installs JupyterHub's proxy from npm into
``.venv/hub-proxy`` when missing, starts a Hub, two servers and two sims, and takes minutes.
The Hub runs the recipe's ``simple`` spawner (no system users); the ``local`` one differs
only in who the servers run as.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "envs" / "jupyterhub" / "jupyterhub_config.py"
PROXY_DIR = REPO / ".venv" / "hub-proxy"
PROXY = PROXY_DIR / "node_modules" / ".bin" / "configurable-http-proxy"
PASSWORD = "workshop-" + uuid.uuid4().hex[:8]
USERS = ("alice", "bob")
NOTEBOOK = "notebooks/02-keystone.ipynb"

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("LABKIT_HUB") != "1",
        reason="opt-in: a real JupyterHub with two users (make test-hub, LABKIT_HUB=1)",
    ),
    pytest.mark.slow,
    pytest.mark.timeout(900),  # about 80 s on an idle 2-core machine; minutes on a busy one
]


def _need_proxy() -> Path:
    """JupyterHub's proxy, from npm into .venv/hub-proxy (never installed globally)."""
    if not PROXY.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("JupyterHub's proxy comes from npm, and npm is missing (install Node.js)")
        started = time.monotonic()
        subprocess.run(
            [npm, "install", "--prefix", str(PROXY_DIR), "--no-audit", "--no-fund",
             "--loglevel=error", "configurable-http-proxy"],
            check=True,
        )  # fmt: skip
        print(f"configurable-http-proxy installed in {time.monotonic() - started:.1f} s")
    return PROXY


def _need_jupyterhub() -> Path:
    hub = Path(sys.executable).parent / "jupyterhub"
    if not hub.is_file():
        pytest.fail(f"JupyterHub is not installed: {sys.executable} -m pip install -e '.[hub]'")
    return hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A running Hub on free ports, its state in a temporary folder; stopped afterwards with
    every process it started (its proxy, the users' servers and their kernels)."""
    _need_proxy()
    command = _need_jupyterhub()
    state = tmp_path_factory.mktemp("hub")
    port, hub_port, api_port = free_port(), free_port(), free_port()
    environment = {
        **os.environ,
        "LABKIT_HUB_SPAWNER": "simple",
        "LABKIT_HUB_PASSWORD": PASSWORD,
        "LABKIT_HUB_STATE": str(state),
        "LABKIT_HUB_PORT": str(port),
    }
    for key in [k for k in environment if k.startswith(("LABKIT_STATE", "LABKIT_SIM", "OS_"))]:
        environment.pop(key)
    log = open(state / "hub.log", "wb")  # noqa: SIM115 -- open while the Hub runs
    started = time.monotonic()
    process = subprocess.Popen(
        [str(command), "-f", str(CONFIG), f"--JupyterHub.hub_port={hub_port}",
         f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{api_port}"],
        cwd=state, env=environment, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    info: dict[str, Any] = {"url": url, "state": state, "process": process, "labs": {}}
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/hub/api/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Hub did not start:\n{(state / 'hub.log').read_text()[-3000:]}")
            time.sleep(0.5)
        info["startup"] = time.monotonic() - started
        yield info
    finally:
        _stop_everything(info)
        log.close()


def _stop_everything(info: dict[str, Any]) -> None:
    """The users' sims (started by their notebooks, outliving their kernels), then the
    servers through the Hub, then the Hub's own process group."""
    from labkit.config import StatePaths
    from labkit.sim import process as sim_process

    for lab in info["labs"].values():
        sim_process.stop(StatePaths.for_env("sim", Path(lab["state_root"])))
    process: subprocess.Popen[bytes] = info["process"]
    for name, token in info.get("tokens", {}).items():
        with contextlib.suppress(httpx.HTTPError):
            httpx.delete(f"{info['url']}/hub/api/users/{name}/server", headers=_auth(token))
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}"}


def _log_in(url: str, name: str) -> str:
    """Log in as a browser does (the login form, with the Hub's XSRF cookie), then ask the
    Hub's REST API for a token of one's own, with that session."""
    with httpx.Client(base_url=url, timeout=30) as browser:
        assert browser.get("/hub/login").status_code == 200
        xsrf = browser.cookies.get("_xsrf", path="/hub/")
        refused = browser.post(
            "/hub/login", data={"username": name, "password": "wrong", "_xsrf": xsrf}
        )
        assert refused.status_code == 403, refused.text[:300]
        answer = browser.post(
            "/hub/login", data={"username": name, "password": PASSWORD, "_xsrf": xsrf}
        )
        assert answer.status_code == 302, answer.text[:300]
        # Logged in, the session has an XSRF token of its own: a page of the Hub sets it.
        assert browser.get("/hub/home").status_code == 200
        xsrf = [c.value for c in browser.cookies.jar if c.name == "_xsrf"][-1]
        made = browser.post(
            f"/hub/api/users/{name}/tokens",
            json={"note": "labkit hub test", "expires_in": 3600},
            headers={"X-XSRFToken": xsrf or "", "Referer": f"{url}/hub/home"},
        )
        assert made.status_code == 201, made.text[:300]
        return str(made.json()["token"])


def _start_server(url: str, name: str, token: str) -> float:
    started = time.monotonic()
    answer = httpx.post(f"{url}/hub/api/users/{name}/server", headers=_auth(token), timeout=150)
    assert answer.status_code in (201, 202), answer.text[:300]
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        user = httpx.get(f"{url}/hub/api/users/{name}", headers=_auth(token), timeout=10).json()
        server = (user.get("servers") or {}).get("", {})
        if server.get("ready"):
            return time.monotonic() - started
        if not user.get("pending") and not server:
            break  # the spawn failed: the Hub gave up
        time.sleep(0.5)
    raise AssertionError(f"{name}'s server never became ready: {user} (see the Hub's log)")


class Kernel:
    """A kernel in a user's Jupyter server, reached through the Hub's proxy: the server's
    kernels API to start it, its websocket (Jupyter's messaging protocol) to run code."""

    def __init__(self, url: str, name: str, token: str) -> None:
        from websockets.sync.client import connect

        self.base = f"{url}/user/{name}"
        self.headers = _auth(token)
        made = httpx.post(f"{self.base}/api/kernels", headers=self.headers, json={}, timeout=60)
        assert made.status_code == 201, made.text[:300]
        self.id = made.json()["id"]
        ws = self.base.replace("http://", "ws://") + f"/api/kernels/{self.id}/channels"
        self._open = contextlib.ExitStack()
        self.socket = self._open.enter_context(
            connect(ws, additional_headers=self.headers, max_size=None)
        )
        self.session = uuid.uuid4().hex

    def run(self, code: str, timeout: float = 300) -> dict[str, Any]:
        """Run ``code``; its outputs' text and, if it failed, the error (ename, evalue)."""
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "session": self.session,
            "username": "labkit-test",
            "version": "5.3",
            "date": datetime.now(UTC).isoformat(),
        }
        content = {"code": code, "silent": False, "store_history": True,
                   "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}  # fmt: skip
        self.socket.send(
            json.dumps(
                {
                    "header": header,
                    "parent_header": {},
                    "metadata": {},
                    "content": content,
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        out: dict[str, Any] = {"text": "", "error": None, "status": None}
        idle = False
        deadline = time.monotonic() + timeout
        while not (idle and out["status"]):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer in {timeout} s to:\n{code[:200]}")
            message = json.loads(self.socket.recv(timeout=left))
            if (message.get("parent_header") or {}).get("msg_id") != msg_id:
                continue
            kind, body = message["msg_type"], message["content"]
            if kind == "stream":
                out["text"] += body.get("text", "")
            elif kind in ("execute_result", "display_data"):
                out["text"] += (body.get("data") or {}).get("text/plain", "") + "\n"
            elif kind == "error":
                out["error"] = (body.get("ename"), body.get("evalue"))
            elif kind == "status" and body.get("execution_state") == "idle":
                idle = True
            elif kind == "execute_reply":
                out["status"] = body.get("status")
                if body.get("status") == "error" and out["error"] is None:
                    out["error"] = (body.get("ename"), body.get("evalue"))
        return out

    def close(self) -> None:
        self._open.close()
        httpx.delete(f"{self.base}/api/kernels/{self.id}", headers=self.headers, timeout=30)


def _run_notebook(url: str, name: str, token: str) -> dict[str, Any]:
    """Notebook 02, as the user's server holds it (their copy, through the contents API),
    every code cell in order in one kernel; then where this user's lab lives."""
    got = httpx.get(f"{url}/user/{name}/api/contents/{NOTEBOOK}", headers=_auth(token), timeout=30)
    assert got.status_code == 200, got.text[:300]
    cells = [c for c in got.json()["content"]["cells"] if c["cell_type"] == "code"]
    kernel = Kernel(url, name, token)
    started = time.monotonic()
    try:
        for index, cell in enumerate(cells):
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            result = kernel.run(source)
            assert result["error"] is None, f"{name}: cell {index} failed: {result}\n{source}"
        seconds = time.monotonic() - started
        where = kernel.run(
            "import json, os\n"
            "print(json.dumps({'port': lab.sim_port, 'state_root': str(lab.paths.root.parent),"
            " 'home': os.environ['HOME'], 'layers': lab.installed_layers(),"
            " 'user': os.environ.get('JUPYTERHUB_USER')}))"
        )
        assert where["error"] is None, where
    finally:
        kernel.close()
    lab: dict[str, Any] = json.loads(where["text"].strip().splitlines()[-1])
    lab["seconds"] = seconds
    lab["cells"] = len(cells)
    return lab


def test_two_users_each_run_notebook_02_on_a_sim_of_their_own(hub: dict[str, Any]) -> None:
    url = hub["url"]
    tokens = {name: _log_in(url, name) for name in USERS}
    hub["tokens"] = tokens
    with ThreadPoolExecutor(len(USERS)) as pool:
        times = pool.map(lambda n: _start_server(url, n, tokens[n]), USERS)
        spawn = dict(zip(USERS, times, strict=True))
    # A user's token is theirs alone: bob's cannot reach alice's server.
    denied = httpx.get(f"{url}/user/alice/api/status", headers=_auth(tokens["bob"]), timeout=30)
    assert denied.status_code in (302, 403), denied.status_code
    started = time.monotonic()
    with ThreadPoolExecutor(len(USERS)) as pool:
        found = pool.map(lambda n: _run_notebook(url, n, tokens[n]), USERS)
        labs = dict(zip(USERS, found, strict=True))
    hub["labs"] = labs
    both = time.monotonic() - started

    alice, bob = labs["alice"], labs["bob"]
    assert alice["port"] != bob["port"]
    assert alice["state_root"] != bob["state_root"]
    for name, lab in labs.items():
        assert lab["user"] == name
        assert Path(lab["state_root"]).is_relative_to(lab["home"]), lab
        assert Path(lab["home"]).name == name
        assert "keystone" in lab["layers"], lab
        # The port the Hub recorded for this user is the one their sim answers on, and that
        # sim is theirs: its state folder is the one in their home.
        recorded = json.loads((hub["state"] / "labkit-users.json").read_text())[name]["port"]
        assert recorded == lab["port"]
        info = json.loads((Path(lab["state_root"]) / "sim" / "sim.json").read_text())
        assert int(info["port"]) == lab["port"], info
        answer = httpx.get(f"http://127.0.0.1:{lab['port']}/identity/v3", timeout=10)
        assert answer.status_code == 200
    print(
        f"\nHub up in {hub['startup']:.1f} s; servers ready in "
        + ", ".join(f"{n} {s:.1f} s" for n, s in spawn.items())
        + f"; notebook 02 ({alice['cells']} cells) in both at once: {both:.1f} s ("
        + ", ".join(f"{n} {lab['seconds']:.1f} s" for n, lab in labs.items())
        + ")"
    )
