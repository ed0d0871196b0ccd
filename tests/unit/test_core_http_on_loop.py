"""Where a handler runs: on a request thread, or on the event loop's own thread when marked
``@on_loop`` (labkit.sim.core.http.on_loop) -- with the same request context, errors and
access log either way."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from starlette.responses import Response

from labkit.sim.core import context
from labkit.sim.core.config import SimConfig, SimHost
from labkit.sim.core.http import Call, HttpError, Routes, ServiceApp, json_response, on_loop
from labkit.sim.core.runtime import Runtime
from tests.unit.test_core_http_location import bare_request


class _Seen:
    """What each handler saw: its thread and the request id of the bound context."""

    def __init__(self) -> None:
        self.thread: dict[str, int] = {}
        self.request_id: dict[str, str] = {}

    def note(self, name: str, call: Call) -> None:
        self.thread[name] = threading.get_ident()
        bound = context.current()
        self.request_id[name] = bound.request_id if bound else ""


def _routes(seen: _Seen) -> Routes:
    routes = Routes()

    @routes.get("/threaded")
    def threaded(call: Call) -> Response:
        seen.note("threaded", call)
        return json_response({"where": "thread"})

    @routes.get("/looped")
    @on_loop
    def looped(call: Call) -> Response:
        seen.note("looped", call)
        return json_response({"where": "loop"})

    @routes.get("/looped-error")
    @on_loop
    def looped_error(call: Call) -> Response:
        raise HttpError("no such thing", status=404)

    return routes


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    controller = SimHost("controller", "10.64.0.11", ("controller",), 2, 8.0, 50.0)
    made = Runtime(SimConfig(state_dir=tmp_path, port=1, hosts=(controller,)))
    try:
        yield made
    finally:
        made.close()


def _get(app: ServiceApp, path: str) -> tuple[Response, int, str | None]:
    """The answer, the event loop's thread and the context bound on it after the request."""

    async def serve() -> tuple[Response, int, str | None]:
        response = await app.handle(bare_request("GET", path), path)
        after = context.current()
        return response, threading.get_ident(), after.request_id if after else None

    # On a thread of its own, as in test_core_http_location: asyncio.run may find a loop
    # left running on the test's thread.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, serve()).result()


def test_a_marked_handler_runs_on_the_loop_and_others_on_a_request_thread(
    runtime: Runtime,
) -> None:
    seen = _Seen()
    app = ServiceApp(runtime, _routes(seen))
    looped, loop_thread, after_looped = _get(app, "/looped")
    threaded, other_loop_thread, after_threaded = _get(app, "/threaded")
    assert looped.status_code == threaded.status_code == 200
    assert seen.thread["looped"] == loop_thread
    # Compared with the loop that served that same request only: the first request's loop
    # thread has ended by then, and Python may hand its ident to a new request thread.
    assert seen.thread["threaded"] != other_loop_thread
    # Both ran under their request's context, and the loop's context is left as found.
    assert seen.request_id["looped"] == looped.headers["x-openstack-request-id"]
    assert seen.request_id["threaded"] == threaded.headers["x-openstack-request-id"]
    assert after_looped is None and after_threaded is None


def test_an_error_on_the_loop_is_the_rooms_error_answer(runtime: Runtime) -> None:
    app = ServiceApp(runtime, _routes(_Seen()))
    answer, _thread, _after = _get(app, "/looped-error")
    assert answer.status_code == 404
    runtime.flush_logs()
    log = (runtime.logs_dir / f"{app.name}.log").read_text()
    assert '"GET /looped-error" status: 404' in log
