"""Subnet pools: prefixes a subnet's CIDR is cut from (Neutron's core ``subnetpools``).

A pool holds one or more prefixes of one IP version (``openstack subnet pool create
--pool-prefix 203.0.113.0/24 --default-prefix-length 26 pool``); a subnet created with
``subnetpool_id`` and no CIDR gets the first free block of ``prefixlen`` (or the pool's
``default_prefixlen``) -- the smallest free range that fits, as Neutron's ``SubnetAllocator``
chooses it; one created with a CIDR must lie inside the pool's free space.

What Neutron checks, in its order and with its texts (``SubnetPoolReader``):

- prefixes: at least one, all of one IP version; overlapping ones are merged
  (``10.0.0.0/24`` and ``10.0.0.0/16`` -> ``10.0.0.0/16``);
- prefix lengths: ``min_prefixlen`` defaults to 8 (IPv4) or 64 (IPv6), ``max_prefixlen`` to
  32 or 128, ``default_prefixlen`` to the minimum; ``min <= default <= max <= 32|128``;
- one default pool (``is_default``) per IP version; ``shared`` and ``is_default`` are
  admin-only;
- an update may add prefixes, never drop one (``Existing prefixes must be a subset of the
  new prefixes``); a pool with subnets cannot be deleted;
- ``default_quota`` limits how many addresses (IPv4: /32 units, IPv6: /64 units) one
  project's subnets may take from the pool.

A pool may join an address scope of its IP version that the caller owns (a shared scope is
seen but not joined: ``IllegalSubnetPoolAssociationToAddressScope``), and pools of one scope
never overlap (``AddressScopePrefixConflict``). ``shared`` is an RBAC entry for ``*``
(:mod:`.rbac`); a pool shared with one project is visible to it. Neutron shows
the prefix lengths as strings on show, list and create, and as numbers in an update's answer
(``update_subnetpool`` returns its own dict); the sim answers the same.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import delete, select

from labkit.sim.neutron import address_scopes, ipam, policy, quotas, rbac
from labkit.sim.neutron import models as m
from labkit.sim.neutron.attributes import NOT_SPECIFIED
from labkit.sim.neutron.db import Tx
from labkit.sim.neutron.errors import (
    address_scope_prefix_conflict,
    empty_prefix_list,
    illegal_prefix_bounds,
    illegal_prefix_update,
    illegal_scope_association,
    illegal_scope_version,
    illegal_subnetpool_update,
    invalid_input,
    max_prefix_allocation,
    min_prefix_allocation,
    network_not_found,
    policy_not_authorized,
    prefix_version_mismatch,
    subnet_allocation_error,
    subnetpool_delete_error,
    subnetpool_not_found,
    subnetpool_quota_exceeded,
    unsupported_min_prefix,
)
from labkit.sim.neutron.policy import Context

# SubnetPoolHelper._PREFIX_VERSION_INFO: bits, the default minimum, the quota unit.
VERSION_INFO = {4: (32, 8, 32), 6: (128, 64, 64)}
POOL_DEFAULTS = {"shared": False, "is_default": False}


def find(tx: Tx, pool_id: str) -> m.SubnetPool | None:
    return tx.s.get(m.SubnetPool, pool_id)


def visible(tx: Tx, ctx: Context, row: m.SubnetPool) -> bool:
    """get_subnetpool: an admin, the owner, or a project it is shared with (or everyone)."""
    return rbac.can_reach(tx, ctx, "subnetpool", row)


def get(tx: Tx, ctx: Context, pool_id: str) -> m.SubnetPool:
    row = find(tx, pool_id)
    if row is None or not visible(tx, ctx, row):
        raise subnetpool_not_found(pool_id)
    return row


def candidates(tx: Tx, ctx: Context) -> list[m.SubnetPool]:
    rows = list(tx.s.scalars(select(m.SubnetPool).order_by(m.SubnetPool.standard_attr_id)))
    return rbac.visible_rows(tx, ctx, "subnetpool", rows)


def prefixes_of(tx: Tx, pool_ids: list[str]) -> dict[str, list[str]]:
    """Each pool's prefixes, in address order (as netaddr's IPSet lists them)."""
    out: dict[str, list[str]] = {i: [] for i in pool_ids}
    if pool_ids:
        rows = tx.s.execute(
            select(m.SubnetPoolPrefix.subnetpool_id, m.SubnetPoolPrefix.cidr).where(
                m.SubnetPoolPrefix.subnetpool_id.in_(pool_ids)
            )
        )
        for pool_id, cidr in rows:
            out[pool_id].append(cidr)
    for cidrs in out.values():
        cidrs.sort(key=lambda c: (ipam.network(c).network_address, ipam.network(c).prefixlen))
    return out


def compact(prefixes: list[str]) -> list[str]:
    """_compact_subnetpool_prefix_list: overlapping and adjacent prefixes merged."""
    nets = [ipam.network(p) for p in prefixes]
    merged = ipaddress.collapse_addresses(nets)  # type: ignore[type-var]
    return [str(n) for n in merged]


# ---- SubnetPoolReader ------------------------------------------------------------------------


def _read(body: dict[str, Any]) -> dict[str, Any]:
    """The pool's attributes as SubnetPoolReader reads and checks them, in its order."""
    prefixes = body.get("prefixes") or []
    if not prefixes:
        raise empty_prefix_list()
    versions = {ipam.network(p).version for p in prefixes}
    if len(versions) > 1:
        raise prefix_version_mismatch()
    ip_version = versions.pop()
    bits, default_min, _unit = VERSION_INFO[ip_version]
    default_quota = body.get("default_quota", NOT_SPECIFIED)
    min_len = _bound(body, "min_prefixlen", default_min)
    max_len = _bound(body, "max_prefixlen", bits)
    default_len = _bound(body, "default_prefixlen", min_len)
    if min_len < 0:
        raise unsupported_min_prefix(min_len, 4)
    if min_len > max_len:
        raise illegal_prefix_bounds("min_prefixlen", min_len, "max_prefixlen", max_len)
    if max_len > bits:
        raise illegal_prefix_bounds("max_prefixlen", max_len, "ip_version_max", bits)
    if default_len < min_len:
        raise illegal_prefix_bounds("default_prefixlen", default_len, "min_prefixlen", min_len)
    if default_len > max_len:
        raise illegal_prefix_bounds("default_prefixlen", default_len, "max_prefixlen", max_len)
    scope = body.get("address_scope_id", NOT_SPECIFIED)
    return {
        "ip_version": ip_version,
        "prefixes": compact(prefixes),
        "default_quota": None if default_quota is NOT_SPECIFIED else default_quota,
        "min_prefixlen": min_len,
        "max_prefixlen": max_len,
        "default_prefixlen": default_len,
        "address_scope_id": None if scope is NOT_SPECIFIED else scope,
    }


def _bound(body: dict[str, Any], key: str, default: int) -> int:
    """_read_prefix_bound: the given length, else the default (a falsy default -- a
    ``default_prefixlen`` following ``min_prefixlen = 0`` -- leaves it unset in Neutron,
    which then fails its own comparison; the sim takes 0)."""
    value = body.get(key, NOT_SPECIFIED)
    if value is NOT_SPECIFIED or value is None:
        return default
    return int(value)


def _check_scope(
    tx: Tx, ctx: Context, scope_id: str | None, pool_id: str, ip_version: int, prefixes: list[str]
) -> None:
    """_validate_address_scope_id: the scope must be the caller's (a shared one is seen but
    not joined), of the pool's IP version, and no other pool in it may overlap this one."""
    if scope_id is None:
        return
    scope = address_scopes.get(tx, ctx, scope_id)
    if not (ctx.is_admin or scope.project_id == ctx.project_id):
        raise illegal_scope_association(pool_id, scope_id)
    if scope.ip_version != ip_version:
        raise illegal_scope_version(pool_id, scope_id, scope.ip_version)
    mine = [ipam.network(p) for p in prefixes]
    others = select(m.SubnetPool.id).where(
        m.SubnetPool.address_scope_id == scope_id, m.SubnetPool.id != pool_id
    )
    for other in prefixes_of(tx, list(tx.s.scalars(others))).values():
        if any(ipam.network(c).overlaps(n) for c in other for n in mine):
            raise address_scope_prefix_conflict()


def _check_default(tx: Tx, ip_version: int, except_id: str = "") -> None:
    """One default pool per IP family."""
    query = select(m.SubnetPool.id).where(
        m.SubnetPool.is_default.is_(True), m.SubnetPool.ip_version == ip_version
    )
    if any(pool_id != except_id for pool_id in tx.s.scalars(query)):
        raise invalid_input(
            "A default subnetpool for this IP family has already been set. Only one default "
            "may exist per IP family"
        )


def _set_prefixes(tx: Tx, pool_id: str, prefixes: list[str]) -> None:
    tx.s.execute(delete(m.SubnetPoolPrefix).where(m.SubnetPoolPrefix.subnetpool_id == pool_id))
    for cidr in prefixes:
        tx.s.add(m.SubnetPoolPrefix(subnetpool_id=pool_id, cidr=cidr))


# ---- create, update, delete --------------------------------------------------------------------


def create(tx: Tx, ctx: Context, body: dict[str, Any]) -> m.SubnetPool:
    project = body["project_id"]
    quotas.check(tx, project, {"subnetpool": 1})
    policy.enforce_create(ctx, "subnetpool", body, POOL_DEFAULTS)
    read = _read(body)
    is_default = bool(body.get("is_default", False))
    if is_default:
        _check_default(tx, read["ip_version"])
    pool_id = tx.new_id()
    _check_scope(tx, ctx, read["address_scope_id"], pool_id, read["ip_version"], read["prefixes"])
    row = m.SubnetPool(
        id=pool_id,
        project_id=project,
        name=body.get("name", ""),
        ip_version=read["ip_version"],
        default_prefixlen=read["default_prefixlen"],
        min_prefixlen=read["min_prefixlen"],
        max_prefixlen=read["max_prefixlen"],
        shared=bool(body.get("shared", False)),
        is_default=is_default,
        default_quota=read["default_quota"],
        address_scope_id=read["address_scope_id"],
        description=body.get("description", ""),
        **tx.standard("subnetpools"),
    )
    tx.s.add(row)
    tx.s.flush()
    _set_prefixes(tx, row.id, read["prefixes"])
    if row.shared:
        rbac.open_to_all(tx, "subnetpool", row.id, project)
    return row


def update(tx: Tx, ctx: Context, row: m.SubnetPool, changes: dict[str, Any]) -> m.SubnetPool:
    """_update_subnetpool_dict, then the reader's checks over the merged pool."""
    policy.enforce_update(ctx, "subnetpool", {"project_id": row.project_id}, changes)
    old = prefixes_of(tx, [row.id])[row.id]
    merged: dict[str, Any] = {
        "prefixes": old,
        "min_prefixlen": row.min_prefixlen,
        "max_prefixlen": row.max_prefixlen,
        "default_prefixlen": row.default_prefixlen,
        "default_quota": row.default_quota,
        "address_scope_id": row.address_scope_id,
    }
    merged.update({k: v for k, v in changes.items() if k in merged})
    if "prefixes" in changes:
        new = [ipam.network(p) for p in changes["prefixes"]]
        for prefix in (ipam.network(p) for p in old):
            if not any(
                prefix.version == n.version and prefix.subnet_of(n)  # type: ignore[arg-type]
                for n in new
            ):
                raise illegal_prefix_update(
                    "Existing prefixes must be a subset of the new prefixes"
                )
    read = _read(merged)
    is_default = bool(changes.get("is_default", row.is_default))
    if is_default and not row.is_default:
        _check_default(tx, read["ip_version"], row.id)
    if read["address_scope_id"] != row.address_scope_id or "prefixes" in changes:
        _check_scope(
            tx, ctx, read["address_scope_id"], row.id, read["ip_version"], read["prefixes"]
        )
    for key in ("name", "description"):
        if key in changes:
            setattr(row, key, changes[key])
    row.is_default = is_default
    for key in ("min_prefixlen", "max_prefixlen", "default_prefixlen", "default_quota"):
        setattr(row, key, read[key])
    row.address_scope_id = read["address_scope_id"]
    _set_prefixes(tx, row.id, read["prefixes"])
    tx.bump(row)
    return row


def change_prefixes(
    tx: Tx, ctx: Context, row: m.SubnetPool, prefixes: list[str], add: bool
) -> list[str]:
    """The ``add_prefixes`` / ``remove_prefixes`` actions (subnetpool-prefix-ops)."""
    action = "add_prefixes" if add else "remove_prefixes"
    if not (ctx.is_admin or row.project_id == ctx.project_id):  # admin or owner
        raise policy_not_authorized(f"rule:{action}")
    current = prefixes_of(tx, [row.id])[row.id]
    if not prefixes:
        return current
    if add:
        update(tx, ctx, row, {"prefixes": current + prefixes})
        return prefixes_of(tx, [row.id])[row.id]
    removal = [ipam.network(p) for p in prefixes]
    if not any(ipam.overlaps(str(r), c) for r in removal for c in current):
        return current
    allocated = list(tx.s.scalars(select(m.Subnet.cidr).where(m.Subnet.subnetpool_id == row.id)))
    if any(ipam.overlaps(str(r), c) for r in removal for c in allocated):
        raise illegal_prefix_update("One or more the prefixes to be removed is in use by a subnet.")
    remaining = _subtract([ipam.network(c) for c in current], removal)
    _set_prefixes(tx, row.id, compact([str(n) for n in remaining]))
    tx.bump(row)
    return prefixes_of(tx, [row.id])[row.id]


def onboard(tx: Tx, ctx: Context, row: m.SubnetPool, network_id: Any) -> list[dict[str, str]]:
    """``onboard_network_subnets`` (subnet_onboard): the network's subnets of the pool's IP
    version join the pool, their CIDRs become its prefixes; one that overlaps what the pool
    has allocated refuses the whole change."""
    if not (ctx.is_admin or row.project_id == ctx.project_id):
        raise policy_not_authorized("rule:onboard_network_subnets")
    if network_id is NOT_SPECIFIED or network_id is None:
        raise invalid_input("network_id must be specified.")
    network = (
        rbac.find_visible(tx, ctx, "network", network_id) if isinstance(network_id, str) else None
    )
    if network is None:
        raise network_not_found(str(network_id))
    joining = list(
        tx.s.scalars(
            select(m.Subnet)
            .where(m.Subnet.network_id == network.id, m.Subnet.ip_version == row.ip_version)
            .order_by(m.Subnet.standard_attr_id)
        )
    )
    allocated = list(tx.s.scalars(select(m.Subnet.cidr).where(m.Subnet.subnetpool_id == row.id)))
    for subnet in joining:
        if any(ipam.overlaps(subnet.cidr, cidr) for cidr in allocated):
            raise illegal_subnetpool_update(
                f"Onboarding subnet {subnet.id}: {subnet.cidr} conflicts with allocated "
                f"prefixes in subnet pool {row.id}"
            )
    current = prefixes_of(tx, [row.id])[row.id]
    update(tx, ctx, row, {"prefixes": current + [s.cidr for s in joining]})
    for subnet in joining:
        subnet.subnetpool_id = row.id
        tx.bump(subnet)
    return [{"id": s.id, "cidr": s.cidr} for s in joining]


def delete_pool(tx: Tx, ctx: Context, row: m.SubnetPool) -> None:
    policy.enforce_delete(ctx, "subnetpool", row.project_id)
    in_use = tx.s.scalars(select(m.Subnet.id).where(m.Subnet.subnetpool_id == row.id)).first()
    if in_use is not None:
        raise subnetpool_delete_error("Subnet pool has existing allocations")
    tx.s.execute(delete(m.SubnetPoolPrefix).where(m.SubnetPoolPrefix.subnetpool_id == row.id))
    rbac.forget(tx, "subnetpool", row.id)
    tx.delete_resource(row)


# ---- allocating a subnet from a pool (SubnetAllocator) ---------------------------------------


def default_for(tx: Tx, ip_version: int) -> m.SubnetPool | None:
    return tx.s.scalars(
        select(m.SubnetPool).where(
            m.SubnetPool.is_default.is_(True), m.SubnetPool.ip_version == ip_version
        )
    ).first()


def _subtract(space: list[ipam.Network], taken: list[ipam.Network]) -> list[ipam.Network]:
    """IPSet difference: what of ``space`` no network of ``taken`` covers."""
    free = list(space)
    for used in taken:
        nxt: list[ipam.Network] = []
        for block in free:
            if block.version != used.version or not block.overlaps(used):
                nxt.append(block)
            elif block.subnet_of(used):  # type: ignore[arg-type]
                continue
            else:
                nxt.extend(block.address_exclude(used))  # type: ignore[arg-type]
        free = nxt
    return free


def _available(tx: Tx, pool: m.SubnetPool) -> list[ipam.Network]:
    """_get_available_prefix_list: the free blocks, smallest first (longest prefix)."""
    space = [ipam.network(c) for c in prefixes_of(tx, [pool.id])[pool.id]]
    taken = [
        ipam.network(c)
        for c in tx.s.scalars(select(m.Subnet.cidr).where(m.Subnet.subnetpool_id == pool.id))
    ]
    free = [ipam.network(str(n)) for n in ipaddress.collapse_addresses(_subtract(space, taken))]  # type: ignore[type-var]
    return sorted(free, key=lambda n: n.prefixlen, reverse=True)


def _check_quota(tx: Tx, pool: m.SubnetPool, project_id: str, prefixlen: int) -> None:
    if not pool.default_quota:
        return
    unit = VERSION_INFO[pool.ip_version][2]
    used = sum(
        2 ** (unit - ipam.network(c).prefixlen)
        for c in tx.s.scalars(
            select(m.Subnet.cidr).where(
                m.Subnet.subnetpool_id == pool.id, m.Subnet.project_id == project_id
            )
        )
    )
    if used + 2 ** (unit - prefixlen) > pool.default_quota:
        raise subnetpool_quota_exceeded()


def allocate(tx: Tx, pool: m.SubnetPool, project_id: str, cidr: str | None, prefixlen: Any) -> str:
    """The subnet's CIDR: ``cidr`` checked against the pool's free space, or the first
    free block of ``prefixlen`` (the pool's default when not given)."""
    if cidr is not None:
        wanted = ipam.network(cidr).prefixlen
    elif prefixlen is NOT_SPECIFIED or prefixlen is None:
        wanted = pool.default_prefixlen
    else:
        wanted = int(prefixlen)
    if wanted > pool.max_prefixlen:
        raise max_prefix_allocation(wanted, pool.max_prefixlen)
    if wanted < pool.min_prefixlen:
        raise min_prefix_allocation(wanted, pool.min_prefixlen)
    _check_quota(tx, pool, project_id, wanted)
    free = _available(tx, pool)
    if cidr is not None:
        net = ipam.network(cidr)
        holders = [
            b
            for b in free
            if b.version == net.version and net.subnet_of(b)  # type: ignore[arg-type]
        ]
        if len(holders) == 1:
            return str(net)
        raise subnet_allocation_error(
            "Cannot allocate requested subnet from the available set of prefixes"
        )
    for block in free:
        if wanted >= block.prefixlen:
            return str(next(block.subnets(new_prefix=wanted)))
    raise subnet_allocation_error(f"Insufficient prefix space to allocate subnet size /{wanted}")
