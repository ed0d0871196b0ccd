"""``/v2.0/security-groups`` and ``/v2.0/security-group-rules``: list and show.

Listing security groups makes sure the project listed (the ``project_id`` filter, else the
caller's) has its ``default`` group, as Neutron does -- the first ``openstack security group
list`` of a new project creates it.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes
from labkit.sim.neutron import attributes, secgroups, views
from labkit.sim.neutron.api._helpers import ctx, listed, query, repo, show
from labkit.sim.neutron.db import Tx
from labkit.sim.neutron.policy import Context

routes = Routes()


def _groups(tx: Tx, caller: Context) -> list[dict[str, Any]]:
    return views.security_groups(tx, secgroups.visible_groups(tx, caller))


def _rules(tx: Tx, caller: Context) -> list[dict[str, Any]]:
    return views.rules(tx, secgroups.visible_rules(tx, caller))


@routes.get("/v2.0/security-groups")
def index(call: Call) -> Response:
    caller = ctx(call)
    wanted = attributes.filters(query(call), attributes.SECURITY_GROUP)
    if caller.project_id:
        with repo(call).write() as tx:
            secgroups.ensure_default(tx, caller, secgroups.project_filter(wanted, caller))
    return listed(call, "security_groups", "security_group", attributes.SECURITY_GROUP, _groups)


@routes.get("/v2.0/security-groups/{group_id}")
def get(call: Call, group_id: str) -> Response:
    with repo(call).read() as tx:
        item = views.security_groups(tx, [secgroups.get_group(tx, ctx(call), group_id)])[0]
    return show(call, "security_group", item)


@routes.get("/v2.0/security-group-rules")
def rules_index(call: Call) -> Response:
    return listed(
        call, "security_group_rules", "security_group_rule", attributes.SECURITY_GROUP_RULE, _rules
    )


@routes.get("/v2.0/security-group-rules/{rule_id}")
def rule_get(call: Call, rule_id: str) -> Response:
    with repo(call).read() as tx:
        item = views.rules(tx, [secgroups.get_rule(tx, ctx(call), rule_id)])[0]
    return show(call, "security_group_rule", item)
