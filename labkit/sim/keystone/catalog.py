"""Regions, services and endpoints, and the catalog built from them.

The catalog is what every client reads first: a token carries it, and openstacksdk picks an
endpoint by service type, interface (public by default) and region. Keystone fills
``region`` *and* ``region_id`` in each catalog endpoint; clients that set a region need one
of them (``shared/reference/openstack-api-notes.md`` section 2).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from labkit.sim.keystone import models as m
from labkit.sim.keystone.errors import Conflict, ForbiddenNotSecurity, NotFound, ValidationError

_SERVICE_FIELDS = {"id", "type", "enabled"}
_ENDPOINT_FIELDS = {
    "id",
    "service_id",
    "interface",
    "region_id",
    "region",
    "url",
    "enabled",
    "legacy_endpoint_id",
}


def get_region(s: Session, region_id: str) -> m.Region:
    region = s.get(m.Region, region_id)
    if region is None:
        raise NotFound.of("region", region_id)
    return region


def list_regions(s: Session, parent_region_id: str | None = None) -> list[m.Region]:
    query = select(m.Region).order_by(m.Region.id)
    if parent_region_id is not None:
        query = query.where(m.Region.parent_region_id == parent_region_id)
    return list(s.scalars(query))


def create_region(s: Session, region_id: str, data: dict[str, Any]) -> m.Region:
    if s.get(m.Region, region_id) is not None:
        raise Conflict.storing("region", f"Duplicate ID, {region_id}.")
    parent = data.get("parent_region_id")
    if parent and s.get(m.Region, parent) is None:
        raise NotFound.of("region", parent)
    region = m.Region(
        id=region_id,
        description=data.get("description") or "",
        parent_region_id=parent,
        extra={k: v for k, v in data.items() if k not in {"id", "description", "parent_region_id"}},
    )
    s.add(region)
    return region


def update_region(s: Session, region: m.Region, data: dict[str, Any]) -> m.Region:
    if "description" in data:
        region.description = data["description"] or ""
    if "parent_region_id" in data:
        parent = data["parent_region_id"]
        if parent == region.id:
            raise ValidationError(
                f"The specified parent region {parent} would create a circular region hierarchy."
            )
        if parent and s.get(m.Region, parent) is None:
            raise NotFound.of("region", parent)
        region.parent_region_id = parent
    return region


def delete_region(s: Session, region: m.Region) -> None:
    in_use = s.scalars(select(m.Endpoint).where(m.Endpoint.region_id == region.id)).first()
    child = s.scalars(select(m.Region).where(m.Region.parent_region_id == region.id)).first()
    if in_use is not None or child is not None:
        raise ForbiddenNotSecurity(
            f"Unable to delete region {region.id} because it or its child regions have "
            "associated endpoints."
        )
    s.delete(region)


def get_service(s: Session, service_id: str) -> m.Service:
    service = s.get(m.Service, service_id)
    if service is None:
        raise NotFound.of("service", service_id)
    return service


def list_services(s: Session, filters: dict[str, Any]) -> list[m.Service]:
    services = list(s.scalars(select(m.Service).order_by(m.Service.id)))
    if "type" in filters:
        services = [x for x in services if x.type == filters["type"]]
    if "name" in filters:
        services = [x for x in services if x.extra.get("name") == filters["name"]]
    return services


def create_service(s: Session, service_id: str, data: dict[str, Any]) -> m.Service:
    service = m.Service(
        id=service_id,
        type=data["type"],
        enabled=data.get("enabled", True) is not False,
        extra={k: v for k, v in data.items() if k not in _SERVICE_FIELDS},
    )
    s.add(service)
    return service


def update_service(s: Session, service: m.Service, data: dict[str, Any]) -> m.Service:
    if "type" in data:
        service.type = data["type"]
    if "enabled" in data and data["enabled"] is not None:
        service.enabled = bool(data["enabled"])
    extra = {k: v for k, v in data.items() if k not in _SERVICE_FIELDS}
    if extra:
        service.extra = {**service.extra, **extra}
    return service


def delete_service(s: Session, service: m.Service) -> None:
    s.execute(delete(m.Endpoint).where(m.Endpoint.service_id == service.id))
    s.delete(service)


def get_endpoint(s: Session, endpoint_id: str) -> m.Endpoint:
    endpoint = s.get(m.Endpoint, endpoint_id)
    if endpoint is None:
        raise NotFound.of("endpoint", endpoint_id)
    return endpoint


def list_endpoints(s: Session, filters: dict[str, Any]) -> list[m.Endpoint]:
    query = select(m.Endpoint).order_by(m.Endpoint.id)
    for key in ("service_id", "interface", "region_id"):
        if key in filters:
            query = query.where(getattr(m.Endpoint, key) == filters[key])
    return list(s.scalars(query))


def _check_endpoint_refs(s: Session, data: dict[str, Any]) -> None:
    """Keystone's ``_assert_region_exists`` / ``_assert_service_exists``: 400, not 404."""
    region = data.get("region_id")
    if region is not None and s.get(m.Region, region) is None:
        raise ValidationError.expecting("endpoint region_id", "region table")
    service = data.get("service_id")
    if service is not None and s.get(m.Service, service) is None:
        raise ValidationError.expecting("endpoint service_id", "service table")


def _legacy_region(s: Session, data: dict[str, Any]) -> dict[str, Any]:
    """Keystone's ``_validate_endpoint_region``: an endpoint given the v2-era ``region``
    and no ``region_id`` gets that region, created on the spot if it does not exist (v2-era
    clients and tempest send it so). ``region_id`` itself must name an existing region."""
    region = data.get("region")
    if data.get("region_id") is not None or region is None:
        return data
    data = {k: v for k, v in data.items() if k != "region"}
    data["region_id"] = region
    if isinstance(region, str) and s.get(m.Region, region) is None:
        create_region(s, region, {})
        s.flush()  # the region's row before the endpoint's, which refers to it
    return data


def create_endpoint(s: Session, endpoint_id: str, data: dict[str, Any]) -> m.Endpoint:
    data = _legacy_region(s, data)
    _check_endpoint_refs(s, data)
    endpoint = m.Endpoint(
        id=endpoint_id,
        service_id=data["service_id"],
        interface=data["interface"],
        region_id=data.get("region_id"),
        url=data["url"],
        enabled=data.get("enabled", True) is not False,
        extra={k: v for k, v in data.items() if k not in _ENDPOINT_FIELDS},
    )
    s.add(endpoint)
    return endpoint


def update_endpoint(s: Session, endpoint: m.Endpoint, data: dict[str, Any]) -> m.Endpoint:
    data = _legacy_region(s, data)
    _check_endpoint_refs(s, data)
    for key in ("service_id", "interface", "region_id", "url"):
        if key in data:
            setattr(endpoint, key, data[key])
    if "enabled" in data and data["enabled"] is not None:
        endpoint.enabled = bool(data["enabled"])
    return endpoint


def delete_endpoint(s: Session, endpoint: m.Endpoint) -> None:
    s.delete(endpoint)


def v3_catalog(s: Session, project_id: str | None, user_id: str) -> list[dict[str, Any]]:
    """The catalog as a token carries it (``get_v3_catalog`` in Keystone's SQL backend)."""
    values = {"project_id": project_id, "tenant_id": project_id, "user_id": user_id}
    catalog = []
    services = s.scalars(
        select(m.Service).where(m.Service.enabled.is_(True)).order_by(m.Service.id)
    )
    endpoints_by_service: dict[str, list[m.Endpoint]] = {}
    for ep in s.scalars(
        select(m.Endpoint).where(m.Endpoint.enabled.is_(True)).order_by(m.Endpoint.id)
    ):
        endpoints_by_service.setdefault(ep.service_id, []).append(ep)
    for service in services:
        endpoints = []
        for ep in endpoints_by_service.get(service.id, []):
            url = _format_url(ep.url, values)
            if url is None:
                continue
            endpoints.append(
                {
                    "id": ep.id,
                    "interface": ep.interface,
                    "region_id": ep.region_id,
                    "url": url,
                    "region": ep.region_id,
                }
            )
        catalog.append(
            {
                "endpoints": endpoints,
                "id": service.id,
                "type": service.type,
                "name": service.extra.get("name", ""),
            }
        )
    return catalog


def _format_url(url: str, values: dict[str, str | None]) -> str | None:
    """Substitute ``$(project_id)s`` style markers; skip the endpoint when one is unknown."""
    out = url
    for key, value in values.items():
        for marker in (f"$({key})s", f"%({key})s"):
            if marker in out:
                if value is None:
                    return None
                out = out.replace(marker, value)
    return out
