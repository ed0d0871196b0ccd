"""Generated, valid qcow2 (version 3) disk images -- bytes computed on demand, never stored.

Layout of a generated file, one 64 KiB cluster each unless noted::

    header | refcount table | refcount blocks | L1 table | L2 tables | data clusters

The first ``data_clusters`` clusters of the virtual disk are allocated (mapped in order to the
data clusters at the end of the file), the rest of the disk reads as zeros. Every cluster the
file uses has refcount 1, so ``qemu-img check`` finds no leaks or errors. Data clusters repeat
sixteen pseudo-random clusters derived from the image's seed: the same image always has the
same bytes, hence the same checksums, and any byte range costs a slice, not a computation.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

CLUSTER_BITS = 16
CLUSTER = 1 << CLUSTER_BITS
_L2_ENTRIES = CLUSTER // 8
_REFCOUNT_ORDER = 4  # 16-bit refcounts, qemu's default
_REFS_PER_BLOCK = CLUSTER * 8 // (1 << _REFCOUNT_ORDER)
_COPIED = 1 << 63  # QCOW_OFLAG_COPIED: refcount is exactly 1
_HEADER_LENGTH = 104
_PATTERN_CLUSTERS = 16


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class Qcow2:
    """A qcow2 file of ``virtual_size`` bytes with ``data_clusters`` allocated clusters."""

    virtual_size: int
    data_clusters: int
    seed: str = "labkit"

    def __post_init__(self) -> None:
        if self.data_clusters > _ceil(self.virtual_size, CLUSTER):
            raise ValueError("more data clusters than the virtual disk has")

    @classmethod
    def of_file_size(cls, file_size: int, virtual_size: int, seed: str = "labkit") -> Qcow2:
        """The image whose file is ``file_size`` bytes (a multiple of 64 KiB) long."""
        total = file_size // CLUSTER
        data = total
        while data > 0 and cls(virtual_size, data, seed).file_clusters > total:
            data -= 1
        return cls(virtual_size, data, seed)

    # ---- layout --------------------------------------------------------------------------
    @cached_property
    def l1_entries(self) -> int:
        return max(1, _ceil(_ceil(self.virtual_size, CLUSTER), _L2_ENTRIES))

    @cached_property
    def l1_clusters(self) -> int:
        return _ceil(self.l1_entries * 8, CLUSTER)

    @cached_property
    def l2_tables(self) -> int:
        return _ceil(self.data_clusters, _L2_ENTRIES)

    @cached_property
    def refcount_blocks(self) -> int:
        blocks = 1
        while _ceil(self._clusters_without_refblocks + blocks, _REFS_PER_BLOCK) > blocks:
            blocks += 1
        return blocks

    @cached_property
    def _clusters_without_refblocks(self) -> int:
        return 2 + self.l1_clusters + self.l2_tables + self.data_clusters

    @cached_property
    def file_clusters(self) -> int:
        return self._clusters_without_refblocks + self.refcount_blocks

    @property
    def size(self) -> int:
        """The file's size in bytes."""
        return self.file_clusters * CLUSTER

    @cached_property
    def l1_offset(self) -> int:
        return (2 + self.refcount_blocks) * CLUSTER

    @cached_property
    def data_offset(self) -> int:
        return (2 + self.refcount_blocks + self.l1_clusters + self.l2_tables) * CLUSTER

    # ---- content -------------------------------------------------------------------------
    @cached_property
    def metadata(self) -> bytes:
        """Everything before the first data cluster."""
        out = bytearray(self.data_offset)
        struct.pack_into(
            ">4sIQIIQIIQQIIQQQQII",
            out,
            0,
            b"QFI\xfb",
            3,
            0,
            0,
            CLUSTER_BITS,
            self.virtual_size,
            0,
            self.l1_entries,
            self.l1_offset,
            CLUSTER,
            1,
            0,
            0,
            0,
            0,
            0,
            _REFCOUNT_ORDER,
            _HEADER_LENGTH,
        )
        # Bytes 104..111 stay zero: the "end of header extensions" marker.
        for block in range(self.refcount_blocks):
            struct.pack_into(">Q", out, CLUSTER + 8 * block, (2 + block) * CLUSTER)
        for cluster in range(self.file_clusters):
            block, index = divmod(cluster, _REFS_PER_BLOCK)
            struct.pack_into(">H", out, (2 + block) * CLUSTER + 2 * index, 1)
        l2_start = self.l1_offset + self.l1_clusters * CLUSTER
        for table in range(self.l2_tables):
            struct.pack_into(
                ">Q", out, self.l1_offset + 8 * table, (l2_start + table * CLUSTER) | _COPIED
            )
        for guest in range(self.data_clusters):
            struct.pack_into(
                ">Q", out, l2_start + 8 * guest, (self.data_offset + guest * CLUSTER) | _COPIED
            )
        return bytes(out)

    @cached_property
    def pattern(self) -> bytes:
        """Sixteen data clusters (1 MiB) that the data area repeats."""
        return hashlib.shake_256(f"labkit-qcow2/{self.seed}".encode()).digest(
            _PATTERN_CLUSTERS * CLUSTER
        )

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset`` (fewer at the end of the file)."""
        end = min(self.size, offset + length)
        parts = []
        while offset < end:
            if offset < self.data_offset:
                take = min(end, self.data_offset) - offset
                parts.append(self.metadata[offset : offset + take])
            else:
                within = (offset - self.data_offset) % len(self.pattern)
                take = min(end - offset, len(self.pattern) - within)
                parts.append(self.pattern[within : within + take])
            offset += take
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def blocks(
        self, offset: int = 0, length: int | None = None, block: int = 1 << 20
    ) -> Iterator[bytes]:
        """The file (or a range of it) as blocks; aligned data blocks are shared objects."""
        end = self.size if length is None else min(self.size, offset + length)
        while offset < end:
            size = min(block, end - offset)
            if offset < self.data_offset < offset + size:
                # Cut at the data area so later blocks line up with the pattern: a block
                # that is the whole pattern is then the pattern object itself, no copy.
                size = self.data_offset - offset
            yield self.read(offset, size)
            offset += size
