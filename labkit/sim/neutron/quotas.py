"""Neutron's quota engine (``DbQuotaNoLockDriver``): limits per project, usage counted from
the tables, ``OverQuota`` (409) on a create that would go past a limit.

Limits come from ``[quotas]`` in neutron.conf unless a project has its own (``openstack quota
set --networks 5 PROJECT``: rows in the ``quotas`` table). A negative limit means unlimited.
Usage is counted live from the resources a project owns, so ``reserved`` is always 0.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select

from labkit.sim.neutron import models as m
from labkit.sim.neutron.db import Tx
from labkit.sim.neutron.errors import http_bad_request, over_quota

_COUNTED: dict[str, Any] = {
    "network": m.Network,
    "subnet": m.Subnet,
    "subnetpool": m.SubnetPool,
    "port": m.Port,
    "security_group": m.SecurityGroup,
    "security_group_rule": m.SecurityGroupRule,
}


_RBAC_TABLES = (
    m.NetworkRBAC,
    m.SecurityGroupRBAC,
    m.AddressScopeRBAC,
    m.SubnetPoolRBAC,
    m.AddressGroupRBAC,
)


def resources(tx: Tx) -> list[str]:
    return tx.conf.quota_resources()


def limits(tx: Tx, project_id: str) -> dict[str, int]:
    out = {r: tx.conf.default_quota(r) for r in resources(tx)}
    for row in tx.s.scalars(select(m.Quota).where(m.Quota.project_id == project_id)):
        if row.resource in out:
            out[row.resource] = row.limit
    return out


def defaults(tx: Tx) -> dict[str, int]:
    return {r: tx.conf.default_quota(r) for r in resources(tx)}


def _count(tx: Tx, model: Any, project_id: str) -> int:
    query = select(func.count()).select_from(model).where(model.project_id == project_id)
    return int(tx.s.scalar(query) or 0)


def used(tx: Tx, project_id: str, resource: str) -> int:
    model = _COUNTED.get(resource)
    if model is not None:
        return _count(tx, model, project_id)
    if resource == "rbac_policy":
        # Every RBAC entry the project owns, of any type (a shared network's '*' entry too).
        return sum(_count(tx, table, project_id) for table in _RBAC_TABLES)
    return 0


def check(tx: Tx, project_id: str, deltas: dict[str, int]) -> None:
    """Refuse with OverQuota when any resource would go past its limit."""
    limit = limits(tx, project_id)
    over = [
        resource
        for resource, delta in deltas.items()
        if delta > 0
        and limit.get(resource, -1) >= 0
        and used(tx, project_id, resource) + delta > limit[resource]
    ]
    if over:
        raise over_quota(sorted(over))


def details(tx: Tx, project_id: str) -> dict[str, dict[str, int]]:
    return {
        resource: {"limit": limit, "used": used(tx, project_id, resource), "reserved": 0}
        for resource, limit in limits(tx, project_id).items()
    }


def update(tx: Tx, project_id: str, values: dict[str, int], check_limit: bool) -> None:
    if check_limit:
        for resource, limit in values.items():
            in_use = used(tx, project_id, resource)
            if limit >= 0 and in_use > limit:
                raise http_bad_request(
                    f"Quota limit {limit} for {resource} must be greater than or equal to "
                    f"already used {in_use}"
                )
    for resource, limit in values.items():
        row = tx.s.scalars(
            select(m.Quota).where(m.Quota.project_id == project_id, m.Quota.resource == resource)
        ).first()
        if row is None:
            tx.s.add(m.Quota(project_id=project_id, resource=resource, limit=limit))
        else:
            row.limit = limit


def reset(tx: Tx, project_id: str) -> None:
    tx.s.execute(delete(m.Quota).where(m.Quota.project_id == project_id))


def projects_with_quotas(tx: Tx) -> list[str]:
    return list(tx.s.scalars(select(m.Quota.project_id).distinct().order_by(m.Quota.project_id)))
