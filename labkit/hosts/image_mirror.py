"""The lab's image mirror for local lab hosts: the sim's generated images, over plain HTTP on
the bridge's gateway address, so a real Glance can web-download them with no internet.

The hosts have no route out (see :mod:`labkit.hosts.proxy`), so notebook 03's HTTP pull needs
a server they can reach. This one serves the same files as the sim's ``/mirror/`` (valid
qcow2 images generated from a seed, the same bytes every time, never stored on disk), with
``MD5SUMS``/``SHA512SUMS`` beside them and ``?rate=`` to slow a download so its progress is
visible. Glance only fetches from ports 80 and 443 unless told otherwise: the glance plan of a
local env allows :data:`MIRROR_PORT`.

A real hypervisor boots what Glance stores, and the generated images boot nothing. So for local
lab hosts the mirror is started with ``--guest-images DIR`` (the cache where ``labkit hosts up``
builds :mod:`labkit.hosts.guest_image`): the mirror's ``cirros`` and ``trusty`` paths then serve
the lab's bootable guest image -- built with the default user ``cirros`` and ``ubuntu``
respectively, as the real images have -- and their folders' checksum files list its digests.
The notebooks' web-download and ``server create --image trusty`` stay the same; the guest
behind them answers SSH. Every built guest image is also served under ``/mirror/labkit/``.

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
from collections.abc import Callable, Iterable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from labkit.hosts import guest_image
from labkit.hosts.daemons import HelperDaemon
from labkit.hosts.layout import LocalLayout
from labkit.image_sources import IMAGES

MIRROR_PORT = 3143  # next to the apt proxy's 3142
START_TIMEOUT = 10.0
# The generated images' paths that a bootable guest image replaces, and its default user.
GUEST_USERS = {IMAGES["cirros"]: "cirros", IMAGES["trusty"]: "ubuntu"}
_RATE = re.compile(r"^(\d+(?:\.\d+)?)([KMG]?)$", re.IGNORECASE)


def parse_rate(text: str) -> float | None:
    """``64M`` -> bytes per second (K/M/G are binary); None for no limit."""
    found = _RATE.match(text.strip())
    if not found:
        raise ValueError(f"not a rate: {text!r} (e.g. 64M)")
    factor = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[found.group(2).upper()]
    return float(found.group(1)) * factor or None


def guest_files(folder: Path) -> dict[str, guest_image.GuestImage]:
    """The bootable images the mirror serves, by their path below ``/mirror/``: each built
    guest image under ``labkit/``, and the one with the right user in place of the generated
    ``cirros``/``trusty`` (only those already built: the mirror builds nothing)."""
    out = guest_image.mirror_files(folder)
    for path, user in GUEST_USERS.items():
        found = guest_image.cached(folder, user)
        if found is not None:
            out[path] = found
    return out


class _Server(ThreadingHTTPServer):
    guest_dir: Path | None = None  # where the guest images are built (looked up per request)


class _Handler(BaseHTTPRequestHandler):
    server_version = "labkit-image-mirror"
    protocol_version = "HTTP/1.1"
    server: _Server

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
        folder_of_guests = getattr(self.server, "guest_dir", None)  # None: a plain server
        guests = guest_files(folder_of_guests) if folder_of_guests else {}
        if path in guests:
            self._send_guest(guests[path], parse_qs(url.query), body)
        elif path in catalog.BY_PATH:
            self._send_file(catalog.BY_PATH[path], parse_qs(url.query), body)
        elif name in catalog.CHECKSUM_FILES and any(
            p.rpartition("/")[0] == folder for p in [*catalog.BY_PATH, *guests]
        ):
            algo = catalog.CHECKSUM_FILES[name]
            lines = {}
            for entry in catalog.FILES:
                if entry.folder == folder and entry.path not in guests:
                    lines[entry.name] = catalog.digest(entry, algo)
            for served, image in guests.items():
                if served.rpartition("/")[0] == folder:
                    lines[served.rpartition("/")[2]] = guest_image.checksums(image)[algo]
            text = "".join(f"{digest}  {file}\n" for file, digest in sorted(lines.items()))
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
        self._stream(entry.image.size, entry.image.blocks, query, body)

    def _send_guest(
        self, image: guest_image.GuestImage, query: dict[str, list[str]], body: bool
    ) -> None:
        def blocks(block: int) -> Iterator[bytes]:
            with image.path.open("rb") as fh:
                yield from iter(lambda: fh.read(block), b"")

        self._stream(image.size, blocks, query, body)

    def _stream(
        self,
        size: int,
        blocks: Callable[..., Iterable[bytes]],
        query: dict[str, list[str]],
        body: bool,
    ) -> None:
        try:
            rate = parse_rate(query["rate"][0]) if "rate" in query else None
        except ValueError:
            self._send_bytes(400, b"Bad rate\n", "text/plain", body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if not body:
            return
        started, sent = time.monotonic(), 0
        try:
            for chunk in blocks(block=(256 << 10) if rate else (1 << 20)):
                self.wfile.write(chunk)
                sent += len(chunk)
                if rate:
                    ahead = sent / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client went away (an import cancelled): nothing to clean up


def serve(address: str, port: int, guest_dir: Path | None = None) -> None:
    server = _Server((address, port), _Handler)
    server.guest_dir = guest_dir
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
        args=("--guest-images", str(lay.rootfs_cache)),
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
    parser.add_argument("--guest-images", help="serve the bootable guest images built here")
    args = parser.parse_args(argv)
    address, _, port = args.listen.rpartition(":")
    serve(address, int(port), Path(args.guest_images) if args.guest_images else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
