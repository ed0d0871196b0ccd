"""How Nova's services reach Placement, Neutron and Glance: over HTTP, as real Nova does.

For Placement and Neutron Nova logs in to Keystone with the credentials of its
``[placement]`` / ``[neutron]`` section (keystoneauth in real Nova) and finds the service in
the catalog by type, interface and region; Glance is called with the *user's* token, which
travels in the request context. Calls go through the sim's in-process HTTP client, so each
shows in the target's access log and in the trace under the Nova hop that made it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from labkit.sim.nova.config import ServiceAuth


class ServiceUnreachable(Exception):
    """Keystone refused the login, the catalog has no endpoint, or the service is down."""


class ServiceClient:
    """keystoneauth's session for one ``[section]``: a token, an endpoint, requests."""

    def __init__(
        self,
        http: httpx.Client,
        auth: ServiceAuth,
        service_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.http = http
        self.auth = auth
        self.service_type = service_type
        self.headers = headers or {}
        self._token = ""
        self._endpoint = ""
        self._good_until = 0.0
        self._lock = threading.Lock()

    def _login(self, renew: bool = False) -> tuple[str, str]:
        with self._lock:
            if self._token and not renew and time.monotonic() < self._good_until:
                return self._token, self._endpoint
            url = self.auth.auth_url.rstrip("/")
            url = url if url.endswith("/v3") else f"{url}/v3"
            body = {
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {
                            "user": {
                                "name": self.auth.username,
                                "password": self.auth.password,
                                "domain": {"name": self.auth.user_domain_name},
                            }
                        },
                    },
                    "scope": {
                        "project": {
                            "name": self.auth.project_name,
                            "domain": {"name": self.auth.project_domain_name},
                        }
                    },
                }
            }
            try:
                response = self.http.post(f"{url}/auth/tokens", json=body)
            except httpx.HTTPError as exc:
                raise ServiceUnreachable(
                    f"Unable to establish connection to {url}/auth/tokens: {exc}"
                ) from None
            if response.status_code != 201:
                raise ServiceUnreachable(
                    f"The request you have made requires authentication. (HTTP 401) "
                    f"as {self.auth.username!r}: {response.text[:200]}"
                )
            token = response.json()["token"]
            self._endpoint = self._find_endpoint(token.get("catalog") or [])
            self._token = response.headers.get("x-subject-token", "")
            self._good_until = time.monotonic() + 600
            return self._token, self._endpoint

    def _find_endpoint(self, catalog: list[dict[str, Any]]) -> str:
        interfaces = [i.strip() for i in self.auth.valid_interfaces.split(",") if i.strip()]
        for interface in interfaces or ["internal", "public"]:
            for service in catalog:
                if service.get("type") != self.service_type:
                    continue
                for endpoint in service.get("endpoints", []):
                    region = self.auth.region_name
                    if endpoint.get("interface") != interface:
                        continue
                    if region and region not in (endpoint.get("region_id"), endpoint.get("region")):
                        continue
                    return str(endpoint["url"]).rstrip("/")
        where = f" in {self.auth.region_name} region" if self.auth.region_name else ""
        raise ServiceUnreachable(
            f"EndpointNotFound: internal endpoint for {self.service_type} service{where} not found"
        )

    def request(
        self, method: str, path: str, user_token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """``path`` below the service's endpoint. Raises ServiceUnreachable.

        ``user_token`` signs the request (and the retry after a 401) with a *user's* token
        where the client would put Nova's own -- for the calls Nova makes to Neutron as the
        caller (``neutron.get_client(context)``), so Neutron applies the caller's own rights
        and project."""
        extra = kwargs.pop("headers", {})  # kept for the retry after a 401
        for attempt in (1, 2):
            token, endpoint = self._login(renew=attempt == 2)
            signed = token if user_token is None else user_token
            headers = {"X-Auth-Token": signed, **self.headers, **extra}
            try:
                response = self.http.request(method, f"{endpoint}{path}", headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                raise ServiceUnreachable(
                    f"Unable to establish connection to {endpoint}: {exc}"
                ) from None
            if response.status_code != 401:
                return response
        return response


class PlacementClient(ServiceClient):
    """Nova's report client (``nova/scheduler/client/report.py``) speaks placement 1.36."""

    def __init__(self, http: httpx.Client, auth: ServiceAuth) -> None:
        super().__init__(http, auth, "placement", {"OpenStack-API-Version": "placement 1.36"})


class NeutronClient(ServiceClient):
    def __init__(self, http: httpx.Client, auth: ServiceAuth) -> None:
        super().__init__(http, auth, "network")

    def request(
        self, method: str, path: str, user_token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        return super().request(method, f"/v2.0{path}", user_token, **kwargs)


# Glance v2's own image attributes; everything else of an image is one of its properties
# (os_distro, os_admin_user ...: Nova's image "properties" and "metadata")
GLANCE_IMAGE_FIELDS = frozenset(
    (
        "id", "name", "status", "visibility", "protected", "checksum", "os_hash_algo",
        "os_hash_value", "owner", "size", "virtual_size", "min_ram", "min_disk", "created_at",
        "updated_at", "tags", "self", "file", "schema", "disk_format", "container_format",
        "direct_url", "locations", "os_hidden", "stores",
    )
)  # fmt: skip


def glance_image(http: httpx.Client, glance_url: str, token: str, image_id: str) -> httpx.Response:
    """``GET /v2/images/{id}`` with the user's token (Nova's glance client)."""
    return http.get(
        f"{glance_url.rstrip('/')}/v2/images/{image_id}", headers={"X-Auth-Token": token}
    )
