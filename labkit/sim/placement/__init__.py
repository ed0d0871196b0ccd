"""Placement in the sim: resource providers, inventories, allocations -- as Zed behaves.

Placement is the cloud's ledger of what there is and what is taken. Each nova-compute
registers its host as a *resource provider* with an *inventory* (VCPU, MEMORY_MB, DISK_GB)
and *traits*; Nova's scheduler asks ``GET /allocation_candidates`` who has room and claims
the chosen host with ``PUT /allocations/{instance}``. What openstacksdk, the ``openstack``
CLI with osc-placement, and Nova's report client see is what a real Zed Placement (Debian
12, ``placement-api`` under uwsgi on port 8778) answers: the version document, microversions
1.0 to 1.39 with their shapes, ``{"errors": [...]}`` bodies with Placement's codes and
texts, generations and their 409s, and a capacity check that never over-allocates, also
under concurrent claims (one transaction under the database's write lock).

LIMITATIONS (not emulated, or emulated differently):
  - allocation candidates are single providers: nested provider trees and sharing
    providers (``MISC_SHARES_VIA_AGGREGATE``) are not combined into one candidate, so
    ``group_policy=isolate`` with several suffixed groups finds nothing, and
    ``same_subtree`` is accepted but not applied; ``mappings`` name that one provider;
  - ``POST /reshaper`` (1.30) is not emulated (404);
  - ``Last-Modified`` (from 1.15) is the time of the answer, not the newest
    ``updated_at`` of what is shown;
  - policy: Zed's defaults with ``enforce_new_defaults = False`` (the admin role may do
    everything, a system-scoped reader may read, a project reader may read its own
    ``/usages``); no ``policy.yaml`` is read;
  - errors in WebOb's HTML or plain-text form (a client that does not accept JSON) use the
    generic template for every status; uwsgi's ``Connection: close`` header is not sent;
  - ``placement-manage`` knows ``db sync`` and ``db version`` (not ``db stamp``, ``db
    online_data_migrations``); ``placement-status upgrade check`` has no ``--json``;
  - JSON bodies above 16 MiB are refused with 413 (Placement has no such limit);
  - keystonemiddleware: the service login and catalog are cached for 10 minutes, user tokens
    are validated over in-process HTTP and cached as keystonemiddleware caches them (see
    :mod:`labkit.sim.core.authtoken`).
"""

from __future__ import annotations

from labkit.sim.core.service import Command, Room, RoomContext
from labkit.sim.placement import manage
from labkit.sim.placement import models as m
from labkit.sim.placement.api import all_routes
from labkit.sim.placement.config import CONF_PATH, PlacementConf
from labkit.sim.placement.service import PlacementApp, PlacementService

PACKAGE = "python3-placement"  # ships /usr/bin/placement-manage and placement-status


def build(ctx: RoomContext) -> Room:
    """placement-api on the controller, placement-manage and placement-status."""
    process = PlacementService(ctx, ctx.runtime.config.controller.name)
    process.http = PlacementApp(process, all_routes())
    return Room(
        name="placement",
        processes=[process],
        commands=[
            Command(
                "placement-manage",
                PACKAGE,
                lambda host, argv, user: placement_manage(process, host, argv),
            ),
            Command(
                "placement-status",
                PACKAGE,
                lambda host, argv, user: placement_status(process, host, argv),
            ),
        ],
    )


def _conf(process: PlacementService, host: str) -> PlacementConf | tuple[int, list[str]]:
    if host != process.host:
        return 1, [f"the sim runs Placement on {process.host}, not {host}"]
    conf_file = process.ctx.hosts.path(host, CONF_PATH)
    if not conf_file.is_file():
        return 1, [f"ConfigFileNotFound: {CONF_PATH}"]
    try:
        conf = PlacementConf.read(conf_file)
    except ValueError as exc:
        return 1, [str(exc)]
    if not conf.database_connection:
        return 1, [
            "oslo_db.exception.CantStartEngineError: No sql_connection parameter is established"
        ]
    return conf


def placement_manage(
    process: PlacementService, host: str, argv: list[str]
) -> tuple[int, list[str]]:
    """``placement-manage db sync | db version``."""
    words = [w for w in argv[1:] if not w.startswith("-")]
    if words[:2] not in (["db", "sync"], ["db", "version"]):
        return 2, [
            "usage: placement-manage [-h] [--config-dir DIR] [--config-file PATH] "
            "[--version] {db} ...",
            "placement-manage: error: the sim knows 'db sync' and 'db version'",
        ]
    conf = _conf(process, host)
    if isinstance(conf, tuple):
        return conf
    db = process.ctx.hosts.open_database(host, conf.database_connection, m.Base.metadata)
    try:
        if words[1] == "sync":
            return 0, manage.db_sync(db, process.now())
        return 0, manage.db_version(db)
    finally:
        db.dispose()


def placement_status(
    process: PlacementService, host: str, argv: list[str]
) -> tuple[int, list[str]]:
    """``placement-status upgrade check``."""
    words = [w for w in argv[1:] if not w.startswith("-")]
    if words != ["upgrade", "check"]:
        return 2, [
            "usage: placement-status [-h] [--config-dir DIR] [--config-file PATH] "
            "[--version] {upgrade} ...",
            "placement-status: error: the sim knows 'upgrade check'",
        ]
    conf = _conf(process, host)
    if isinstance(conf, tuple):
        return conf
    db = process.ctx.hosts.open_database(host, conf.database_connection, m.Base.metadata)
    try:
        return manage.upgrade_check(db)
    finally:
        db.dispose()
