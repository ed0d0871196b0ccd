"""The lab's image mirror for local lab hosts: the sim's generated images, over plain HTTP on
the bridge's gateway address, so a real Glance can web-download them with no internet.

The hosts have no route out (see :mod:`labkit.hosts.proxy`), so notebook 03's HTTP pull needs
a server they can reach. This one serves the same files as the sim's ``/mirror/`` (valid
qcow2 images generated from a seed, the same bytes every time, never stored on disk), with
``MD5SUMS``/``SHA512SUMS`` beside them and ``?rate=`` to slow a download so its progress is
visible. Glance only fetches from ports 80 and 443 unless told otherwise: the glance plan of a
local env allows :data:`MIRROR_PORT`.

Run as ``python -m labkit.hosts.image_mirror --name MARKER --listen ADDR:PORT``;
``labkit hosts up`` starts it (or the first notebook that needs it), ``labkit hosts down``
stops it.

Introduced in notebooks/03-glance.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from labkit.hosts.daemons import HelperDaemon
from labkit.hosts.layout import LocalLayout

MIRROR_PORT = 3143  # next to the apt proxy's 3142
START_TIMEOUT = 10.0
_RATE = re.compile(r"^(\d+(?:\.\d+)?)([KMG]?)$", re.IGNORECASE)


def parse_rate(text: str) -> float | None:
    """``64M`` -> bytes per second (K/M/G are binary); None for no limit."""
    found = _RATE.match(text.strip())
    if not found:
        raise ValueError(f"not a rate: {text!r} (e.g. 64M)")
    factor = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[found.group(2).upper()]
    return float(found.group(1)) * factor or None


class _Handler(BaseHTTPRequestHandler):
    server_version = "labkit-image-mirror"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        from labkit.sim.mirror import catalog

        url = urlsplit(self.path)
        path = url.path.removeprefix("/mirror/")
        folder, _, name = path.rpartition("/")
        if path in catalog.BY_PATH:
            self._send_file(catalog.BY_PATH[path], parse_qs(url.query), body)
        elif name in catalog.CHECKSUM_FILES and any(e.folder == folder for e in catalog.FILES):
            algo = catalog.CHECKSUM_FILES[name]
            entries = [e for e in catalog.FILES if e.folder == folder]
            text = "".join(f"{catalog.digest(e, algo)}  {e.name}\n" for e in entries)
            self._send_bytes(200, text.encode(), "text/plain", body)
        else:
            self._send_bytes(404, b"Not Found\n", "text/plain", body)

    def _send_bytes(self, status: int, data: bytes, kind: str, body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _send_file(self, entry: object, query: dict[str, list[str]], body: bool) -> None:
        from labkit.sim.mirror.catalog import MirrorFile

        assert isinstance(entry, MirrorFile)
        try:
            rate = parse_rate(query["rate"][0]) if "rate" in query else None
        except ValueError:
            self._send_bytes(400, b"Bad rate\n", "text/plain", body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(entry.image.size))
        self.end_headers()
        if not body:
            return
        started, sent = time.monotonic(), 0
        try:
            for chunk in entry.image.blocks(block=(256 << 10) if rate else (1 << 20)):
                self.wfile.write(chunk)
                sent += len(chunk)
                if rate:
                    ahead = sent / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client went away (an import cancelled): nothing to clean up


def serve(address: str, port: int) -> None:
    server = ThreadingHTTPServer((address, port), _Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        server.server_close()


# -- the process, for local lab hosts --------------------------------------------------------


def marker(lay: LocalLayout) -> str:
    """Marker on the mirror's command line, so ``down`` finds it without a pid file."""
    return f"{lay.prefix}-image-mirror"


def url(lay: LocalLayout) -> str:
    return f"http://{lay.gateway}:{MIRROR_PORT}/mirror/"


def daemon(lay: LocalLayout) -> HelperDaemon:
    return HelperDaemon(
        "labkit.hosts.image_mirror",
        marker(lay),
        lay.gateway,
        MIRROR_PORT,
        lay.base / "image-mirror.log",
        start_timeout=START_TIMEOUT,
        hint=f"Are the lab hosts up (`labkit hosts up ENV`), and port "
        f"{MIRROR_PORT} free on {lay.gateway}?",
    )


def pids(lay: LocalLayout) -> list[int]:
    return daemon(lay).pids()


def ensure(lay: LocalLayout) -> tuple[int, bool]:
    """The running mirror's pid, starting it if needed; ``(pid, started_now)``."""
    return daemon(lay).ensure()


def stop(lay: LocalLayout) -> list[int]:
    """Stop the mirror; return the pids still running (none, normally)."""
    return daemon(lay).stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.hosts.image_mirror")
    parser.add_argument("--name", default="", help="marker for finding this process")
    parser.add_argument("--listen", required=True, help="ADDRESS:PORT")
    args = parser.parse_args(argv)
    address, _, port = args.listen.rpartition(":")
    serve(address, int(port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
