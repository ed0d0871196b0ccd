"""The mirror's HTTP side: files with Content-Length, Range and HEAD, folder listings.

``?rate=4M`` (bytes per second, K/M/G suffixes) slows one download down so a notebook can
watch a web-download import make progress; nothing else about the file changes.
"""

from __future__ import annotations

import asyncio
import html
import re
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from labkit.sim.core.http import Call, HttpError, Routes, ServiceApp
from labkit.sim.mirror import catalog

if TYPE_CHECKING:
    from labkit.sim.core.runtime import Runtime

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_RATE = re.compile(r"^(\d+(?:\.\d+)?)([KMG]?)$", re.IGNORECASE)
LAST_MODIFIED = "Tue, 01 Jan 2030 09:00:00 GMT"


class MirrorApp(ServiceApp):
    name = "mirror"
    prefix = "/mirror"

    def render_error(self, error: HttpError, call: Call) -> Response:
        # Plain Apache-like answers: this is a web server, not an OpenStack API.
        status = f"{error.status} {error.message}"
        body = f"<html><head><title>{status}</title></head><body><h1>{status}</h1></body></html>"
        return Response(
            body, status_code=error.status, media_type="text/html", headers=error.headers
        )

    def not_found(self, call: Call) -> HttpError:
        return HttpError("Not Found", status=404)

    def method_not_allowed(self, call: Call, allowed: list[str]) -> HttpError:
        return HttpError(
            "Method Not Allowed", status=405, headers={"Allow": ", ".join(sorted(set(allowed)))}
        )


def _rate(call: Call) -> float | None:
    text = call.query.get("rate")
    if not text:
        return None
    found = _RATE.match(text.strip())
    if not found:
        raise HttpError("Bad Request", status=400)
    factor = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[found.group(2).upper()]
    return float(found.group(1)) * factor or None


class MirrorFileResponse(Response):
    def __init__(
        self,
        entry: catalog.MirrorFile,
        offset: int,
        length: int,
        status: int,
        headers: dict[str, str],
        rate: float | None,
    ) -> None:
        super().__init__(content=None, status_code=status, headers=headers)
        self.entry, self.offset, self.length, self.rate = entry, offset, length, rate

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        sent = 0
        block = 256 << 10 if self.rate else 1 << 20
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            for chunk in self.entry.image.blocks(self.offset, self.length, block):
                if gone.done():
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                sent += len(chunk)
                if self.rate:
                    ahead = sent / self.rate - (loop.time() - started)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
        finally:
            gone.cancel()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _serve_file(call: Call, entry: catalog.MirrorFile) -> Response:
    size = entry.image.size
    headers = {
        "Content-Type": "application/octet-stream",
        "Accept-Ranges": "bytes",
        "Last-Modified": LAST_MODIFIED,
        "ETag": f'"{entry.image.seed}-{size:x}"',
    }
    offset, length, status = 0, size, 200
    wanted = call.headers.get("range")
    if wanted:
        found = _RANGE.match(wanted.replace(" ", ""))
        if not found or not (found.group(1) or found.group(2)):
            raise HttpError(
                "Requested Range Not Satisfiable",
                status=416,
                headers={"Content-Range": f"bytes */{size}"},
            )
        if found.group(1):
            offset = int(found.group(1))
            last = min(int(found.group(2)), size - 1) if found.group(2) else size - 1
        else:
            offset, last = max(0, size - int(found.group(2))), size - 1
        if offset >= size or last < offset:
            raise HttpError(
                "Requested Range Not Satisfiable",
                status=416,
                headers={"Content-Range": f"bytes */{size}"},
            )
        length, status = last - offset + 1, 206
        headers["Content-Range"] = f"bytes {offset}-{last}/{size}"
    headers["Content-Length"] = str(length)
    if call.method == "HEAD":
        return Response(b"", status_code=status, headers=headers)
    return MirrorFileResponse(entry, offset, length, status, headers, _rate(call))


def _index(folder: str) -> Response:
    title = f"Index of /mirror/{folder}".rstrip("/") + "/"
    rows = "".join(
        f'<li><a href="{html.escape(n)}">{html.escape(n)}</a></li>' for n in catalog.listing(folder)
    )
    body = f"<html><head><title>{title}</title></head><body><h1>{title}</h1><ul>{rows}</ul>"
    return Response(body + "</body></html>", media_type="text/html")


def _make_routes() -> Routes:
    routes = Routes()
    for entry in catalog.FILES:

        def serve(call: Call, entry: catalog.MirrorFile = entry) -> Response:
            return _serve_file(call, entry)

        routes.add("GET", "/" + re.escape(entry.path).replace("\\/", "/"), serve)
    for folder in catalog.folders():

        def index(call: Call, folder: str = folder) -> Response:
            return _index(folder)

        routes.add("GET", f"/{folder}", index)
        if any(e.folder == folder for e in catalog.FILES):
            for name, algo in catalog.CHECKSUM_FILES.items():

                async def sums(call: Call, folder: str = folder, algo: str = algo) -> Response:
                    lines = await run_in_threadpool(_sums, folder, algo)
                    return Response(lines, media_type="text/plain")

                routes.add("GET", f"/{folder}/{name}", sums)
    return routes


def _sums(folder: str, algo: str) -> str:
    return "".join(
        f"{catalog.digest(e, algo)}  {e.name}\n" for e in catalog.FILES if e.folder == folder
    )


def create(runtime: Runtime) -> MirrorApp:
    return MirrorApp(runtime, _make_routes())
