"""What is left of nova-network in Zed's API: ``/os-networks`` and ``/os-tenant-networks``
read Neutron's networks (with the caller's token) up to microversion 2.35, in the old shape
where all but the id and the name are null; creating, deleting and associating networks is
410 Gone, as is every API that only nova-network or cells v1 ever served (``os-fping``,
``os-fixed-ips``, ``os-floating-ips-bulk``, ``os-floating-ip-dns``, ``os-cells``,
``os-agents``, ``os-cloudpipe``, ``os-certificates``, ``os-security-group-default-rules``,
a server's ``consoles`` and ``os-virtual-interfaces``) -- at every microversion, before any
policy check, as Zed's controllers raise ``HTTPGone`` first thing
(``nova/api/openstack/compute/networks.py``, ``tenant_networks.py`` and the others).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.nova.api._helpers import caller
from labkit.sim.nova.api.security_group_proxy import proxy_api
from labkit.sim.nova.api.security_groups import _neutron
from labkit.sim.nova.errors import NovaError, bad_request, not_found, unexpected

routes = Routes()
GONE = "This resource is no longer available. No forwarding address is given."
_FIELDS = ("cidr", "netmask", "gateway", "broadcast", "dns1", "dns2", "cidr_v6", "gateway_v6")
_FIELDS_TAIL = ("netmask_v6",)
_ADMIN_FIELDS = (
    "created_at",
    "updated_at",
    "deleted_at",
    "deleted",
    "injected",
    "bridge",
    "vlan",
    "vpn_public_address",
    "vpn_public_port",
    "vpn_private_address",
    "dhcp_start",
    "project_id",
    "host",
    "bridge_interface",
    "multi_host",
    "priority",
    "rxtx_base",
    "mtu",
    "dhcp_server",
    "enable_dhcp",
    "share_address",
)


def gone() -> NovaError:
    return NovaError(GONE, status=410)


def _networks(call: Call) -> list[dict[str, Any]]:
    answer = _neutron(call, "GET", "/networks")
    if answer.status_code != 200:
        raise unexpected("neutronclient.common.exceptions.NeutronClientException")
    return list(answer.json()["networks"])


def _network(call: Call, network_id: str) -> dict[str, Any]:
    answer = _neutron(call, "GET", f"/networks/{quote(network_id, safe='')}")
    if answer.status_code == 404:
        raise not_found("Network not found")
    if answer.status_code != 200:
        raise unexpected("neutronclient.common.exceptions.NeutronClientException")
    return dict(answer.json()["network"])


def _nova_network(call: Call, network: dict[str, Any]) -> dict[str, Any]:
    """``networks.network_dict``: the id and the name (as ``label``), every other field of
    nova-network's null -- more of them for an admin."""
    names: tuple[str, ...] = ("id", *_FIELDS, "label", *_FIELDS_TAIL)
    if caller(call).is_admin:
        names += _ADMIN_FIELDS
    out: dict[str, Any] = dict.fromkeys(names)
    out.update(id=network["id"], label=network.get("name"))
    return out


def _tenant_network(network: dict[str, Any]) -> dict[str, Any]:
    """``tenant_networks.network_dict``: ``cidr`` is the text 'None', as it always was."""
    return {"id": network.get("id"), "cidr": "None", "label": network.get("name")}


@routes.get("/v2.1/os-networks")
def list_networks(call: Call) -> Response:
    proxy_api(call)
    return json_response({"networks": [_nova_network(call, n) for n in _networks(call)]})


@routes.get("/v2.1/os-networks/{network_id}")
def show_network(call: Call, network_id: str) -> Response:
    proxy_api(call)
    return json_response({"network": _nova_network(call, _network(call, network_id))})


@routes.get("/v2.1/os-tenant-networks")
def list_tenant_networks(call: Call) -> Response:
    proxy_api(call)
    return json_response({"networks": [_tenant_network(n) for n in _networks(call)]})


@routes.get("/v2.1/os-tenant-networks/{network_id}")
def show_tenant_network(call: Call, network_id: str) -> Response:
    proxy_api(call)
    return json_response({"network": _tenant_network(_network(call, network_id))})


def _gone_actions(*names: str) -> Callable[..., Response]:
    """An ``/action`` route whose actions are all gone: a known action is 410, another
    Nova's 400 for an action no controller has."""

    def handler(call: Call, **_: str) -> Response:
        data = call.json()
        if not isinstance(data, dict) or len(data) != 1:
            raise bad_request("There is no such action: None")
        (name,) = data
        if name not in names:
            raise bad_request(f"There is no such action: {name}")
        raise gone()

    return handler


def _always_gone(call: Call, **_: str) -> Response:
    raise gone()


_GONE_ROUTES = {
    "/os-agents": ("GET", "POST"),
    "/os-agents/{id}": ("PUT", "DELETE"),
    "/os-cells": ("GET", "POST"),
    "/os-cells/capacities": ("GET",),
    "/os-cells/detail": ("GET",),
    "/os-cells/info": ("GET",),
    "/os-cells/sync_instances": ("POST",),
    "/os-cells/{id}": ("GET", "PUT", "DELETE"),
    "/os-cells/{id}/capacities": ("GET",),
    "/os-certificates": ("POST",),
    "/os-certificates/{id}": ("GET",),
    "/os-cloudpipe": ("GET", "POST"),
    "/os-cloudpipe/{id}": ("PUT",),
    "/os-fixed-ips/{id}": ("GET",),
    "/os-floating-ip-dns": ("GET",),
    "/os-floating-ip-dns/{id}": ("PUT", "DELETE"),
    "/os-floating-ip-dns/{domain_id}/entries/{id}": ("GET", "PUT", "DELETE"),
    "/os-floating-ips-bulk": ("GET", "POST"),
    "/os-floating-ips-bulk/{id}": ("GET", "PUT"),
    "/os-fping": ("GET",),
    "/os-fping/{id}": ("GET",),
    "/os-networks": ("POST",),
    "/os-networks/add": ("POST",),
    "/os-networks/{network_id}": ("DELETE",),
    "/os-security-group-default-rules": ("GET", "POST"),
    "/os-security-group-default-rules/{id}": ("GET", "DELETE"),
    "/os-tenant-networks": ("POST",),
    "/os-tenant-networks/{network_id}": ("DELETE",),
    "/servers/{server_id}/consoles": ("GET", "POST"),
    "/servers/{server_id}/consoles/{id}": ("GET", "DELETE"),
    "/servers/{server_id}/os-virtual-interfaces": ("GET",),
}
for _path, _methods in _GONE_ROUTES.items():
    for _method in _methods:
        routes.add(_method, f"/v2.1{_path}", _always_gone)
routes.add("POST", "/v2.1/os-fixed-ips/{id}/action", _gone_actions("reserve", "unreserve"))
routes.add(
    "POST",
    "/v2.1/os-networks/{network_id}/action",
    _gone_actions("disassociate", "disassociate_host", "disassociate_project", "associate_host"),
)
