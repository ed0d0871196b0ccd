"""Image helpers for notebook 03: watch an import, check checksums, find an image's bytes.

Each works through the real clients (an openstacksdk connection, Glance's HTTP API) and,
for "where did the bytes land", the sim's control API or a file listing on a real host.
Introduced in notebooks/03-glance.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.errors import NotFound
from labkit.hostfiles import FileReader

STORE_DIR = "/var/lib/glance/images"
STAGING_DIR = "/var/lib/glance/os_glance_staging_store"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class TimelinePoint:
    """One observation of an image while it is being imported."""

    seconds: float  # since the watch started
    status: str
    importing_to_stores: str  # os_glance_importing_to_stores
    failed_import: str  # os_glance_failed_import
    task_status: str  # of the newest import task ("" before there is one)
    task_message: str  # e.g. "Copied 16 MiB"
    staged_bytes: int | None  # bytes in the staging area so far (None: not known)


@dataclass
class Timeline:
    """An image's status changes over time, ready to print or draw.

    Introduced in notebooks/03-glance.
    """

    image_id: str
    points: list[TimelinePoint] = field(default_factory=list)
    name: str = ""
    size: int | None = None  # the image's size once it is active

    @property
    def final_status(self) -> str:
        return self.points[-1].status if self.points else ""

    @property
    def started(self) -> bool:
        """Whether an import was seen at all (a task, or the image importing)."""
        return any(p.task_status or p.status == "importing" for p in self.points)

    def failure(self) -> str:
        """What went wrong, in Glance's words, when the import failed ("" when it did not)."""
        if not self.points or not self.points[-1].failed_import:
            return ""
        last = self.points[-1]
        task = f"; import task {last.task_status}: {last.task_message}" if last.task_status else ""
        return (
            f"the web-download import of image {self.name or self.image_id} failed: status "
            f"{last.status}, os_glance_failed_import={last.failed_import}{task}"
        )

    def import_seconds(self) -> float:
        """From the first sight of the import to the end of the watch."""
        begun = [p.seconds for p in self.points if p.task_status or p.status == "importing"]
        return self.points[-1].seconds - begun[0] if begun else 0.0

    def changes(self) -> list[TimelinePoint]:
        """Only the points where status, store lists or task state changed."""
        out: list[TimelinePoint] = []
        for point in self.points:
            key = (point.status, point.importing_to_stores, point.failed_import, point.task_status)
            if not out or key != (
                out[-1].status,
                out[-1].importing_to_stores,
                out[-1].failed_import,
                out[-1].task_status,
            ):
                out.append(point)
        return out

    def spans(self) -> list[tuple[str, float, float]]:
        """(status, start, end) for each status the image went through -- a Gantt row."""
        spans: list[tuple[str, float, float]] = []
        for point in self.points:
            if spans and spans[-1][0] == point.status:
                spans[-1] = (point.status, spans[-1][1], point.seconds)
            else:
                if spans:
                    spans[-1] = (spans[-1][0], spans[-1][1], point.seconds)
                spans.append((point.status, point.seconds, point.seconds))
        return spans

    def table(self) -> str:
        lines = [f"{'t (s)':>6}  {'status':<10} {'importing':<10} {'failed':<7} task"]
        for p in self.changes():
            task = f"{p.task_status} {p.task_message}".strip()
            lines.append(
                f"{p.seconds:6.2f}  {p.status:<10} {p.importing_to_stores or '-':<10} "
                f"{p.failed_import or '-':<7} {task or '-'}"
            )
        return "\n".join(lines)


def _newest_task(conn: Any, image_id: str) -> dict[str, Any]:
    """``GET /v2/images/{id}/tasks`` (Image API 2.12+), newest task first."""
    response = conn.image.get(f"/images/{image_id}/tasks")
    tasks: list[dict[str, Any]] = response.json().get("tasks", []) if response.ok else []
    return max(tasks, key=lambda t: t.get("created_at") or "", default={})


def watch_import(
    conn: Any,
    image_id: str,
    *,
    interval: float = 0.2,
    timeout: float = 300.0,
    staged_bytes: Callable[[str], int | None] | None = None,
    on_point: Callable[[TimelinePoint], None] | None = None,
    give_up: Callable[[], bool] | None = None,
) -> Timeline:
    """Poll an image until its import ends (active, or queued again after a failure).

    ``staged_bytes(image_id)`` may report how much has reached the staging area (see
    :func:`sim_staged_bytes`); ``on_point`` sees every observation (a progress bar). The watch
    may begin before the import is asked for; while none has started, ``give_up()`` says
    when to stop waiting for one.
    Introduced in notebooks/03-glance.
    """
    timeline = Timeline(image_id)
    started = time.monotonic()
    seen_import = False
    while True:
        image = conn.image.get_image(image_id)
        timeline.name = str(image.name or "")
        props = dict(getattr(image, "properties", None) or {})
        task = _newest_task(conn, image_id)
        importing = str(props.get("os_glance_importing_to_stores", ""))
        point = TimelinePoint(
            seconds=round(time.monotonic() - started, 3),
            status=str(image.status),
            importing_to_stores=importing,
            failed_import=str(props.get("os_glance_failed_import", "")),
            task_status=str(task.get("status", "")),
            task_message=str(task.get("message", "")),
            staged_bytes=staged_bytes(image_id) if staged_bytes else None,
        )
        timeline.points.append(point)
        if on_point is not None:
            on_point(point)
        seen_import = seen_import or bool(task) or image.status == "importing"
        locked = "os_glance_import_task" in props
        # Glance records the task a moment before it locks the image: a queued image with
        # a task is only finished when the task failed (or a store is listed as failed).
        failed = bool(point.failed_import) or point.task_status == "failure"
        ended = image.status == "killed" or (
            not locked and (image.status == "active" or (image.status == "queued" and failed))
        )
        if seen_import and ended:
            timeline.size = image.size
            return timeline
        if time.monotonic() - started > timeout:
            return timeline
        if not seen_import and give_up is not None and give_up():
            return timeline
        time.sleep(interval)


def sim_staged_bytes(sim: FileReader, host: str = "controller") -> Callable[[str], int | None]:
    """A ``staged_bytes`` probe for :func:`watch_import` reading the controller's staging
    folder (through the sim's control API, or over SSH on real hosts).

    Introduced in notebooks/03-glance.
    """

    def probe(image_id: str) -> int | None:
        try:
            info = sim.file(host, f"{STAGING_DIR}/{image_id}")
        except NotFound:  # not staged (yet, or any more)
            return None
        return int(info.get("size", 0))

    return probe


@dataclass(frozen=True)
class ChecksumReport:
    """Your own digests of the bytes next to the ones Glance recorded.

    Introduced in notebooks/03-glance.
    """

    size: int
    md5: str
    os_hash_algo: str
    os_hash_value: str
    glance_size: int | None
    glance_checksum: str | None
    glance_hash_value: str | None

    @property
    def ok(self) -> bool:
        return (
            self.size == self.glance_size
            and self.md5 == self.glance_checksum
            and self.os_hash_value == self.glance_hash_value
        )

    def __str__(self) -> str:
        rows = [
            ("size", str(self.size), str(self.glance_size)),
            ("md5 (checksum)", self.md5, str(self.glance_checksum)),
            (
                f"{self.os_hash_algo} (os_hash_value)",
                self.os_hash_value[:32] + "...",
                str(self.glance_hash_value)[:32] + "...",
            ),
        ]
        lines = [
            f"{name:24s} {'match' if mine == theirs else 'DIFFERENT':9s} {mine}"
            for name, mine, theirs in rows
        ]
        return "\n".join(lines)


def digest_chunks(chunks: Iterable[bytes], algo: str = "sha512") -> tuple[int, str, str]:
    """(size, md5, ``algo`` digest) of a stream of bytes, read once."""
    md5, other, size = hashlib.md5(usedforsecurity=False), hashlib.new(algo), 0
    for chunk in chunks:
        md5.update(chunk)
        other.update(chunk)
        size += len(chunk)
    return size, md5.hexdigest(), other.hexdigest()


def verify_checksums(image: Any, data: bytes | Path | Iterable[bytes]) -> ChecksumReport:
    """Hash ``data`` (bytes, a file, or chunks from ``conn.image.download_image(image,
    stream=True).iter_content(...)``) and compare with the image's checksum fields.

    Introduced in notebooks/03-glance.
    """
    algo = str(getattr(image, "hash_algo", None) or "sha512")
    chunks: Iterable[bytes]
    if isinstance(data, bytes):
        chunks = [data]
    elif isinstance(data, Path):
        chunks = _file_chunks(data)
    else:
        chunks = data
    size, md5, value = digest_chunks(chunks, algo)
    return ChecksumReport(
        size=size,
        md5=md5,
        os_hash_algo=algo,
        os_hash_value=value,
        glance_size=getattr(image, "size", None),
        glance_checksum=getattr(image, "checksum", None),
        glance_hash_value=getattr(image, "hash_value", None),
    )


def _file_chunks(path: Path) -> Iterable[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            yield chunk


@dataclass(frozen=True)
class StoredImage:
    """Where an image's bytes are on the controller.

    Introduced in notebooks/03-glance.
    """

    host: str
    path: str  # on the controller, e.g. /var/lib/glance/images/<id>
    size: int | None  # None: no such file
    mode: str
    store_listing: list[str]  # what else is in the store folder

    def __str__(self) -> str:
        if self.size is None:
            return f"{self.host}:{self.path} does not exist"
        return f"{self.host}:{self.path}  {self.size} bytes  mode {self.mode}"


def where_bytes_landed(
    sim: FileReader, image_id: str, host: str = "controller", store_dir: str = STORE_DIR
) -> StoredImage:
    """Look the image's file up on the controller (the sim's control API, or over SSH).

    Introduced in notebooks/03-glance.
    """
    path = f"{store_dir.rstrip('/')}/{image_id}"
    try:
        listing = list(sim.file(host, store_dir)["entries"])
    except NotFound:  # the store folder does not exist yet
        listing = []
    try:
        info = sim.file(host, path)
    except NotFound:
        return StoredImage(host, path, None, "", listing)
    return StoredImage(host, path, int(info["size"]), str(info.get("mode", "")), listing)
