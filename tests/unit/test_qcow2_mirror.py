"""The mirror's generated qcow2 images: header, ranges, determinism. qemu-img's own verdict
on them is in the real tier (tests/real/test_qcow2_qemu.py), which may install qemu-utils."""

from __future__ import annotations

import struct
from pathlib import Path

from labkit.sim.mirror.catalog import BY_PATH
from labkit.sim.mirror.qcow2 import CLUSTER, Qcow2


def _write(image: Qcow2, path: Path) -> Path:
    with open(path, "wb") as out:
        for block in image.blocks():
            out.write(block)
    return path


def test_header_names_the_virtual_size_and_the_file_has_the_announced_size(tmp_path: Path) -> None:
    image = Qcow2(112 << 20, 16, "unit")
    data = _write(image, tmp_path / "disk.qcow2").read_bytes()
    magic, version = struct.unpack(">4sI", data[:8])
    assert (magic, version) == (b"QFI\xfb", 3)
    assert struct.unpack(">Q", data[24:32])[0] == 112 << 20
    assert len(data) == image.size == (image.file_clusters * CLUSTER)


def test_ranges_are_slices_of_the_whole_file() -> None:
    image = Qcow2(8 << 20, 40, "ranges")
    whole = b"".join(image.blocks(block=100_000))
    assert image.read(0, 104) == whole[:104]
    assert image.read(image.data_offset - 10, 70_000) == whole[image.data_offset - 10 :][:70_000]
    assert image.read(image.size - 5, 100) == whole[-5:]


def test_same_seed_same_bytes_and_a_file_size_can_be_asked_for() -> None:
    assert Qcow2(1 << 30, 3, "x").read(0, 1 << 20) == Qcow2(1 << 30, 3, "x").read(0, 1 << 20)
    assert Qcow2.of_file_size(64 << 20, 1 << 30).size == 64 << 20
    assert BY_PATH["lab/bench-512m.qcow2"].image.size == 512 << 20
