"""The filesystem store: image bytes as real files on the simulated controller.

``file:///var/lib/glance/images/<id>`` is a real file under the state folder
(``hosts/controller/var/lib/glance/images/<id>``), so a notebook can show where the bytes of
an upload landed. Writing streams through :class:`HashingSink`: md5 (Glance's ``checksum``) and
the ``os_hash_algo`` digest are computed while the data passes, each in its own thread, and
a third writes the file -- hashlib and file writes release the GIL on large blocks, so the
three run on all cores while the event loop keeps receiving. Nothing is ever buffered
whole: at most a few blocks are in flight.
"""

from __future__ import annotations

import errno
import hashlib
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labkit.sim.glance import formats
from labkit.sim.glance.errors import DomainError, ImageSizeLimitExceeded

BLOCK = 4 << 20  # bytes handed to the hashing threads at a time
READ_BLOCK = 1 << 20  # bytes per read when serving a download
_DEPTH = 3  # blocks queued per thread: at most about 4 x BLOCK in flight
# A producer reusing buffers needs more than the (DEPTH + 1) a slow thread may still hold,
# plus the one being filled: a ring of DEPTH + 3 is never overwritten too early.
RING = _DEPTH + 3


class StorageFull(DomainError):
    pass


class StorageWriteDenied(DomainError):
    pass


@dataclass(frozen=True)
class Written:
    size: int
    checksum: str
    os_hash_algo: str
    os_hash_value: str
    virtual_size: int | None


class HashingSink:
    """Write a stream to ``path`` while hashing it. ``submit()`` blocks only when the threads
    are behind; ``finish()`` returns the digests; ``abort()`` removes the partial file."""

    def __init__(
        self,
        path: Path,
        algo: str,
        inspector: formats.Inspector | None,
        cap: int,
        digests: bool = True,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.algo = algo
        self.size = 0
        self._cap = cap
        self._inspector = inspector
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._digest = hashlib.new(algo)
        self._file = open(path, "wb", buffering=0)  # noqa: SIM115 -- closed by finish/abort
        self._error: BaseException | None = None
        # Three workers, as even as possible: md5, the os_hash digest and the file write each
        # cost about the same per byte, and each releases the GIL while it works.
        work: list[Callable[[bytes | memoryview], object]] = [self._write]
        if digests:
            work += [self._md5.update, self._digest.update]
        self._queues: list[queue.Queue[bytes | memoryview | None]] = [
            queue.Queue(_DEPTH) for _ in work
        ]
        self._threads = [
            threading.Thread(target=self._run, args=(q, job), name="glance-sink", daemon=True)
            for q, job in zip(self._queues, work, strict=True)
        ]
        for thread in self._threads:
            thread.start()
        self._closed = False

    def _write(self, block: bytes | memoryview) -> None:
        view = memoryview(block)
        while view:
            written = self._file.write(view)
            view = view[written or 0 :]

    def _run(
        self,
        q: queue.Queue[bytes | memoryview | None],
        work: Callable[[bytes | memoryview], object],
    ) -> None:
        while True:
            block = q.get()
            if block is None:  # finish() or abort()
                return
            if self._error is None:
                try:
                    work(block)
                except BaseException as exc:  # reported to the producer by submit/finish
                    self._error = exc

    @property
    def busy(self) -> bool:
        """True when submit() would wait for the threads (call it from a thread then)."""
        return any(q.full() for q in self._queues)

    def submit(self, block: bytes | memoryview) -> None:
        if not block:
            return
        self._raise_if_failed()
        self.size += len(block)
        if self.size > self._cap:
            raise ImageSizeLimitExceeded()
        if self._inspector is not None:
            self._inspector.feed(block)
        for q in self._queues:
            q.put(block)

    def _stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        for q in self._queues:
            q.put(None)
        for thread in self._threads:
            thread.join()
        self._file.close()

    def _raise_if_failed(self) -> None:
        error = self._error
        if error is None:
            return
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            raise StorageFull(str(error))
        if isinstance(error, OSError) and error.errno in (errno.EACCES, errno.EPERM):
            raise StorageWriteDenied(str(error))
        raise error

    def finish(self) -> Written:
        self._stop()
        self._raise_if_failed()
        return Written(
            size=self.size,
            checksum=self._md5.hexdigest(),
            os_hash_algo=self.algo,
            os_hash_value=self._digest.hexdigest(),
            virtual_size=formats.virtual_size(self._inspector),
        )

    def abort(self) -> None:
        """Stop and delete what was written (glance_store's ``_delete_partial``)."""
        self._stop()
        self.path.unlink(missing_ok=True)


class RangeReader:
    """Reads ``length`` bytes from ``offset`` of a file, a block per :meth:`read` (b"" at
    the end); the file is closed at the end or by :meth:`close`."""

    def __init__(self, path: Path, offset: int, length: int) -> None:
        self._handle = open(path, "rb", buffering=0)  # noqa: SIM115 -- closed by close()
        self._handle.seek(offset)
        self._remaining = length

    def read(self) -> bytes:
        if self._remaining <= 0:
            self.close()
            return b""
        block = self._handle.read(min(READ_BLOCK, self._remaining))
        if not block:  # the file is shorter than the image says: end the body early
            self.close()
            return b""
        self._remaining -= len(block)
        return block

    def close(self) -> None:
        self._remaining = 0
        self._handle.close()


def move(source: Path, target: Path) -> None:
    """Staging area -> store: a rename on one filesystem, a copy across two."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        with open(source, "rb") as src, open(target, "wb") as dst:
            while block := src.read(BLOCK):
                dst.write(block)
        source.unlink()
