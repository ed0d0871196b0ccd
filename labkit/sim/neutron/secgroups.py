"""Security groups: each project's ``default`` group, and which groups a port gets.

Neutron creates a project's ``default`` security group the first time the project needs
one -- when it creates a network or a port, or lists security groups -- with four rules:
ingress from members of the same group and egress anywhere, each for IPv4 and IPv6. A port
gets its project's default group unless it names its own groups, or belongs to the network
itself (``network:dhcp`` ...), which security groups never filter.

Full create/update/delete of groups and rules is the next step; the tables and views are
ready for it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from labkit.sim.neutron import models as m
from labkit.sim.neutron import quotas
from labkit.sim.neutron.db import Tx
from labkit.sim.neutron.errors import security_group_not_found, security_group_rule_not_found
from labkit.sim.neutron.policy import Context

DEFAULT_DESCRIPTION = "Default security group"
ETHERTYPES = ("IPv4", "IPv6")


def default_group_id(tx: Tx, project_id: str) -> str | None:
    row = tx.s.get(m.DefaultSecurityGroup, project_id)
    return row.security_group_id if row else None


def ensure_default(tx: Tx, ctx: Context, project_id: str) -> str | None:
    """_ensure_default_security_group: the project's default group, created if missing.
    Nobody but an admin makes one for another project (bug 1987410)."""
    if not project_id or (project_id != ctx.project_id and not ctx.is_admin):
        return None
    found = default_group_id(tx, project_id)
    if found:
        return found
    quotas.check(tx, project_id, {"security_group_rule": 2 * len(ETHERTYPES)})
    group = m.SecurityGroup(
        id=tx.new_id(),
        project_id=project_id,
        name="default",
        stateful=True,
        description=DEFAULT_DESCRIPTION,
        **tx.standard("securitygroups"),
    )
    tx.s.add(group)
    tx.s.flush()
    tx.s.add(m.DefaultSecurityGroup(project_id=project_id, security_group_id=group.id))
    for ethertype in ETHERTYPES:
        for direction, remote in (("ingress", group.id), ("egress", None)):
            tx.s.add(
                m.SecurityGroupRule(
                    id=tx.new_id(),
                    project_id=project_id,
                    security_group_id=group.id,
                    remote_group_id=remote,
                    direction=direction,
                    ethertype=ethertype,
                    description="",
                    **tx.standard("securitygrouprules"),
                )
            )
    tx.s.flush()
    return group.id


def groups_for_port(tx: Tx, project_id: str, wanted: list[str]) -> list[str]:
    """The groups a port of ``project_id`` names must exist and be that project's."""
    missing = []
    for group_id in wanted:
        row = tx.s.get(m.SecurityGroup, group_id)
        if row is None or row.project_id != project_id:
            missing.append(group_id)
    if missing:
        raise security_group_not_found(", ".join(missing))
    return list(wanted)


def visible_groups(tx: Tx, ctx: Context) -> list[m.SecurityGroup]:
    query = select(m.SecurityGroup).order_by(m.SecurityGroup.standard_attr_id)
    if not ctx.is_admin:
        query = query.where(m.SecurityGroup.project_id == ctx.project_id)
    return list(tx.s.scalars(query))


def visible_rules(tx: Tx, ctx: Context) -> list[m.SecurityGroupRule]:
    query = select(m.SecurityGroupRule).order_by(m.SecurityGroupRule.standard_attr_id)
    if not ctx.is_admin:
        owned = select(m.SecurityGroup.id).where(m.SecurityGroup.project_id == ctx.project_id)
        query = query.where(
            (m.SecurityGroupRule.project_id == ctx.project_id)
            | m.SecurityGroupRule.security_group_id.in_(owned)
        )
    return list(tx.s.scalars(query))


def get_group(tx: Tx, ctx: Context, group_id: str) -> m.SecurityGroup:
    row = tx.s.get(m.SecurityGroup, group_id)
    if row is None or not (ctx.is_admin or row.project_id == ctx.project_id):
        raise security_group_not_found(group_id)
    return row


def get_rule(tx: Tx, ctx: Context, rule_id: str) -> m.SecurityGroupRule:
    row = tx.s.get(m.SecurityGroupRule, rule_id)
    if row is None:
        raise security_group_rule_not_found(rule_id)
    group = tx.s.get(m.SecurityGroup, row.security_group_id)
    owner = group.project_id if group else ""
    if not (ctx.is_admin or row.project_id == ctx.project_id or owner == ctx.project_id):
        raise security_group_rule_not_found(rule_id)
    return row


def bind_port(tx: Tx, port_id: str, group_ids: list[str]) -> None:
    existing = tx.s.scalars(
        select(m.SecurityGroupPortBinding).where(m.SecurityGroupPortBinding.port_id == port_id)
    )
    for binding in list(existing):
        tx.s.delete(binding)
    tx.s.flush()
    for group_id in dict.fromkeys(group_ids):
        tx.s.add(m.SecurityGroupPortBinding(port_id=port_id, security_group_id=group_id))


def project_filter(filters: dict[str, list[Any]], ctx: Context) -> str:
    """The project whose default group a list makes sure of (get_security_groups)."""
    wanted = filters.get("project_id") or []
    return str(wanted[0]) if wanted else ctx.project_id
