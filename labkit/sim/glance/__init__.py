"""Glance v2 in the sim: images, their data, import, sharing -- as Zed Glance behaves.

What openstacksdk and the ``openstack`` CLI see is what a real Zed Glance (Debian 12,
``enabled_backends = fs:file``) shows: the same version documents, image bodies, WebOb
error bodies (HTML/JSON/text by ``Accept``, ``code`` as ``"404 Not Found"``), status codes,
status machine and headers (checked against recordings in ``tests/parity``). Image bytes are
real files in the store folder on the simulated controller; checksums are real md5/sha512.

LIMITATIONS (not emulated, or emulated differently):
  - stores: the file store only (any number of ``name:file`` backends); no rbd/swift/http/
    cinder stores, no ``show_multiple_locations``/``show_image_direct_url`` (so ``locations``
    can never be set or read, exactly as with Zed's defaults), no ``delete_from_store``;
  - the image cache, image signature verification (cursive), metadefs beyond listing an
    empty catalog (``GET /v2/metadefs/namespaces`` and its schemas: a guide-built cloud never
    ran ``db_load_metadefs``), the old tasks API (``/v2/tasks``), ``glance-download``
    import, import plugins (conversion, decompression, metadata injection) and
    ``delayed_delete``/scrubber;
  - ``virtual_size`` is read for raw, qcow2, VHD and VDI (not vmdk/vhdx);
  - quotas: ``use_keystone_limits = True`` works as in Zed, but the limits are read from
    ``[labkit_limits]`` / ``[labkit_limits:PROJECT]`` in glance-api.conf because the sim's
    Keystone has no ``/v3/limits``; a resource without any limit is limited to 0, as with
    oslo.limit; the legacy ``user_storage_quota`` is not emulated;
  - policy: Zed's defaults with ``enforce_new_defaults = False`` and no ``policy.yaml``;
    ``enforce_secure_rbac`` is not emulated;
  - web-download hashes while downloading and moves the staged file into the store (Glance
    copies it, hashing then), so its "Copied N MiB" task message moves during the download;
    an unreachable URL fails after 10 s (urllib would wait for the kernel's TCP timeout);
  - a client that disconnects in mid-upload gets a 400 of the sim's own (the image is back
    in ``queued``, its partial bytes deleted); an upload larger than its Content-Length is
    cut at the declared length by HTTP framing, as with eventlet; ``X-OpenStack-Image-Size``
    (post-Zed) is ignored;
  - JSON bodies above 16 MiB are refused with 413 (Glance has no such limit);
  - keystonemiddleware: the service login and catalog are cached for 10 minutes, user tokens
    are validated over in-process HTTP (``GET /v3/auth/tokens``) and cached as
    keystonemiddleware caches them (see :mod:`labkit.sim.core.authtoken`).
"""

from __future__ import annotations

import argparse

from labkit.sim.core.service import Command, Room, RoomContext
from labkit.sim.glance import manage
from labkit.sim.glance import models as m
from labkit.sim.glance.api import all_routes
from labkit.sim.glance.config import CONF_PATH, GlanceConf
from labkit.sim.glance.service import GlanceApp, GlanceService


def build(ctx: RoomContext) -> Room:
    """glance-api on the controller, and glance-manage (from the glance-common package)."""
    process = GlanceService(ctx, ctx.runtime.config.controller.name)
    process.http = GlanceApp(process, all_routes())
    return Room(
        name="glance",
        processes=[process],
        commands=[
            Command(
                "glance-manage",
                "glance-common",
                lambda host, argv, user: glance_manage(process, host, argv),
            )
        ],
    )


def glance_manage(process: GlanceService, host: str, argv: list[str]) -> tuple[int, list[str]]:
    """``glance-manage db_sync | db sync | db version`` on the simulated controller."""
    words = [w for w in argv[1:] if not w.startswith("--")]
    command = " ".join(words).replace("db_", "db ")
    if command not in ("db sync", "db version"):
        parser = argparse.ArgumentParser(prog="glance-manage")
        return 2, [
            parser.format_usage().strip(),
            "glance-manage: error: choose from 'db sync', 'db version'",
        ]
    if host != process.host:
        return 1, [f"glance-manage: the sim runs Glance on {process.host}, not {host}"]
    conf_file = process.ctx.hosts.path(host, CONF_PATH)
    if not conf_file.is_file():
        return 1, [f"ConfigFileNotFound: {CONF_PATH}"]
    try:
        conf = GlanceConf.read(conf_file)
    except ValueError as exc:
        return 1, [str(exc)]
    db = process.ctx.hosts.open_database(host, conf.database_connection, m.Base.metadata)
    if command == "db sync":
        return 0, manage.db_sync(db)
    return 0, manage.db_version(db)
