"""Address scopes: sets of subnet pools whose prefixes never overlap (``address-scope``).

A scope has a name, an IP version and an owner; subnet pools join it through their
``address_scope_id`` (:mod:`.subnetpools` checks the joining), and a network shows the scope
of its subnets' pools as ``ipv4_address_scope`` / ``ipv6_address_scope``. ``shared`` is an
RBAC entry for ``*`` (:mod:`.rbac`): only an admin sets it, and a shared scope cannot be
unshared by an update (``AddressScopeUpdateError``). A scope some pool is in cannot be
deleted (``AddressScopeInUse``). Nothing routes in the sim, so a scope changes no traffic.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import func, select

from labkit.sim.neutron import models as m
from labkit.sim.neutron import policy, rbac
from labkit.sim.neutron.db import Tx
from labkit.sim.neutron.errors import (
    address_scope_in_use,
    address_scope_not_found,
    address_scope_update_error,
)
from labkit.sim.neutron.policy import Context

SCOPE_DEFAULTS = {"shared": False}


def get(tx: Tx, ctx: Context, scope_id: str) -> m.AddressScope:
    """_get_address_scope: the owner's, an admin's, or one shared with the caller."""
    row = rbac.find_visible(tx, ctx, "address_scope", scope_id)
    if row is None:
        raise address_scope_not_found(scope_id)
    return cast(m.AddressScope, row)


def candidates(tx: Tx, ctx: Context) -> list[m.AddressScope]:
    rows = list(tx.s.scalars(select(m.AddressScope).order_by(m.AddressScope.order)))
    return rbac.visible_rows(tx, ctx, "address_scope", rows)


def views(tx: Tx, ctx: Context, rows: list[m.AddressScope]) -> list[dict[str, Any]]:
    shared = rbac.shown_shared(tx, "address_scope", [r.id for r in rows], ctx.project_id)
    return [
        {
            "id": r.id,
            "name": r.name,
            "tenant_id": r.project_id,
            "shared": r.id in shared,
            "ip_version": r.ip_version,
            "project_id": r.project_id,
        }
        for r in rows
    ]


def create(tx: Tx, ctx: Context, body: dict[str, Any]) -> m.AddressScope:
    policy.enforce_create(ctx, "address_scope", body, SCOPE_DEFAULTS)
    last = tx.s.scalar(select(func.max(m.AddressScope.order))) or 0
    row = m.AddressScope(
        id=tx.new_id(),
        project_id=body["project_id"],
        name=body.get("name", ""),
        ip_version=body["ip_version"],
        order=last + 1,
    )
    tx.s.add(row)
    tx.s.flush()
    if body.get("shared"):
        rbac.open_to_all(tx, "address_scope", row.id, row.project_id)
    return row


def update(tx: Tx, ctx: Context, row: m.AddressScope, changes: dict[str, Any]) -> m.AddressScope:
    policy.enforce_update(ctx, "address_scope", {"project_id": row.project_id}, changes)
    shared_now = rbac.shared_with(tx, "address_scope", row.id, rbac.WILDCARD)
    if "shared" in changes and shared_now and not changes["shared"]:
        raise address_scope_update_error(row.id, "Shared address scope can't be unshared")
    if "name" in changes:
        row.name = changes["name"]
    if changes.get("shared") and not shared_now:
        rbac.open_to_all(tx, "address_scope", row.id, row.project_id)
    return row


def delete(tx: Tx, ctx: Context, row: m.AddressScope) -> None:
    policy.enforce_delete(ctx, "address_scope", row.project_id)
    in_use = tx.s.scalar(select(m.SubnetPool.id).where(m.SubnetPool.address_scope_id == row.id))
    if in_use is not None:
        raise address_scope_in_use(row.id)
    rbac.forget(tx, "address_scope", row.id)
    tx.s.delete(row)


def of_pools(tx: Tx, pool_ids: set[str]) -> dict[str, tuple[int, str | None]]:
    """Each pool's IP version and address scope (a network's ``ipvN_address_scope``)."""
    if not pool_ids:
        return {}
    rows = tx.s.execute(
        select(m.SubnetPool.id, m.SubnetPool.ip_version, m.SubnetPool.address_scope_id).where(
            m.SubnetPool.id.in_(pool_ids)
        )
    )
    return {pool_id: (version, scope) for pool_id, version, scope in rows}
