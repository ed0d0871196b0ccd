"""From a guest to Nova's metadata API, the Neutron part: the proxy in the DHCP namespace and
the neutron-metadata-agent.

On a provider network there is no router to catch ``169.254.169.254``, so with
``enable_isolated_metadata = true`` (dhcp_agent.ini, as the Install Guide sets it) the DHCP
agent gives the network's namespace ``qdhcp-<network>`` that address too and starts an
**haproxy** on port 80 there. haproxy knows nothing about instances: it sets
``X-Forwarded-For`` (the guest's address) and ``X-Neutron-Network-ID`` and passes the request
to the unix socket ``/var/lib/neutron/metadata_proxy`` -- where the **metadata agent**
listens. No agent, no backend: haproxy's own ``503 Service Unavailable`` page.

The agent (``MetadataProxyHandler``) asks neutron-server over RPC which port on that network
has that address (``get_ports``), takes the port's device (the instance) and project, signs
the instance id with ``metadata_proxy_shared_secret`` and forwards the request to
``http://<nova_metadata_host>:<nova_metadata_port>`` (nova-api-metadata). Nova's answer comes
back as is when it is a 200; a 403 (the secrets differ) becomes the agent's own 403 and the
warning "The remote metadata server responded with Forbidden. This response usually occurs
when shared secrets do not match."; an unreachable Nova is a 500 ("An unknown error has
occurred. Please try your request again.").
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

import httpx

from labkit.sim.core import webob_style
from labkit.sim.core.bus import MessagingTimeout, RemoteError
from labkit.sim.core.wire import HttpHandler, WireRequest, WireResponse
from labkit.sim.neutron.config import AgentConf

# haproxy's built-in page when its backend (the agent's socket) does not answer.
HAPROXY_503 = (
    b"<html><body><h1>503 Service Unavailable</h1>\n"
    b"No server is available to handle this request.\n"
    b"</body></html>\n"
)
UNKNOWN_ERROR = "An unknown error has occurred. Please try your request again."
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# The headers haproxy owns: whatever the guest sent under these names is replaced.
PROXY_HEADERS = ("x-forwarded-for", "x-neutron-network-id", "x-neutron-router-id")


class Backend(Protocol):
    """What haproxy hands requests to (the metadata agent on the same host)."""

    def proxy(self, request: WireRequest) -> WireResponse | None:
        """The agent's answer, or None when it does not run (nothing on the socket)."""
        ...


def haproxy(network_id: str, backend: Callable[[], Backend | None]) -> HttpHandler:
    """The metadata proxy of one network (haproxy in ``qdhcp-<network_id>`` listening on
    169.254.169.254:80): the handler the DHCP agent attaches to the wire."""

    def handle(request: WireRequest) -> WireResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in PROXY_HEADERS}
        headers["X-Forwarded-For"] = request.source  # option forwardfor
        headers["X-Neutron-Network-ID"] = network_id  # http-request set-header
        agent = backend()
        answer = agent.proxy(replace(request, headers=headers)) if agent is not None else None
        if answer is None:
            return WireResponse(
                503, HAPROXY_503, {"Content-Type": "text/html", "Cache-Control": "no-cache"}
            )
        return answer

    return handle


def sign(secret: str, instance_id: str) -> str:
    """``X-Instance-ID-Signature``: HMAC-SHA256 of the instance id, keyed with the secret."""
    return hmac.new(secret.encode(), instance_id.encode(), hashlib.sha256).hexdigest()


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _webob(request: WireRequest, status: int, explanation: str | None = None) -> WireResponse:
    """A ``webob.exc`` answer of the agent, shaped by the guest's Accept header."""
    content_type, body = webob_style.body(
        status, explanation, accept=_header(request.headers, "accept")
    )
    return WireResponse(status, body, {"Content-Type": content_type})


class UnexpectedResponse(Exception):
    pass


class ProxyHandler:
    """The neutron-metadata-agent's ``MetadataProxyHandler``."""

    def __init__(
        self,
        conf: AgentConf,
        host: str,
        http: httpx.Client,
        get_ports: Callable[[dict[str, Any]], list[dict[str, Any]]],
        log: logging.Logger,
    ) -> None:
        self.conf = conf
        self.host = host
        self.http = http
        self.get_ports = get_ports  # the RPC to neutron-server (q-plugin)
        self.log = log

    def __call__(self, request: WireRequest) -> WireResponse:
        try:
            instance_id, tenant_id = self._instance_and_tenant(request)
            if not instance_id:
                return _webob(request, 404)
            answer = self._proxy(instance_id, tenant_id, request)
            if answer.status == 404:
                self.log.info(
                    "The instance: %s is not present anymore, skipping cache...", instance_id
                )
                instance_id, tenant_id = self._instance_and_tenant(request)
                if instance_id:
                    return self._proxy(instance_id, tenant_id, request)
            return answer
        except (
            MessagingTimeout,
            RemoteError,
            httpx.HTTPError,
            ValueError,
            UnexpectedResponse,
        ) as exc:
            self.log.error("Unexpected error.: %s: %s", type(exc).__name__, exc)
            return _webob(request, 500, UNKNOWN_ERROR)

    def _instance_and_tenant(self, request: WireRequest) -> tuple[str | None, str | None]:
        """The one port on the request's network that has the sender's address."""
        forwarded = _header(request.headers, "x-forwarded-for") or ""
        network_id = _header(request.headers, "x-neutron-network-id")
        router_id = _header(request.headers, "x-neutron-router-id")
        if network_id and router_id:  # only one may be given: it could be spoofed
            return None, None
        address = ipaddress.ip_address(forwarded)  # ValueError: a 500, as netaddr's error
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            forwarded = str(address.ipv4_mapped)
        filters: dict[str, Any] = {"fixed_ips": {"ip_address": [forwarded]}}
        if network_id:
            filters["network_id"] = [network_id]
        elif router_id:  # the sim's Neutron has no routers: no network is behind one
            return None, None
        else:
            raise ValueError("Either one of parameter network_id or router_id must be passed")
        ports = self.get_ports(filters)
        if len(ports) == 1:
            return str(ports[0]["device_id"]), str(ports[0]["tenant_id"])
        return None, None

    def _proxy(self, instance_id: str, tenant_id: str | None, request: WireRequest) -> WireResponse:
        host = self.conf.nova_metadata_host
        if host in LOOPBACK:  # nova-api-metadata on this very host
            host = self.host
        if ":" in host:
            host = f"[{host}]"
        url = f"http://{host}:{self.conf.nova_metadata_port}{request.path}"
        headers = {
            "X-Forwarded-For": _header(request.headers, "x-forwarded-for") or "",
            "X-Instance-ID": instance_id,
            "X-Tenant-ID": tenant_id or "",
            "X-Instance-ID-Signature": sign(self.conf.metadata_proxy_shared_secret, instance_id),
        }
        try:
            answer = self.http.request(
                request.method, url, headers=headers, content=request.body or None
            )
        except httpx.ConnectError as exc:
            raise httpx.ConnectError(
                f"HTTPConnectionPool(host='{host}', port={self.conf.nova_metadata_port}): Max "
                f"retries exceeded with url: {request.path} (Caused by NewConnectionError("
                f"'Failed to establish a new connection: {exc}'))"
            ) from None
        status = answer.status_code
        if status == 200:
            return WireResponse(
                200,
                answer.content,
                {"Content-Type": answer.headers.get("content-type", "text/html; charset=UTF-8")},
            )
        if status == 403:
            self.log.warning(
                "The remote metadata server responded with Forbidden. This response usually "
                "occurs when shared secrets do not match."
            )
            return _webob(request, 403)
        if status in (400, 404, 409):
            return _webob(request, status)
        if status == 500:
            message = "Remote metadata server experienced an internal server error."
            self.log.warning(message)
            return _webob(request, 500, message)
        raise UnexpectedResponse(f"Unexpected response code: {status}")
