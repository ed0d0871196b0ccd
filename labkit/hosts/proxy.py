"""A small caching HTTP proxy for apt, so local lab hosts install packages without NAT.

Lab hosts sit on a bridge with no route out (no ip_forward, no iptables changes on the
machine). apt inside each host is configured with ``Acquire::http::Proxy`` pointing here, on
the bridge's gateway address; this process runs on the machine, where the mirrors are
reachable. It only fetches from the mirrors named in the machine's own apt sources
(anything else gets 403), upgrading to https where the machine uses https.

Caching: ``.deb`` files and ``by-hash`` index files never change under the same URL, so they
are kept in the shared cache (``<cache>/apt/<mirror host>/<path>``) and served from disk to
every host and every later lab; everything else (``InRelease``...) is passed through with
the client's conditional headers. Bodies stream in 64 KiB chunks while being written to a
temporary file that becomes the cache entry only when complete.

Run as ``python -m labkit.hosts.proxy --listen ADDR:PORT --cache DIR --upstream HOST=SCHEME``;
``labkit hosts up`` starts it and ``labkit hosts down`` stops it.
"""

from __future__ import annotations

import argparse
import os
import posixpath
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlsplit

CHUNK = 64 * 1024
UPSTREAM_TIMEOUT = 60.0
_PASS_REQUEST_HEADERS = (
    "If-Modified-Since",
    "If-None-Match",
    "If-Range",
    "Range",
    "Cache-Control",
    "Pragma",
    "Accept",
    "User-Agent",
)
_PASS_RESPONSE_HEADERS = (
    "Content-Type",
    "Last-Modified",
    "ETag",
    "Content-Range",
    "Accept-Ranges",
    "Cache-Control",
    "Expires",
)


class _Body(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def cacheable(path: str) -> bool:
    """Whether a URL path names content that never changes (safe to keep forever)."""
    return path.endswith((".deb", ".udeb", ".ddeb")) or "/by-hash/" in path


def cache_file(cache_dir: Path, host: str, path: str) -> Path | None:
    """Where a cacheable URL is kept; None for paths that try to climb out of the cache."""
    clean = posixpath.normpath("/" + path).lstrip("/")  # "/../x" normalizes to "/x"
    if not clean or ".." in clean.split("/") or "/" in host or host in ("", ".", ".."):
        return None
    return cache_dir / host / clean


class AptProxy(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, listen: tuple[str, int], cache_dir: Path, upstreams: dict[str, str]):
        self.cache_dir = cache_dir
        self.upstreams = {h.lower(): s for h, s in upstreams.items()}
        self.stats = {"hit": 0, "miss": 0, "pass": 0, "refused": 0}
        self._lock = threading.Lock()
        super().__init__(listen, _Handler)

    def count(self, what: str) -> None:
        with self._lock:
            self.stats[what] += 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # apt keeps connections open and pipelines requests
    server: AptProxy
    server_version = "labkit-apt-proxy/1"

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_CONNECT(self) -> None:
        self._refuse(
            405,
            "labkit's apt proxy does not tunnel (https): lab hosts use http "
            "mirror URIs and the proxy fetches over https itself.",
        )

    def log_message(self, format: str, *args: object) -> None:
        sys.stdout.write(f"{time.strftime('%H:%M:%S')} {self.address_string()} {format % args}\n")
        sys.stdout.flush()

    def _refuse(self, status: int, why: str) -> None:
        self.server.count("refused")
        body = (why + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _serve(self, head: bool) -> None:
        url = urlsplit(self.path)
        host = (url.hostname or "").lower()
        if url.scheme != "http" or not host:
            self._refuse(
                400, "Send absolute http:// URLs: this is a proxy (apt: Acquire::http::Proxy)."
            )
            return
        scheme = self.server.upstreams.get(host)
        if scheme is None:
            allowed = ", ".join(sorted(self.server.upstreams))
            self._refuse(
                403,
                f"{host} is not one of this machine's apt mirrors ({allowed}); "
                "lab hosts may only fetch packages from those.",
            )
            return
        upstream = url._replace(scheme=scheme).geturl()
        keep = cache_file(self.server.cache_dir, host, url.path) if cacheable(url.path) else None
        if keep is not None and keep.is_file():
            self.server.count("hit")
            self._send_file(keep, head)
            return
        headers = {k: v for k in _PASS_REQUEST_HEADERS if (v := self.headers.get(k))}
        if keep is not None:  # we want the whole body for the cache, never a range of it
            for name in ("Range", "If-Range", "If-Modified-Since", "If-None-Match"):
                headers.pop(name, None)
        request = urllib.request.Request(
            upstream, headers=headers, method="HEAD" if head else "GET"
        )
        try:
            response = urllib.request.urlopen(request, timeout=UPSTREAM_TIMEOUT)
        except urllib.error.HTTPError as exc:  # 304, 404...: relay as they are
            self.server.count("pass")
            self._relay(exc.code, exc.headers, exc, head, None)
            return
        except (urllib.error.URLError, OSError) as exc:
            self._refuse(502, f"The proxy could not reach {upstream}: {exc}")
            return
        with response:
            self.server.count("miss" if keep is not None else "pass")
            self._relay(
                response.status,
                response.headers,
                response,
                head,
                keep if response.status == 200 else None,
            )

    def _send_file(self, path: Path, head: bool) -> None:
        size = path.stat().st_size
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("X-Labkit-Cache", "hit")
        self.end_headers()
        if head:
            return
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                self.wfile.write(chunk)

    def _relay(
        self, status: int, headers: Message, body: _Body, head: bool, keep: Path | None
    ) -> None:
        length = headers.get("Content-Length")
        self.send_response(status)
        for name in _PASS_RESPONSE_HEADERS:
            if headers.get(name):
                self.send_header(name, headers[name])
        if length is not None:
            self.send_header("Content-Length", length)
        elif not head and status not in (204, 304):
            self.send_header("Connection", "close")  # length unknown: end of body = close
            self.close_connection = True
        self.end_headers()
        if head or status in (204, 304):
            return
        tmp: Path | None = None
        out: BinaryIO | None = None
        if keep is not None:
            keep.parent.mkdir(parents=True, exist_ok=True)
            tmp = keep.with_name(f".{keep.name}.{os.getpid()}.{threading.get_ident()}.part")
            out = tmp.open("wb")
        received = 0
        # The last chunk is held back until the cache entry is in place: a client that has
        # the whole body and asks again at once must find it in the cache.
        held = b""
        try:
            while chunk := body.read(CHUNK):
                received += len(chunk)
                if out is not None:
                    out.write(chunk)
                if held:
                    self.wfile.write(held)
                held = chunk
            if out is not None and tmp is not None and keep is not None:
                out.close()
                out = None
                if length is None or received == int(length):
                    tmp.replace(keep)  # complete: now it is a cache entry
            if held:
                self.wfile.write(held)
        finally:
            if out is not None:
                out.close()
            if tmp is not None:
                tmp.unlink(missing_ok=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m labkit.hosts.proxy", description="labkit's caching apt proxy for lab hosts"
    )
    parser.add_argument("--listen", required=True, help="ADDRESS:PORT")
    parser.add_argument("--cache", required=True, type=Path)
    parser.add_argument(
        "--upstream",
        action="append",
        default=[],
        help="HOST=SCHEME of a mirror this proxy may fetch from (repeat)",
    )
    parser.add_argument(
        "--name",
        default="labkit-apt-proxy",
        help="a marker on the command line (finds the process)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    address, _, port = args.listen.rpartition(":")
    upstreams = dict(item.split("=", 1) for item in args.upstream)
    server = AptProxy((address, int(port)), args.cache, upstreams)

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(
        f"{args.name}: listening on {args.listen}, cache {args.cache}, "
        f"mirrors {', '.join(f'{h} ({s})' for h, s in upstreams.items())}",
        flush=True,
    )
    server.serve_forever()
    server.server_close()
    print(f"{args.name}: stopped; {server.stats}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
