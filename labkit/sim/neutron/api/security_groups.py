"""``/v2.0/security-groups`` and ``/v2.0/security-group-rules``.

Groups: list, show, create, update (``name``, ``description``, ``stateful``), delete.
Rules: list, show, create, delete -- Zed has no rule update (its plugin has no
``update_security_group_rule``), so ``PUT`` on a rule is not routed here.

Listing groups or rules makes sure the project listed (the ``project_id`` filter, else the
caller's) has its ``default`` group, as Neutron does -- the first ``openstack security group
list`` of a new project creates it. A rule created or deleted is announced to the Linux
bridge agents once committed (:func:`labkit.sim.neutron.secgroups.notify_rule_updated`).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes
from labkit.sim.neutron import attributes, secgroups, views
from labkit.sim.neutron import models as m
from labkit.sim.neutron.api._helpers import (
    body,
    check_revision,
    created_many,
    ctx,
    deleted,
    listed,
    notifier,
    query,
    repo,
    show,
    updated,
)
from labkit.sim.neutron.db import Tx
from labkit.sim.neutron.policy import Context

routes = Routes()


def _groups(
    tx: Tx, caller: Context, wanted: dict[str, list[Any]] | None = None
) -> list[dict[str, Any]]:
    return views.security_groups(
        tx, secgroups.visible_groups(tx, caller, wanted), caller.project_id
    )


def _rules(tx: Tx, caller: Context) -> list[dict[str, Any]]:
    return views.rules(tx, secgroups.visible_rules(tx, caller))


def _ensure_default(call: Call, attrs: dict[str, attributes.Attr]) -> None:
    """The project's default group, made if missing. Looked for in a read first: Nova lists
    a server's groups at every status poll, and a write transaction would take the
    database's write lock each time for a group that almost always exists."""
    caller = ctx(call)
    wanted = attributes.filters(query(call), attrs)
    if not caller.project_id:
        return
    project = secgroups.project_filter(wanted, caller)
    with repo(call).read() as tx:
        if not secgroups.needs_default(tx, caller, project):
            return
    with repo(call).write() as tx:
        secgroups.ensure_default(tx, caller, project)


# ---- groups -------------------------------------------------------------------------------------


@routes.get("/v2.0/security-groups")
def index(call: Call) -> Response:
    _ensure_default(call, attributes.SECURITY_GROUP)
    wanted = attributes.filters(query(call), attributes.SECURITY_GROUP)  # narrows the query
    return listed(
        call,
        "security_groups",
        "security_group",
        attributes.SECURITY_GROUP,
        lambda tx, caller: _groups(tx, caller, wanted),
    )


@routes.post("/v2.0/security-groups")
def create(call: Call) -> Response:
    caller = ctx(call)
    items, bulk = attributes.prepare_items(
        caller, body(call), "security_group", attributes.SECURITY_GROUP
    )
    with repo(call).write() as tx:  # a bulk body: all of them or none
        rows = [secgroups.create_group(tx, caller, data) for data in items]
        shown = views.security_groups(tx, rows, caller.project_id)
    return created_many(call, "security_group", shown, bulk)


@routes.get("/v2.0/security-groups/{group_id}")
def get(call: Call, group_id: str) -> Response:
    caller = ctx(call)
    with repo(call).read() as tx:
        row = secgroups.get_group(tx, caller, group_id)
        item = views.security_groups(tx, [row], caller.project_id)[0]
    return show(call, "security_group", item)


@routes.put("/v2.0/security-groups/{group_id}")
def update(call: Call, group_id: str) -> Response:
    caller = ctx(call)
    data = attributes.prepare(
        caller, body(call), "security_group", attributes.SECURITY_GROUP, False
    )
    with repo(call).write() as tx:
        before = secgroups.get_group(tx, caller, group_id).revision_number
        row = secgroups.update_group(tx, caller, group_id, data)
        check_revision(call, before)
        item = views.security_groups(tx, [row], caller.project_id)[0]
    return updated(call, "security_group", item)


@routes.delete("/v2.0/security-groups/{group_id}")
def delete(call: Call, group_id: str) -> Response:
    with repo(call).write() as tx:
        group = tx.s.get(m.SecurityGroup, group_id)
        before = group.revision_number if group is not None else 0
        secgroups.delete_group(tx, ctx(call), group_id)
        check_revision(call, before)
    return deleted(call)


# ---- rules --------------------------------------------------------------------------------------


@routes.get("/v2.0/security-group-rules")
def rules_index(call: Call) -> Response:
    _ensure_default(call, attributes.SECURITY_GROUP_RULE)
    return listed(
        call, "security_group_rules", "security_group_rule", attributes.SECURITY_GROUP_RULE, _rules
    )


@routes.post("/v2.0/security-group-rules")
def rule_create(call: Call) -> Response:
    caller = ctx(call)
    items, bulk = attributes.prepare_items(
        caller, body(call), "security_group_rule", attributes.SECURITY_GROUP_RULE
    )
    with repo(call).write() as tx:  # a bulk body: all of them or none
        rows = [secgroups.create_rule(tx, caller, data) for data in items]
        groups = list(dict.fromkeys(r.security_group_id for r in rows))
        secgroups.notify_rule_updated(tx, notifier(call), groups)
        shown = views.rules(tx, rows)
    return created_many(call, "security_group_rule", shown, bulk)


@routes.get("/v2.0/security-group-rules/{rule_id}")
def rule_get(call: Call, rule_id: str) -> Response:
    with repo(call).read() as tx:
        item = views.rules(tx, [secgroups.get_rule(tx, ctx(call), rule_id)])[0]
    return show(call, "security_group_rule", item)


@routes.delete("/v2.0/security-group-rules/{rule_id}")
def rule_delete(call: Call, rule_id: str) -> Response:
    with repo(call).write() as tx:
        rule = tx.s.get(m.SecurityGroupRule, rule_id)
        before = rule.revision_number if rule is not None else 0
        group_id = secgroups.delete_rule(tx, ctx(call), rule_id)
        check_revision(call, before)
        secgroups.notify_rule_updated(tx, notifier(call), [group_id])
    return deleted(call)
