"""In-flight format inspection: ``virtual_size`` from the first bytes of the upload.

Like Zed's ``glance/common/format_inspector.py``, an inspector is chosen by the image's
``disk_format`` (only for ``container_format = bare``), is fed every chunk as it streams past,
and keeps just the header it needs (512 bytes). ``raw`` counts bytes; qcow2, VHD and VDI read
their header; other formats (vmdk, vhdx, iso, ami ...) leave ``virtual_size`` empty.
"""

from __future__ import annotations

import struct

HEADER = 512


class Inspector:
    """raw: the virtual size is the data size."""

    name = "raw"

    def __init__(self) -> None:
        self.total = 0
        self._header = bytearray()

    def feed(self, chunk: bytes | memoryview) -> None:
        if len(self._header) < HEADER:
            self._header += chunk[: HEADER - len(self._header)]
        self.total += len(chunk)

    @property
    def header(self) -> bytes | None:
        return bytes(self._header) if len(self._header) >= HEADER else None

    @property
    def format_match(self) -> bool:
        return True

    @property
    def virtual_size(self) -> int:
        """0 when unknown (Glance then leaves ``virtual_size`` null)."""
        return self.total


class QcowInspector(Inspector):
    name = "qcow2"

    @property
    def format_match(self) -> bool:
        header = self.header
        return header is not None and header[:4] == b"QFI\xfb"

    @property
    def virtual_size(self) -> int:
        header = self.header
        if header is None or not self.format_match:
            return 0
        return int(struct.unpack(">Q", header[24:32])[0])


class VhdInspector(Inspector):
    name = "vhd"

    @property
    def format_match(self) -> bool:
        header = self.header
        return header is not None and header[:8] == b"conectix"

    @property
    def virtual_size(self) -> int:
        header = self.header
        if header is None or not self.format_match:
            return 0
        return int(struct.unpack(">Q", header[40:48])[0])


class VdiInspector(Inspector):
    name = "vdi"

    @property
    def format_match(self) -> bool:
        header = self.header
        return header is not None and struct.unpack("<I", header[0x40:0x44])[0] == 0xBEDA107F

    @property
    def virtual_size(self) -> int:
        header = self.header
        if header is None or not self.format_match:
            return 0
        return int(struct.unpack("<Q", header[0x170:0x178])[0])


_INSPECTORS: dict[str, type[Inspector]] = {
    "raw": Inspector,
    "qcow2": QcowInspector,
    "vhd": VhdInspector,
    "vdi": VdiInspector,
}


def inspector_for(disk_format: str | None, container_format: str | None) -> Inspector | None:
    if container_format != "bare" or disk_format is None:
        return None
    kind = _INSPECTORS.get(disk_format)
    return kind() if kind else None


def virtual_size(inspector: Inspector | None) -> int | None:
    """What Glance records: the size if the format matched and the size is known."""
    if inspector is None or not inspector.format_match or not inspector.virtual_size:
        return None
    return inspector.virtual_size
