"""What the lab's image mirror holds: generated qcow2 images named like the real downloads.

Sizes echo the real files (CirrOS 0.6.2: 112 MiB disk, ~20 MiB file; Ubuntu 14.04 "trusty":
2.2 GiB disk, ~256 MiB file) so the notebook's pull takes a visible moment; ``lab/`` holds
images for benchmarks and experiments. Checksum files list md5 and sha512 the way the
distributions publish them (``MD5SUMS``, ``SHA512SUMS``), computed on first request.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from labkit.sim.mirror.qcow2 import CLUSTER, Qcow2

MiB = 1 << 20


@dataclass(frozen=True)
class MirrorFile:
    path: str  # below /mirror, e.g. "cirros/0.6.2/cirros-0.6.2-x86_64-disk.img"
    image: Qcow2
    description: str

    @property
    def folder(self) -> str:
        return self.path.rpartition("/")[0]

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]


FILES: tuple[MirrorFile, ...] = (
    MirrorFile(
        "cirros/0.6.2/cirros-0.6.2-x86_64-disk.img",
        Qcow2(112 * MiB, 20 * MiB // CLUSTER, "cirros-0.6.2"),
        "CirrOS-like test image: 112 MiB disk, 20 MiB of data",
    ),
    MirrorFile(
        "ubuntu/trusty/current/trusty-server-cloudimg-amd64-disk1.img",
        Qcow2(2252 * MiB, 256 * MiB // CLUSTER, "ubuntu-trusty"),
        "Ubuntu 14.04-like cloud image: 2.2 GiB disk, 256 MiB of data",
    ),
    MirrorFile(
        "lab/blank-1g.qcow2",
        Qcow2(1024 * MiB, 0, "blank"),
        "An empty 1 GiB disk (a few clusters of metadata)",
    ),
    MirrorFile(
        "lab/bench-512m.qcow2",
        Qcow2.of_file_size(512 * MiB, 1024 * MiB, "bench"),
        "A 512 MiB file (1 GiB disk) for throughput benchmarks",
    ),
)
BY_PATH = {f.path: f for f in FILES}
CHECKSUM_FILES = {"MD5SUMS": "md5", "SHA512SUMS": "sha512"}

_digests: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


def digest(entry: MirrorFile, algo: str) -> str:
    """Hex digest of a mirror file (computed once per process)."""
    key = (entry.path, algo)
    with _lock:
        if key not in _digests:
            hasher = hashlib.new(algo)
            for block in entry.image.blocks(block=4 * MiB):
                hasher.update(block)
            _digests[key] = hasher.hexdigest()
        return _digests[key]


def folders() -> list[str]:
    """Every folder that holds something, with its parents ("" is the top)."""
    out = {""}
    for entry in FILES:
        parts = entry.folder.split("/")
        out.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    return sorted(out)


def listing(folder: str) -> list[str]:
    """Names in a folder, sub-folders with a trailing slash."""
    names = set()
    prefix = f"{folder}/" if folder else ""
    for entry in FILES:
        if not entry.path.startswith(prefix):
            continue
        rest = entry.path[len(prefix) :]
        head, sep, _ = rest.partition("/")
        names.add(f"{head}/" if sep else head)
    if any(e.folder == folder for e in FILES):
        names.update(CHECKSUM_FILES)
    return sorted(names)
