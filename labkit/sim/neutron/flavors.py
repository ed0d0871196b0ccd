"""Service flavors and service profiles (``flavors``: the flavors service plugin, one of
Neutron's default service plugins, so Zed lists it even without routers).

A flavor names a kind of an advanced service (``service_type``: the type of a loaded service
plugin -- ``L3_ROUTER_NAT`` once the router plugin is loaded) and the service profiles that
implement it; a profile names a provider driver (one ``GET /v2.0/service-providers`` lists)
or carries ``metainfo``. Only admins create, change and delete them; everyone reads flavors,
only admins read profiles. A profile bound to a flavor is in use: it cannot change or go.
Nothing in the sim picks a flavor when it makes a router (there are no routers).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select

from labkit.sim.neutron import models as m
from labkit.sim.neutron.db import Tx
from labkit.sim.neutron.errors import (
    binding_exists,
    binding_not_found,
    driver_not_found,
    flavor_not_found,
    invalid_service_type,
    service_profile_empty,
    service_profile_in_use,
    service_profile_not_found,
)
from labkit.sim.neutron.policy import Context, enforce_admin

# The plugin types a default Zed neutron-server loads (get_plugin_type of the core plugin
# and of DEFAULT_SERVICE_PLUGINS); the router plugin adds L3_ROUTER_NAT.
LOADED_TYPES = (
    "CORE",
    "auto-allocated-topology",
    "TAG",
    "timestamp",
    "network-ip-availability",
    "FLAVORS",
    "revision_plugin",
)
L3_TYPE = "L3_ROUTER_NAT"


def check_service_type(value: Any, l3_enabled: bool) -> None:
    """validate_service_plugin_type: a type the plugin directory has (raised, not
    reported: InvalidServiceType)."""
    if value not in LOADED_TYPES and not (l3_enabled and value == L3_TYPE):
        raise invalid_service_type(value)


def _next_order(tx: Tx, model: Any) -> int:
    return int(tx.s.scalar(select(func.max(model.order))) or 0) + 1


def _profiles_of(tx: Tx, flavor_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {i: [] for i in flavor_ids}
    if flavor_ids:
        rows = tx.s.execute(
            select(
                m.FlavorServiceProfileBinding.flavor_id,
                m.FlavorServiceProfileBinding.service_profile_id,
            ).where(m.FlavorServiceProfileBinding.flavor_id.in_(flavor_ids))
        )
        for flavor_id, profile_id in rows:
            out[flavor_id].append(profile_id)
    return out


# ---- flavors -----------------------------------------------------------------------------------


def flavor_views(tx: Tx, rows: list[m.Flavor]) -> list[dict[str, Any]]:
    profiles = _profiles_of(tx, [r.id for r in rows])
    return [
        {
            "id": r.id,
            "name": r.name,
            "description": r.description,
            "service_type": r.service_type,
            "enabled": r.enabled,
            "service_profiles": profiles[r.id],
        }
        for r in rows
    ]


def all_flavors(tx: Tx) -> list[m.Flavor]:
    return list(tx.s.scalars(select(m.Flavor).order_by(m.Flavor.order)))


def get_flavor(tx: Tx, flavor_id: str) -> m.Flavor:
    row = tx.s.get(m.Flavor, flavor_id)
    if row is None:
        raise flavor_not_found(flavor_id)
    return row


def create_flavor(tx: Tx, ctx: Context, body: dict[str, Any]) -> m.Flavor:
    """create_flavor: the given ``service_profiles`` are not bound (Neutron's create leaves
    them out: bind them with the flavor's service_profiles sub-resource)."""
    enforce_admin(ctx, "create_flavor")
    row = m.Flavor(
        id=tx.new_id(),
        name=body.get("name", ""),
        description=body.get("description", ""),
        service_type=body["service_type"],
        enabled=body.get("enabled", True),
        order=_next_order(tx, m.Flavor),
    )
    tx.s.add(row)
    tx.s.flush()
    return row


def update_flavor(tx: Tx, ctx: Context, row: m.Flavor, changes: dict[str, Any]) -> m.Flavor:
    enforce_admin(ctx, "update_flavor")
    for key in ("name", "description", "enabled"):  # service_profiles is not a field: ignored
        if key in changes:
            setattr(row, key, changes[key])
    return row


def delete_flavor(tx: Tx, ctx: Context, row: m.Flavor) -> None:
    enforce_admin(ctx, "delete_flavor")
    tx.s.execute(
        delete(m.FlavorServiceProfileBinding).where(
            m.FlavorServiceProfileBinding.flavor_id == row.id
        )
    )
    tx.s.delete(row)


def bind(tx: Tx, ctx: Context, flavor: m.Flavor, profile_id: str) -> None:
    """create_flavor_service_profile."""
    enforce_admin(ctx, "create_flavor_service_profile")
    get_profile(tx, profile_id)
    if tx.s.get(m.FlavorServiceProfileBinding, (flavor.id, profile_id)) is not None:
        raise binding_exists(profile_id, flavor.id)
    tx.s.add(m.FlavorServiceProfileBinding(flavor_id=flavor.id, service_profile_id=profile_id))
    tx.s.flush()


def unbind(tx: Tx, ctx: Context, flavor: m.Flavor, profile_id: str) -> None:
    enforce_admin(ctx, "delete_flavor_service_profile")
    row = tx.s.get(m.FlavorServiceProfileBinding, (flavor.id, profile_id))
    if row is None:
        raise binding_not_found(profile_id, flavor.id)
    tx.s.delete(row)


# ---- service profiles --------------------------------------------------------------------------


def profile_views(rows: list[m.ServiceProfile]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "description": r.description,
            "driver": r.driver,
            "enabled": r.enabled,
            "metainfo": r.metainfo,
        }
        for r in rows
    ]


def all_profiles(tx: Tx) -> list[m.ServiceProfile]:
    return list(tx.s.scalars(select(m.ServiceProfile).order_by(m.ServiceProfile.order)))


def get_profile(tx: Tx, profile_id: str) -> m.ServiceProfile:
    row = tx.s.get(m.ServiceProfile, profile_id)
    if row is None:
        raise service_profile_not_found(profile_id)
    return row


def _in_use(tx: Tx, profile_id: str) -> None:
    bound = tx.s.scalar(
        select(m.FlavorServiceProfileBinding.flavor_id).where(
            m.FlavorServiceProfileBinding.service_profile_id == profile_id
        )
    )
    if bound is not None:
        raise service_profile_in_use(profile_id)


def create_profile(
    tx: Tx, ctx: Context, body: dict[str, Any], drivers: set[str]
) -> m.ServiceProfile:
    """create_service_profile: a driver some service provider has, or else metainfo."""
    enforce_admin(ctx, "create_service_profile")
    driver = body.get("driver", "")
    if driver:
        if driver not in drivers:
            raise driver_not_found(driver)
    elif not body.get("metainfo"):
        raise service_profile_empty()
    row = m.ServiceProfile(
        id=tx.new_id(),
        description=body.get("description", ""),
        driver=driver,
        enabled=body.get("enabled", True),
        metainfo=body.get("metainfo", ""),
        order=_next_order(tx, m.ServiceProfile),
    )
    tx.s.add(row)
    tx.s.flush()
    return row


def update_profile(
    tx: Tx, ctx: Context, row: m.ServiceProfile, changes: dict[str, Any], drivers: set[str]
) -> m.ServiceProfile:
    enforce_admin(ctx, "update_service_profile")
    if changes.get("driver") and changes["driver"] not in drivers:
        raise driver_not_found(changes["driver"])
    _in_use(tx, row.id)
    for key in ("description", "driver", "enabled", "metainfo"):
        if key in changes:
            setattr(row, key, changes[key])
    return row


def delete_profile(tx: Tx, ctx: Context, row: m.ServiceProfile) -> None:
    enforce_admin(ctx, "delete_service_profile")
    _in_use(tx, row.id)
    tx.s.delete(row)
