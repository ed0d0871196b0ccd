"""Keystone's effective Zed policy: admin anywhere may administer, members see themselves."""

from __future__ import annotations

import pytest

from labkit.sim.keystone import policy

ADMIN = policy.Credentials(
    "u-admin",
    frozenset({"admin", "member", "reader"}),
    project_id="p1",
    project_domain_id="default",
)
MEMBER = policy.Credentials(
    "u-member", frozenset({"member", "reader"}), project_id="p2", project_domain_id="default"
)
SYSTEM_READER = policy.Credentials("u-sys", frozenset({"reader"}), system="all")


@pytest.mark.parametrize(
    "rule",
    [
        "identity:create_user",
        "identity:list_projects",
        "identity:create_grant",
        "identity:list_role_assignments",
    ],
)
def test_admin_may_and_member_may_not(rule: str) -> None:
    assert policy.enforce(rule, ADMIN)
    assert not policy.enforce(rule, MEMBER)


def test_members_see_their_own_project_and_themselves_only() -> None:
    own = {"target.project.id": "p2"}
    assert policy.enforce("identity:get_project", MEMBER, own)
    assert not policy.enforce("identity:get_project", MEMBER, {"target.project.id": "p1"})
    assert policy.enforce("identity:get_user", MEMBER, {"target.user.id": "u-member"})
    assert not policy.enforce("identity:get_user", MEMBER, {"target.user.id": "u-admin"})


def test_system_reader_may_read_but_not_write() -> None:
    assert policy.enforce("identity:list_users", SYSTEM_READER)
    assert not policy.enforce("identity:create_user", SYSTEM_READER)


def test_token_subject_may_validate_its_own_token() -> None:
    assert policy.enforce("identity:validate_token", MEMBER, {"target.token.user_id": "u-member"})
    assert not policy.enforce(
        "identity:validate_token", MEMBER, {"target.token.user_id": "someone-else"}
    )


def test_open_rules_and_literal_checks() -> None:
    assert policy.enforce("identity:list_regions", MEMBER)
    # 'None:%(target.role.domain_id)s' is true when the role has no domain (Keystone's grants)
    assert policy._check("None:%(x)s", MEMBER, {"x": "None"})
    assert not policy._check("None:%(x)s", MEMBER, {"x": "d1"})
    assert not policy._check("project_id:%(missing)s", MEMBER, {})


def test_every_rule_parses() -> None:
    for rule in policy.RULES:
        policy.enforce(rule, MEMBER, {})
