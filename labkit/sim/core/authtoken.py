"""keystonemiddleware's auth_token, as it sits in front of every OpenStack API but Keystone.

Each service (Glance, and next Nova, Placement, Neutron) reads ``[keystone_authtoken]`` from
its config file and, before it can check a user's token, logs in to Keystone *as itself* with
those credentials and looks up the identity endpoint of its ``interface`` in its
``region_name``. Then it validates the user's token with ``GET /v3/auth/tokens`` (its own
token in ``X-Auth-Token``, the user's in ``X-Subject-Token``) and passes on who the user is.

That is where classic mistakes bite, and the sim reproduces them:

- Debian ships ``region_name = regionOne`` while the Install Guide bootstraps ``RegionOne``:
  the endpoint lookup fails, and *every* authenticated request answers a bare 500
  (:class:`EndpointNotFound`, raised past the service's own error handling);
- a wrong service password, or a service user without the admin/service role: the middleware
  cannot validate anything and answers 503 "The Keystone service is temporarily
  unavailable." (:class:`IdentityUnavailable`);
- Keystone down: the same 503, with "Unable to establish connection" in the service's log.

All of it goes over real HTTP through the in-process client (:mod:`.inproc`), so it shows in
keystone.log and in the trace.

**Token cache.** As keystonemiddleware does, validated tokens are cached for
``token_cache_time`` seconds (300 by default): in the simulated memcached named by
``memcached_servers`` while that memcached runs (nothing is cached while it is stopped), or in
the process when ``memcached_servers`` is not set. A cached token keeps working at this
service until the entry expires, *even after it was revoked in Keystone* -- a real cloud's
caveat, shown in notebooks/02-keystone.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol

import httpx

from labkit.sim.core.conf import ConfFile

UNAVAILABLE = "The Keystone service is temporarily unavailable."


@dataclass(frozen=True)
class AuthTokenConf:
    """``[keystone_authtoken]``: the options the sim's middleware acts on (Zed defaults)."""

    www_authenticate_uri: str = ""
    auth_url: str = ""
    auth_type: str = ""
    region_name: str = ""
    interface: str = "internal"
    username: str = ""
    password: str = ""
    project_name: str = ""
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    memcached_servers: str = ""
    token_cache_time: int = 300

    @classmethod
    def from_conf(cls, conf: ConfFile) -> AuthTokenConf:
        values: dict[str, Any] = {}
        for f in fields(cls):
            default = getattr(cls, f.name)
            if isinstance(default, int):
                values[f.name] = conf.get_int("keystone_authtoken", f.name, default)
            else:
                values[f.name] = conf.get("keystone_authtoken", f.name, str(default))
        return cls(**values)


class InvalidToken(Exception):
    """The user's token is missing, unknown, expired or revoked: the request is anonymous."""


class IdentityUnavailable(Exception):
    """The middleware cannot validate tokens at all: the service answers 503."""

    def __init__(self, message: str = UNAVAILABLE) -> None:
        super().__init__(message)


class EndpointNotFound(Exception):
    """The identity endpoint is not in the catalog for this region/interface. Raised inside
    the middleware, past the service's error handling: eventlet answers a bare 500 and logs
    the traceback, whose last line is ``str(self)``."""


@dataclass(frozen=True)
class TokenInfo:
    """What auth_token passes on (X-User-Id, X-Project-Id, X-Roles ...)."""

    user_id: str
    user_name: str
    user_domain_id: str
    project_id: str | None
    project_name: str | None
    project_domain_id: str | None
    roles: frozenset[str]  # lower-cased role names
    system_scope: bool
    expires_at: str

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


class Cache(Protocol):
    """A memcached-like store (the simulated memcached on a host)."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any, ttl: float) -> None: ...


# (memcached_servers option) -> the cache to use now, or None when it cannot be reached
CacheLookup = Callable[[str], "Cache | None"]


class LocalCache:
    """keystonemiddleware's in-process cache, used when memcached_servers is not set."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._items: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            found = self._items.get(key)
            if found is None or found[0] < self._clock():
                self._items.pop(key, None)
                return None
            return found[1]

    def set(self, key: str, value: Any, ttl: float) -> None:
        with self._lock:
            self._items[key] = (self._clock() + ttl, value)


@dataclass
class _ServiceLogin:
    token: str
    catalog: list[dict[str, Any]]
    roles: frozenset[str]
    good_until: float  # time.monotonic()


class AuthToken:
    """One service's auth_token middleware."""

    def __init__(
        self,
        conf: AuthTokenConf,
        http: httpx.Client,
        log: Any,
        caches: CacheLookup,
        clock: Callable[[], float],
    ) -> None:
        self.conf = conf
        self.http = http
        self.log = log
        self._caches = caches
        self._local = LocalCache(clock)
        self._local_clock = clock
        self._login: _ServiceLogin | None = None
        self._lock = threading.Lock()

    @property
    def www_authenticate(self) -> str:
        return f'Keystone uri="{self.conf.www_authenticate_uri or self.conf.auth_url}"'

    def _v3(self) -> str:
        url = self.conf.auth_url.rstrip("/")
        return url if url.endswith("/v3") else f"{url}/v3"

    # ---- the service's own login -------------------------------------------------------
    def _service_login(self, renew: bool = False) -> _ServiceLogin:
        with self._lock:
            login = self._login
            if login is not None and not renew and time.monotonic() < login.good_until:
                return login
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
                response = self.http.post(f"{self._v3()}/auth/tokens", json=body)
            except httpx.HTTPError as exc:
                self.log.critical(
                    "Unable to validate token: Unable to establish connection to "
                    "%s/auth/tokens: %s",
                    self._v3(),
                    exc,
                )
                raise IdentityUnavailable() from None
            if response.status_code != 201:
                self.log.warning("Identity response: %s", response.text)
                self.log.critical(
                    "Unable to validate token: Identity server rejected authorization "
                    "necessary to fetch token data"
                )
                raise IdentityUnavailable()
            token = response.json().get("token", {})
            self._login = _ServiceLogin(
                token=response.headers.get("x-subject-token", ""),
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
        raise EndpointNotFound(
            f"EndpointNotFound: {interface} endpoint for identity service{where} not found"
        )

    # ---- the user's token ---------------------------------------------------------------
    def _cache(self) -> Cache | None:
        if not self.conf.memcached_servers:
            return self._local
        return self._caches(self.conf.memcached_servers)

    def check(self, token: str) -> TokenInfo:
        """Validate a user token. Raises InvalidToken, IdentityUnavailable, EndpointNotFound."""
        if not token:
            raise InvalidToken()
        login = self._service_login()
        self._identity_endpoint(login)
        if not login.roles & {"admin", "service"}:
            # Keystone refuses the service's GET /v3/auth/tokens (403): it gives up.
            self.log.error(
                "Bad response code while validating token: 403 You are not authorized to "
                "perform the requested action: identity:validate_token."
            )
            raise IdentityUnavailable()
        key = "tokens/" + hashlib.sha256(token.encode()).hexdigest()
        cache = self._cache()
        if cache is not None and self.conf.token_cache_time > 0:
            cached = cache.get(key)
            if isinstance(cached, TokenInfo) and not self._expired(cached):
                return cached
            if cached == "invalid":
                raise InvalidToken()
        info = self._validate(login, token)
        if cache is not None and self.conf.token_cache_time > 0:
            cache.set(key, info if info is not None else "invalid", self.conf.token_cache_time)
        if info is None:
            raise InvalidToken()
        return info

    def _expired(self, info: TokenInfo) -> bool:
        expires = parse_time(info.expires_at)
        return expires is not None and expires.timestamp() <= self._local_clock()

    def _validate(self, login: _ServiceLogin, token: str) -> TokenInfo | None:
        for attempt in (1, 2):
            try:
                response = self.http.get(
                    f"{self._v3()}/auth/tokens?nocatalog",
                    headers={"X-Auth-Token": login.token, "X-Subject-Token": token},
                )
            except httpx.HTTPError as exc:
                self.log.critical(
                    "Unable to validate token: Unable to establish connection to %s: %s",
                    self._v3(),
                    exc,
                )
                raise IdentityUnavailable() from None
            if response.status_code == 401 and attempt == 1:
                login = self._service_login(renew=True)  # our own token expired: log in again
                continue
            break
        if response.status_code == 404:
            self.log.warning("Authorization failed for token")
            return None
        if response.status_code != 200:
            self.log.error(
                "Bad response code while validating token: %s %s",
                response.status_code,
                response.text[:200],
            )
            raise IdentityUnavailable()
        return _token_info(response.json()["token"])


def _token_info(token: dict[str, Any]) -> TokenInfo:
    user = token.get("user") or {}
    project = token.get("project") or {}
    return TokenInfo(
        user_id=user.get("id", ""),
        user_name=user.get("name", ""),
        user_domain_id=(user.get("domain") or {}).get("id", ""),
        project_id=project.get("id"),
        project_name=project.get("name"),
        project_domain_id=(project.get("domain") or {}).get("id"),
        roles=frozenset(r["name"].lower() for r in token.get("roles") or []),
        system_scope="system" in token,
        expires_at=str(token.get("expires_at", "")),
    )


def parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
