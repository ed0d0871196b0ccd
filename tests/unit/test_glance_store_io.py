"""The image store's write path: O_DIRECT from aligned ring blocks, exact bytes, fallbacks."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from labkit.sim.glance import store


def _stream(total: int, chunk: int) -> list[bytes]:
    data = hashlib.sha512(b"seed").digest() * (total // 64 + 1)
    data = data[:total]
    return [data[i : i + chunk] for i in range(0, total, chunk)]


@pytest.mark.parametrize("total", [0, 1, 4095, 4096, store.BLOCK, store.BLOCK * 2 + 12345])
def test_ring_blocks_through_the_direct_writer_give_the_exact_bytes(
    tmp_path: Path, total: int
) -> None:
    chunks = _stream(total, 256 * 1024 + 7)  # odd chunk sizes, like a socket's
    writer = store.DirectWriter(tmp_path / "image")
    ring = store.AlignedRing()
    for chunk in chunks:
        ring.feed(chunk, writer.write)
    if ring.fill:
        writer.write(ring.take())
    writer.close()
    assert (tmp_path / "image").read_bytes() == b"".join(chunks)


def test_unaligned_writes_are_staged(tmp_path: Path) -> None:
    chunks = _stream(store.BLOCK + 999, 100_000)
    writer = store.DirectWriter(tmp_path / "image")
    for chunk in chunks:
        writer.write(chunk)
    writer.close()
    assert (tmp_path / "image").read_bytes() == b"".join(chunks)


def test_a_filesystem_without_o_direct_gets_plain_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def refuse_direct(path: str, flags: int, mode: int = 0o777) -> int:
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")  # what tmpfs answers
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", refuse_direct)
    chunks = _stream(3 * 4096 + 5, 4096)
    writer = store.DirectWriter(tmp_path / "image")
    for chunk in chunks:
        writer.write(chunk)
    writer.close()
    assert (tmp_path / "image").read_bytes() == b"".join(chunks)


def test_the_sink_hashes_what_it_writes(tmp_path: Path) -> None:
    chunks = _stream(store.BLOCK * 3 + 17, 65536)
    sink = store.HashingSink(tmp_path / "image", "sha512", None, cap=1 << 40)
    ring = store.AlignedRing()
    for chunk in chunks:
        ring.feed(chunk, sink.submit)
    sink.submit(ring.take())
    written = sink.finish()
    data = b"".join(chunks)
    assert written.size == len(data) == (tmp_path / "image").stat().st_size
    assert written.checksum == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert written.os_hash_value == hashlib.sha512(data).hexdigest()
