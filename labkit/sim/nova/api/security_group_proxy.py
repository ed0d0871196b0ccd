"""``/os-security-groups`` and ``/os-security-group-rules``: Nova's proxy to Neutron's
security groups, served up to microversion 2.35 (a 404 from 2.36, as every proxy API).

Nova keeps nothing: each call asks Neutron with the caller's token and answers in the old
nova-network shapes (``nova/api/openstack/compute/security_groups.py`` with
``nova/network/security_group_api.py``): a group is ``{id, name, description, tenant_id,
rules}`` with only its ingress rules, each ``{id, parent_group_id, ip_protocol, from_port,
to_port, group, ip_range}``.

What Nova checks itself, with its own words, before Neutron sees anything: a body at all
("The request body can't be empty", "Missing parameter ..."), ids that look like UUIDs
("Security group id should be uuid"), name and description strings of at most 255
characters, a rule's protocol (tcp, udp or icmp, any case), its ports (integers in range,
from <= to), a CIDR, and that the group does not have the same rule already. Neutron's
refusals come back as Nova maps them: a 404 as itself, a 409 on create as 403
(SecurityGroupLimitExceeded), a 400 as 400 -- with Neutron's message.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.nova.api._helpers import MAX_LIMIT, caller, is_uuid, microversion_at_least
from labkit.sim.nova.api.security_groups import (
    _group_data,
    _neutron,
    _neutron_message,
    _nova_rule,
    nova_group,
)
from labkit.sim.nova.errors import NovaError, bad_request, forbidden, not_found, unexpected

routes = Routes()


def proxy_api(call: Call) -> None:
    """The proxy APIs end at 2.35: from 2.36 the routes are a 404, as any route a
    microversion lacks."""
    if microversion_at_least(call, "2.36"):
        raise not_found("The resource could not be found.")


def _from_body(call: Call, key: str) -> dict[str, Any]:
    """``SecurityGroupControllerBase._from_body``: no JSON schema, only these two checks."""
    body = call.json()
    if not body:
        raise bad_request("The request body can't be empty")
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, dict):  # Nova: None is "Missing"; a non-object fails later, 500
        raise bad_request(f"Missing parameter {key}")
    return value


def _valid_id(value: Any) -> str:
    if not isinstance(value, str) or not is_uuid(value):
        raise bad_request("Security group id should be uuid")
    return value


def _check_string(value: Any, name: str) -> str:
    """``utils.check_string_length(value, name, 0, 255)`` (oslo's words)."""
    if not isinstance(value, str):
        raise bad_request(f"{name} is not a string or unicode")
    if len(value) > 255:
        raise bad_request(f"{name} has more than 255 characters.")
    return value


def _neutron_error(answer: Any, on_conflict: int = 500) -> NovaError:
    """A Neutron refusal as Nova maps it: 404 and 400 as themselves (with Neutron's
    message); 409 as ``on_conflict``; anything else escapes (500)."""
    message = _neutron_message(answer)
    if answer.status_code == 404:
        return not_found(message)
    if answer.status_code == 400:
        return bad_request(message)
    if answer.status_code == 409 and on_conflict == 403:
        return forbidden(message)
    if answer.status_code == 409 and on_conflict == 400:
        return bad_request(message)
    return unexpected("neutronclient.common.exceptions.NeutronClientException")


def _get_group(call: Call, group_id: str) -> dict[str, Any]:
    answer = _neutron(call, "GET", f"/security-groups/{group_id}")
    if answer.status_code != 200:
        raise _neutron_error(answer)
    return dict(answer.json()["security_group"])


def _project(group: dict[str, Any]) -> Any:
    return group.get("tenant_id", group.get("project_id"))


def _group_view(
    group: dict[str, Any], data: dict[str, dict[str, Any] | None] | None = None
) -> dict[str, Any]:
    """The group in Nova's shape; the groups its rules name are looked up in ``data``
    (default: the group itself only)."""
    return nova_group(group, data if data is not None else _local_data([group]))


def _local_data(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    return {g["id"]: {"name": g.get("name"), "tenant_id": _project(g)} for g in groups}


# ---- groups -------------------------------------------------------------------------------------


def _non_negative(call: Call, name: str) -> int | None:
    raw = call.query.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise bad_request(
            f"Invalid input for query parameters {name}. Value: {raw}. '{raw}' does not match "
            "'^[0-9]*$'"
        )
    return int(raw)


@routes.get("/v2.1/os-security-groups")
def list_groups(call: Call) -> Response:
    """The caller's project's groups (every project's for an admin with ``all_tenants``),
    cut by ``offset``/``limit`` and sorted by project then name."""
    proxy_api(call)
    offset = _non_negative(call, "offset") or 0
    limit = min(MAX_LIMIT, _non_negative(call, "limit") or MAX_LIMIT)
    who = caller(call)
    path = "/security-groups"
    if not (who.is_admin and "all_tenants" in call.query):
        path += f"?tenant_id={who.project_id}"
    answer = _neutron(call, "GET", path)
    if answer.status_code != 200:
        raise unexpected("neutronclient.common.exceptions.NeutronClientException")
    groups = list(answer.json()["security_groups"])[offset : offset + limit]
    shown = [_group_view(g) for g in groups]
    shown.sort(key=lambda g: (g["tenant_id"] or "", g["name"] or ""))
    return json_response({"security_groups": shown})


@routes.post("/v2.1/os-security-groups")
def create_group(call: Call) -> Response:
    proxy_api(call)
    wanted = _from_body(call, "security_group")
    name = _check_string(wanted.get("name"), "name")
    description = _check_string(wanted.get("description"), "description")
    body = {"security_group": {"name": name, "description": description}}
    answer = _neutron(call, "POST", "/security-groups", json=body)
    if answer.status_code != 201:
        raise _neutron_error(answer, on_conflict=403)
    return json_response({"security_group": _group_view(answer.json()["security_group"])})


@routes.get("/v2.1/os-security-groups/{group_id}")
def show_group(call: Call, group_id: str) -> Response:
    proxy_api(call)
    group = _get_group(call, _valid_id(group_id))
    return json_response({"security_group": _group_view(group, _group_data(call, [group]))})


@routes.put("/v2.1/os-security-groups/{group_id}")
def update_group(call: Call, group_id: str) -> Response:
    proxy_api(call)
    group = _get_group(call, _valid_id(group_id))
    wanted = _from_body(call, "security_group")
    name = _check_string(wanted.get("name"), "name")
    description = _check_string(wanted.get("description"), "description")
    body = {"security_group": {"name": name, "description": description}}
    answer = _neutron(call, "PUT", f"/security-groups/{group['id']}", json=body)
    if answer.status_code != 200:
        raise _neutron_error(answer)
    return json_response({"security_group": _group_view(answer.json()["security_group"])})


@routes.delete("/v2.1/os-security-groups/{group_id}")
def delete_group(call: Call, group_id: str) -> Response:
    """202; Neutron's 409 (the default group, a group in use) is Nova's 400."""
    proxy_api(call)
    group = _get_group(call, _valid_id(group_id))
    answer = _neutron(call, "DELETE", f"/security-groups/{group['id']}")
    if answer.status_code != 204:
        raise _neutron_error(answer, on_conflict=400)
    return empty_response(202)


# ---- rules --------------------------------------------------------------------------------------


def _cidr(value: Any) -> str:
    """``parse_cidr``: none is 0.0.0.0/0; else an address with a prefix length."""
    if not value:
        return "0.0.0.0/0"
    text = str(value)
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise bad_request(f"{text} is not a valid IP network.") from None
    if "/" not in text or not text.split("/", 1)[1]:
        raise bad_request(f"{text} is not a valid IP network.")
    return text


def _port(value: Any, protocol: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        if protocol == "ICMP":
            raise bad_request(
                "Invalid input received: Type and Code must be integers for ICMP protocol type"
            ) from None
        raise bad_request("Invalid input received: To and From ports must be integers") from None


def _new_rule(
    protocol: Any, low: Any, high: Any, group_id: str | None, cidr: str | None
) -> dict[str, Any] | None:
    """``_new_ingress_rule``: the rule's values, or None when a CIDR rule lacks a protocol
    or ports ("Not enough parameters")."""
    values: dict[str, Any] = {"group_id": group_id} if group_id else {"cidr": cidr}
    upper = str(protocol).upper() if protocol else ""
    if group_id and low is None and high is None:
        if upper == "ICMP":
            low = high = -1
        elif upper in ("TCP", "UDP"):
            low, high = 1, 65535
    if not (protocol and low is not None and high is not None):
        return None if not group_id else values
    low, high = _port(low, upper), _port(high, upper)
    if upper not in ("TCP", "UDP", "ICMP"):
        raise bad_request(f"Invalid IP protocol {protocol}.")
    if upper in ("TCP", "UDP") and low > high:
        raise bad_request(
            f"Invalid port range {low}:{high}. Former value cannot be greater than the later"
        )
    if upper in ("TCP", "UDP") and (low < 1 or high > 65535):
        raise bad_request(
            f"Invalid port range {low}:{high}. Valid {upper} ports should be between 1-65535"
        )
    if upper == "ICMP" and not (-1 <= low <= 255 and -1 <= high <= 255):
        raise bad_request(f"Invalid port range {low}:{high}. For ICMP, the type:code must be valid")
    values.update(protocol=str(protocol), from_port=low, to_port=high)
    return values


def _nova_form(rule: dict[str, Any]) -> dict[str, Any]:
    """An existing Neutron rule as ``_rule_exists`` compares it."""
    protocol = rule.get("protocol")
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if protocol and low is None and high is None:
        low, high = (1, 65535) if str(protocol).upper() in ("TCP", "UDP") else (-1, -1)
    return {
        "group_id": rule.get("remote_group_id"),
        "cidr": rule.get("remote_ip_prefix") or "0.0.0.0/0",
        "from_port": low,
        "to_port": high,
        "protocol": protocol,
    }


def _neutron_rule(rule: dict[str, Any], parent: str) -> dict[str, Any]:
    """``_make_neutron_security_group_rules_list`` for one rule."""
    cidr = rule.get("cidr")
    version = ipaddress.ip_network(cidr, strict=False).version if cidr else 4
    out: dict[str, Any] = {
        "direction": "ingress",
        "protocol": rule.get("protocol"),
        "ethertype": "IPv6" if version == 6 else "IPv4",
        "remote_ip_prefix": cidr,
        "security_group_id": parent,
        "remote_group_id": rule.get("group_id"),
    }
    if "from_port" in rule and rule["from_port"] != -1:
        out["port_range_min"] = rule["from_port"]
    if "to_port" in rule and rule["to_port"] != -1:
        out["port_range_max"] = rule["to_port"]
    return out


@routes.post("/v2.1/os-security-group-rules")
def create_rule(call: Call) -> Response:
    proxy_api(call)
    wanted = _from_body(call, "security_group_rule")
    parent = _get_group(call, _valid_id(wanted.get("parent_group_id")))
    group_id = wanted.get("group_id")
    source: dict[str, Any] = {}
    ports = (wanted.get("ip_protocol"), wanted.get("from_port"), wanted.get("to_port"))
    if group_id is not None:
        source = _get_group(call, _valid_id(group_id))
        rule = _new_rule(*ports, group_id, None)
    else:
        rule = _new_rule(*ports, None, _cidr(wanted.get("cidr")))
    if rule is None:
        raise bad_request("Not enough parameters to build a valid rule.")
    if "cidr" in rule:
        net = ipaddress.ip_network(rule["cidr"], strict=False)
        address = rule["cidr"].split("/", 1)[0]
        if net.prefixlen == 0 and address not in ("0.0.0.0", "::"):
            raise bad_request(f"Bad prefix for network in cidr {rule['cidr']}")
    keys = ("group_id", "cidr", "from_port", "to_port", "protocol")
    for existing in parent.get("security_group_rules") or []:
        if existing.get("direction") != "ingress":
            continue
        known = _nova_form(existing)
        if all(known.get(k) == rule.get(k) for k in keys):
            raise bad_request(f"This rule already exists in group {parent['id']}")
    body = {"security_group_rules": [_neutron_rule(rule, parent["id"])]}
    answer = _neutron(call, "POST", "/security-group-rules", json=body)
    if answer.status_code != 201:
        raise _neutron_error(answer, on_conflict=403)
    (made,) = answer.json()["security_group_rules"]
    data: dict[str, dict[str, Any] | None] = {}
    if group_id:
        data[group_id] = {"name": source.get("name"), "tenant_id": _project(source)}
    return json_response({"security_group_rule": _nova_rule(made, data)})


@routes.delete("/v2.1/os-security-group-rules/{rule_id}")
def delete_rule(call: Call, rule_id: str) -> Response:
    proxy_api(call)
    _valid_id(rule_id)
    answer = _neutron(call, "GET", f"/security-group-rules/{rule_id}")
    if answer.status_code != 200:
        raise _neutron_error(answer)
    rule = answer.json()["security_group_rule"]
    _get_group(call, rule["security_group_id"])
    answer = _neutron(call, "DELETE", f"/security-group-rules/{rule_id}")
    if answer.status_code != 204:
        raise _neutron_error(answer)
    return empty_response(202)
