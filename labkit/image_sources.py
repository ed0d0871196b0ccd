"""Where the lab's Glance pulls an image from over HTTP, and the checksums published beside it.

The seed pulls Ubuntu's trusty cloud image from the internet. The lab pulls the same names
from a mirror it can always reach: the sim serves generated, valid qcow2 images at
``/mirror/`` on its own port; local lab hosts get the same files from this machine's bridge
address (:mod:`labkit.hosts.image_mirror`). Real hosts elsewhere, and existing clouds, pull
from the real download sites (which needs their internet access).

Introduced in notebooks/03-glance.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass, field

# Short names -> the mirror's paths (which copy the download sites' layouts).
IMAGES = {
    "cirros": "cirros/0.6.2/cirros-0.6.2-x86_64-disk.img",
    "trusty": "ubuntu/trusty/current/trusty-server-cloudimg-amd64-disk1.img",
}
# The same files on the internet: mirror folder prefix -> download site.
UPSTREAM = {
    "cirros/": "https://download.cirros-cloud.net/",
    "ubuntu/": "https://cloud-images.ubuntu.com/",
}


@dataclass(frozen=True)
class ImageSource:
    """An image file on a web server, as Glance's web-download will fetch it.

    Introduced in notebooks/03-glance.
    """

    name: str  # the lab's short name, e.g. "trusty"
    url: str  # what Glance fetches (may carry the lab mirror's ?rate=)
    file: str  # the file's name, as the checksum files list it
    size: int | None  # bytes, when known in advance (the lab's mirror)
    sums: dict[str, str] = field(default_factory=dict)  # algorithm -> URL of its *SUMS file
    where: str = ""  # who serves it, in words

    def published(self, timeout: float = 30.0) -> dict[str, str]:
        """``{algorithm: hex digest}`` for this file, read from the published checksum files."""
        out: dict[str, str] = {}
        for algo, sums_url in self.sums.items():
            with urllib.request.urlopen(sums_url, timeout=timeout) as response:
                text = response.read().decode()
            for line in text.splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[1].lstrip("*") == self.file:
                    out[algo] = parts[0]
        return out


def mirror_path(name: str) -> str:
    if name in IMAGES:
        return IMAGES[name]
    from labkit.errors import RegistryMiss

    raise RegistryMiss("image", name, list(IMAGES))


def from_mirror(name: str, base: str, rate: str | None = None, where: str = "") -> ImageSource:
    """``name`` on a lab mirror whose ``/mirror/`` is at ``base``."""
    from labkit.sim.mirror.catalog import BY_PATH, CHECKSUM_FILES

    path = mirror_path(name)
    folder, _, file = path.rpartition("/")
    root = base.rstrip("/") + "/"
    return ImageSource(
        name=name,
        url=root + path + (f"?rate={rate}" if rate else ""),
        file=file,
        size=BY_PATH[path].image.size,
        sums={algo: f"{root}{folder}/{sums}" for sums, algo in CHECKSUM_FILES.items()},
        where=where or "the lab's image mirror",
    )


def from_upstream(name: str) -> ImageSource:
    """``name`` on its real download site (only MD5SUMS is published by both sites)."""
    path = mirror_path(name)
    prefix = next(p for p in UPSTREAM if path.startswith(p))
    remote = UPSTREAM[prefix] + path.removeprefix(prefix)
    folder, _, file = remote.rpartition("/")
    return ImageSource(
        name=name,
        url=remote,
        file=file,
        size=None,
        sums={"md5": f"{folder}/MD5SUMS"},
        where=UPSTREAM[prefix].split("/")[2],
    )
