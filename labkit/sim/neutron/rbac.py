"""RBAC policies: who else may use a network, subnet pool, address scope, address group or
security group (Neutron's ``rbac-policies`` extension and the tables behind ``shared``).

An entry says: the owner of object X lets project T (or every project, ``*``) use it, as
``access_as_shared`` or -- for networks -- ``access_as_external``. ``shared=True`` on a
network or subnet pool *is* such an entry for ``*``: creating the network makes it, setting
``shared`` to false deletes it, and the ``shared`` column the sim keeps beside (Neutron
computes it) mirrors whether it exists. What an entry does:

- a network is visible to T (and its subnets, for ``access_as_shared``), shows
  ``shared: true`` to T, and T may create ports and subnets on it;
- an ``access_as_external`` entry makes the network external (``router:external``) when it
  was not, and deleting the last one makes it internal again;
- a subnet pool, address scope, address group or security group becomes visible to T and
  shows ``shared``; T may use a shared security group on its ports (not add rules to it).

Neutron's own checks, in its order and with its texts: the caller must own the object (or be
an admin) to share it -- the callbacks' ``InvalidInput``, wrapped as a failed callback; only an
admin shares with ``*`` (the ``create_rbac_policy:target_tenant`` rule); one entry per
(object, target, action) (``DuplicateRbacPolicy``); a project that still has ports on a
network (or subnets from a pool ...) keeps the entry it depends on (``RbacPolicyInUse``).

Not emulated: QoS policies exist in no form (``qos_policy`` is a valid type that finds no
object).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select

from labkit.sim.neutron import models as m
from labkit.sim.neutron import policy, quotas
from labkit.sim.neutron.db import Tx
from labkit.sim.neutron.errors import (
    duplicate_rbac_policy,
    invalid_action_for_type,
    invalid_input,
    invalid_shared_setting,
    network_not_found,
    rbac_policy_in_use,
    rbac_policy_not_found,
)
from labkit.sim.neutron.policy import Context

SHARED = "access_as_shared"
EXTERNAL = "access_as_external"
WILDCARD = "*"

# get_type_model_map, in Neutron's order (RBACColumns' subclasses); qos_policy is a valid
# type although no QoS policy can exist without the qos service plugin.
MODELS: dict[str, Any] = {
    "network": m.NetworkRBAC,
    "qos_policy": None,
    "security_group": m.SecurityGroupRBAC,
    "address_scope": m.AddressScopeRBAC,
    "subnetpool": m.SubnetPoolRBAC,
    "address_group": m.AddressGroupRBAC,
}
# The object tables, and the OVO class whose callback looks the object up.
OBJECTS: dict[str, tuple[Any, str]] = {
    "network": (m.Network, "neutron.objects.network.Network"),
    "qos_policy": (None, "neutron.objects.qos.policy.QosPolicy"),
    "security_group": (m.SecurityGroup, "neutron.objects.securitygroup.SecurityGroup"),
    "address_scope": (m.AddressScope, "neutron.objects.address_scope.AddressScope"),
    "subnetpool": (m.SubnetPool, "neutron.objects.subnetpool.SubnetPool"),
    "address_group": (m.AddressGroup, "neutron.objects.address_group.AddressGroup"),
}
NETWORK_CALLBACK = (
    "neutron.db.db_base_plugin_v2.NeutronDbPluginV2.validate_network_rbac_policy_change"
)
EXTERNAL_CALLBACK = "neutron.plugins.ml2.plugin.Ml2Plugin._process_ext_policy_create"


def valid_actions(object_type: str) -> tuple[str, ...]:
    """get_valid_actions: networks may also be shared as external (external-net is loaded)."""
    return (SHARED, EXTERNAL) if object_type == "network" else (SHARED,)


def convert_object_type(value: Any) -> str:
    """convert_valid_object_type: stripped, lower-cased, one of the RBAC tables' types."""
    normalized = value.strip().lower() if isinstance(value, str) else value
    if normalized not in MODELS:
        raise invalid_input(f"'{value}' is not a valid RBAC object type")
    return str(normalized)


# ---- what entries open to a project -----------------------------------------------------------


def reachable(tx: Tx, object_type: str, project_id: str, action: str | None = None) -> set[str]:
    """Ids of the objects of this type an entry opens to ``project_id`` or to everyone."""
    model = MODELS[object_type]
    query = select(model.object_id).where(model.target_project.in_((project_id, WILDCARD)))
    if action is not None:
        query = query.where(model.action == action)
    return set(tx.s.scalars(query))


def can_reach(tx: Tx, ctx: Context, object_type: str, row: Any) -> bool:
    """Whether the caller sees the object: an admin, its owner, or a project an entry opens
    it to -- for networks an entry of either action (the shared and external query hooks),
    for the other types an ``access_as_shared`` one."""
    if ctx.is_admin or row.project_id == ctx.project_id:
        return True
    model = MODELS[object_type]
    query = select(model.id).where(
        model.object_id == row.id, model.target_project.in_((ctx.project_id, WILDCARD))
    )
    if object_type != "network":
        query = query.where(model.action == SHARED)
    return tx.s.scalar(query) is not None


def find_visible(tx: Tx, ctx: Context, object_type: str, object_id: str) -> Any:
    """The object of this type with this id if the caller may see it (:func:`can_reach`),
    else None -- the caller raises its own NotFound."""
    row = tx.s.get(OBJECTS[object_type][0], object_id)
    return row if row is not None and can_reach(tx, ctx, object_type, row) else None


def visible_rows(tx: Tx, ctx: Context, object_type: str, rows: list[Any]) -> list[Any]:
    """Of ``rows`` (objects of this type), those :func:`can_reach` lets the caller see --
    with one query for all of them."""
    if ctx.is_admin:
        return rows
    action = None if object_type == "network" else SHARED
    opened = reachable(tx, object_type, ctx.project_id, action)
    return [r for r in rows if r.project_id == ctx.project_id or r.id in opened]


def shared_with(tx: Tx, object_type: str, object_id: str, project_id: str) -> bool:
    """is_shared_with_project: an ``access_as_shared`` entry for the project or ``*``."""
    model = MODELS[object_type]
    found = tx.s.scalar(
        select(model.id).where(
            model.object_id == object_id,
            model.action == SHARED,
            model.target_project.in_((project_id, WILDCARD)),
        )
    )
    return found is not None


def shown_shared(tx: Tx, object_type: str, ids: list[str], project_id: str) -> set[str]:
    """Of ``ids``, those whose ``shared`` reads true to ``project_id`` (Neutron computes it
    per caller: a network shared with one project is ``shared`` to that project only)."""
    if not ids:
        return set()
    model = MODELS[object_type]
    return set(
        tx.s.scalars(
            select(model.object_id).where(
                model.object_id.in_(ids),
                model.action == SHARED,
                model.target_project.in_((project_id, WILDCARD)),
            )
        )
    )


# ---- entries made and removed by the objects themselves ---------------------------------------


def _add(tx: Tx, object_type: str, object_id: str, owner: str, target: str, action: str) -> Any:
    model = MODELS[object_type]
    row = model(
        id=tx.new_id(), project_id=owner, target_project=target, action=action, object_id=object_id
    )
    tx.s.add(row)
    tx.s.flush()
    _mirror(tx, object_type, object_id)
    return row


def open_to_all(tx: Tx, object_type: str, object_id: str, owner: str, action: str = SHARED) -> None:
    """``shared=True`` (or ``router:external=True``) on create or update: the ``*`` entry."""
    model = MODELS[object_type]
    exists = tx.s.scalar(
        select(model.id).where(
            model.object_id == object_id, model.action == action, model.target_project == WILDCARD
        )
    )
    if exists is None:
        _add(tx, object_type, object_id, owner, WILDCARD, action)


def close_to_all(tx: Tx, object_type: str, object_id: str, action: str, every: bool) -> None:
    """``shared=False``: the ``*`` entry goes; ``router:external=False``: every external
    entry goes (``every``)."""
    model = MODELS[object_type]
    query = delete(model).where(model.object_id == object_id, model.action == action)
    if not every:
        query = query.where(model.target_project == WILDCARD)
    tx.s.execute(query)
    _mirror(tx, object_type, object_id)


def forget(tx: Tx, object_type: str, object_id: str) -> None:
    """The object is deleted: so are its entries (ON DELETE CASCADE in Neutron)."""
    model = MODELS[object_type]
    tx.s.execute(delete(model).where(model.object_id == object_id))


def _mirror(tx: Tx, object_type: str, object_id: str) -> None:
    """Keep the object's ``shared`` (and a network's ``external``) columns in step with its
    ``*`` shared entry (and its external entries)."""
    model = MODELS[object_type]
    table = OBJECTS[object_type][0]
    row = tx.s.get(table, object_id) if table is not None else None
    if row is None:
        return
    tx.s.flush()
    actions = {
        (a, t)
        for a, t in tx.s.execute(
            select(model.action, model.target_project).where(model.object_id == object_id)
        )
    }
    if hasattr(row, "shared"):
        row.shared = (SHARED, WILDCARD) in actions
    if object_type == "network" and any(a == EXTERNAL for a, _ in actions):
        row.external = True


def network_users_allowed(tx: Tx, network: m.Network, projects: set[str]) -> None:
    """_validate_projects_have_access_to_network: turning ``shared`` off is refused while a
    project other than the owner, without its own entry, has ports or subnets on it."""
    allowed = {
        t
        for t in tx.s.scalars(
            select(m.NetworkRBAC.target_project).where(
                m.NetworkRBAC.object_id == network.id, m.NetworkRBAC.action == SHARED
            )
        )
        if t != WILDCARD
    }
    allowed.add(network.project_id)
    if projects - allowed:
        raise invalid_shared_setting(network.name)


# ---- the rbac-policies API ---------------------------------------------------------------------


def find(tx: Tx, ctx: Context, entry_id: str) -> tuple[str, Any]:
    """_get_rbac_policy: the entry's type and row among the caller's (admin: all)."""
    for object_type, model in MODELS.items():
        if model is None:
            continue
        row = tx.s.get(model, entry_id)
        if row is not None and (ctx.is_admin or row.project_id == ctx.project_id):
            return object_type, row
    raise rbac_policy_not_found(entry_id)


def listing(tx: Tx, ctx: Context) -> list[tuple[str, Any]]:
    """get_rbac_policies: every type's table in turn, the caller's entries (admin: all)."""
    out: list[tuple[str, Any]] = []
    for object_type, model in MODELS.items():
        if model is None:
            continue
        query = select(model).order_by(model.id)
        if not ctx.is_admin:
            query = query.where(model.project_id == ctx.project_id)
        out.extend((object_type, row) for row in tx.s.scalars(query))
    return out


def view(object_type: str, row: Any) -> dict[str, Any]:
    """_make_rbac_policy_dict, as the attribute map lets it out."""
    return {
        "id": row.id,
        "project_id": row.project_id,
        "action": row.action,
        "object_id": row.object_id,
        "target_tenant": row.target_project,
        "object_type": object_type,
        "tenant_id": row.project_id,
    }


def _callback_failed(callback: str, error: str) -> str:
    """How neutron-lib's CallbackFailure prints: the callback's name and hash, the error."""
    return f'Callback {callback}-{zlib.crc32(callback.encode())} failed with "{error}"'


def _owner_error(plural: str) -> str:
    return (
        "Invalid input for operation: Only admins can manipulate policies on "
        f"{plural} they do not own."
    )


def _object(tx: Tx, object_type: str, object_id: str) -> Any:
    table = OBJECTS[object_type][0]
    return tx.s.get(table, object_id) if table is not None else None


def _check_owner(tx: Tx, ctx: Context, object_type: str, object_id: str, action: str) -> str:
    """The BEFORE_CREATE / BEFORE_UPDATE callbacks: the object must exist and be the
    caller's. Returns the failure text ('' when none): Neutron wraps it in the callback's
    name, and create answers it as InvalidInput, update as RbacPolicyInUse."""
    obj = _object(tx, object_type, object_id)
    callback = f"{OBJECTS[object_type][1]}.validate_rbac_policy_change"
    if object_type == "network":
        if obj is None or not can_reach(tx, ctx, "network", obj):
            raise network_not_found(object_id)
        if not ctx.is_admin and obj.project_id != ctx.project_id:
            name = NETWORK_CALLBACK if action == SHARED else EXTERNAL_CALLBACK
            return _callback_failed(name, _owner_error("networks"))
        return ""
    if obj is None:  # the OVO's get_object found nothing: db_obj['project_id'] on None
        return _callback_failed(callback, "'NoneType' object is not subscriptable")
    if not ctx.is_admin and obj.project_id != ctx.project_id:
        return _callback_failed(callback, _owner_error("objects"))
    return ""


def create(tx: Tx, ctx: Context, body: dict[str, Any]) -> tuple[str, Any]:
    object_type = body.get("object_type")
    if object_type is None:
        raise invalid_input("'None' is not a valid RBAC object type")
    target = body["target_tenant"]
    action = body["action"]
    quotas.check(tx, body["project_id"], {"rbac_policy": 1})
    policy.enforce_create(ctx, "rbac_policy", body, {"object_type": None})
    failure = _check_owner(tx, ctx, object_type, body["object_id"], action)
    if failure:
        raise invalid_input(failure)
    if action not in valid_actions(object_type):
        raise invalid_action_for_type(action, object_type, valid_actions(object_type))
    model = MODELS[object_type]
    duplicate = tx.s.scalar(
        select(model.id).where(
            model.object_id == body["object_id"],
            model.target_project == target,
            model.action == action,
        )
    )
    if duplicate is not None:
        raise duplicate_rbac_policy()
    row = _add(tx, object_type, body["object_id"], body["project_id"], target, action)
    return object_type, row


def update(tx: Tx, ctx: Context, object_type: str, row: Any, changes: dict[str, Any]) -> Any:
    """Only ``target_tenant`` changes; the project losing access must not depend on it."""
    policy.enforce_update(ctx, "rbac_policy", {"project_id": row.project_id}, changes)
    new_target = changes.get("target_tenant", row.target_project)
    failure = _check_owner(tx, ctx, object_type, row.object_id, row.action)
    if not failure and new_target != row.target_project:
        failure = _losing_access(tx, object_type, row, new_target)
    if failure:
        raise rbac_policy_in_use(row.object_id, failure)
    model = MODELS[object_type]
    clash = tx.s.scalar(
        select(model.id).where(
            model.object_id == row.object_id,
            model.target_project == new_target,
            model.action == row.action,
            model.id != row.id,
        )
    )
    if clash is not None:
        raise duplicate_rbac_policy()
    row.target_project = new_target
    tx.s.flush()
    _mirror(tx, object_type, row.object_id)
    return row


def delete_entry(tx: Tx, ctx: Context, object_type: str, row: Any) -> None:
    policy.enforce_delete(ctx, "rbac_policy", row.project_id)
    failure = _losing_access(tx, object_type, row, None)
    if failure:
        raise rbac_policy_in_use(row.object_id, failure)
    object_id, action = row.object_id, row.action
    tx.s.delete(row)
    tx.s.flush()
    _mirror(tx, object_type, object_id)
    if object_type == "network" and action == EXTERNAL:
        model = MODELS["network"]
        left = tx.s.scalar(
            select(model.id).where(model.object_id == object_id, model.action == EXTERNAL)
        )
        net = tx.s.get(m.Network, object_id)
        if left is None and net is not None:
            net.external = False  # _process_ext_policy_delete: internal again
            tx.bump(net)


# Projects that depend on an object being shared with them (get_bound_project_ids).
def _bound_projects(tx: Tx, object_type: str, object_id: str) -> set[str]:
    queries: dict[str, Callable[[], Any]] = {
        "network": lambda: select(m.Port.project_id).where(m.Port.network_id == object_id),
        "subnetpool": lambda: select(m.Subnet.project_id).where(
            m.Subnet.subnetpool_id == object_id
        ),
        "address_scope": lambda: select(m.SubnetPool.project_id).where(
            m.SubnetPool.address_scope_id == object_id
        ),
        "security_group": lambda: (
            select(m.Port.project_id)
            .join(m.SecurityGroupPortBinding, m.SecurityGroupPortBinding.port_id == m.Port.id)
            .where(m.SecurityGroupPortBinding.security_group_id == object_id)
        ),
        "address_group": lambda: select(m.SecurityGroupRule.project_id).where(
            m.SecurityGroupRule.remote_address_group_id == object_id
        ),
    }
    return set(tx.s.scalars(queries[object_type]()))


def _losing_access(tx: Tx, object_type: str, row: Any, new_target: str | None) -> str:
    """The BEFORE_DELETE (and target-changing BEFORE_UPDATE) check, as the failed callback's
    text ('' when the entry may go): a project that has ports on the network (subnets from
    the pool, pools in the scope, rules on the group ...) and would lose its access."""
    if row.action != SHARED:
        return ""
    if new_target == WILDCARD:
        return ""  # (update) opening to everyone takes nobody's access away
    obj = _object(tx, object_type, row.object_id)
    if obj is None or obj.project_id == row.target_project:
        return ""
    model = MODELS[object_type]
    entries = list(
        tx.s.scalars(
            select(model.target_project).where(
                model.object_id == row.object_id, model.action == SHARED, model.id != row.id
            )
        )
    )
    bound = _bound_projects(tx, object_type, row.object_id)
    if object_type == "network":  # ensure_no_tenant_ports_on_network allows the owner's
        bound -= {obj.project_id}
    if row.target_project == WILDCARD:
        stranded = bound - set(entries)
    else:
        stranded = set() if WILDCARD in entries else bound & {row.target_project}
    if not stranded:
        return ""
    if object_type == "network":
        inner = invalid_shared_setting(row.object_id).message
        return _callback_failed(NETWORK_CALLBACK, inner)
    callback = f"{OBJECTS[object_type][1]}.validate_rbac_policy_change"
    inner = rbac_policy_in_use(row.object_id, f"project_id={row.target_project}").message
    return _callback_failed(callback, inner)
