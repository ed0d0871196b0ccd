"""nova-api-metadata: the metadata service (Debian runs it under uwsgi on port 8775 of the
controller, from the nova-api package's ``/etc/init.d/nova-api-metadata``).

Guests never call it directly. Their requests to ``http://169.254.169.254/`` reach the
metadata proxy the DHCP agent runs on their network, then the neutron-metadata-agent, which
finds the port that has the guest's address and forwards the request here with three
headers: ``X-Instance-ID`` (the port's device), ``X-Tenant-ID`` (its project) and
``X-Instance-ID-Signature``, an HMAC-SHA256 of the instance id keyed with
``metadata_proxy_shared_secret``. With ``[neutron] service_metadata_proxy = true`` (the
Install Guide's setting) Nova trusts those headers only when the signature matches its own
copy of the secret -- a different secret on either side and every guest gets ``403`` and
boots without its SSH key. Without it, Nova identifies the guest by the request's source
address (``X-Forwarded-For`` with ``[api] use_forwarded_for``), asking Neutron whose fixed
IP that is.

What it serves comes from :mod:`.metadata`; instances are cached for ``[api]
metadata_cache_expiration`` seconds (15), as Nova does, so a change shows up that much later.
Nova's metadata app has no keystonemiddleware, no request-id middleware and no fault
wrapper: its errors are WebOb's pages.
"""

from __future__ import annotations

import hashlib
import hmac
import posixpath
import re
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response

from labkit.sim.core import webob_style
from labkit.sim.core.http import Call, HttpError, Route, Routes, ServiceApp
from labkit.sim.core.service import ServiceFailed
from labkit.sim.nova import metadata
from labkit.sim.nova.api import server_password
from labkit.sim.nova.clients import ServiceUnreachable
from labkit.sim.nova.metadata import PASSWORD_HANDLER, InstanceMetadata, InvalidMetadataPath
from labkit.sim.nova.service import NovaProcess

METADATA_PORT = 8775
PASSWORD_MAX = server_password.MAX_SIZE  # four system_metadata items of 255 characters
UNKNOWN_ERROR = "An unknown error has occurred. Please try your request again."


class WebobError(HttpError):
    """A ``webob.exc`` error: ``explanation`` replaces WebOb's default text when given."""

    def __init__(self, status: int, explanation: str | None = None) -> None:
        super().__init__(explanation or "", status=status)
        self.explanation = explanation


class NovaMetadataApi(NovaProcess):
    """The process: nova.conf (its ``[neutron]`` and ``[api]`` options), the API database
    (instance mappings, keypairs), a Neutron login, and the instance cache."""

    name = "nova-api-metadata"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cache: dict[str, tuple[float, InstanceMetadata]] = {}
        self._cache_lock = threading.Lock()

    def after_configure(self) -> None:
        conf = self.nova_conf
        if conf.service_metadata_proxy and not conf.metadata_proxy_shared_secret:
            self.log.warning(
                "metadata_proxy_shared_secret is not configured, the metadata information "
                "returned by the proxy cannot be trusted"
            )

    def before_release(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    def unavailable(self) -> HttpError | None:
        return HttpError(
            f"nova-api-metadata is not running on {self.host} (sim). Start it: "
            "`labkit sim start-service nova-api-metadata --host controller`.",
            status=503,
        )

    # ---- finding an instance's metadata (with Nova's cache) ------------------------------
    def metadata_for(self, instance_id: str, address: str | None) -> InstanceMetadata | None:
        """The instance's metadata, from the cache while it is younger than
        ``metadata_cache_expiration`` seconds (sim time)."""
        ttl = self.nova_conf.metadata_cache_expiration
        now = self.runtime.now().timestamp()
        with self._cache_lock:
            hit = self._cache.get(instance_id)
            if hit is not None and now - hit[0] < ttl:
                return hit[1]
        # the password a guest POSTed, from the instance's system metadata
        password = server_password.read(self.nova_cells, instance_id)
        found = metadata.load(self, instance_id, address, password)
        if found is not None and ttl > 0:
            with self._cache_lock:
                self._cache = {k: v for k, v in self._cache.items() if now - v[0] < ttl}
                self._cache[instance_id] = (now, found)
        return found

    def instance_by_address(self, address: str) -> str | None:
        """Neutron's answer to "whose fixed IP is this?" (``get_fixed_ip_by_address``):
        the device id of the one port that has it; None when no port has it. More than one
        is Nova's FixedIpAssociatedWithMultipleInstances (raised)."""
        answer = self.neutron.request(
            "GET", "/ports", params={"fixed_ips": f"ip_address={address}"}
        )
        ports = answer.json().get("ports", []) if answer.status_code == 200 else []
        if len(ports) > 1:
            raise LookupError(
                f"More than one instance is associated with fixed IP address '{address}'."
            )
        if not ports:
            return None
        uuid = str(ports[0]["device_id"])
        self.log.info("Fixed IP %s translates to instance UUID %s", address, uuid)
        return uuid


# ---- the HTTP face ------------------------------------------------------------------------


class AnyPath(Routes):
    """Nova's metadata app reads every path itself: one route takes every method and path."""

    def __init__(self) -> None:
        super().__init__()
        self.only = Route("*", "/{path}", re.compile(r"^.*$"), serve, False)

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], list[str]]:
        return self.only, {}, [method]

    def __iter__(self) -> Iterator[Route]:
        return iter([self.only])


class NovaMetadataApp(ServiceApp):
    """The face at ``http://<controller>:8775/`` (and, for a look from the learner's machine,
    under ``/nova-metadata`` on the sim's own port)."""

    name = "nova-api-metadata"
    prefix = "/nova-metadata"
    port = METADATA_PORT

    def __init__(self, process: NovaMetadataApi) -> None:
        super().__init__(process.runtime, AnyPath(), process)
        self.api = process

    def render_error(self, error: HttpError, call: Call) -> Response:
        explanation = error.explanation if isinstance(error, WebobError) else error.message
        content_type, body = webob_style.body(
            error.status, explanation, accept=call.headers.get("accept")
        )
        return Response(body, error.status, headers={"Content-Type": content_type})

    def internal_error(self, call: Call) -> HttpError:
        return WebobError(500)

    def finish(self, call: Call, response: Response) -> None:
        # Nova's metadata pipeline (cors, http_proxy_to_wsgi, the app) adds no request id.
        if "x-openstack-request-id" in response.headers:
            del response.headers["x-openstack-request-id"]


def _api(call: Call) -> NovaMetadataApi:
    service = call.service
    assert isinstance(service, NovaMetadataApp)
    return service.api


def _text(body: bytes, content_type: str = "text/plain; charset=UTF-8") -> Response:
    return Response(body, 200, headers={"Content-Type": content_type})


def serve(call: Call) -> Response:
    """``MetadataRequestHandler.__call__``: who is asking, then what is at the path."""
    api = _api(call)
    path = call.path or "/"
    if posixpath.normpath(path) == "/":
        return _text(metadata.render([*metadata.EC2_VERSIONS, "latest"]))
    try:
        conf = api.nova_conf
    except ServiceFailed:
        raise api.unavailable() or WebobError(503) from None
    if conf.service_metadata_proxy:
        if call.headers.get("x-metadata-provider"):
            found = _by_provider(call, api)
        else:
            found = _by_instance_id(call, api)
    else:
        if call.headers.get("x-instance-id"):
            api.log.warning(
                "[%s] X-Instance-ID present in request headers. The 'service_metadata_proxy' "
                "option must be enabled to process this header.",
                call.request_id,
            )
        found = _by_remote_address(call, api)
    if found is None:
        raise WebobError(404)
    try:
        value, mimetype = found.find(path)
    except InvalidMetadataPath:
        raise WebobError(404) from None
    if value is PASSWORD_HANDLER:
        return _password(call, api, found)
    content_type = "text/plain; charset=UTF-8" if mimetype == metadata.TEXT else mimetype
    return _text(metadata.render(value), content_type)


def _by_instance_id(call: Call, api: NovaMetadataApi) -> InstanceMetadata | None:
    """The neutron-metadata-agent's headers, checked against the shared secret."""
    headers = call.headers
    instance_id = headers.get("x-instance-id")
    tenant_id = headers.get("x-tenant-id")
    signature = headers.get("x-instance-id-signature")
    remote = headers.get("x-forwarded-for")
    message = None
    if instance_id is None:
        message = "X-Instance-ID header is missing from request."
    elif signature is None:
        message = "X-Instance-ID-Signature header is missing from request."
    elif tenant_id is None:
        message = "X-Tenant-ID header is missing from request."
    elif len(headers.getlist("x-instance-id")) > 1:
        message = "Multiple X-Instance-ID headers found within request."
    elif len(headers.getlist("x-tenant-id")) > 1:
        message = "Multiple X-Tenant-ID headers found within request."
    if message:
        raise WebobError(400, message)
    assert instance_id is not None and tenant_id is not None
    _check_signature(call, api, instance_id, signature, remote)
    try:
        found = api.metadata_for(instance_id, remote)
    except (ServiceUnreachable, metadata.VendorDataError, SQLAlchemyError, LookupError) as exc:
        api.log.error(
            "[%s] Failed to get metadata for instance id: %s: %s", call.request_id, instance_id, exc
        )
        raise WebobError(500, UNKNOWN_ERROR) from None
    if found is None:
        api.log.error(
            "[%s] Failed to get metadata for instance id: %s", call.request_id, instance_id
        )
    elif found.facts.project_id != tenant_id:
        api.log.warning(
            "[%s] Tenant_id %s does not match tenant_id of instance %s.",
            call.request_id,
            tenant_id,
            instance_id,
        )
        return None
    return found


def _check_signature(
    call: Call, api: NovaMetadataApi, requestor: str, signature: str | None, address: str | None
) -> None:
    secret = api.nova_conf.metadata_proxy_shared_secret
    expected = sign(secret, requestor)
    if not signature or not hmac.compare_digest(expected, signature):
        if requestor:
            api.log.warning(
                "[%s] X-Instance-ID-Signature: %s does not match the expected value: %s for "
                "id: %s. Request From: %s",
                call.request_id,
                signature,
                expected,
                requestor,
                address,
            )
        raise WebobError(403, "Invalid proxy request signature.")


def sign(secret: str, instance_id: str) -> str:
    """The signature the metadata agent sends and Nova expects: HMAC-SHA256, hex."""
    return hmac.new(secret.encode(), instance_id.encode(), hashlib.sha256).hexdigest()


def _by_provider(call: Call, api: NovaMetadataApi) -> InstanceMetadata | None:
    """``X-Metadata-Provider``: a load balancer's metadata provider (an advanced service the
    sim's Neutron has none of)."""
    if call.headers.get("x-forwarded-for") is None:
        raise WebobError(400, "X-Forwarded-For is missing from request.")
    provider = call.headers.get("x-metadata-provider", "")
    if api.nova_conf.metadata_proxy_shared_secret:
        address = call.headers.get("x-forwarded-for", "").split(",")[0]
        _check_signature(
            call, api, provider, call.headers.get("x-metadata-provider-signature"), address
        )
    message = f"Could not find any subnets for provider {provider}"
    api.log.error("[%s] %s", call.request_id, message)
    raise WebobError(400, message)


def _by_remote_address(call: Call, api: NovaMetadataApi) -> InstanceMetadata | None:
    """The source address of the request (a fixed IP of the instance, in a deployment
    where guests reach Nova directly), or ``X-Forwarded-For`` if ``use_forwarded_for``."""
    address = _caller_address(call)
    if api.nova_conf.use_forwarded_for:
        address = call.headers.get("x-forwarded-for", address)
    found = None
    try:
        uuid = api.instance_by_address(address) if address else None
        if uuid is None:
            api.log.error(
                "[%s] Failed to get metadata for IP %s: FixedIpNotFoundForAddress: Fixed IP "
                "not found for address %s.",
                call.request_id,
                address,
                address,
            )
        else:
            found = api.metadata_for(uuid, address)
    except (ServiceUnreachable, metadata.VendorDataError, SQLAlchemyError, LookupError) as exc:
        api.log.error("[%s] Failed to get metadata for IP %s: %s", call.request_id, address, exc)
        raise WebobError(500, UNKNOWN_ERROR) from None
    if found is None:
        api.log.error(
            "[%s] Failed to get metadata for IP %s: no metadata", call.request_id, address
        )
    return found


def _caller_address(call: Call) -> str:
    """The request's source address: a simulated host's address for a call from a service
    on that host, else the client's."""
    if call.caller_host:
        for host in call.runtime.config.hosts:
            if host.name == call.caller_host:
                return host.address
        return call.caller_host
    client = call.request.client
    return client.host if client else ""


def _password(call: Call, api: NovaMetadataApi, found: InstanceMetadata) -> Response:
    """``password.handle_password``: GET the password, or POST it once (a guest agent
    sets it; ``nova get-password`` would read it)."""
    html = "text/html; charset=UTF-8"  # what WebOb's default response says
    if call.method == "GET":
        return _text((found.facts.password or "").encode(), html)
    if call.method != "POST":
        raise WebobError(400, "GET and POST only are supported.")
    if found.facts.password:
        raise WebobError(409)
    if len(call.body) > PASSWORD_MAX:
        raise WebobError(400, "Request is too large.")
    text = call.body.decode(errors="replace")[:PASSWORD_MAX]
    if not server_password.store(api.nova_cells, found.facts.uuid, text):
        raise WebobError(400, f"Instance {found.facts.uuid} could not be found.")
    return _text(b"", html)
