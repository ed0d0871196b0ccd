"""Make the Keystone objects of an :class:`~labkit.install.steps.IdentityObjects` step exist.

Runs through openstacksdk in one process (one token, a few requests) instead of one
``openstack`` CLI process per object. This module imports nothing from labkit so that the
SSH runner can send its source to a real controller and run it there with the host's own
python3-openstacksdk (the catalog's ``controller`` name need not resolve from your laptop).
"""

from __future__ import annotations

from typing import Any


def ensure(conn: Any, spec: dict[str, Any]) -> list[str]:
    """Create what is missing; return one line per object saying created or already there.

    ``spec`` is the step as a dict with secrets already filled in.
    """
    log: list[str] = []
    identity = conn.identity
    domain = identity.find_domain("default", ignore_missing=False)
    projects: dict[str, Any] = {}
    for name, description in spec.get("projects", []):
        project = identity.find_project(name, domain_id=domain.id)
        if project is None:
            project = identity.create_project(
                name=name, description=description, domain_id=domain.id
            )
            log.append(f"created project {name}")
        else:
            log.append(f"project {name} already exists")
        projects[name] = project
    for name, password in spec.get("users", []):
        user = identity.find_user(name, domain_id=domain.id)
        if user is None:
            identity.create_user(name=name, password=password, domain_id=domain.id)
            log.append(f"created user {name}")
        else:
            # Not reset: a password change revokes the user's tokens, and a second run of
            # an installer must change nothing.
            log.append(f"user {name} already exists")
    for name in spec.get("roles", []):
        if identity.find_role(name) is None:
            identity.create_role(name=name)
            log.append(f"created role {name}")
        else:
            log.append(f"role {name} already exists")
    for project_name, user_name, role_name in spec.get("grants", []):
        project = projects.get(project_name) or identity.find_project(
            project_name, domain_id=domain.id, ignore_missing=False
        )
        user = identity.find_user(user_name, domain_id=domain.id, ignore_missing=False)
        role = identity.find_role(role_name, ignore_missing=False)
        if identity.validate_user_has_project_role(project, user, role):
            log.append(f"{user_name} already has {role_name} on {project_name}")
        else:
            identity.assign_project_role_to_user(project, user, role)
            log.append(f"granted {role_name} on {project_name} to {user_name}")
    services: dict[str, Any] = {}
    for name, kind, description in spec.get("services", []):
        found = [s for s in identity.services() if s.type == kind]
        if found:
            services[kind] = found[0]
            log.append(f"service {name} ({kind}) already exists")
        else:
            services[kind] = identity.create_service(name=name, type=kind, description=description)
            log.append(f"created service {name} ({kind})")
    region = spec.get("region", "RegionOne")
    for kind, interface, url in spec.get("endpoints", []):
        service = services.get(kind) or next(s for s in identity.services() if s.type == kind)
        existing = [
            e
            for e in identity.endpoints(service_id=service.id, interface=interface)
            if e.region_id == region
        ]
        if existing and existing[0].url == url:
            log.append(f"{interface} endpoint for {kind} already exists")
        elif existing:
            identity.update_endpoint(existing[0], url=url)
            log.append(f"updated {interface} endpoint for {kind}: {url}")
        else:
            identity.create_endpoint(
                service_id=service.id, interface=interface, url=url, region_id=region
            )
            log.append(f"created {interface} endpoint for {kind}: {url}")
    return log


def missing(conn: Any, spec: dict[str, Any]) -> list[str]:
    """What :func:`ensure` would create (empty: the step is done)."""
    identity = conn.identity
    domain = identity.find_domain("default", ignore_missing=False)
    todo = [
        f"project {n}"
        for n, _ in spec.get("projects", [])
        if identity.find_project(n, domain_id=domain.id) is None
    ]
    todo += [
        f"user {n}"
        for n, _ in spec.get("users", [])
        if identity.find_user(n, domain_id=domain.id) is None
    ]
    todo += [f"role {n}" for n in spec.get("roles", []) if identity.find_role(n) is None]
    for project_name, user_name, role_name in spec.get("grants", []):
        project = identity.find_project(project_name, domain_id=domain.id)
        user = identity.find_user(user_name, domain_id=domain.id)
        role = identity.find_role(role_name)
        if None in (project, user, role) or not identity.validate_user_has_project_role(
            project, user, role
        ):
            todo.append(f"grant {role_name} on {project_name} to {user_name}")
    kinds = {s.type: s for s in identity.services()}
    todo += [f"service {n}" for n, k, _ in spec.get("services", []) if k not in kinds]
    region = spec.get("region", "RegionOne")
    for kind, interface, url in spec.get("endpoints", []):
        service = kinds.get(kind)
        found = (
            []
            if service is None
            else [
                e
                for e in identity.endpoints(service_id=service.id, interface=interface)
                if e.region_id == region and e.url == url
            ]
        )
        if not found:
            todo.append(f"{interface} endpoint for {kind}")
    return todo
