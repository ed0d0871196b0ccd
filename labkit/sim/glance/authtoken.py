"""keystonemiddleware's auth_token, as it sits in front of Glance.

Before it can check a user's token, the middleware logs in to Keystone *as glance* with the
``[keystone_authtoken]`` credentials and looks up the identity endpoint of its ``interface``
in its ``region_name``. That is where the classic Debian pitfall bites: glance-api.conf ships
``region_name = regionOne`` while the Install Guide bootstraps ``RegionOne``, so the lookup
fails and *every* authenticated request answers 500 -- what the sim reproduces, log line
included. The login really goes over HTTP to the configured ``auth_url`` (as the middleware
does), so a wrong glance password or an unreachable Keystone fail the way they do for real.
The user's token itself is then validated in-process through ``runtime.validate_token``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from labkit.sim.core.http import HttpError
from labkit.sim.glance.config import AuthTokenConf
from labkit.sim.glance.errors import PlainServerError, service_unavailable

_UNAVAILABLE = "The Keystone service is temporarily unavailable."


class InvalidToken(Exception):
    """The user's token is missing, unknown, expired or revoked: the request is anonymous."""


@dataclass(frozen=True)
class User:
    """What auth_token passes on in X-User-Id, X-Project-Id, X-Roles ..."""

    user_id: str
    project_id: str | None
    project_name: str | None
    roles: frozenset[str]


@dataclass
class _ServiceLogin:
    catalog: list[dict[str, Any]]
    roles: frozenset[str]
    good_until: float  # time.monotonic()


class AuthToken:
    def __init__(self, conf: AuthTokenConf, runtime: Any, log: Any) -> None:
        self.conf = conf
        self.runtime = runtime
        self.log = log
        self._login: _ServiceLogin | None = None
        self._lock = threading.Lock()

    @property
    def www_authenticate(self) -> str:
        return f'Keystone uri="{self.conf.www_authenticate_uri or self.conf.auth_url}"'

    def _v3(self) -> str:
        url = self.conf.auth_url.rstrip("/")
        return url if url.endswith("/v3") else f"{url}/v3"

    def _service_login(self) -> _ServiceLogin:
        with self._lock:
            if self._login is not None and time.monotonic() < self._login.good_until:
                return self._login
            body = {
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {
                            "user": {
                                "name": self.conf.username,
                                "password": self.conf.password,
                                "domain": {"name": self.conf.user_domain_name},
                            }
                        },
                    },
                    "scope": {
                        "project": {
                            "name": self.conf.project_name,
                            "domain": {"name": self.conf.project_domain_name},
                        }
                    },
                }
            }
            try:
                # A real HTTP call, possibly to this very process: it runs in a worker thread
                # while the event loop stays free to answer it.
                response = httpx.post(f"{self._v3()}/auth/tokens", json=body, timeout=10.0)
            except httpx.HTTPError as exc:
                self.log.critical(
                    "Unable to validate token: Unable to establish connection "
                    "to %s/auth/tokens: %s",
                    self._v3(),
                    exc,
                )
                raise service_unavailable(_UNAVAILABLE) from None
            if response.status_code != 201:
                self.log.warning("Identity response: %s", response.text)
                self.log.critical(
                    "Unable to validate token: Identity server rejected "
                    "authorization necessary to fetch token data"
                )
                raise service_unavailable(_UNAVAILABLE)
            token = response.json().get("token", {})
            self._login = _ServiceLogin(
                catalog=list(token.get("catalog") or []),
                roles=frozenset(r["name"].lower() for r in token.get("roles") or []),
                good_until=time.monotonic() + 600,
            )
            return self._login

    def _identity_endpoint(self, login: _ServiceLogin) -> str:
        region = self.conf.region_name
        interface = self.conf.interface or "internal"
        for service in login.catalog:
            if service.get("type") != "identity":
                continue
            for endpoint in service.get("endpoints", []):
                if endpoint.get("interface") != interface:
                    continue
                if region and region not in (endpoint.get("region_id"), endpoint.get("region")):
                    continue
                return str(endpoint["url"])
        where = f" in {region} region" if region else ""
        line = f"EndpointNotFound: {interface} endpoint for identity service{where} not found"
        # Raised inside the middleware, past Glance's error handling: eventlet answers a bare
        # 500 and logs the traceback, whose last line is this.
        raise PlainServerError(line)

    def check(self, token: str) -> User:
        """Validate a user token; raise InvalidToken, or an HttpError for the service side."""
        login = self._service_login()
        self._identity_endpoint(login)
        if not login.roles & {"admin", "service"}:
            # Keystone refuses glance's GET /v3/auth/tokens (403): the middleware gives up.
            self.log.error(
                "Bad response code while validating token: 403 You are not "
                "authorized to perform the requested action: identity:validate_token."
            )
            raise service_unavailable(_UNAVAILABLE)
        try:
            found = self.runtime.validate_token(token)
        except HttpError:
            self.log.warning("Authorization failed for token")
            raise InvalidToken() from None
        project = getattr(found, "project", None) or {}
        return User(
            user_id=found.user_id,
            project_id=found.project_id,
            project_name=project.get("name"),
            roles=frozenset(name.lower() for name in found.role_names),
        )
