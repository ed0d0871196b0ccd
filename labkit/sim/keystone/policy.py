"""Keystone's default policy in Zed, and a small oslo.policy-style evaluator for it.

Zed ships "secure RBAC" defaults but, with ``[oslo_policy] enforce_new_defaults = False`` and
``enforce_scope = False`` (Zed's defaults), each rule is effectively *new rule OR deprecated
rule*. That is what the table below says, rule by rule (``keystone/common/policies/*.py``).
In practice: the ``admin`` role (on any project) may do everything; a ``member`` or
``reader`` may look at themselves, their own project and their tokens, and nothing else.

Check strings use oslo.policy's syntax: ``role:admin``, ``rule:owner``,
``user_id:%(target.user.id)s``, ``system_scope:all``, ``and``/``or``/``not``/parentheses.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Building blocks (keystone/common/policies/base.py)
_SYSTEM_READER = "role:reader and system_scope:all"
_SYSTEM_ADMIN = "role:admin and system_scope:all"
_ADMIN = "rule:admin_required"


def _either(new: str, deprecated: str) -> str:
    return f"({new}) or ({deprecated})"


def _sys_reader() -> str:
    return _either(_SYSTEM_READER, _ADMIN)


def _sys_admin() -> str:
    return _either(_SYSTEM_ADMIN, _ADMIN)


_GRANT_READ_SCOPE = (
    "(role:reader and domain_id:%(target.user.domain_id)s and "
    "domain_id:%(target.project.domain_id)s)"
)
_CRED_READER = f"({_SYSTEM_READER}) or user_id:%(target.credential.user_id)s"
_CRED_ADMIN = f"({_SYSTEM_ADMIN}) or user_id:%(target.credential.user_id)s"
_ADMIN_OR_CRED_OWNER = (
    "rule:admin_required or (rule:owner and user_id:%(target.credential.user_id)s)"
)

RULES: dict[str, str] = {
    "admin_required": "role:admin or is_admin:1",
    "service_role": "role:service",
    "service_or_admin": "rule:admin_required or rule:service_role",
    "owner": "user_id:%(user_id)s",
    "admin_or_owner": "rule:admin_required or rule:owner",
    "token_subject": "user_id:%(target.token.user_id)s",
    "admin_or_token_subject": "rule:admin_required or rule:token_subject",
    "service_admin_or_token_subject": "rule:service_or_admin or rule:token_subject",
    # auth
    "identity:get_auth_catalog": "",
    "identity:get_auth_projects": "",
    "identity:get_auth_domains": "",
    "identity:get_auth_system": "",
    "identity:check_token": _either(
        f"({_SYSTEM_READER}) or rule:token_subject", "rule:admin_or_token_subject"
    ),
    "identity:validate_token": _either(
        f"({_SYSTEM_READER}) or rule:service_role or rule:token_subject",
        "rule:service_admin_or_token_subject",
    ),
    "identity:revoke_token": _either(
        f"({_SYSTEM_ADMIN}) or rule:token_subject", "rule:admin_or_token_subject"
    ),
    # domains
    "identity:get_domain": _either(
        f"({_SYSTEM_READER}) or token.domain.id:%(target.domain.id)s or "
        "token.project.domain.id:%(target.domain.id)s",
        "rule:admin_required or token.project.domain.id:%(target.domain.id)s",
    ),
    "identity:list_domains": _sys_reader(),
    "identity:create_domain": _sys_admin(),
    "identity:update_domain": _sys_admin(),
    "identity:delete_domain": _sys_admin(),
    # projects
    "identity:get_project": _either(
        f"({_SYSTEM_READER}) or (role:reader and domain_id:%(target.project.domain_id)s) or "
        "project_id:%(target.project.id)s",
        "rule:admin_required or project_id:%(target.project.id)s",
    ),
    "identity:list_projects": _either(
        f"({_SYSTEM_READER}) or (role:reader and domain_id:%(target.domain_id)s)", _ADMIN
    ),
    "identity:list_user_projects": _either(
        f"({_SYSTEM_READER}) or (role:reader and domain_id:%(target.user.domain_id)s) or "
        "user_id:%(target.user.id)s",
        "rule:admin_or_owner",
    ),
    "identity:create_project": _either(
        f"({_SYSTEM_ADMIN}) or (role:admin and domain_id:%(target.project.domain_id)s)", _ADMIN
    ),
    "identity:update_project": _either(
        f"({_SYSTEM_ADMIN}) or (role:admin and domain_id:%(target.project.domain_id)s)", _ADMIN
    ),
    "identity:delete_project": _either(
        f"({_SYSTEM_ADMIN}) or (role:admin and domain_id:%(target.project.domain_id)s)", _ADMIN
    ),
    "identity:list_project_tags": _either(
        f"({_SYSTEM_READER}) or (role:reader and domain_id:%(target.project.domain_id)s) or "
        "project_id:%(target.project.id)s",
        "rule:admin_required or project_id:%(target.project.id)s",
    ),
    "identity:update_project_tags": _either(
        f"({_SYSTEM_ADMIN}) or (role:admin and domain_id:%(target.project.domain_id)s) or "
        "(role:admin and project_id:%(target.project.id)s)",
        _ADMIN,
    ),
    # users
    "identity:get_user": _either(
        f"({_SYSTEM_READER}) or (role:reader and token.domain.id:%(target.user.domain_id)s) or "
        "user_id:%(target.user.id)s",
        "rule:admin_or_owner",
    ),
    "identity:list_users": _either(
        f"({_SYSTEM_READER}) or (role:reader and domain_id:%(target.domain_id)s)", _ADMIN
    ),
    "identity:create_user": _either(
        f"({_SYSTEM_ADMIN}) or (role:admin and token.domain.id:%(target.user.domain_id)s)", _ADMIN
    ),
    "identity:update_user": _either(
        f"({_SYSTEM_ADMIN}) or (role:admin and token.domain.id:%(target.user.domain_id)s)", _ADMIN
    ),
    "identity:delete_user": _either(
        f"({_SYSTEM_ADMIN}) or (role:admin and token.domain.id:%(target.user.domain_id)s)", _ADMIN
    ),
    "identity:list_groups_for_user": _either(
        f"({_SYSTEM_READER}) or (role:reader and domain_id:%(target.user.domain_id)s) or "
        "user_id:%(user_id)s",
        "rule:admin_or_owner",
    ),
    # groups
    "identity:get_group": _either(
        f"({_SYSTEM_READER}) or (role:reader and domain_id:%(target.group.domain_id)s)", _ADMIN
    ),
    "identity:list_groups": _either(
        f"({_SYSTEM_READER}) or (role:reader and domain_id:%(target.group.domain_id)s)", _ADMIN
    ),
    "identity:create_group": _either(
        f"({_SYSTEM_ADMIN}) or (role:admin and domain_id:%(target.group.domain_id)s)", _ADMIN
    ),
    "identity:update_group": _either(
        f"({_SYSTEM_ADMIN}) or (role:admin and domain_id:%(target.group.domain_id)s)", _ADMIN
    ),
    "identity:delete_group": _either(
        f"({_SYSTEM_ADMIN}) or (role:admin and domain_id:%(target.group.domain_id)s)", _ADMIN
    ),
    "identity:list_users_in_group": _either(
        f"({_SYSTEM_READER}) or (role:reader and domain_id:%(target.group.domain_id)s)", _ADMIN
    ),
    "identity:add_user_to_group": _sys_admin(),
    "identity:remove_user_from_group": _sys_admin(),
    "identity:check_user_in_group": _sys_reader(),
    # roles and implied roles
    "identity:get_role": _sys_reader(),
    "identity:list_roles": _sys_reader(),
    "identity:create_role": _sys_admin(),
    "identity:update_role": _sys_admin(),
    "identity:delete_role": _sys_admin(),
    "identity:get_implied_role": _sys_reader(),
    "identity:list_implied_roles": _sys_reader(),
    "identity:create_implied_role": _sys_admin(),
    "identity:delete_implied_role": _sys_admin(),
    "identity:check_implied_role": _sys_reader(),
    "identity:list_role_inference_rules": _sys_reader(),
    # grants and assignments
    "identity:check_grant": _either(f"({_SYSTEM_READER}) or {_GRANT_READ_SCOPE}", _ADMIN),
    "identity:list_grants": _either(f"({_SYSTEM_READER}) or {_GRANT_READ_SCOPE}", _ADMIN),
    "identity:create_grant": _sys_admin(),
    "identity:revoke_grant": _sys_admin(),
    "identity:list_system_grants_for_user": _sys_reader(),
    "identity:check_system_grant_for_user": _sys_reader(),
    "identity:create_system_grant_for_user": _sys_admin(),
    "identity:revoke_system_grant_for_user": _sys_admin(),
    "identity:list_system_grants_for_group": _sys_reader(),
    "identity:check_system_grant_for_group": _sys_reader(),
    "identity:create_system_grant_for_group": _sys_admin(),
    "identity:revoke_system_grant_for_group": _sys_admin(),
    "identity:list_role_assignments": _either(
        f"({_SYSTEM_READER}) or (role:reader and domain_id:%(target.domain_id)s)", _ADMIN
    ),
    # catalog
    "identity:get_region": "",
    "identity:list_regions": "",
    "identity:create_region": _sys_admin(),
    "identity:update_region": _sys_admin(),
    "identity:delete_region": _sys_admin(),
    "identity:get_service": _sys_reader(),
    "identity:list_services": _sys_reader(),
    "identity:create_service": _sys_admin(),
    "identity:update_service": _sys_admin(),
    "identity:delete_service": _sys_admin(),
    "identity:get_endpoint": _sys_reader(),
    "identity:list_endpoints": _sys_reader(),
    "identity:create_endpoint": _sys_admin(),
    "identity:update_endpoint": _sys_admin(),
    "identity:delete_endpoint": _sys_admin(),
    # credentials and EC2 credentials (keystone/common/policies/credential.py, ec2_credential.py)
    "identity:get_credential": _either(_CRED_READER, _ADMIN),
    "identity:list_credentials": _either(_CRED_READER, _ADMIN),
    "identity:create_credential": _either(_CRED_ADMIN, _ADMIN),
    "identity:update_credential": _either(_CRED_ADMIN, _ADMIN),
    "identity:delete_credential": _either(_CRED_ADMIN, _ADMIN),
    "identity:ec2_get_credential": _either(_CRED_READER, _ADMIN_OR_CRED_OWNER),
    "identity:ec2_list_credentials": _either(
        f"({_SYSTEM_READER}) or rule:owner", "rule:admin_or_owner"
    ),
    "identity:ec2_create_credential": _either(
        f"({_SYSTEM_ADMIN}) or rule:owner", "rule:admin_or_owner"
    ),
    "identity:ec2_delete_credential": _either(_CRED_ADMIN, _ADMIN_OR_CRED_OWNER),
    # application credentials (keystone/common/policies/application_credential.py)
    "identity:get_application_credential": _either(
        f"({_SYSTEM_READER}) or rule:owner", "rule:admin_or_owner"
    ),
    "identity:list_application_credentials": _either(
        f"({_SYSTEM_READER}) or rule:owner", "rule:admin_or_owner"
    ),
    "identity:create_application_credential": "rule:owner",
    "identity:delete_application_credential": _either(
        f"({_SYSTEM_ADMIN}) or rule:owner", "rule:admin_or_owner"
    ),
    # OS-EP-FILTER endpoint groups and OS-OAUTH1 consumers (endpoint_group.py, consumer.py)
    **{
        f"identity:{verb}_{kind}": _sys_reader() if verb == "get" else _sys_admin()
        for kind in ("endpoint_group", "consumer")
        for verb in ("get", "create", "update", "delete")
    },
    "identity:list_endpoint_groups": _sys_reader(),
    "identity:list_consumers": _sys_reader(),
    # domain configuration (keystone/common/policies/domain_config.py)
    "identity:get_domain_config": _sys_reader(),
    "identity:get_domain_config_default": _sys_reader(),
    "identity:get_security_compliance_domain_config": "",
    "identity:create_domain_config": _sys_admin(),
    "identity:update_domain_config": _sys_admin(),
    "identity:delete_domain_config": _sys_admin(),
    # stored policies (keystone/common/policies/policy.py)
    "identity:get_policy": _sys_reader(),
    "identity:list_policies": _sys_reader(),
    "identity:create_policy": _sys_admin(),
    "identity:update_policy": _sys_admin(),
    "identity:delete_policy": _sys_admin(),
}
# One tag at a time, and all of them at once: the same check strings as listing and
# replacing the tags (keystone/common/policies/project.py in Zed).
RULES["identity:get_project_tag"] = RULES["identity:list_project_tags"]
for _name in ("create_project_tag", "delete_project_tag", "delete_project_tags"):
    RULES[f"identity:{_name}"] = RULES["identity:update_project_tags"]


@dataclass(frozen=True)
class Credentials:
    """What policy checks see of the caller's token."""

    user_id: str
    roles: frozenset[str]
    project_id: str | None = None
    project_domain_id: str | None = None
    domain_id: str | None = None
    system: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def lookup(self, key: str) -> Any:
        table: dict[str, Any] = {
            "user_id": self.user_id,
            "project_id": self.project_id,
            "domain_id": self.domain_id,
            "system_scope": self.system,
            "token.domain.id": self.domain_id,
            "token.project.domain.id": self.project_domain_id,
            "token.project.id": self.project_id,
            "token.user.id": self.user_id,
            "is_admin": False,
        }
        if key in table:
            return table[key]
        return self.extra.get(key)


# A check may contain "%(target.x)s", whose parentheses are not grouping.
_TOKEN = re.compile(r"(?:[^\s()%]|%\([^)]*\)s?|%)+|\(|\)")


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _TOKEN.findall(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.pos]
        self.pos += 1
        return str(token)

    def parse(self) -> Any:
        if not self.tokens:
            return ("true",)
        node = self.expr()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()!r}")
        return node

    def expr(self) -> Any:
        node = self.term()
        while self.peek() == "or":
            self.take()
            node = ("or", node, self.term())
        return node

    def term(self) -> Any:
        node = self.factor()
        while self.peek() == "and":
            self.take()
            node = ("and", node, self.factor())
        return node

    def factor(self) -> Any:
        token = self.take()
        if token == "not":
            return ("not", self.factor())
        if token == "(":
            node = self.expr()
            if self.take() != ")":
                raise ValueError("missing )")
            return node
        return ("check", token)


_PARSED: dict[str, Any] = {}


def _check(token: str, creds: Credentials, target: Mapping[str, Any]) -> bool:
    if token == "@":
        return True
    if token == "!":
        return False
    kind, _, match = token.partition(":")
    if kind == "rule":
        return enforce(match, creds, target)
    if kind == "role":
        return match.lower() in {r.lower() for r in creds.roles}
    try:
        wanted = match % target
    except (KeyError, TypeError, ValueError):
        return False
    literal = _literal(kind)
    if literal is None:
        return wanted == str(creds.lookup(kind))
    return wanted == literal


_LITERALS: dict[str, str | None] = {}


def _literal(kind: str) -> str | None:
    """oslo.policy's GenericCheck: a left side that parses as a Python literal is compared
    as that value's text; anything else names a credential (None). Parsed once per name."""
    if kind not in _LITERALS:
        try:
            _LITERALS[kind] = str(ast.literal_eval(kind))
        except (ValueError, SyntaxError):
            _LITERALS[kind] = None
    return _LITERALS[kind]


def _evaluate(node: Any, creds: Credentials, target: Mapping[str, Any]) -> bool:
    op = node[0]
    if op == "true":
        return True
    if op == "check":
        return _check(node[1], creds, target)
    if op == "not":
        return not _evaluate(node[1], creds, target)
    left = _evaluate(node[1], creds, target)
    if op == "and":
        return left and _evaluate(node[2], creds, target)
    return left or _evaluate(node[2], creds, target)


def enforce(rule: str, creds: Credentials, target: Mapping[str, Any] | None = None) -> bool:
    """True when ``rule`` (a name in :data:`RULES`) allows ``creds`` on ``target``."""
    check_str = RULES[rule]
    if check_str not in _PARSED:
        _PARSED[check_str] = _Parser(check_str).parse()
    # Keystone puts the URL's view arguments (e.g. user_id of GET /v3/users/{user_id}) into
    # the target too; callers pass them in ``target``.
    return _evaluate(_PARSED[check_str], creds, target or {})
