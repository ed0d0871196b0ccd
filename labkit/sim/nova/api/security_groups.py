"""A server's security groups, which Nova keeps in Neutron: the ``addSecurityGroup`` and
``removeSecurityGroup`` actions, ``GET /servers/{id}/os-security-groups``, and the
``security_groups`` a server shows (``nova/network/security_group_api.py``,
``nova/api/openstack/compute/security_groups.py``).

With Neutron, Nova stores nothing about a running server's groups: they are the
``security_groups`` of the server's ports (the ports whose ``device_id`` is the server).
Everything here asks Neutron, *with the caller's token* as Nova's ``get_client(context)``
does, so Neutron's own rules decide what the caller may see and change:

- a group is found as neutronclient's ``find_resourceid_by_name_or_id`` finds it: a UUID is
  tried as an id (``GET /security-groups?id=...``), then the text as a name *in the caller's
  project* (``?name=...&tenant_id=...``); two groups of that name are a 409;
- adding appends the group to every port's list and sends ``PUT /ports/{id}`` per port
  (nothing stops a group being added twice: Neutron's 400 for the duplicate comes back);
- removing takes it out of the ports that have it; a group on none of them is a 404;
- ``server show`` lists, port by port, the *names* of the groups (the id when a group has no
  name), so a server with two ports shows each group twice, as Nova does.

The sim differs in one way, on purpose: when Neutron refuses the update of a later port,
the ports already changed are put back, so a failed request changes nothing (Nova leaves
them changed).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.nova import models as m
from labkit.sim.nova.api import _instance as srv
from labkit.sim.nova.api._helpers import caller, nova, owner_or_admin
from labkit.sim.nova.clients import ServiceUnreachable
from labkit.sim.nova.errors import bad_request, conflict, not_found, unexpected

routes = Routes()
MAX_SEARCH_IDS = 150  # ids per Neutron query: its URLs have a maximum length
# neutronclient's UUID_PATTERN, matched at the start only (re.match), as it does
_UUID_PREFIX = re.compile(
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
)
CANNOT_APPLY = (
    "Network requires port_security_enabled and subnet associated in order to apply security "
    "groups."
)


# ---- Neutron, as the caller -------------------------------------------------------------------


def _neutron(call: Call, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """``path`` below ``/v2.0``. A Neutron Nova cannot reach is an error Nova does not
    expect: 500."""
    try:
        return nova(call).neutron.request(method, path, caller(call).token, **kwargs)
    except ServiceUnreachable as exc:
        nova(call).log.error("[%s] Neutron: %s", call.request_id, exc)
        raise unexpected("neutronclient.common.exceptions.ConnectionFailed") from None


def _neutron_message(answer: httpx.Response) -> str:
    """The message of a Neutron error body, as neutronclient extracts it."""
    try:
        body = answer.json()
    except ValueError:
        return answer.text
    error = body.get("NeutronError") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", ""))
    return answer.text


def _listed(call: Call, collection: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
    answer = _neutron(call, "GET", f"/{collection}?{urlencode(params)}")
    if answer.status_code == 404 and collection == "ports":
        return []  # PortNotFoundClient: a server going away; Nova ignores it
    if answer.status_code != 200:
        nova(call).log.error("[%s] Neutron Error: %s", call.request_id, answer.text[:300])
        raise unexpected("neutronclient.common.exceptions.NeutronClientException")
    return list(answer.json().get(collection.replace("-", "_"), []))


def _chunks(ids: list[str]) -> list[list[str]]:
    return [ids[i : i + MAX_SEARCH_IDS] for i in range(0, len(ids), MAX_SEARCH_IDS)]


def ports_of(call: Call, server_ids: list[str]) -> list[dict[str, Any]]:
    """Every port whose ``device_id`` is one of the servers."""
    ports: list[dict[str, Any]] = []
    for chunk in _chunks(server_ids):
        ports += _listed(call, "ports", [("device_id", i) for i in chunk])
    return ports


def groups_by_id(
    call: Call, ports: list[dict[str, Any]], brief: bool = True
) -> dict[str, dict[str, Any]]:
    """The groups the ports use, by id (only ``id`` and ``name`` when ``brief``). A group the
    caller may not see is simply missing."""
    wanted = sorted({g for port in ports for g in port.get("security_groups") or []})
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(wanted):
        params = [("id", i) for i in chunk]
        if brief:
            params += [("fields", "id"), ("fields", "name")]
        for group in _listed(call, "security-groups", params):
            found[group["id"]] = group
    return found


def bindings(call: Call, server_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """``get_instances_security_groups_bindings``: per server, ``[{"name": ...}]`` for each
    group of each port (servers without ports, or whose ports have no groups, are absent)."""
    if not server_ids:
        return {}
    ports = ports_of(call, server_ids)
    groups = groups_by_id(call, ports)
    out: dict[str, list[dict[str, Any]]] = {}
    for port in ports:
        for group_id in port.get("security_groups") or []:
            group = groups.get(group_id)
            if group is not None:
                shown = {"name": group.get("name") or group["id"]}
                out.setdefault(port["device_id"], []).append(shown)
    return out


class _Lookup(Exception):
    """neutronclient's NotFound / NeutronClientNoUniqueMatch while finding a group."""

    def __init__(self, message: str, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.ambiguous = ambiguous


def _find_group_id(call: Call, name_or_id: str) -> str:
    """``find_resourceid_by_name_or_id(neutron, 'security_group', name, project_id)``."""
    if _UUID_PREFIX.match(name_or_id):
        found = _listed(call, "security-groups", [("id", name_or_id), ("fields", "id")])
        if found:
            return str(found[0]["id"])
    params = [("name", name_or_id), ("fields", "id"), ("tenant_id", caller(call).project_id)]
    # A name longer than Neutron's 255 characters names no group: not looked up (its query
    # string would be longer than an HTTP client sends).
    found = _listed(call, "security-groups", params) if len(name_or_id) <= 255 else []
    if len(found) > 1:
        raise _Lookup(
            f"Multiple security_group matches found for name '{name_or_id}', use an ID to be "
            "more specific.",
            ambiguous=True,
        )
    if not found:
        raise _Lookup(f"Unable to find security_group with name or id '{name_or_id}'")
    return str(found[0]["id"])


def check_requested(call: Call, names: list[str]) -> list[str]:
    """``API._check_requested_secgroups`` on server create: every group but ``default`` must
    be found (400, or 409 for an ambiguous name); the answer holds their ids. A name asked
    for twice counts once (the API makes a set of them)."""
    out = []
    for name in dict.fromkeys(names):
        if name == "default":
            out.append(name)
            continue
        try:
            out.append(_find_group_id(call, name))
        except _Lookup as exc:
            raise (conflict if exc.ambiguous else bad_request)(exc.message) from None
    return out


# ---- the actions ------------------------------------------------------------------------------


def _parse(args: Any) -> str:
    """``SecurityGroupActionController._parse``: ``{"name": ...}``, not blank."""
    if not isinstance(args, dict):
        raise bad_request("Missing parameter dict")
    if "name" not in args:
        raise bad_request("Security group not specified")
    name = args["name"]
    # Nova calls .strip() on whatever came: a number would make it fail with a 500. The sim
    # takes the number's text and lets the lookup answer.
    if not name or (isinstance(name, str) and not name.strip()):
        raise bad_request("Security group name cannot be empty")
    return str(name)


def _resolve(call: Call, name: str) -> str:
    """The group's id for add/remove: SecurityGroupNotFound (404) with Nova's own text, or
    NoUniqueMatch (409) with neutronclient's."""
    try:
        return _find_group_id(call, name)
    except _Lookup as exc:
        if exc.ambiguous:
            raise conflict(exc.message) from None
        project = caller(call).project_id
        raise not_found(f"Security group {name} is not found for project {project}") from None


def _server_ports(call: Call, uuid: str) -> list[dict[str, Any]]:
    ports = _listed(call, "ports", [("device_id", uuid)])
    if not ports:
        raise not_found(f"instance_id {uuid} could not be found as device id on any ports")
    return ports


def _meets_requirements(port: dict[str, Any]) -> bool:
    """``_has_security_group_requirements``: port security on, and an address (or one to
    come)."""
    if port.get("fixed_ips") or port.get("ip_allocation") == "deferred":
        return bool(port.get("port_security_enabled", True))
    return False


def _update_ports(call: Call, changes: list[tuple[dict[str, Any], list[str]]]) -> None:
    """``PUT /ports/{id}`` with each port's new group list; on a refusal, the ports already
    changed get their old lists back and Neutron's refusal is raised (400 stays 400)."""
    done: list[dict[str, Any]] = []
    for port, groups in changes:
        answer = _neutron(
            call, "PUT", f"/ports/{port['id']}", json={"port": {"security_groups": groups}}
        )
        if answer.status_code == 200:
            done.append(port)
            continue
        for changed in done:
            _neutron(
                call,
                "PUT",
                f"/ports/{changed['id']}",
                json={"port": {"security_groups": list(changed.get("security_groups") or [])}},
            )
        if answer.status_code == 400:
            raise bad_request(_neutron_message(answer))  # SecurityGroupCannotBeApplied(str(e))
        nova(call).log.error("[%s] Neutron Error: %s", call.request_id, answer.text[:300])
        raise unexpected("neutronclient.common.exceptions.NeutronClientException")


def _add(call: Call, cell: m.CellMapping | None, inst: dict[str, Any], raw: Any) -> Response:
    """``addSecurityGroup``: 202, no body."""
    owner_or_admin(call, inst["project_id"], "os_compute_api:os-security-groups:add")
    name = _parse(raw)
    group_id = _resolve(call, name)
    ports = _server_ports(call, inst["uuid"])
    if not all(_meets_requirements(p) for p in ports):
        raise bad_request(CANNOT_APPLY)
    changes = [(p, [*(p.get("security_groups") or []), group_id]) for p in ports]
    nova(call).log.info(
        "[%s] Adding security group %s to ports %s",
        call.request_id,
        group_id,
        ", ".join(p["id"] for p in ports),
    )
    _update_ports(call, changes)
    return empty_response(202)


def _remove(call: Call, cell: m.CellMapping | None, inst: dict[str, Any], raw: Any) -> Response:
    """``removeSecurityGroup``: 202, no body; 404 when no port of the server has it."""
    owner_or_admin(call, inst["project_id"], "os_compute_api:os-security-groups:remove")
    name = _parse(raw)
    group_id = _resolve(call, name)
    changes = []
    for port in _server_ports(call, inst["uuid"]):
        groups = list(port.get("security_groups") or [])
        if group_id in groups:
            groups.remove(group_id)
            changes.append((port, groups))
    if not changes:
        raise not_found(f"Security group {name} not associated with the instance {inst['uuid']}")
    _update_ports(call, changes)
    return empty_response(202)


ACTIONS = {"addSecurityGroup": _add, "removeSecurityGroup": _remove}


# ---- GET /servers/{id}/os-security-groups ----------------------------------------------------


def _nova_rule(rule: dict[str, Any], data: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """A Neutron ingress rule in Nova's old shape (``_convert_to_nova_security_group_rule_
    format`` then ``_format_security_group_rule``)."""
    protocol = rule.get("protocol")
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if protocol and low is None and high is None:
        low, high = (1, 65535) if str(protocol).upper() in ("TCP", "UDP") else (-1, -1)
    out: dict[str, Any] = {
        "id": rule["id"],
        "parent_group_id": rule["security_group_id"],
        "ip_protocol": protocol,
        "from_port": low,
        "to_port": high,
        "group": {},
        "ip_range": {},
    }
    remote = rule.get("remote_group_id")
    if remote:
        out["group"] = data.get(remote) or {}
    else:
        out["ip_range"] = {"cidr": rule.get("remote_ip_prefix") or "0.0.0.0/0"}
    return out


def _group_data(call: Call, groups: list[dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """``_get_group_rule_data_by_rule_group_id``: name and project of each group a rule
    points at (the listed groups themselves, else one ``GET /security-groups/{id}`` each;
    None for a group that is gone -- its rules are left out)."""
    data: dict[str, dict[str, Any] | None] = {
        g["id"]: {"name": g.get("name"), "tenant_id": g.get("project_id", g.get("tenant_id"))}
        for g in groups
    }
    for group in groups:
        for rule in group.get("security_group_rules") or []:
            remote = rule.get("remote_group_id")
            if rule.get("direction") != "ingress" or not remote or remote in data:
                continue
            answer = _neutron(call, "GET", f"/security-groups/{remote}")
            if answer.status_code == 200:
                found = answer.json()["security_group"]
                data[remote] = {"name": found.get("name"), "tenant_id": found.get("tenant_id")}
            elif answer.status_code == 404:
                data[remote] = None
            else:
                raise unexpected("neutronclient.common.exceptions.NeutronClientException")
    return data


def nova_group(group: dict[str, Any], data: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """A Neutron group in Nova's old shape (``_format_security_group``): its ingress rules
    only, leaving out a rule whose remote group is gone (None in ``data``)."""
    rules = []
    for rule in group.get("security_group_rules") or []:
        if rule.get("direction") != "ingress":
            continue
        remote = rule.get("remote_group_id")
        if remote and data.get(remote) is None:
            continue
        rules.append(_nova_rule(rule, data))
    return {
        "id": group["id"],
        "description": group.get("description"),
        "name": group.get("name"),
        "tenant_id": group.get("tenant_id", group.get("project_id")),
        "rules": rules,
    }


@routes.get("/v2.1/servers/{server_id}/os-security-groups")
def server_groups(call: Call, server_id: str) -> Response:
    """The server's groups in full (rules included), sorted by project then name."""
    _, inst = srv.lookup(call, server_id)
    owner_or_admin(call, inst["project_id"], "os_compute_api:os-security-groups:list")
    ports = ports_of(call, [inst["uuid"]])
    known = groups_by_id(call, ports, brief=False)
    groups = [known[g] for port in ports for g in port.get("security_groups") or [] if g in known]
    data = _group_data(call, groups)
    shown = [nova_group(group, data) for group in groups]
    shown.sort(key=lambda g: (g["tenant_id"] or "", g["name"] or ""))
    return json_response({"security_groups": shown})
