"""labkit.probe.get answers as httpx.get does, and a loop of probes builds one SSL context
(not one per call, which cost a sim start as much CPU in its waiting parent as in the sim)."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator

import httpx
import pytest

from labkit import probe


class _Teapot(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(418 if self.path == "/teapot" else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Teapot)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_status_is_httpx_gets(url: str) -> None:
    for path in ("/", "/teapot"):
        expected = httpx.get(url + path, timeout=5).status_code
        assert probe.get(url + path, timeout=5).status_code == expected
    assert probe.get(url + "/teapot", timeout=5).status_code == 418


def test_no_answer_is_httpx_gets_error() -> None:
    nobody = "http://127.0.0.1:1/"  # a privileged port nothing listens on here
    with pytest.raises(httpx.ConnectError):
        httpx.get(nobody, timeout=2)
    with pytest.raises(httpx.ConnectError):
        probe.get(nobody, timeout=2)


def test_a_loop_of_probes_builds_one_ssl_context(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []
    real = ssl.create_default_context

    def counting(*args: object, **kwargs: object) -> ssl.SSLContext:
        built.append(args or kwargs)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl, "create_default_context", counting)
    probe._context.cache_clear()
    for _ in range(20):
        assert probe.get(url + "/", timeout=5).status_code == 200
    assert len(built) == 1
    httpx.get(url + "/", timeout=5)  # what each probe cost before: a context per call
    assert len(built) == 2
