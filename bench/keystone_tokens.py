"""Keystone in the sim: cold start to the first token, token issue and validation latency.

    python -m bench keystone_tokens

Prints

* seconds from `labkit sim up` (a fresh process, state already installed) to the first
  answered token request (target < 2 s);
* over raw HTTP -- the standard library's ``http.client`` holding one kept-alive connection
  with ``TCP_NODELAY`` set, as every HTTP client OpenStack's tools use sets it, so the
  figures are the sim's and not the client's (httpx alone costs ~0.35 ms a call here) --
  p50/p95/p99 of 1,000 sequential calls each of
  ``GET /identity/v3/`` (the floor: the sim's HTTP pipeline with no Keystone work),
  ``POST /v3/auth/tokens`` (password, project scope, with catalog) and
  ``GET /v3/auth/tokens`` (X-Auth-Token + X-Subject-Token, what keystonemiddleware sends);
* the same issue and validation through keystoneauth (a fresh ``v3.Password`` plugin per
  issue, one shared ``requests`` connection pool), as openstacksdk and keystonemiddleware
  make them;
* the same three requests handed straight to the sim's ASGI app in this process (no TCP, no
  uvicorn, sim stopped), min and p50: on a shared machine the minimum is the figure that
  stays put from run to run, so it is the one to compare before and after a change.

Targets: issue p50 < 2 ms and validation p50 < 1 ms over raw HTTP, at the sim env's
``password_hash_rounds = 4``; a real Zed Keystone on this kind of machine issues in 262 ms
p50 (bcrypt cost 12). Figures, not a test: nothing fails on a number.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import requests
from keystoneauth1 import session as ka_session
from keystoneauth1.identity import v3

from bench.common import (
    Latency,
    free_port,
    load_note,
    process_cpu_seconds,
    repo_env,
    time_calls,
)

REAL_ZED_ISSUE_P50_MS = 262.0
ISSUE_TARGET_MS = 2.0
VALIDATE_TARGET_MS = 1.0
COLD_START_TARGET_S = 2.0


def _password_body(password: str) -> dict[str, Any]:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "admin", "domain": {"name": "Default"}, "password": password}
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
        }
    }


class _NoDelayHTTPConnection(http.client.HTTPConnection):
    """``http.client`` with Nagle's algorithm off, as urllib3 (requests, keystoneauth,
    openstacksdk) and httpx turn it off on every socket they open. ``http.client`` writes a
    request's headers and its body separately; with Nagle on, the body waits until the
    server has acknowledged the headers -- a round trip and a second wake-up of the server
    that no real client pays, and that would be counted as the sim's time."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Connection:
    """One kept-alive HTTP/1.1 connection with the standard library's client: the lightest
    client there is (httpx spends about 0.35 ms of its own per call here, more than the
    sim's whole HTTP pipeline), so the figures are the sim's and the kernel's."""

    def __init__(self, base: str) -> None:
        url = httpx.URL(base)
        self.prefix = url.path.rstrip("/")
        self.conn = _NoDelayHTTPConnection(url.host, url.port, timeout=30)

    def call(
        self, method: str, path: str, status: int, headers: dict[str, str], body: bytes | None
    ) -> http.client.HTTPResponse:
        self.conn.request(method, self.prefix + path, body=body, headers=headers)
        response = self.conn.getresponse()
        response.read()
        if response.status != status:
            raise RuntimeError(f"{method} {path} answered {response.status}, not {status}")
        return response

    def close(self) -> None:
        self.conn.close()


def _raw_http(
    base: str, password: str, count: int, sim_pid: int
) -> tuple[dict[str, Latency], dict[str, float]]:
    """One client, one connection, kept alive: nothing but the sim's own time is measured.
    Also returns the sim process's CPU milliseconds per call of each series, which a busy
    machine inflates far less than wall-clock latency."""
    body = json.dumps(_password_body(password)).encode()
    json_headers = {"Content-Type": "application/json"}
    latencies: dict[str, Latency] = {}
    cpu_ms: dict[str, float] = {}
    client = _Connection(base)
    try:

        def issue() -> str:
            answer = client.call("POST", "/v3/auth/tokens", 201, json_headers, body)
            return str(answer.getheader("X-Subject-Token"))

        def measure(name: str, call: Callable[[], object]) -> None:
            before = process_cpu_seconds(sim_pid)
            latencies[name] = time_calls(call, count, warmup=0)
            cpu_ms[name] = (process_cpu_seconds(sim_pid) - before) * 1000 / count

        for _ in range(20):  # warm up every path before timing any
            client.call("GET", "/v3/", 200, {}, None)
            issue()
        measure("floor", lambda: client.call("GET", "/v3/", 200, {}, None))
        headers = {"X-Auth-Token": issue(), "X-Subject-Token": issue()}
        measure("validate", lambda: client.call("GET", "/v3/auth/tokens", 200, headers, None))
        measure("issue", issue)
    finally:
        client.close()
    return latencies, cpu_ms


def _keystoneauth(auth_url: str, password: str, count: int) -> dict[str, Latency]:
    pool = requests.Session()  # kept-alive connections shared by every keystoneauth Session

    def plugin() -> v3.Password:
        return v3.Password(
            auth_url=auth_url,
            username="admin",
            password=password,
            project_name="admin",
            user_domain_name="Default",
            project_domain_name="Default",
        )

    def issue() -> None:
        auth = plugin()
        auth.get_auth_ref(ka_session.Session(auth=auth, session=pool))  # one POST

    caller = ka_session.Session(auth=plugin(), session=pool)
    subject = ka_session.Session(auth=plugin(), session=pool).get_token()
    url = auth_url.rstrip("/") + "/auth/tokens"

    def validate() -> None:
        caller.get(url, headers={"X-Subject-Token": subject})

    return {"validate": time_calls(validate, count), "issue": time_calls(issue, count)}


def _in_process(state_dir: Path, password: str, count: int) -> dict[str, tuple[float, float]]:
    """(min, p50) in ms of GET /v3/, validate and issue, calling the ASGI app directly."""
    # The server process blocks this import too (labkit.sim.server): it builds a grammar
    # for seconds when Jupyter's dependencies installed it, and the sim never needs it.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    from labkit.sim.core.config import SimConfig
    from labkit.sim.sim import Sim

    sim = Sim(SimConfig.load(state_dir))
    body = json.dumps(_password_body(password)).encode()
    json_headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]

    async def call(
        method: str, path: str, headers: list[tuple[bytes, bytes]], payload: bytes
    ) -> tuple[int, dict[bytes, bytes]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": payload, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), *headers],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 80),
        }
        await sim.app(scope, receive, send)
        return sent[0]["status"], dict(sent[0]["headers"])

    async def series() -> dict[str, tuple[float, float]]:
        issue = ("POST", "/identity/v3/auth/tokens", json_headers, body)
        _status, headers = await call(*issue)
        token = headers[b"x-subject-token"]
        validate = (
            "GET",
            "/identity/v3/auth/tokens",
            [(b"x-auth-token", token), (b"x-subject-token", token)],
            b"",
        )
        out = {}
        for name, request in (
            ("floor", ("GET", "/identity/v3/", [], b"")),
            ("validate", validate),
            ("issue", issue),
        ):
            for _ in range(20):
                await call(*request)
            samples = []
            for _ in range(count):
                t0 = time.perf_counter()
                status, _headers = await call(*request)
                samples.append((time.perf_counter() - t0) * 1000)
                if status >= 400:
                    raise RuntimeError(f"{request[0]} {request[1]} answered {status}")
            samples.sort()
            out[name] = (samples[0], samples[len(samples) // 2])
        return out

    try:
        return asyncio.run(series())
    finally:
        sim.close()


def run(count: int = 1000) -> dict[str, float]:
    from labkit.lab import Lab
    from labkit.sim import process

    load = load_note()  # before the sim and this client add their own load
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LABKIT_SIM_PORT"] = str(free_port())
        lab = Lab.from_env(repo_env("sim"), state_root=Path(tmp))
        lab.ensure("keystone")
        process.stop(lab.paths)
        creds = lab.credentials("admin")

        started = time.perf_counter()
        lab.up()
        auth = v3.Password(
            auth_url=creds.auth_url,
            username="admin",
            password=creds.password,
            project_name="admin",
            user_domain_name="Default",
            project_domain_name="Default",
        )
        ka_session.Session(auth=auth).get_token()
        cold = time.perf_counter() - started
        try:
            handle = process.running(lab.paths)
            assert handle is not None
            base = creds.auth_url.rstrip("/").removesuffix("/v3")
            raw, cpu = _raw_http(base, creds.password, count, handle.pid)
            ka = _keystoneauth(creds.auth_url, creds.password, count)
        finally:
            process.stop(lab.paths)
        inproc = _in_process(lab.paths.root, creds.password, count)

    print(load)
    print(
        f"cold start to first token: {cold:.2f} s   "
        f"(target < {COLD_START_TARGET_S:g} s: {cold / COLD_START_TARGET_S:.2f}x of budget)"
    )
    print(f"raw HTTP (http.client), one kept-alive connection, {count} sequential calls each:")
    print("  " + raw["floor"].line("GET /v3/ (the HTTP pipeline alone)"))
    print("  " + raw["issue"].line("POST /v3/auth/tokens (password)", ISSUE_TARGET_MS))
    print("  " + raw["validate"].line("GET /v3/auth/tokens (validate)", VALIDATE_TARGET_MS))
    print(
        "  sim CPU per call: "
        + ", ".join(f"{name} {ms:.2f} ms" for name, ms in cpu.items())
        + " (less sensitive to a busy machine than latency)"
    )
    print(f"through keystoneauth, {count} sequential calls each:")
    print("  " + ka["issue"].line("v3.Password -> get_auth_ref (issue)"))
    print("  " + ka["validate"].line("session.get(auth/tokens) (validate)"))
    print(f"in-process ASGI app (no TCP, no uvicorn), {count} sequential calls each:")
    for name, label in (
        ("floor", "GET /v3/"),
        ("issue", "POST /v3/auth/tokens"),
        ("validate", "GET /v3/auth/tokens"),
    ):
        low, mid = inproc[name]
        print(f"  {label:<44} min {low:6.2f} ms  p50 {mid:6.2f} ms")
    issue_p50 = raw["issue"].p50
    print(
        f"real Zed Keystone issues in {REAL_ZED_ISSUE_P50_MS:.0f} ms p50: the sim is "
        f"{REAL_ZED_ISSUE_P50_MS / issue_p50:.0f}x faster over raw HTTP, "
        f"{REAL_ZED_ISSUE_P50_MS / ka['issue'].p50:.0f}x through keystoneauth"
    )
    figures = {"cold_start_s": cold, **{f"sim_cpu_{k}_ms": v for k, v in cpu.items()}}
    for name, (low, mid) in inproc.items():
        figures[f"inproc_{name}_min_ms"], figures[f"inproc_{name}_p50_ms"] = low, mid
    for group, series in (("raw", raw), ("ka", ka)):
        for name, lat in series.items():
            figures[f"{group}_{name}_p50_ms"] = lat.p50
            figures[f"{group}_{name}_p95_ms"] = lat.p95
    return figures


if __name__ == "__main__":
    run()
