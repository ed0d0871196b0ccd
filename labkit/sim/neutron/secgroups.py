"""Security groups and their rules, as Zed's ``SecurityGroupDbMixin`` keeps them.

**Groups.** Neutron creates a project's ``default`` group the first time the project needs
one -- when it creates a network, a port or a group, or lists groups or rules -- with four
rules: ingress from members of the same group and egress anywhere, each for IPv4 and IPv6.
Every other new group gets only the two egress rules. No group may be *named* ``default``
(409 ``SecurityGroupDefaultAlreadyExists``), the default group may not be renamed (409
``SecurityGroupCannotUpdateDefault``) nor deleted by its project (409
``SecurityGroupCannotRemoveDefault``; an admin may), and a group some port uses can be
neither deleted nor switched between stateful and stateless (409 ``SecurityGroupInUse``).

**Rules.** A new rule is made canonical, then checked, in Neutron's order:

1. IPv6 ICMP: ``icmp``/``icmpv6`` become ``ipv6-icmp`` (``1`` becomes ``58``) for IPv6;
   a range 1-65535 becomes no range at all;
2. ports: TCP, UDP, SCTP, DCCP and UDP-Lite take ``port_range_min <= port_range_max``, both
   1-65535; ICMP takes a type (min) and code (max) 0-255, a code only with a type; every
   other protocol takes no ports, and no protocol takes none;
3. the prefix's family must match ``ethertype``; IPv6-only protocols need ``IPv6``;
4. one remote at most (prefix, group or address group); the remote group and the rule's
   own group must exist for the rule's project (404 otherwise -- another project's group is
   not there for you);
5. no rule may repeat one the group has (409 ``SecurityGroupRuleExists``): protocol names
   and numbers compare equal, and so do ``0.0.0.0/0``, ``::/0`` and no prefix.

The prefix keeps its host bits as given (``10.0.0.5/24``); ``normalized_cidr`` shows the
network (``10.0.0.0/24``).

**Telling the agents.** A rule created or deleted makes the server cast
``security_groups_rule_updated``, and a port joining or leaving groups (or changing its
addresses) ``security_groups_member_updated``, to the Linux bridge agents -- a fanout on
``q-agent-notifier-security_group-update``. Each agent refreshes the ports it filters that
the change touches, asking ``security_group_info_for_devices`` (:mod:`.rpc`).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import delete, select

from labkit.sim.neutron import address_groups, agents, policy, quotas, rbac
from labkit.sim.neutron import models as m
from labkit.sim.neutron.attributes import ETHERTYPES, IP_PROTOCOL_MAP
from labkit.sim.neutron.db import Tx
from labkit.sim.neutron.errors import (
    cannot_remove_default,
    cannot_update_default,
    ethertype_conflicts_with_protocol,
    invalid_icmp_value,
    invalid_port_range,
    invalid_port_value,
    invalid_protocol_for_port,
    missing_icmp_type,
    multiple_remote_entities,
    protocol_required_with_ports,
    rule_exists,
    rule_parameter_conflict,
    security_group_conflict,
    security_group_in_use,
    security_group_not_found,
    security_group_rule_not_found,
)
from labkit.sim.neutron.notify import AgentNotifier
from labkit.sim.neutron.policy import Context

DEFAULT_DESCRIPTION = "Default security group"
# neutron_lib.agent.topics.get_topic_name("q-agent-notifier", "security_group", "update")
SG_UPDATE_TOPIC = "q-agent-notifier-security_group-update"

# neutron.common._constants: the protocols that take port ranges.
PORT_PROTOCOLS = {"dccp": 33, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136}
ICMP_NUMBERS = (1, 58)
IPV6_ONLY = (
    "ipv6-encap",
    "ipv6-frag",
    "ipv6-icmp",
    "icmpv6",
    "ipv6-nonxt",
    "ipv6-opts",
    "ipv6-route",
    "41",
    "44",
    "58",
    "59",
    "60",
    "43",
)
ANY_PREFIXES = ("0.0.0.0/0", "::/0", None)
# IP_PROTOCOL_NUM_TO_NAME_MAP: number -> name (the last name wins: "0" -> "ip")
_NUM_TO_NAME = {str(v): k for k, v in IP_PROTOCOL_MAP.items() if k != "icmpv6"}


# ---- finding ------------------------------------------------------------------------------------


def default_group_id(tx: Tx, project_id: str) -> str | None:
    row = tx.s.get(m.DefaultSecurityGroup, project_id)
    return row.security_group_id if row else None


def _visible_to(ctx: Context, row: m.SecurityGroup, project_id: str | None = None) -> bool:
    """Does the group exist for ``ctx`` (or, creating a rule, for the rule's project)?"""
    return ctx.is_admin or row.project_id == (project_id or ctx.project_id)


def _reachable(tx: Tx, ctx: Context, row: m.SecurityGroup, project_id: str | None = None) -> bool:
    """As :func:`_visible_to`, or shared with that project by an RBAC entry (the group's
    query hook): a shared group is seen, listed and usable on ports, not changed."""
    if _visible_to(ctx, row, project_id):
        return True
    return rbac.shared_with(tx, "security_group", row.id, project_id or ctx.project_id)


_NARROWING = {
    "id": m.SecurityGroup.id,
    "name": m.SecurityGroup.name,
    "project_id": m.SecurityGroup.project_id,
    "tenant_id": m.SecurityGroup.project_id,
}


def visible_groups(tx: Tx, ctx: Context, filters: dict[str, list[Any]] | None = None) -> list[Any]:
    """The groups the caller may see, oldest first, as plain rows of their table (named as
    the model's attributes). ``filters`` (the list's, converted by
    :func:`~labkit.sim.neutron.attributes.filters`) only narrow what is read: Nova asks for
    a server's groups by id at every status poll, and an admin sees every group of the
    cloud, each shown with its rules. The list still applies every filter afterwards."""
    query = select(*m.SecurityGroup.__table__.columns).order_by(m.SecurityGroup.standard_attr_id)
    if not ctx.is_admin:
        shared = rbac.reachable(tx, "security_group", ctx.project_id, rbac.SHARED)
        query = query.where(
            (m.SecurityGroup.project_id == ctx.project_id) | m.SecurityGroup.id.in_(shared)
        )
    for key, values in (filters or {}).items():
        column = _NARROWING.get(key)
        if column is not None and values and all(isinstance(v, str) for v in values):
            query = query.where(column.in_(values))
    return list(tx.s.execute(query))


def visible_rules(tx: Tx, ctx: Context) -> list[m.SecurityGroupRule]:
    """get_security_group_rule: a project's own rules and every rule of its groups."""
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
    if row is None or not _reachable(tx, ctx, row):
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


def rules_of(tx: Tx, group_ids: list[str]) -> list[m.SecurityGroupRule]:
    if not group_ids:
        return []
    return list(
        tx.s.scalars(
            select(m.SecurityGroupRule)
            .where(m.SecurityGroupRule.security_group_id.in_(group_ids))
            .order_by(m.SecurityGroupRule.standard_attr_id)
        )
    )


def ports_using(tx: Tx, group_id: str) -> list[str]:
    return list(
        tx.s.scalars(
            select(m.SecurityGroupPortBinding.port_id).where(
                m.SecurityGroupPortBinding.security_group_id == group_id
            )
        )
    )


def project_filter(filters: dict[str, list[Any]], ctx: Context) -> str:
    """The project whose default group a list makes sure of (get_security_groups)."""
    wanted = filters.get("project_id") or []
    return str(wanted[0]) if wanted else ctx.project_id


# ---- groups -------------------------------------------------------------------------------------


def _new_rule(
    tx: Tx, project_id: str, group_id: str, direction: str, ethertype: str, **values: Any
) -> m.SecurityGroupRule:
    rule = m.SecurityGroupRule(
        id=tx.new_id(),
        project_id=project_id,
        security_group_id=group_id,
        direction=direction,
        ethertype=ethertype,
        remote_group_id=values.get("remote_group_id"),
        remote_address_group_id=values.get("remote_address_group_id"),
        protocol=values.get("protocol"),
        port_range_min=values.get("port_range_min"),
        port_range_max=values.get("port_range_max"),
        remote_ip_prefix=values.get("remote_ip_prefix"),
        description=values.get("description") or "",
        **tx.standard("securitygrouprules"),
    )
    tx.s.add(rule)
    return rule


def _new_group(
    tx: Tx, project_id: str, name: str, description: str, stateful: bool, default: bool
) -> m.SecurityGroup:
    """A group with Neutron's rules for it: egress anywhere, and for the default group
    ingress from its own members -- each for IPv4 and IPv6."""
    quotas.check(tx, project_id, {"security_group_rule": len(ETHERTYPES) * (2 if default else 1)})
    group = m.SecurityGroup(
        id=tx.new_id(),
        project_id=project_id,
        name=name,
        stateful=stateful,
        description=description,
        **tx.standard("securitygroups"),
    )
    tx.s.add(group)
    tx.s.flush()
    if default:
        tx.s.add(m.DefaultSecurityGroup(project_id=project_id, security_group_id=group.id))
    for ethertype in ETHERTYPES:
        if default:
            _new_rule(tx, project_id, group.id, "ingress", ethertype, remote_group_id=group.id)
        _new_rule(tx, project_id, group.id, "egress", ethertype)
    tx.s.flush()
    return group


def needs_default(tx: Tx, ctx: Context, project_id: str) -> bool:
    """Would :func:`ensure_default` make a group (read only, no lock taken)?"""
    if not project_id or (project_id != ctx.project_id and not ctx.is_admin):
        return False
    return default_group_id(tx, project_id) is None


def ensure_default(tx: Tx, ctx: Context, project_id: str) -> str | None:
    """_ensure_default_security_group: the project's default group, created if missing.
    Nobody but an admin makes one for another project (bug 1987410)."""
    if not project_id or (project_id != ctx.project_id and not ctx.is_admin):
        return None
    found = default_group_id(tx, project_id)
    if found:
        return found
    return _new_group(tx, project_id, "default", DEFAULT_DESCRIPTION, True, default=True).id


def create_group(tx: Tx, ctx: Context, body: dict[str, Any]) -> m.SecurityGroup:
    """POST /security-groups: the quota of groups (the API's quota hook), the project's
    default group made sure of, then the group with its two egress rules."""
    project = body["project_id"]
    quotas.check(tx, project, {"security_group": 1})
    ensure_default(tx, ctx, project)
    return _new_group(
        tx,
        project,
        body.get("name", ""),
        body.get("description", ""),
        bool(body.get("stateful", True)),
        default=False,
    )


def update_group(tx: Tx, ctx: Context, group_id: str, changes: dict[str, Any]) -> m.SecurityGroup:
    group = get_group(tx, ctx, group_id)
    policy.enforce_update(ctx, "security_group", {"project_id": group.project_id}, changes)
    if (
        "stateful" in changes
        and changes["stateful"] != group.stateful
        and ports_using(tx, group.id)
    ):
        raise security_group_in_use(group.id)
    if group.name == "default" and "name" in changes:
        raise cannot_update_default()
    changed = False
    for key in ("name", "description", "stateful"):
        if key in changes and getattr(group, key) != changes[key]:
            setattr(group, key, changes[key])
            changed = True
    if changed:
        tx.bump(group)
    return group


def delete_group(tx: Tx, ctx: Context, group_id: str) -> None:
    """DELETE /security-groups/ID: not while a port uses it, not the default group unless
    admin. Its rules go with it, and so do other groups' rules naming it as their remote
    group (a foreign key with ON DELETE CASCADE in Neutron)."""
    group = get_group(tx, ctx, group_id)
    policy.enforce_delete(ctx, "security_group", group.project_id)
    if ports_using(tx, group.id):
        raise security_group_in_use(group.id)
    if group.name == "default" and not ctx.is_admin:
        raise cannot_remove_default()
    doomed = rules_of(tx, [group.id]) + list(
        tx.s.scalars(
            select(m.SecurityGroupRule).where(m.SecurityGroupRule.remote_group_id == group.id)
        )
    )
    for rule in {r.id: r for r in doomed}.values():
        _remove_rule(tx, rule)
    tx.s.execute(
        delete(m.DefaultSecurityGroup).where(m.DefaultSecurityGroup.security_group_id == group.id)
    )
    rbac.forget(tx, "security_group", group.id)
    tx.delete_resource(group)


# ---- rules --------------------------------------------------------------------------------------


def _proto_number(protocol: str) -> int:
    """_get_ip_proto_number: a name or a number as given -> the IANA number."""
    name = "ipv6-icmp" if protocol == "icmpv6" else protocol
    return IP_PROTOCOL_MAP[name] if name in IP_PROTOCOL_MAP else int(name)


def _proto_key(protocol: str, ethertype: str | None) -> str:
    """_get_ip_proto_name_and_num, printed: ``tcp`` and ``6`` are the same rule."""
    if ethertype == "IPv6":
        if protocol in ("icmp", "icmpv6"):
            protocol = "ipv6-icmp"
        elif protocol == "1":
            protocol = "58"
    if protocol in IP_PROTOCOL_MAP:
        pair = [protocol, str(IP_PROTOCOL_MAP[protocol])]
    elif protocol in _NUM_TO_NAME:
        pair = [_NUM_TO_NAME[protocol], protocol]
    else:
        pair = [protocol, protocol]
    return repr(pair)


def _rule_key(rule: dict[str, Any]) -> str:
    """_rule_to_key: what makes two rules the same."""
    parts = []
    for key in (
        "direction",
        "ethertype",
        "port_range_max",
        "port_range_min",
        "protocol",
        "remote_group_id",
        "remote_address_group_id",
        "remote_ip_prefix",
        "security_group_id",
    ):
        value = rule.get(key)
        if value is None or (key == "remote_ip_prefix" and value in ANY_PREFIXES):
            parts.append("+")
        elif key == "protocol":
            parts.append(_proto_key(str(value), rule.get("ethertype")))
        else:
            parts.append(str(value))
    return "_".join(parts)


def _canonical(rule: dict[str, Any]) -> None:
    """IPv6 ICMP under its one name; the whole port range as no range."""
    if rule.get("ethertype") == "IPv6":
        if rule.get("protocol") in ("icmp", "icmpv6"):
            rule["protocol"] = "ipv6-icmp"
        elif rule.get("protocol") == "1":
            rule["protocol"] = "58"
    if rule.get("port_range_min") == 1 and rule.get("port_range_max") == 65535:
        rule["port_range_min"] = rule["port_range_max"] = None


def _check_ports(rule: dict[str, Any]) -> None:
    """_validate_port_range."""
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if low is None and high is None:
        return
    if not rule.get("protocol"):
        raise protocol_required_with_ports()
    number = _proto_number(str(rule["protocol"]))
    if number in PORT_PROTOCOLS.values():
        if low == 0 or high == 0:
            raise invalid_port_value(0)
        if low is None or high is None or low > high:
            raise invalid_port_range()
    elif number in ICMP_NUMBERS:
        for attr, field, value in (
            ("port_range_min", "type", low),
            ("port_range_max", "code", high),
        ):
            if value is not None and not 0 <= value <= 255:
                raise invalid_icmp_value(field, attr, value)
        if low is None and high is not None:
            raise missing_icmp_type(high)
    else:
        raise invalid_protocol_for_port(number, ", ".join(p.upper() for p in PORT_PROTOCOLS))


def _check_prefix(rule: dict[str, Any]) -> None:
    """_validate_ip_prefix: the prefix's family is the rule's ethertype."""
    prefix = rule.get("remote_ip_prefix")
    if prefix:
        version = ipaddress.ip_interface(prefix).version
        if rule["ethertype"] != f"IPv{version}":
            raise rule_parameter_conflict(rule["ethertype"], prefix)


def create_rule(tx: Tx, ctx: Context, body: dict[str, Any]) -> m.SecurityGroupRule:
    """POST /security-group-rules: quota, canonical form, checks, duplicates, then the rule."""
    rule = dict(body)
    project = rule["project_id"]
    quotas.check(tx, project, {"security_group_rule": 1})
    _canonical(rule)
    _check_ports(rule)
    _check_prefix(rule)
    if rule.get("protocol") in IPV6_ONLY and rule["ethertype"] == "IPv4":
        raise ethertype_conflicts_with_protocol(rule["ethertype"], rule["protocol"])
    remotes = [
        k for k in ("remote_ip_prefix", "remote_group_id", "remote_address_group_id") if rule.get(k)
    ]
    if len(remotes) > 1:
        raise multiple_remote_entities()
    remote_group = rule.get("remote_group_id")
    if remote_group:
        _group_for_rule(tx, ctx, remote_group, project)
    if rule.get("remote_address_group_id"):
        address_groups.check_for_rule(tx, rule["remote_address_group_id"], project)
    group = _group_for_rule(tx, ctx, rule["security_group_id"], project)
    key = _rule_key(rule)
    for existing in rules_of(tx, [group.id]):
        if _rule_key(_rule_values(existing)) == key:
            raise rule_exists(existing.id)
    created = _new_rule(
        tx,
        project,
        group.id,
        rule["direction"],
        rule["ethertype"],
        **{k: rule.get(k) for k in _RULE_VALUES},
        description=rule.get("description", ""),
    )
    tx.s.flush()
    return created


_RULE_VALUES = (
    "remote_group_id",
    "remote_address_group_id",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
)


def _rule_values(row: m.SecurityGroupRule) -> dict[str, Any]:
    return {
        "direction": row.direction,
        "ethertype": row.ethertype,
        "security_group_id": row.security_group_id,
        **{k: getattr(row, k) for k in _RULE_VALUES},
    }


def _group_for_rule(tx: Tx, ctx: Context, group_id: Any, project_id: str) -> m.SecurityGroup:
    """_check_security_group with the rule's project: another project's group is not
    there (404), unless the caller is an admin."""
    row = tx.s.get(m.SecurityGroup, group_id) if isinstance(group_id, str) else None
    if row is None or not _visible_to(ctx, row, project_id):
        raise security_group_not_found(str(group_id))
    return row


def delete_rule(tx: Tx, ctx: Context, rule_id: str) -> str:
    """DELETE /security-group-rules/ID; returns the group the rule belonged to."""
    rule = get_rule(tx, ctx, rule_id)
    policy.enforce_delete(ctx, "security_group_rule", rule.project_id)
    group_id = rule.security_group_id
    _remove_rule(tx, rule)
    return group_id


def _remove_rule(tx: Tx, rule: m.SecurityGroupRule) -> None:
    tx.delete_resource(rule)


# ---- ports --------------------------------------------------------------------------------------


def groups_for_port(
    tx: Tx, ctx: Context, project_id: str | None, wanted: list[str]
) -> list[m.SecurityGroup]:
    """_get_security_groups_on_port: the groups must exist for the caller and (unless an
    admin asks, or an update names no project) belong to the port's project or be shared
    with it; a port's groups are all stateful or all stateless."""
    found: list[m.SecurityGroup] = []
    missing = []
    for group_id in wanted:
        row = tx.s.get(m.SecurityGroup, group_id)
        seen = row is not None and _reachable(tx, ctx, row)
        allowed = (
            ctx.is_admin
            or not project_id
            or (row is not None and _reachable(tx, ctx, row, project_id))
        )
        if row is not None and seen and allowed:
            found.append(row)
        else:
            missing.append(group_id)
    if missing:
        raise security_group_not_found(", ".join(missing))
    if len({g.stateful for g in found}) > 1:
        raise security_group_conflict(
            "Cannot apply both stateful and stateless security groups on the same port at "
            "the same time"
        )
    return found


def groups_of_port(tx: Tx, port_id: str) -> list[str]:
    return sorted(
        tx.s.scalars(
            select(m.SecurityGroupPortBinding.security_group_id).where(
                m.SecurityGroupPortBinding.port_id == port_id
            )
        )
    )


def bind_port(tx: Tx, port_id: str, group_ids: list[str]) -> None:
    tx.s.execute(
        delete(m.SecurityGroupPortBinding).where(m.SecurityGroupPortBinding.port_id == port_id)
    )
    tx.s.flush()
    for group_id in dict.fromkeys(group_ids):
        tx.s.add(m.SecurityGroupPortBinding(port_id=port_id, security_group_id=group_id))
    tx.s.flush()


# ---- telling the agents -----------------------------------------------------------------------


def _agent_hosts(tx: Tx) -> list[str]:
    """Where Linux bridge agents consume the fanout: every one the server has heard from."""
    rows = tx.s.scalars(select(m.Agent.host).where(m.Agent.agent_type == agents.LINUXBRIDGE))
    return sorted(set(rows))


def _fanout(tx: Tx, notifier: AgentNotifier | None, method: str, group_ids: list[str]) -> None:
    """After the commit, cast ``method`` to every Linux bridge agent. The sim's bus has no
    fanout exchange: one cast per agent's own queue does what the fanout queues do (a
    stopped agent finds its messages when it starts again)."""
    if notifier is None or not group_ids:
        return
    hosts = _agent_hosts(tx)
    wanted = sorted(set(group_ids))

    def cast() -> None:
        for host in hosts:
            client = notifier.bus.client(
                notifier.component, notifier.host, SG_UPDATE_TOPIC, notifier.transport_url, host
            )
            client.cast(method, security_groups=wanted)

    tx.after_commit(cast)


def notify_rule_updated(tx: Tx, notifier: AgentNotifier | None, group_ids: list[str]) -> None:
    """security_groups_rule_updated: the rules of these groups changed."""
    _fanout(tx, notifier, "security_groups_rule_updated", group_ids)


def notify_member_updated(tx: Tx, notifier: AgentNotifier | None, group_ids: list[str]) -> None:
    """security_groups_member_updated: ports joined or left these groups (or changed their
    addresses) -- rules naming them as remote group now match other addresses."""
    _fanout(tx, notifier, "security_groups_member_updated", group_ids)
