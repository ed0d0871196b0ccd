"""Placement's default policy in Zed, as data, and the check the handlers make.

Zed's rules are "secure RBAC" (``role:admin and system_scope:all`` and the like) but with
oslo.policy's Zed defaults (``enforce_new_defaults = False``, ``enforce_scope = False``)
each is *new rule OR the deprecated rule*, and the deprecated rule is ``role:admin``
(``placement/policies/base.py``). So in practice: the admin role may do everything; a
system-scoped reader may read; and ``GET /usages`` is also open to a reader of the project
asked about. Everybody else gets 403 "Policy does not allow ... to be performed."
"""

from __future__ import annotations

from dataclasses import dataclass

SYSTEM_ADMIN = "system_admin"  # role:admin and system_scope:all, or role:admin
SYSTEM_READER = "system_reader"  # role:reader and system_scope:all, or role:admin
PROJECT_OR_SYSTEM_READER = "project_or_system_reader"  # + role:reader on the project

_READ = ("list", "show")
RULES: dict[str, str] = {
    **{f"placement:resource_providers:{a}": SYSTEM_READER for a in _READ},
    **{f"placement:resource_providers:{a}": SYSTEM_ADMIN for a in ("create", "update", "delete")},
    **{f"placement:resource_classes:{a}": SYSTEM_READER for a in _READ},
    **{f"placement:resource_classes:{a}": SYSTEM_ADMIN for a in ("create", "update", "delete")},
    **{f"placement:resource_providers:inventories:{a}": SYSTEM_READER for a in _READ},
    **{
        f"placement:resource_providers:inventories:{a}": SYSTEM_ADMIN
        for a in ("create", "update", "delete")
    },
    "placement:resource_providers:aggregates:list": SYSTEM_READER,
    "placement:resource_providers:aggregates:update": SYSTEM_ADMIN,
    "placement:resource_providers:usages": SYSTEM_READER,
    "placement:usages": PROJECT_OR_SYSTEM_READER,
    "placement:traits:list": SYSTEM_READER,
    "placement:traits:show": SYSTEM_READER,
    "placement:traits:update": SYSTEM_ADMIN,
    "placement:traits:delete": SYSTEM_ADMIN,
    "placement:resource_providers:traits:list": SYSTEM_READER,
    "placement:resource_providers:traits:update": SYSTEM_ADMIN,
    "placement:resource_providers:traits:delete": SYSTEM_ADMIN,
    "placement:allocations:manage": SYSTEM_ADMIN,
    "placement:allocations:list": SYSTEM_READER,
    "placement:allocations:update": SYSTEM_ADMIN,
    "placement:allocations:delete": SYSTEM_ADMIN,
    "placement:resource_providers:allocations:list": SYSTEM_READER,
    "placement:allocation_candidates:list": SYSTEM_READER,
    "placement:reshaper:reshape": SYSTEM_ADMIN,
}


@dataclass(frozen=True)
class Context:
    """placement.context.RequestContext: who is calling (roles lower-cased)."""

    request_id: str
    user_id: str | None = None
    project_id: str | None = None
    roles: frozenset[str] = frozenset()
    system_scope: bool = False

    @classmethod
    def noauth(cls, request_id: str, token: str) -> Context:
        """auth_strategy = noauth2: the token is ``user[:project]``, "admin" is admin."""
        user, _, project = token.partition(":")
        return cls(
            request_id, user, project or user, frozenset({"admin"} if user == "admin" else ())
        )


class PolicyNotAuthorized(Exception):
    def __init__(self, action: str) -> None:
        super().__init__(f"Policy does not allow {action} to be performed.")


def allowed(ctx: Context, action: str, target_project: str | None = None) -> bool:
    rule = RULES[action]
    if "admin" in ctx.roles:  # the deprecated rule every default falls back to
        return True
    reader = bool(ctx.roles & {"reader", "member"})  # Keystone: member implies reader
    if rule in (SYSTEM_READER, PROJECT_OR_SYSTEM_READER) and reader and ctx.system_scope:
        return True
    return (
        rule == PROJECT_OR_SYSTEM_READER
        and reader
        and target_project is not None
        and target_project == ctx.project_id
    )


def enforce(ctx: Context, action: str, target_project: str | None = None) -> None:
    if not allowed(ctx, action, target_project):
        raise PolicyNotAuthorized(action)
