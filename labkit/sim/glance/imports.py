"""Interoperable image import: the ``api_image_import`` task Glance runs in the background.

``POST /v2/images/{id}/import`` takes the image's import lock (``os_glance_import_task``),
records a task and answers 202; a worker thread then does what Zed's taskflow does:

1. the image goes ``importing`` and ``os_glance_importing_to_stores`` names the target store;
2. web-download streams the URL into the staging area (``os_glance_staging_store/<id>``),
   glance-direct finds the data already staged there, copy-image reads the active image;
3. "import to store": the data moves into the store with its checksums -- ``active``;
4. the task succeeds, the lock is dropped, the store leaves ``os_glance_importing_to_stores``.

A failure reverts as taskflow does: the image goes back to ``queued`` (not for copy-image),
the store moves to ``os_glance_failed_import``, staged bytes are deleted, the lock dropped and
the task fails with "Task failed due to Internal Error". The sim hashes while downloading
(Glance hashes when it copies staging -> store) and then only renames the staged file, so the
task's "Copied N MiB" progress message is updated during the download.
"""

from __future__ import annotations

import hashlib
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from labkit.sim.core.runtime import Runtime
from labkit.sim.glance import formats, models, store
from labkit.sim.glance.config import GlanceConf
from labkit.sim.glance.domain import Image, Location
from labkit.sim.glance.errors import DomainError
from labkit.sim.glance.repo import IMPORTING_KEY, Repo, Tx

if TYPE_CHECKING:
    from labkit.sim.glance.policy import Context


class GlanceProcess(Protocol):
    """What an import needs of glance-api (:class:`labkit.sim.glance.service.GlanceService`)."""

    runtime: Runtime

    @property
    def name(self) -> str: ...

    @property
    def images(self) -> Repo: ...

    @property
    def config(self) -> GlanceConf: ...

    def staging_file(self, image_id: str) -> Path: ...

    def host_path(self, abs_path: str) -> Path: ...

    def store_file(self, image_id: str, store: str | None = None) -> tuple[str, Path]: ...


LOCK_KEY = "os_glance_import_task"
FAILED_KEY = "os_glance_failed_import"
STAGE_HOST_KEY = "os_glance_stage_host"
TASK_TTL = 48 * 3600  # [task] task_time_to_live, hours -> seconds
LOCK_EXPIRY = 3600  # a lock older than this (twice that for pending tasks) may be broken
CONNECT_TIMEOUT = 10.0  # the sim's bound on an unreachable URL (urllib has none by default)
PROGRESS_EVERY = 0.5  # seconds between "Copied N MiB" updates
_INTERNAL = "Task failed due to Internal Error"


class ImportFailed(Exception):
    """Why a task failed (logged); the task itself shows Glance's generic message."""


def merge(value: str, stores: list[str], remove: bool = False) -> str:
    """ImportActions.merge_store_list on a comma separated property."""
    current = [s for s in value.split(",") if s]
    if remove:
        current = [s for s in current if s not in stores]
    else:
        current += [s for s in stores if s not in current]
    return ",".join(current)


class Importer:
    """The ``tasks_pool``: a few worker threads running import tasks."""

    def __init__(self, app: GlanceProcess) -> None:
        self.app = app
        self.log = app.runtime.logger(app.name)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="glance-task")
        self._stopping = threading.Event()

    def shutdown(self) -> None:
        self._stopping.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ---- starting a task (called by the API with the image lock taken) --------------------
    def new_task(
        self, tx: Tx, image: Image, ctx: Context, request: dict[str, Any], stores: list[str | None]
    ) -> models.TaskRow:
        now = tx.now()
        row = models.TaskRow(
            id=self.app.runtime.ids.dashed_id(),
            type="api_image_import",
            status="pending",
            owner=ctx.owner,
            image_id=image.id,
            user_id=ctx.user_id,
            request_id=ctx.request_id,
            input={"image_id": image.id, "import_req": request, "backend": stores},
            result=None,
            message="",
            expires_at=None,
            created_at=now,
            updated_at=now,
        )
        tx.add_task(row)
        return row

    def spawn(self, task_id: str, ctx: Context) -> None:
        self._pool.submit(self._run, task_id, ctx)

    def lock_is_stale(self, tx: Tx, task_id: str) -> bool:
        """Glance breaks a lock whose task is gone, or finished/stuck for over an hour."""
        task = tx.task(task_id)
        if task is None:
            return True
        expiry = LOCK_EXPIRY * (2 if task.status == "pending" else 1)
        return tx.now() - task.updated_at >= expiry

    # ---- running one ---------------------------------------------------------------------
    def _task(self, task_id: str, **changes: Any) -> None:
        with self.app.images.write() as tx:
            row = tx.task(task_id)
            if row is None:
                return
            for key, value in changes.items():
                setattr(row, key, value)
            row.updated_at = tx.now()
            if changes.get("status") in ("success", "failure"):
                row.expires_at = row.updated_at + TASK_TTL

    def _run(self, task_id: str, ctx: Context) -> None:
        try:
            self._execute(task_id, ctx)
        except Exception as exc:  # anything unexpected: fail the task, never the process
            self.log.exception("Failed to execute task %s: %s", task_id, exc)
            self._task(task_id, status="failure", message=_INTERNAL)

    def _execute(self, task_id: str, ctx: Context) -> None:
        with self.app.images.read() as tx:
            row = tx.task(task_id)
            if row is None:
                return
            image_id = row.image_id
            request: dict[str, Any] = row.input["import_req"]
            stores: list[str | None] = list(row.input["backend"])
        method = request["method"]["name"]
        self._task(task_id, status="processing")
        named = [s for s in stores if s]
        try:
            self._begin(image_id, method, named, ctx)
        except DomainError as exc:
            self._task(task_id, status="failure", message=exc.msg)
            return
        except ImportFailed as exc:
            self.log.error("Failed to execute task %s: %s", task_id, exc)
            self._task(task_id, status="failure", message=_INTERNAL)
            return
        staged: store.Written | None = None
        try:
            if method == "web-download":
                staged = self._download(task_id, image_id, request["method"].get("uri", ""))
            elif method == "glance-direct":
                staged = self._hash_staged(image_id)
            for target in stores:
                self._import_to_store(image_id, method, target, staged)
            self.app.staging_file(image_id).unlink(missing_ok=True)
            self._verify_active(image_id)
        except Exception as exc:  # every failure reverts, as taskflow does
            self.log.error("Failed to execute task %s: %s: %s", task_id, type(exc).__name__, exc)
            self._revert(image_id, method, named)
            self._task(task_id, status="failure", message=_INTERNAL)
            return
        self._task(task_id, status="success", message="", result={"image_id": image_id})
        self._drop_lock(image_id, task_id)
        self.log.info("%s of api_image_import completed", task_id)

    def _begin(self, image_id: str, method: str, stores: list[str], ctx: Context) -> None:
        """get_flow's preamble: importing, stores listed, then the staging quotas."""
        from labkit.sim.glance import quota

        def begin(image: Image) -> None:
            if method != "copy-image":
                image.set_status("importing")
            image.extra[IMPORTING_KEY] = merge(image.extra.get(IMPORTING_KEY, ""), stores)
            image.extra[FAILED_KEY] = merge(image.extra.get(FAILED_KEY, ""), stores, remove=True)
            image.extra.pop(STAGE_HOST_KEY, None)

        if self.app.images.mutate(image_id, begin) is None:
            raise ImportFailed("Image has been deleted, aborting import.")
        conf = self.app.config
        try:
            with self.app.images.read() as tx:
                if method == "glance-direct":
                    quota.enforce(conf, tx, ctx, "image_size_total")
                else:
                    quota.enforce(conf, tx, ctx, "image_stage_total")
                    quota.enforce(conf, tx, ctx, "image_count_uploading")
        except DomainError:

            def undo(image: Image) -> None:
                image.extra[IMPORTING_KEY] = merge(
                    image.extra.get(IMPORTING_KEY, ""), stores, remove=True
                )
                if image.status == "importing":
                    image.set_status("queued")
                image.extra.pop(LOCK_KEY, None)

            self.app.images.mutate(image_id, undo)
            raise

    def _download(self, task_id: str, image_id: str, uri: str) -> store.Written:
        """_WebDownload: stream the URL into the staging area, hashing on the way."""
        with self.app.images.read() as tx:
            image = tx.find(image_id)
        if image is None:
            raise ImportFailed("Image has been deleted, aborting import.")
        path = self.app.staging_file(image_id)
        if path.exists():
            raise ImportFailed(f"The image {image_id} has data on staging")
        request = urllib.request.Request(uri, headers={"User-Agent": "Python-urllib/3.11"})
        response = urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT)
        expected = response.headers.get("content-length")
        sink = store.HashingSink(
            path,
            self.app.config.hashing_algorithm,
            formats.inspector_for(image.disk_format, image.container_format),
            self.app.config.image_size_cap,
        )
        last = time.monotonic()
        # Read straight into page-aligned ring blocks (no copy in between), each filled whole
        # before it goes to the sink, so the store writes it with O_DIRECT as it is.
        ring = store.AlignedRing()
        try:
            with response:
                while count := response.readinto(memoryview(ring.block)[ring.fill :]):
                    if self._stopping.is_set():
                        raise ImportFailed("glance-api stopped")
                    ring.fill += count
                    if ring.fill == store.BLOCK:
                        sink.submit(ring.take())
                    if time.monotonic() - last >= PROGRESS_EVERY:
                        last = time.monotonic()
                        self._task(task_id, message=f"Copied {sink.size >> 20} MiB")
            if ring.fill:
                sink.submit(ring.take())
            written = sink.finish()
        except BaseException:
            sink.abort()
            raise
        if expected and expected.isdigit() and int(expected) != written.size:
            path.unlink(missing_ok=True)
            raise ImportFailed(
                f"Task {task_id} failed because downloaded data size "
                f"{written.size} is different from expected {expected}"
            )
        self._task(task_id, message=f"Copied {written.size >> 20} MiB")
        return written

    def _hash_staged(self, image_id: str) -> store.Written:
        """glance-direct: the data is staged already; digest it as it goes to the store."""
        path = self.app.staging_file(image_id)
        if not path.is_file():
            raise ImportFailed(f"Staged data of {image_id} not found at {path}")
        with self.app.images.read() as tx:
            image = tx.find(image_id)
        if image is None:
            raise ImportFailed("Image has been deleted, aborting import.")
        return hash_file(
            path,
            self.app.config.hashing_algorithm,
            formats.inspector_for(image.disk_format, image.container_format),
        )

    def _import_to_store(
        self, image_id: str, method: str, target: str | None, staged: store.Written | None
    ) -> None:
        url, final = self.app.store_file(image_id, target)
        if method == "copy-image":
            with self.app.images.read() as tx:
                current = tx.find(image_id)
            if current is None or not current.locations:
                raise ImportFailed("Image has been deleted, aborting import.")
            source = self.app.host_path(current.locations[0].url.removeprefix("file://"))
            copy_file(source, final)
        else:
            assert staged is not None
            store.move(self.app.staging_file(image_id), final)

        def done(image: Image) -> None:
            if image.status == "deleted" or image.deleted:
                raise ImportFailed("Image has been deleted, aborting import.")
            image.locations.append(Location(url, target))
            if staged is not None:
                if image.size not in (None, staged.size):
                    raise ImportFailed(
                        "size of uploaded data is different from current value set on the image."
                    )
                image.checksum, image.size = staged.checksum, staged.size
                image.os_hash_algo, image.os_hash_value = staged.os_hash_algo, staged.os_hash_value
                if not image.virtual_size:
                    image.virtual_size = staged.virtual_size
            if method != "copy-image" and image.status != "active":
                image.set_status("active")
            if target:
                image.extra[IMPORTING_KEY] = merge(
                    image.extra.get(IMPORTING_KEY, ""), [target], remove=True
                )

        try:
            if self.app.images.mutate(image_id, done) is None:
                raise ImportFailed("Image has been deleted, aborting import.")
        except BaseException:
            final.unlink(missing_ok=True)
            raise

    def _verify_active(self, image_id: str) -> None:
        with self.app.images.read() as tx:
            image = tx.find(image_id)
        if image is None or image.status != "active":
            raise ImportFailed("None of the uploads finished!")

    def _revert(self, image_id: str, method: str, stores: list[str]) -> None:
        self.app.staging_file(image_id).unlink(missing_ok=True)

        def revert(image: Image) -> None:
            if method != "copy-image" and image.status == "importing":
                image.set_status("queued")
            image.extra[IMPORTING_KEY] = merge(
                image.extra.get(IMPORTING_KEY, ""), stores, remove=True
            )
            image.extra[FAILED_KEY] = merge(image.extra.get(FAILED_KEY, ""), stores)
            image.extra.pop(LOCK_KEY, None)

        self.app.images.mutate(image_id, revert)

    def _drop_lock(self, image_id: str, task_id: str) -> None:
        def drop(image: Image) -> None:
            if image.extra.get(LOCK_KEY) == task_id:
                del image.extra[LOCK_KEY]

        self.app.images.mutate(image_id, drop)


def hash_file(path: Path, algo: str, inspector: formats.Inspector | None) -> store.Written:
    """md5 + ``algo`` of a file, the two digests in parallel (see :class:`store.HashingSink`)."""
    md5, digest = hashlib.md5(usedforsecurity=False), hashlib.new(algo)
    size = 0
    with open(path, "rb", buffering=0) as handle, ThreadPoolExecutor(max_workers=1) as helper:
        while block := handle.read(store.BLOCK):
            size += len(block)
            if inspector is not None:
                inspector.feed(block)
            pending = helper.submit(digest.update, block)
            md5.update(block)
            pending.result()
    return store.Written(
        size, md5.hexdigest(), algo, digest.hexdigest(), formats.virtual_size(inspector)
    )


def copy_file(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as src, open(target, "wb") as dst:
        while block := src.read(store.BLOCK):
            dst.write(block)
