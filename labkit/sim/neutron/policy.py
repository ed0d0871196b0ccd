"""Who may see and change what: Neutron's Zed defaults with ``enforce_new_defaults = False``.

In that mode every rule is "new default OR the deprecated rule", and Neutron short-cuts any
check for a context that is admin (``role:admin``). What decides for everyone else:

- **visibility** (``get_*``): networks of one's own project, shared networks and external
  networks; subnets of one's own project or on shared networks; ports of one's own project
  or on networks one owns; security groups of one's own project, and rules of one's own
  project or in one's own groups (``sg_owner``: an admin's rule in a member's group is the
  member's to see, not to delete). What cannot be seen answers 404, as if it did not exist;
- **attributes**: ``provider:*`` of networks and ``binding:host_id``/``vif_type``/
  ``vif_details``/``profile`` of ports are admin-only, so they are left out of what others
  see; setting them (and ``shared``, ``router:external``) is admin-only too;
- **changes**: only the owner (or an admin) updates or deletes a resource; subnets follow
  the network's owner; ``fixed_ips`` with an ``ip_address`` needs the network's owner, and
  so does ``port_security_enabled`` -- a member cannot turn off port security on a port of
  the admin's shared provider network.

A refused change answers 403 with oslo.policy's text, which names the rule Neutron built:
``(rule:create_network and rule:create_network:shared) is disallowed by policy``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from labkit.sim.neutron.errors import policy_not_authorized


@dataclass(frozen=True)
class Context:
    """neutron.context.Context: who is calling (roles lower-cased)."""

    request_id: str
    user_id: str = ""
    project_id: str = ""
    roles: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_advsvc(self) -> bool:
        return "advsvc" in self.roles

    @classmethod
    def admin(cls, request_id: str = "") -> Context:
        """An admin context (noauth, or the server's own work)."""
        return cls(request_id=request_id, roles=frozenset({"admin"}))


# Attributes whose setting is checked by its own rule (enforce_policy in Neutron's attribute
# maps), in the order of the attribute maps: the order the refused rule names them.
ENFORCED: dict[str, tuple[str, ...]] = {
    "network": (
        "shared",
        "router:external",
        "provider:network_type",
        "provider:physical_network",
        "provider:segmentation_id",
        "segments",
        "port_security_enabled",
    ),
    "subnet": ("segment_id", "service_types"),
    "subnetpool": ("is_default", "shared"),
    "address_scope": ("shared",),
    "rbac_policy": ("object_type", "object_id", "target_tenant", "action"),
    "port": (
        "mac_address",
        "fixed_ips",
        "device_owner",
        "binding:host_id",
        "binding:profile",
        "binding:vnic_type",
        "port_security_enabled",
        "allowed_address_pairs",
    ),
}
# Attribute rules that only an admin passes (create and update alike).
ADMIN_ONLY = {
    "network": {
        "shared",
        "router:external",
        "provider:network_type",
        "provider:physical_network",
        "provider:segmentation_id",
        "segments",
    },
    "subnet": {"segment_id", "service_types"},
    "subnetpool": {"is_default", "shared"},
    "address_scope": {"shared"},
    "port": {"binding:host_id", "binding:profile"},
}
# What only an admin sees.
HIDDEN = {
    "network": ("provider:network_type", "provider:physical_network", "provider:segmentation_id"),
    "port": ("binding:host_id", "binding:vif_type", "binding:vif_details", "binding:profile"),
}


def _rule_text(action: str, resource: str, body: dict[str, Any], defaults: dict[str, Any]) -> str:
    """The check neutron.policy._build_match_rule makes, as oslo.policy prints it."""
    text = f"rule:{action}"
    for attr in ENFORCED.get(resource, ()):
        if attr not in body or body[attr] == defaults.get(attr, object()):
            continue
        part = f"rule:{action}:{attr}"
        value = body[attr]
        if isinstance(value, list):
            subs = [
                f"rule:{action}:{attr}:{key}"
                for item in value
                if isinstance(item, dict)
                for key in item
            ]
            if subs:
                part = f"({part} and ({' and '.join(subs)}))"
        text = f"({text} and {part})"
    return text


def _attr_allowed(
    ctx: Context, resource: str, attr: str, value: Any, network_owner: str, shared: bool
) -> bool:
    if attr in ADMIN_ONLY.get(resource, set()):
        return False
    if resource == "rbac_policy" and attr == "target_tenant":
        return bool(value != "*")  # restrict_wildcard: only an admin shares with every project
    if resource == "port" and attr == "fixed_ips":
        keys = {k for item in value or [] if isinstance(item, dict) for k in item}
        if "ip_address" in keys and network_owner != ctx.project_id:
            return False
        return network_owner == ctx.project_id or shared
    if resource == "port" and attr == "mac_address":
        return network_owner == ctx.project_id
    if resource == "port" and attr == "device_owner":
        return not str(value).startswith("network:") or network_owner == ctx.project_id
    if resource == "port" and attr in ("allowed_address_pairs", "port_security_enabled"):
        return network_owner == ctx.project_id
    return True


def enforce_create(
    ctx: Context,
    resource: str,
    body: dict[str, Any],
    defaults: dict[str, Any],
    network_owner: str = "",
    shared: bool = False,
) -> None:
    """create_<resource> and its attribute rules; 403 naming the whole rule when refused."""
    if ctx.is_admin:
        return
    action = f"create_{resource}"
    ok = True
    if resource == "subnet" and network_owner != ctx.project_id:
        ok = False
    for attr in ENFORCED.get(resource, ()):
        if attr in body and body[attr] != defaults.get(attr, object()):
            ok = ok and _attr_allowed(ctx, resource, attr, body[attr], network_owner, shared)
    if not ok:
        raise policy_not_authorized(_rule_text(action, resource, body, defaults))


def enforce_update(
    ctx: Context,
    resource: str,
    target: dict[str, Any],
    changes: dict[str, Any],
    network_owner: str = "",
) -> None:
    """update_<resource>: the owner (subnets: the network's owner) and attribute rules."""
    if ctx.is_admin:
        return
    owner = network_owner if resource == "subnet" else target.get("project_id")
    ok = owner == ctx.project_id
    shared = bool(target.get("shared"))
    for attr in ENFORCED.get(resource, ()):
        if attr in changes:
            ok = ok and _attr_allowed(ctx, resource, attr, changes[attr], network_owner, shared)
    if not ok:
        text = f"rule:update_{resource}"
        for attr in ENFORCED.get(resource, ()):
            if attr in changes:
                text = f"({text} and rule:update_{resource}:{attr})"
        raise policy_not_authorized(text)


def enforce_delete(ctx: Context, resource: str, owner: str) -> None:
    if ctx.is_admin or owner == ctx.project_id:
        return
    raise policy_not_authorized(f"rule:delete_{resource}")


def enforce_admin(ctx: Context, rule: str) -> None:
    """A rule only an admin passes (get_quota, update_quota, agents ...)."""
    if not ctx.is_admin:
        raise policy_not_authorized(f"rule:{rule}")


# ---- visibility -------------------------------------------------------------------------------


def can_see_subnet(ctx: Context, subnet: dict[str, Any], network_shared: bool) -> bool:
    return ctx.is_admin or subnet.get("project_id") == ctx.project_id or network_shared


def can_see_port(ctx: Context, port: dict[str, Any], network_owner: str) -> bool:
    return (
        ctx.is_admin
        or ctx.is_advsvc
        or port.get("project_id") == ctx.project_id
        or network_owner == ctx.project_id
    )


def can_see_owned(ctx: Context, owner: str) -> bool:
    """Security groups and their rules, quotas: the project's own (or an admin)."""
    return ctx.is_admin or owner == ctx.project_id


def strip_hidden(ctx: Context, resource: str, item: dict[str, Any]) -> dict[str, Any]:
    """Leave out the attributes this caller may not read."""
    if ctx.is_admin:
        return item
    hidden: Iterable[str] = HIDDEN.get(resource, ())
    return {k: v for k, v in item.items() if k not in hidden}
