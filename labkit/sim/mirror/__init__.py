"""The lab's image mirror, served by the sim on loopback at ``/mirror/``.

Glance's web-download import needs a URL to pull from; the mirror makes that work with no
internet: ``http://127.0.0.1:PORT/mirror/cirros/0.6.2/cirros-0.6.2-x86_64-disk.img`` is a
valid qcow2 image, generated from a seed (same bytes every time, so checksums in notebook
outputs are stable) and never stored on disk. It is a plain web server, not an OpenStack
service: it needs no token and is not in the catalog.

LIMITATIONS: a fixed set of generated images (see :mod:`.catalog`); data clusters repeat a
1 MiB pseudo-random pattern; single byte ranges only; no directory listing sort options.
"""

from __future__ import annotations

from labkit.sim.mirror.service import MirrorApp, create

__all__ = ["MirrorApp", "create"]
