"""The apt proxy: caches .deb and by-hash files, passes the rest, fetches only from mirrors."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from labkit.hosts.proxy import AptProxy, cache_file, cacheable


class _Mirror(BaseHTTPRequestHandler):
    files = {
        "/debian/pool/main/h/hello/hello_2.10-3_amd64.deb": b"DEB" * 50_000,
        "/debian/dists/bookworm/InRelease": b"release",
        "/debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/abc": b"packages",
    }
    hits: list[str] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:
        body = self.files.get(self.path, b"")
        self.send_response(200 if self.path in self.files else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Setup:
    proxy_port: int
    mirror: str  # "127.0.0.1:PORT"
    cache: Path


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    _Mirror.hits = []
    mirror = ThreadingHTTPServer(("127.0.0.1", 0), _Mirror)
    proxy = AptProxy(("127.0.0.1", 0), tmp_path / "apt", {"127.0.0.1": "http"})
    for server in (mirror, proxy):
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    yield Setup(proxy.server_address[1], f"127.0.0.1:{mirror.server_address[1]}", tmp_path / "apt")
    for server in (mirror, proxy):
        server.shutdown()
        server.server_close()


def _get(setup: Setup, url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", setup.proxy_port, timeout=5)
    try:
        conn.request(method, url)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_deb_is_fetched_once_then_served_from_the_cache(setup: Setup) -> None:
    url = f"http://{setup.mirror}/debian/pool/main/h/hello/hello_2.10-3_amd64.deb"
    first = _get(setup, url)
    second = _get(setup, url)
    assert first[0] == second[0] == 200
    assert first[2] == second[2] == b"DEB" * 50_000
    assert second[1].get("X-Labkit-Cache") == "hit"
    assert len(_Mirror.hits) == 1
    assert (setup.cache / "127.0.0.1/debian/pool/main/h/hello/hello_2.10-3_amd64.deb").is_file()


def test_by_hash_indexes_are_cached_release_files_are_not(setup: Setup) -> None:
    by_hash = f"http://{setup.mirror}/debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/abc"
    release = f"http://{setup.mirror}/debian/dists/bookworm/InRelease"
    for _ in range(2):
        assert _get(setup, by_hash)[2] == b"packages"
        assert _get(setup, release)[2] == b"release"
    assert _Mirror.hits.count("/debian/dists/bookworm/InRelease") == 2
    assert _Mirror.hits.count("/debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/abc") == 1


def test_head_does_not_download(setup: Setup) -> None:
    status, _, body = _get(setup, f"http://{setup.mirror}/debian/dists/bookworm/InRelease", "HEAD")
    assert status == 200 and body == b""


def test_upstream_errors_are_relayed_and_not_cached(setup: Setup) -> None:
    assert _get(setup, f"http://{setup.mirror}/debian/pool/missing_1_amd64.deb")[0] == 404
    assert not list(setup.cache.rglob("*.deb"))


def test_hosts_that_are_not_mirrors_are_refused(setup: Setup) -> None:
    status, _, body = _get(setup, "http://example.com/debian/x.deb")
    assert status == 403
    assert b"not one of this machine's apt mirrors" in body
    assert _Mirror.hits == []


def test_requests_that_are_not_proxy_requests_are_refused(setup: Setup) -> None:
    assert _get(setup, "/debian/x.deb")[0] == 400


def test_cacheable_and_cache_paths(tmp_path: Path) -> None:
    assert cacheable("/debian/pool/main/a/a_1_amd64.deb")
    assert cacheable("/debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/00")
    assert not cacheable("/debian/dists/bookworm/InRelease")
    assert cache_file(tmp_path, "m", "/../../etc/passwd") == tmp_path / "m" / "etc" / "passwd"
    assert cache_file(tmp_path, "m", "/") is None
