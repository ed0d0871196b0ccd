"""Address groups: named sets of CIDRs a security group rule may name as its remote end
(``address-group``, ``security-groups-remote-address-group``).

Addresses are kept as their network and prefix length (``10.0.0.5/24`` is kept as
``10.0.0.0/24``, as Neutron's ``_process_requested_addresses`` normalises them). The
``add_addresses`` action refuses an address the group already has (``AddressesAlreadyExist``,
400) and ``remove_addresses`` one it does not have (``AddressesNotFound``, 404) -- all or
nothing. Creating, changing and deleting a group is its owner's (or an admin's: Zed has no
rules of its own for them, so the default ``admin_or_owner`` decides); a group shared by RBAC
is visible to its target. A group some rule names cannot be deleted (``AddressGroupInUse``).
The sim's firewall does not match on address groups: a rule naming one is stored and listed.
"""

from __future__ import annotations

import ipaddress
from typing import Any, cast

from sqlalchemy import delete, select

from labkit.sim.neutron import models as m
from labkit.sim.neutron import rbac
from labkit.sim.neutron.db import Tx
from labkit.sim.neutron.errors import (
    address_group_in_use,
    address_group_not_found,
    addresses_already_exist,
    addresses_not_found,
    policy_not_authorized,
)
from labkit.sim.neutron.policy import Context


def get(tx: Tx, ctx: Context, group_id: str) -> m.AddressGroup:
    row = rbac.find_visible(tx, ctx, "address_group", group_id)
    if row is None:
        raise address_group_not_found(group_id)
    return cast(m.AddressGroup, row)


def candidates(tx: Tx, ctx: Context) -> list[m.AddressGroup]:
    rows = list(tx.s.scalars(select(m.AddressGroup).order_by(m.AddressGroup.standard_attr_id)))
    return rbac.visible_rows(tx, ctx, "address_group", rows)


def addresses_of(tx: Tx, group_ids: list[str]) -> dict[str, list[str]]:
    return tx.grouped(
        m.AddressAssociation.address_group_id, m.AddressAssociation.address, group_ids
    )


def views(tx: Tx, rows: list[m.AddressGroup]) -> list[dict[str, Any]]:
    """_make_address_group_dict, as the attribute map lets it out (no ``shared``, no
    standard attributes: the address-group map lists neither)."""
    addresses = addresses_of(tx, [r.id for r in rows])
    return [
        {
            "id": r.id,
            "name": r.name,
            "project_id": r.project_id,
            "addresses": addresses[r.id],
            "description": r.description,
            "tenant_id": r.project_id,
        }
        for r in rows
    ]


def normalize(address: str) -> str:
    """``"%s/%s" % (net.network, net.prefixlen)``: host bits cleared."""
    return str(ipaddress.ip_network(address, strict=False))


def _enforce_owner(ctx: Context, row: m.AddressGroup, rule: str) -> None:
    if not (ctx.is_admin or row.project_id == ctx.project_id):
        raise policy_not_authorized(f"rule:{rule}")


def create(tx: Tx, ctx: Context, body: dict[str, Any]) -> m.AddressGroup:
    row = m.AddressGroup(
        id=tx.new_id(),
        project_id=body["project_id"],
        name=body.get("name", ""),
        description=body.get("description", ""),
        **tx.standard("address_groups"),
    )
    tx.s.add(row)
    tx.s.flush()
    if body.get("addresses"):
        change(tx, ctx, row, body["addresses"], add=True)
    return row


def update(tx: Tx, ctx: Context, row: m.AddressGroup, changes: dict[str, Any]) -> m.AddressGroup:
    _enforce_owner(ctx, row, "update_address_group")
    for key in ("name", "description"):
        if key in changes:
            setattr(row, key, changes[key])
    tx.bump(row)
    return row


def change(tx: Tx, ctx: Context, row: m.AddressGroup, addresses: list[str], add: bool) -> None:
    """add_addresses / remove_addresses: every address new (or every one there), or none."""
    _enforce_owner(ctx, row, "add_addresses" if add else "remove_addresses")
    have = set(addresses_of(tx, [row.id])[row.id])
    wanted = list(dict.fromkeys(normalize(a) for a in addresses))
    if add:
        present = [a for a in wanted if a in have]
        if present:
            raise addresses_already_exist(present, row.id)
        for address in wanted:
            tx.s.add(m.AddressAssociation(address_group_id=row.id, address=address))
    else:
        missing = [a for a in wanted if a not in have]
        if missing:
            raise addresses_not_found(missing, row.id)
        tx.s.execute(
            delete(m.AddressAssociation).where(
                m.AddressAssociation.address_group_id == row.id,
                m.AddressAssociation.address.in_(wanted),
            )
        )
    tx.s.flush()
    tx.bump(row)


def delete_group(tx: Tx, ctx: Context, row: m.AddressGroup) -> None:
    _enforce_owner(ctx, row, "delete_address_group")
    in_use = tx.s.scalar(
        select(m.SecurityGroupRule.id).where(m.SecurityGroupRule.remote_address_group_id == row.id)
    )
    if in_use is not None:
        raise address_group_in_use(row.id)
    tx.s.execute(
        delete(m.AddressAssociation).where(m.AddressAssociation.address_group_id == row.id)
    )
    rbac.forget(tx, "address_group", row.id)
    tx.delete_resource(row)


def groups_naming(tx: Tx, group_id: str) -> list[str]:
    """The security groups with a rule naming this address group: their ports' firewalls
    change with its addresses (the agents' ``address_group_updated``)."""
    query = select(m.SecurityGroupRule.security_group_id).where(
        m.SecurityGroupRule.remote_address_group_id == group_id
    )
    return sorted(set(tx.s.scalars(query)))


def check_for_rule(tx: Tx, group_id: str, project_id: str) -> None:
    """check_address_group: a rule's ``remote_address_group_id`` must be a group the rule's
    project may see (its own, or one shared with it)."""
    row = tx.s.get(m.AddressGroup, group_id)
    owner = Context(request_id="", project_id=project_id)
    if row is None or not rbac.can_reach(tx, owner, "address_group", row):
        raise address_group_not_found(group_id)
