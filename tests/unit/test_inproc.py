"""The in-process client's plain-request path sends what httpx's own path sends.

Each request below goes once through :class:`InProcessClient` and once through an ordinary
``httpx.Client`` on the same transport (httpx's URL parsing, header merging and body
encoding); the target room must see the same ASGI scope and body, and the caller the same
answer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from labkit.sim.core.inproc import InProcessClient, InProcessTransport


class _Room:
    """A ServiceApp stand-in: keeps what it was handed, answers with a header and JSON."""

    name = "room"

    def __init__(self) -> None:
        self.seen: list[tuple[dict[str, Any], bytes, str]] = []

    def handle_inline(
        self, request: Request, path: str, parent: Any, caller: str, caller_host: str
    ) -> Response:
        scope = {k: v for k, v in request.scope.items() if k != "app"}
        self.seen.append((scope, request._body, path))
        return Response(b'{"ok": true}', 203, {"X-Answer": "yes"}, "application/json")


class _Router:
    def __init__(self, room: _Room) -> None:
        self.room = room
        self.asked: list[tuple[str, int | None, str]] = []

    def resolve(self, host: str, port: int | None, path: str) -> tuple[Any, str] | None:
        self.asked.append((host, port, path))
        if host == "nowhere":
            return None
        return self.room, path.removeprefix("/networking")


class _Runtime:
    def root_context(self, component: str, host: str) -> None:
        return None


def _pair() -> tuple[httpx.Client, httpx.Client, _Room, _Router]:
    room = _Room()
    router = _Router(room)
    transport = InProcessTransport(_Runtime(), router, "nova-api", "controller")  # type: ignore[arg-type]
    headers = {"User-Agent": "nova-api (labkit sim)"}
    fast = InProcessClient(transport, headers=headers)
    plain = httpx.Client(transport=transport, timeout=30.0, headers=headers)
    return fast, plain, room, router


PLAIN: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "http://127.0.0.1:8642/networking/v2.0/ports?device_id=abc&fields=id", {}),
    ("GET", "http://controller:9696/v2.0/ports", {"headers": {"X-Auth-Token": "tok"}}),
    ("GET", "http://controller:80/v2.0/ports?", {"headers": {"user-agent": "other"}}),
    ("GET", "http://controller:9696", {}),
    ("GET", "http://controller:9696/v2.0/a%20b/%C3%A9?name=x%2Fy&x=1:2@3", {}),
    ("POST", "http://controller:5000/v3/auth/tokens", {"json": {"a": "é", "b": [1, None]}}),
    ("POST", "http://controller:8778/placement/x", {}),
    ("PUT", "http://controller:8778/allocations/1", {"content": b"raw", "headers": {"A": "1"}}),
    ("PUT", "http://controller:8778/allocations/1", {"content": "text é"}),
    ("PATCH", "http://controller:8778/x", {"content": b""}),
    ("POST", "http://controller:8778/x", {"json": {"a": 1}, "headers": {"Content-Type": "x/y"}}),
    ("DELETE", "http://controller:9292/v2/images/1", {"headers": {"Host": "elsewhere:1"}}),
    ("GET", "http://controller:9696/v2.0/ports?id=1.2&fields=a~b", {"timeout": 5}),
]
# not plain: httpx's own way, to the same transport
OTHER: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "http://controller:9696/v2.0/a b?x=<y>", {}),
    ("GET", "http://controller:9696/v2.0/a/../b", {}),
    ("GET", "http://Controller:9696/v2.0/ports", {"params": {"id": ["1", "2"]}}),
    ("GET", "http://controller:9696/x", {"headers": {"X-Name": "é"}}),
]


@pytest.mark.parametrize(("method", "url", "kwargs"), PLAIN + OTHER)
def test_the_target_sees_what_httpx_sends(method: str, url: str, kwargs: dict[str, Any]) -> None:
    fast, plain, room, router = _pair()
    is_plain = fast._plain(method, url, kwargs) is not None  # type: ignore[attr-defined]
    assert is_plain == ((method, url, kwargs) in PLAIN)
    if "é" in str(kwargs.get("headers", {})):
        with pytest.raises(UnicodeEncodeError):  # httpx refuses it: so does the fast client
            plain.request(method, url, **kwargs)
        with pytest.raises(UnicodeEncodeError):
            fast.request(method, url, **kwargs)
        return
    expected = plain.request(method, url, **kwargs)
    answer = fast.request(method, url, **kwargs)
    (want_scope, want_body, want_path), (got_scope, got_body, got_path) = room.seen
    assert got_scope == want_scope
    assert got_body == want_body
    assert got_path == want_path
    assert router.asked[0] == router.asked[1]
    assert answer.status_code == expected.status_code == 203
    assert answer.headers.multi_items() == expected.headers.multi_items()
    assert answer.json() == expected.json() == {"ok": True}


def test_helpers_through_get_and_post_are_plain() -> None:
    fast, plain, room, _ = _pair()
    for client in (plain, fast):
        client.get("http://controller:9696/v2.0/ports", headers={"X-Auth-Token": "t"})
        client.post("http://controller:5000/v3/auth/tokens", json={"auth": {}})
    assert room.seen[0][:2] == room.seen[2][:2]
    assert room.seen[1][:2] == room.seen[3][:2]


def test_a_refused_connection_names_its_request() -> None:
    fast, plain, _, _ = _pair()
    for client in (plain, fast):
        with pytest.raises(httpx.ConnectError, match="Connection refused") as refused:
            client.get("http://nowhere:9696/v2.0/ports", headers={"X-Auth-Token": "t"})
        assert refused.value.request.url == "http://nowhere:9696/v2.0/ports"
        assert refused.value.request.headers["x-auth-token"] == "t"
