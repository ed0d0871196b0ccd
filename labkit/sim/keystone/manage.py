"""``keystone-manage`` in the sim: db_sync, fernet_setup/rotate, credential_setup, bootstrap.

The simulated controller's shell runs these when an install plan's command step says so.
Each returns the log lines Keystone would write, so the notebook shows what happened.
``bootstrap`` is idempotent exactly as Keystone's is: it creates what is missing, resets the
admin password if it changed, and says "already exists, skipping creation" for the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from labkit.sim.core.store import Database
from labkit.sim.keystone import assignment, catalog, identity, resource
from labkit.sim.keystone import models as m
from labkit.sim.keystone.assignment import Actor, Target
from labkit.sim.keystone.fernet import KeyRepository


def db_sync(db: Database) -> list[str]:
    existed = db.tables_exist()
    db.create_all()
    if existed:
        return ["Database is already at the latest version."]
    return [f"Running upgrade -> head: created {len(db.metadata.tables)} tables."]


def fernet_setup(path: Path) -> list[str]:
    repo = KeyRepository(path)
    if not repo.setup():
        return [
            f"Key repository {path} already has keys {repo.key_numbers()}; "
            "not touching them (use fernet_rotate)."
        ]
    return [
        f"Created a new key: {path}/0",
        f"Starting key rotation with 1 key files: ['{path}/0']",
        "Current primary key is: 0",
        "Next primary key will be: 1",
        "Promoted key 0 to be the primary: 1",
        f"Created a new key: {path}/0",
    ]


def fernet_rotate(path: Path) -> list[str]:
    repo = KeyRepository(path)
    before = repo.key_numbers()
    after = repo.rotate()
    return [
        f"Starting key rotation with {len(before)} key files: {sorted(before)}",
        f"Current primary key is: {max(before)}",
        f"Promoted key 0 to be the primary: {max(after)}",
        f"Created a new key: {path}/0",
        f"Keys now: {sorted(after)} (0 = staged, {max(after)} = primary)",
    ]


@dataclass(frozen=True)
class Bootstrap:
    password: str
    admin_url: str | None = None
    internal_url: str | None = None
    public_url: str | None = None
    region_id: str | None = None
    username: str = "admin"
    project_name: str = "admin"
    service_name: str = "keystone"
    rounds: int = 12


def bootstrap(db: Database, args: Bootstrap, new_id: Callable[[], str], now: float) -> list[str]:
    log: list[str] = []
    with db.write() as s:
        if s.get(m.Domain, "default") is None:
            resource.create_domain(
                s, "default", {"name": "Default", "description": "The default domain"}
            )
            log.append("Created domain default")
        else:
            log.append("Domain default already exists, skipping creation.")
        project = s.scalars(
            select(m.Project).where(
                m.Project.name == args.project_name, m.Project.domain_id == "default"
            )
        ).first()
        if project is None:
            project = resource.create_project(
                s,
                new_id(),
                {
                    "name": args.project_name,
                    "domain_id": "default",
                    "description": "Bootstrap project for initializing the cloud.",
                },
            )
            log.append(f"Created project {args.project_name}")
        else:
            log.append(f"Project {args.project_name} already exists, skipping creation.")
        roles: dict[str, m.Role] = {}
        for name in ("reader", "member", "admin"):
            existing = s.scalars(
                select(m.Role).where(m.Role.name == name, m.Role.domain_id == m.NULL_DOMAIN)
            ).first()
            if existing is None:
                roles[name] = assignment.create_role(
                    s, new_id(), {"name": name, "options": {"immutable": True}}
                )
                log.append(f"Created role {name}")
            else:
                roles[name] = existing
                log.append(f"Role {name} exists, skipping creation.")
        s.flush()
        for prior, implied in (("member", "reader"), ("admin", "member")):
            assignment.create_implied_role(s, roles[prior], roles[implied])
            log.append(f"Created implied role where {prior} implies {implied}")
        user = s.scalars(
            select(m.User).where(m.User.name == args.username, m.User.domain_id == "default")
        ).first()
        if user is None:
            user = identity.create_user(
                s,
                new_id(),
                {
                    "name": args.username,
                    "domain_id": "default",
                    "enabled": True,
                    "password": args.password,
                },
                rounds=args.rounds,
                now=now,
            )
            log.append(f"Created user {args.username}")
        else:
            log.append(f"User {args.username} already exists, skipping creation.")
            if not identity.check_password(args.password, user.password_hash) or not user.enabled:
                identity.update_user(
                    s, user, {"password": args.password, "enabled": True}, rounds=args.rounds
                )
                log.append(f"Reset password for user {args.username}.")
        s.flush()
        assignment.create_grant(
            s, roles["admin"], Actor("user", user.id), Target("project", project.id)
        )
        log.append(f"Granted role admin on project {args.project_name} to user {args.username}.")
        assignment.create_grant(
            s, roles["admin"], Actor("user", user.id), Target("system", m.SYSTEM_TARGET)
        )
        log.append(f"Granted role admin on the system to user {args.username}.")
        if args.region_id:
            if s.get(m.Region, args.region_id) is None:
                catalog.create_region(s, args.region_id, {})
                log.append(f"Created region {args.region_id}")
            else:
                log.append(f"Region {args.region_id} exists, skipping creation.")
        s.flush()
        log += _bootstrap_catalog(s, args, new_id)
    return log


def _bootstrap_catalog(s: Session, args: Bootstrap, new_id: Callable[[], str]) -> list[str]:
    urls = {"public": args.public_url, "internal": args.internal_url, "admin": args.admin_url}
    if not any(urls.values()):
        return []
    log = []
    service = s.scalars(select(m.Service).where(m.Service.type == "identity")).first()
    if service is None:
        service = catalog.create_service(
            s, new_id(), {"type": "identity", "name": args.service_name}
        )
        s.flush()
    existing = {
        e.interface: e
        for e in s.scalars(select(m.Endpoint).where(m.Endpoint.service_id == service.id))
        if args.region_id is None or e.region_id == args.region_id
    }
    for interface, url in urls.items():
        if not url:
            continue
        if interface in existing:
            existing[interface].url = url
            log.append(f"{interface} endpoint updated")
        else:
            catalog.create_endpoint(
                s,
                new_id(),
                {
                    "interface": interface,
                    "url": url,
                    "service_id": service.id,
                    "region_id": args.region_id,
                },
            )
            log.append(f"Created {interface} endpoint {url}")
    return log
