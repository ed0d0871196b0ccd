"""Image data: ``PUT /file`` (upload), ``GET /file`` (download, with Range) and ``PUT /stage``.

These are streaming routes: the body is read chunk by chunk from the event loop, gathered
into a few MiB and handed to :class:`~labkit.sim.glance.store.HashingSink`'s threads -- one
thread hop per block, none per network chunk. The status goes ``queued -> saving -> active``
(stage: ``queued -> uploading``); a failure of any kind puts the image back to ``queued`` and
deletes the partial file, so an image is never ``active`` without all of its bytes.

A client that disconnects before sending its whole ``Content-Length`` gets the sim's own
400 (nobody reads it); Zed's eventlet server has no reliable behaviour to copy there.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from labkit.sim.core.http import Call, HttpError, Routes
from labkit.sim.glance import formats, policy, store
from labkit.sim.glance.api._helpers import app, ctx, enforce_limit, no_content
from labkit.sim.glance.domain import FormatsMissing, Image, Location
from labkit.sim.glance.errors import (
    Conflict,
    Forbidden,
    ImageSizeLimitExceeded,
    InvalidImageStatusTransition,
    NotFound,
    UploadInterrupted,
    bad_request,
    conflict,
    forbidden,
    gone,
    not_found,
    range_not_satisfiable,
    service_unavailable,
    too_large,
    unsupported_media_type,
)
from labkit.sim.glance.service import GlanceService

routes = Routes()

_RANGE = re.compile(r"^bytes *= *(\d*) *- *(\d*)$", re.IGNORECASE)


def _octet_stream(call: Call) -> None:
    media = call.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/octet-stream":
        raise unsupported_media_type()


async def receive(call: Call, sink: store.HashingSink) -> int:
    """Feed the request body to ``sink`` in page-aligned blocks; return the bytes received."""
    ring = store.AlignedRing()
    received = 0
    pending: list[memoryview] = []
    try:
        async for chunk in call.request.stream():
            if not chunk:
                continue
            received += len(chunk)
            ring.feed(chunk, pending.append)
            for block in pending:
                if sink.busy:
                    await run_in_threadpool(sink.submit, block)
                else:
                    sink.submit(block)
            pending.clear()
    except ClientDisconnect:
        raise UploadInterrupted(f"{received}") from None
    if ring.fill:
        await run_in_threadpool(sink.submit, ring.take())
    declared = call.headers.get("content-length", "")
    if declared.isdigit() and received != int(declared):
        raise UploadInterrupted(f"{received}")
    return received


def _restore(glance: GlanceService, image_id: str, from_state: str) -> None:
    """ImageDataController._restore: back to queued so the upload can be retried."""

    def restore(image: Image) -> None:
        if image.status == from_state:
            image.set_status("queued")

    glance.images.mutate(image_id, restore)


def _store_for(call: Call) -> str | None:
    conf = app(call).config
    if not conf.multistore:
        return None
    chosen = call.headers.get("x-image-meta-store", conf.default_backend)
    if chosen not in conf.enabled_backends:
        raise bad_request(f"Unknown scheme '{chosen}' found in URI")
    return chosen


# ---- upload ------------------------------------------------------------------------------


def _begin_upload(call: Call, image_id: str) -> tuple[Image, str | None]:
    glance = app(call)
    caller = ctx(call)
    enforce_limit(glance, caller, "image_size_total")
    target = _store_for(call)
    try:
        with glance.images.write() as tx:
            image = tx.get(image_id, caller)
            policy.check_mutable(caller, image)
            image.set_status("saving")
            tx.save(image)
    except NotFound as exc:
        raise not_found(exc.msg) from None
    except Forbidden:
        raise forbidden(f"Not allowed to upload image data for image {image_id}") from None
    except InvalidImageStatusTransition as exc:
        raise conflict(exc.msg) from None
    except FormatsMissing as exc:
        raise bad_request(str(exc)) from None
    try:
        enforce_limit(glance, caller, "image_count_uploading")
    except HttpError:
        _restore(glance, image_id, "saving")
        raise
    return image, target


def _finish_upload(
    glance: GlanceService, image_id: str, url: str, target: str | None, written: store.Written
) -> bool:
    def activate(image: Image) -> None:
        if image.status != "saving":
            raise Conflict(image.status)
        image.locations.append(Location(url, target))
        image.size, image.checksum = written.size, written.checksum
        image.os_hash_algo, image.os_hash_value = written.os_hash_algo, written.os_hash_value
        if not image.virtual_size:
            image.virtual_size = written.virtual_size
        image.set_status("active")

    try:
        return glance.images.mutate(image_id, activate) is not None
    except Conflict:
        return False


@routes.put("/v2/images/{image_id}/file")
async def upload(call: Call, image_id: str) -> Response:
    glance = app(call)
    _octet_stream(call)
    image, target = await run_in_threadpool(_begin_upload, call, image_id)
    url, path = glance.store_file(image_id, target)
    conf = glance.config
    sink = store.HashingSink(
        path,
        conf.hashing_algorithm,
        formats.inspector_for(image.disk_format, image.container_format),
        conf.image_size_cap,
    )
    try:
        await receive(call, sink)
        written = await run_in_threadpool(sink.finish)
    except BaseException as exc:
        await run_in_threadpool(sink.abort)
        await run_in_threadpool(_restore, glance, image_id, "saving")
        raise _upload_error(exc, image_id) from None
    if not await run_in_threadpool(_finish_upload, glance, image_id, url, target, written):
        path.unlink(missing_ok=True)
        raise gone(
            f"Image {image_id} could not be found after upload. The image may have been "
            "deleted during the upload, cleaning up the chunks uploaded."
        )
    return no_content()


def _upload_error(exc: BaseException, image_id: str) -> BaseException:
    """What each failure of a data transfer becomes (image_data.upload's except clauses)."""
    if isinstance(exc, ImageSizeLimitExceeded):
        return too_large(f"The incoming image is too large: {exc.msg}")
    if isinstance(exc, store.StorageFull):
        return too_large(f"Image storage media is full: {exc.msg}")
    if isinstance(exc, store.StorageWriteDenied):
        return service_unavailable(f"Insufficient permissions on image storage media: {exc.msg}")
    if isinstance(exc, UploadInterrupted):
        return bad_request(
            f"The upload of image {image_id} was interrupted after {exc.msg} "
            "bytes; the image is queued again and the partial data deleted."
        )
    return exc


# ---- stage (glance-direct) -----------------------------------------------------------------


def _begin_stage(call: Call, image_id: str) -> Image:
    glance = app(call)
    caller = ctx(call)
    enforce_limit(glance, caller, "image_stage_total")
    try:
        with glance.images.write() as tx:
            image = tx.get(image_id, caller)
            try:
                policy.check_mutable(caller, image)
            except Forbidden as exc:
                raise forbidden(exc.msg) from None
            image.set_status("uploading")
            tx.save(image)
    except NotFound as exc:
        raise not_found(exc.msg) from None
    except InvalidImageStatusTransition as exc:
        raise conflict(exc.msg) from None
    except FormatsMissing as exc:
        raise bad_request(str(exc)) from None
    try:
        enforce_limit(glance, caller, "image_count_uploading")
    except HttpError:
        _unstage(glance, image_id)
        raise
    return image


def _unstage(glance: GlanceService, image_id: str) -> None:
    glance.staging_file(image_id).unlink(missing_ok=True)
    _restore(glance, image_id, "uploading")


def _finish_stage(glance: GlanceService, image_id: str, size: int) -> None:
    def staged(image: Image) -> None:
        image.size = size

    glance.images.mutate(image_id, staged)


@routes.put("/v2/images/{image_id}/stage")
async def stage(call: Call, image_id: str) -> Response:
    glance = app(call)
    if "glance-direct" not in glance.config.enabled_import_methods:
        raise not_found("'glance-direct' method is not available at this site.")
    _octet_stream(call)
    await run_in_threadpool(_begin_stage, call, image_id)
    path = glance.staging_file(image_id)
    if path.exists():
        await run_in_threadpool(_restore, glance, image_id, "uploading")
        raise conflict(f"The image {image_id} has data on staging")
    # Staging keeps the bytes only; they are digested when imported into the store.
    sink = store.HashingSink(
        path, glance.config.hashing_algorithm, None, glance.config.image_size_cap, digests=False
    )
    try:
        await receive(call, sink)
        written = await run_in_threadpool(sink.finish)
    except BaseException as exc:
        await run_in_threadpool(sink.abort)
        await run_in_threadpool(_unstage, glance, image_id)
        raise _upload_error(exc, image_id) from None
    await run_in_threadpool(_finish_stage, glance, image_id, written.size)
    return no_content()


# ---- download ----------------------------------------------------------------------------


def _byte_range(header: str, size: int) -> tuple[int, int, int]:
    """(offset, length, last byte) of a Range header (webob's parsing, Glance's checks)."""
    if "," in header:
        raise bad_request(
            "Requests with multiple ranges are not supported in Glance. You may "
            "make multiple single-range requests instead."
        )
    found = _RANGE.match(header.strip())
    start: int
    end: int | None
    if not found or not (found.group(1) or found.group(2)):
        raise range_not_satisfiable("Invalid Range header.")
    if not found.group(1):
        start, end = -int(found.group(2)), None
    else:
        start = int(found.group(1))
        end = int(found.group(2)) + 1 if found.group(2) else None
        if end is not None and start >= end:
            raise range_not_satisfiable("Invalid Range header.")
    if start >= size:
        raise range_not_satisfiable(
            "Invalid start position in Range header. Start position "
            f"MUST be in the inclusive range [0, {size - 1}]."
        )
    offset = start if start >= 0 else (size + start if abs(start) < size else 0)
    if end is not None and end < size:
        return offset, end - offset, end - 1
    return offset, size - offset, size - 1


def _prepare_download(call: Call, image_id: str) -> Image:
    caller = ctx(call)
    try:
        with app(call).images.read() as tx:
            image = tx.get(image_id, caller)
    except NotFound as exc:
        raise not_found(exc.msg) from None
    if image.status == "deactivated" and not caller.is_admin:
        raise forbidden(
            "The requested image has been deactivated. Image data download is forbidden."
        )
    return image


class FileRangeResponse(Response):
    """Streams ``length`` bytes of a file, reading the next block while sending this one."""

    def __init__(
        self, path: Any, offset: int, length: int, status: int, headers: dict[str, str]
    ) -> None:
        super().__init__(content=None, status_code=status, headers=headers)
        self.path, self.offset, self.length = path, offset, length

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        reader = await run_in_threadpool(store.RangeReader, self.path, self.offset, self.length)
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        loop = asyncio.get_running_loop()
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            block = await loop.run_in_executor(None, reader.read)
            while block and not gone.done():
                upcoming = loop.run_in_executor(None, reader.read)
                await send({"type": "http.response.body", "body": block, "more_body": True})
                block = await upcoming
        finally:
            gone.cancel()
            await run_in_threadpool(reader.close)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Any) -> None:
    """Return once the client has gone (no point reading the rest of a big file)."""
    while (await receive())["type"] != "http.disconnect":
        pass


@routes.get("/v2/images/{image_id}/file")
async def download(call: Call, image_id: str) -> Response:
    glance = app(call)
    image = await run_in_threadpool(_prepare_download, call, image_id)
    if not image.locations or image.size is None:
        # glance_store.NotFound -> HTTPNoContent: no data yet (queued) means 204, no body.
        return Response(b"", status_code=204)
    path = glance.host_path(image.locations[0].url.removeprefix("file://"))
    if not path.is_file():
        return Response(b"", status_code=204)
    headers = {"Content-Type": "application/octet-stream"}
    status, offset, length = 200, 0, image.size
    wanted = call.headers.get("range")
    if wanted is not None:
        offset, length, last = _byte_range(wanted, image.size)
        status = 206
        headers["Content-Range"] = f"bytes {offset}-{last}/{image.size}"
    if image.checksum:
        headers["Content-MD5"] = image.checksum
    headers["Content-Length"] = str(length)
    if call.method == "HEAD":
        return Response(b"", status_code=status, headers=headers)
    return FileRangeResponse(path, offset, length, status, headers)
