"""Keystone v3 in the sim: identity, tokens, catalog, policy -- as Zed Keystone behaves.

What a learner sees through openstacksdk and the ``openstack`` CLI is what a real Zed
Keystone would show: the same discovery documents, token bodies, error bodies and status
codes (checked against recordings in ``tests/parity``). Tokens are real Fernet tokens in
Keystone's payload format, made with a key repository on the simulated controller.

LIMITATIONS (not emulated; the API answers as Keystone does when a feature is off):
  - federation, OAuth2, OAuth1 but its consumers (no request or access tokens), trusts,
    application credential access rules (refused with a 400), endpoint filtering
    (endpoint groups are kept, never tied to projects), domain-specific drivers (a
    domain's ``/config`` is kept and shown, its users still come from SQL), unified
    limits, endpoint policies (the ``/v3/policies`` blobs are kept, never tied to
    endpoints), MFA rules, receipts, password expiry and lockout rules; credential blobs
    are stored as sent (Keystone encrypts them with its credential keys) and an EC2
    credential cannot log in (no ``/v3/ec2tokens``);
  - the project hierarchy under a project acting as a domain (``is_domain`` projects are
    domains: the project API makes, shows, changes and deletes them, nothing more);
  - LDAP or any identity backend other than SQL; token caching (every validation re-reads);
  - only ``password``, ``token`` and ``application_credential`` auth methods; ``external``
    is never tried; removing a user's role does not delete their application credentials
    (their tokens lose the role, as Keystone's would);
  - a user revocation event spares tokens issued earlier in the same second (Fernet keeps
    whole seconds; see :mod:`.revoke`);
  - request-body schema errors quote the sim's schema, which mirrors Keystone's property for
    property; pagination (Keystone has none by default either) and ``list_limit``.
"""

from __future__ import annotations

import argparse
import shlex

from sqlalchemy import select

from labkit.sim.core.conf import ConfError
from labkit.sim.core.service import Command, Room, RoomContext
from labkit.sim.keystone import manage
from labkit.sim.keystone import models as m
from labkit.sim.keystone.api import all_routes
from labkit.sim.keystone.config import CONF_PATH, KeystoneConf
from labkit.sim.keystone.service import KeystoneApp, KeystoneService


def build(ctx: RoomContext) -> Room:
    """Keystone on the controller: its process and HTTP face, keystone-manage, its checks."""
    process = KeystoneService(ctx, ctx.runtime.config.controller.name)
    process.http = KeystoneApp(process, all_routes())
    return Room(
        name="keystone",
        processes=[process],
        commands=[
            Command(
                "keystone-manage",
                "keystone",
                lambda host, argv, user: keystone_manage(process, host, argv),
            )
        ],
        checks={"keystone-user": lambda name: _user_exists(process, name)},
    )


def _conf(process: KeystoneService, host: str) -> KeystoneConf:
    path = process.ctx.hosts.path(host, CONF_PATH)
    if not path.is_file():
        raise FileNotFoundError(CONF_PATH)
    return KeystoneConf.read(path)


def _user_exists(process: KeystoneService, name: str) -> bool:
    try:
        conf = _conf(process, process.host)
        db = process.ctx.hosts.open_database(
            process.host, conf.database_connection, m.Base.metadata
        )
    except Exception:  # no config or database yet: certainly not bootstrapped
        return False
    if not db.tables_exist():
        return False
    with db.read() as s:
        return s.scalars(select(m.User).where(m.User.name == name)).first() is not None


def keystone_manage(process: KeystoneService, host: str, argv: list[str]) -> tuple[int, list[str]]:
    """``keystone-manage SUBCOMMAND ...`` on the simulated controller."""
    parser = argparse.ArgumentParser(prog="keystone-manage", add_help=False, exit_on_error=False)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("db_sync")
    for name in ("fernet_setup", "fernet_rotate", "credential_setup", "credential_rotate"):
        p = sub.add_parser(name)
        p.add_argument("--keystone-user")
        p.add_argument("--keystone-group")
    boot = sub.add_parser("bootstrap")
    boot.add_argument("--bootstrap-password", required=True)
    boot.add_argument("--bootstrap-username", default="admin")
    boot.add_argument("--bootstrap-project-name", default="admin")
    boot.add_argument("--bootstrap-admin-url")
    boot.add_argument("--bootstrap-internal-url")
    boot.add_argument("--bootstrap-public-url")
    boot.add_argument("--bootstrap-region-id")
    try:
        args = parser.parse_args(argv[1:])
    except (argparse.ArgumentError, SystemExit) as exc:
        return 2, [f"keystone-manage: error: {exc}", "usage: " + shlex.join(argv)]
    if args.command is None:
        return 2, ["keystone-manage: error: a command is required"]
    if host != process.host:
        return 1, [f"keystone-manage: the sim runs Keystone on {process.host}, not {host}"]
    try:
        conf = _conf(process, host)
    except FileNotFoundError:
        return 1, [f"ConfigFileNotFound: {CONF_PATH}"]
    except ConfError as exc:  # oslo.config refuses the value: the command dies, as it does
        return 1, [f"CRITICAL keystone [-] Unhandled error: ConfigFileValueError: {exc}"]
    machines = process.ctx.hosts
    if args.command in ("fernet_setup", "fernet_rotate"):
        path = machines.path(host, conf.key_repository)
        lines = (
            manage.fernet_setup(path)
            if args.command == "fernet_setup"
            else manage.fernet_rotate(path)
        )
        return 0, lines
    if args.command in ("credential_setup", "credential_rotate"):
        path = machines.path(host, "/etc/keystone/credential-keys/")
        return 0, manage.fernet_setup(
            path
        ) if args.command == "credential_setup" else manage.fernet_rotate(path)
    db = machines.open_database(host, conf.database_connection, m.Base.metadata)
    if args.command == "db_sync":
        return 0, manage.db_sync(db)
    if not db.tables_exist():
        return 1, [
            "sqlalchemy.exc.OperationalError: no such table: project "
            "(run keystone-manage db_sync first)"
        ]
    return 0, manage.bootstrap(
        db,
        manage.Bootstrap(
            password=args.bootstrap_password,
            admin_url=args.bootstrap_admin_url,
            internal_url=args.bootstrap_internal_url,
            public_url=args.bootstrap_public_url,
            region_id=args.bootstrap_region_id,
            username=args.bootstrap_username,
            project_name=args.bootstrap_project_name,
            rounds=conf.password_hash_rounds,
        ),
        process.runtime.ids.hex_id,
        process.runtime.now().timestamp(),
    )
