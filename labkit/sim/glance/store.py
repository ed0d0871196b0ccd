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
import mmap
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labkit import portable
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


class AlignedRing:
    """Page-aligned blocks that come round again (see :data:`RING`), filled by a producer.

    Filling a ring block is the one copy of the bytes in userspace; a full block then goes to
    the hash threads and, untouched, to :class:`DirectWriter`'s uncached write. Views handed
    out always start at the block's first byte. The blocks are freed with the ring (after the
    sink let go of its views).
    """

    def __init__(self) -> None:
        self._blocks = [mmap.mmap(-1, BLOCK) for _ in range(RING)]
        self._turn = 0
        self.block = self._blocks[0]
        self.fill = 0

    def feed(self, data: bytes | memoryview, submit: Callable[[memoryview], object]) -> None:
        """Copy ``data`` in; hand every block that fills up to ``submit``."""
        view = memoryview(data)
        while view:
            count = min(len(view), BLOCK - self.fill)
            self.block[self.fill : self.fill + count] = view[:count]
            self.fill += count
            view = view[count:]
            if self.fill == BLOCK:
                submit(self.take())

    def take(self) -> memoryview:
        """The current block's filled part; the ring moves on to the next block."""
        filled = memoryview(self.block)[: self.fill]
        self._turn += 1
        self.block = self._blocks[self._turn % RING]
        self.fill = 0
        return filled


class DirectWriter:
    """Write a file past the page cache from a page-aligned staging buffer.

    Measured on this kind of machine: buffered writes of a 512 MiB image cost about a second
    of kernel CPU copying into the page cache (ext4 then writes at ~330 MB/s), more than
    either hash; O_DIRECT writes the same bytes at ~1.6 GB/s for one cheap copy into the
    aligned buffer. The unaligned tail is written without O_DIRECT. Where there is no O_DIRECT
    :func:`labkit.portable.open_uncached` says what the OS offers instead: macOS's F_NOCACHE
    (aligned writes still pay off), or plain writes (Windows, tmpfs, LABKIT_PORTABLE=1).
    """

    ALIGN = 4096

    def __init__(self, path: Path) -> None:
        self._fd, self._cache = portable.open_uncached(path)
        self._direct = self._cache != "buffered"
        self._buffer = mmap.mmap(-1, BLOCK) if self._direct else None
        self._view = memoryview(self._buffer) if self._buffer is not None else None
        self._fill = 0

    def _write_all(self, data: memoryview) -> None:
        while data:
            written = os.write(self._fd, data)
            data = data[written:]

    def write(self, block: bytes | memoryview) -> None:
        data = memoryview(block)
        if self._view is None:
            self._write_all(data)
            return
        if self._fill == 0 and isinstance(data.obj, mmap.mmap) and len(data) % self.ALIGN == 0:
            # A whole block of an AlignedRing: page-aligned already, write it as it is.
            self._write_all(data)
            return
        while data:
            count = min(len(data), BLOCK - self._fill)
            self._view[self._fill : self._fill + count] = data[:count]
            self._fill += count
            data = data[count:]
            if self._fill == BLOCK:
                self._write_all(self._view)
                self._fill = 0

    def close(self) -> None:
        try:
            if self._view is not None and self._fill:
                aligned = self._fill - self._fill % self.ALIGN
                if aligned:
                    self._write_all(self._view[:aligned])
                if aligned < self._fill:
                    if self._cache == "direct":
                        portable.end_direct(self._fd)
                    self._write_all(self._view[aligned : self._fill])
        finally:
            os.close(self._fd)
            if self._view is not None and self._buffer is not None:
                self._view.release()
                self._buffer.close()


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
        self._file = DirectWriter(path)
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
        self._file.write(block)

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
