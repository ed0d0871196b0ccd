"""Every Location header the sim sends is an URI (labkit.sim.core.http.iri_to_uri), however
the handler made its response: Django's iri_to_uri's rules."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from labkit.sim.core.config import SimConfig, SimHost
from labkit.sim.core.http import (
    Call,
    Routes,
    ServiceApp,
    empty_response,
    iri_to_uri,
    json_response,
    public,
)
from labkit.sim.core.runtime import Runtime


def test_non_ascii_and_unsafe_characters_are_percent_encoded() -> None:
    assert iri_to_uri("http://h/v3/tags/café au lait") == "http://h/v3/tags/caf%C3%A9%20au%20lait"
    assert (
        iri_to_uri('http://h/a"b<c>{d}|\\^`\x00') == "http://h/a%22b%3Cc%3E%7Bd%7D%7C%5C%5E%60%00"
    )
    assert iri_to_uri("http://h/☃") == "http://h/%E2%98%83"


def test_reserved_characters_and_encoded_uris_stay() -> None:
    uri = "http://u@h:1/p/a;b=c,d+e!f*g'h(i)~j$k?q=1&r=[2]#frag"
    assert iri_to_uri(uri) == uri
    assert iri_to_uri("http://h/caf%C3%A9") == "http://h/caf%C3%A9"  # not encoded twice
    assert iri_to_uri(iri_to_uri("http://h/é ü")) == iri_to_uri("http://h/é ü")


def test_the_response_helpers_encode_the_location_they_are_given() -> None:
    made = empty_response(201, {"Location": "http://h/tags/☃ x"})
    assert made.headers["location"] == "http://h/tags/%E2%98%83%20x"
    made = json_response({}, 201, {"location": "http://h/é"})
    assert made.headers["location"] == "http://h/%C3%A9"


def bare_request(method: str, path: str) -> Request:
    """A request with no query and an empty body, as the pipeline receives one."""
    scope = {
        "type": "http",
        "method": method,
        "scheme": "http",
        "path": path,
        "query_string": b"",
        "headers": [(b"host", b"h")],
        "client": ("127.0.0.1", 1),
    }

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    return Request(scope, receive)


def _answer(app: ServiceApp, path: str) -> Response:
    # On a thread of its own: a test run earlier in this worker process (the browser tests'
    # sync Playwright) can leave this thread with a running event loop, where asyncio.run
    # refuses to start.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, app.handle(bare_request("PUT", path), path)).result()


def test_the_pipeline_encodes_a_location_made_by_hand(tmp_path: Path) -> None:
    """A room that builds its Response itself (Placement does) still sends an URI: Starlette
    wrote the header in latin-1, the pipeline sends its characters as UTF-8 escapes."""
    routes = Routes()

    @routes.put("/by-hand/{name}")
    @public
    def by_hand(call: Call, name: str) -> Response:
        return Response(b"", status_code=201, headers={"Location": f"http://h/x/{name}"})

    controller = SimHost("controller", "10.64.0.11", ("controller",), 2, 8.0, 50.0)
    runtime = Runtime(SimConfig(state_dir=tmp_path, port=1, hosts=(controller,)))
    try:
        answer = _answer(ServiceApp(runtime, routes), "/by-hand/né à")
    finally:
        runtime.close()
    assert answer.status_code == 201
    assert answer.headers["location"] == "http://h/x/n%C3%A9%20%C3%A0"
