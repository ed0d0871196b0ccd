"""The Keystone process of the sim: its config, its database, its request pipeline.

Like the real one it reads ``/etc/keystone/keystone.conf`` on its host (in the sim: the
file under ``<state>/hosts/controller/``), which the install plan wrote, and it only answers
once ``/etc/init.d/keystone start`` has run. Before that, requests get 503 with a message
saying how to install it.
"""

from __future__ import annotations

import configparser
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from labkit.sim.core import webob_style
from labkit.sim.core.http import Call, HttpError, Route, Routes, ServiceApp, json_response
from labkit.sim.keystone import models, policy
from labkit.sim.keystone.errors import (
    Forbidden,
    KeystoneError,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    ValidationError,
    bad_json,
)
from labkit.sim.keystone.fernet import KeyRepository
from labkit.sim.keystone.tokens import Token, TokenProvider

if TYPE_CHECKING:
    from labkit.sim.core.runtime import Runtime
    from labkit.sim.core.store import Database

CONF_PATH = "/etc/keystone/keystone.conf"
MAX_REQUEST_BODY = 114688  # oslo.middleware sizelimit default, in front of Keystone


def public(handler: Any) -> Any:
    """Mark a route that needs no X-Auth-Token (discovery, POST /v3/auth/tokens)."""
    handler.public = True
    return handler


@dataclass(frozen=True)
class KeystoneConf:
    database_connection: str
    key_repository: str = "/etc/keystone/fernet-keys/"
    token_expiration: int = 3600
    password_hash_rounds: int = 12
    token_provider: str = "fernet"

    @classmethod
    def read(cls, path: Path) -> KeystoneConf:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read(path)

        def get(section: str, key: str, default: str = "") -> str:
            return parser.get(section, key, fallback=default).strip()

        return cls(
            database_connection=get("database", "connection"),
            key_repository=get("fernet_tokens", "key_repository", "/etc/keystone/fernet-keys/"),
            token_expiration=int(get("token", "expiration", "3600") or 3600),
            password_hash_rounds=int(get("identity", "password_hash_rounds", "12") or 12),
            token_provider=get("token", "provider", "fernet") or "fernet",
        )


class KeystoneApp(ServiceApp):
    name = "keystone"
    prefix = "/identity"
    max_body = MAX_REQUEST_BODY

    def __init__(self, runtime: Runtime, routes: Routes) -> None:
        super().__init__(runtime, routes)
        self._lock = threading.Lock()
        self.db: Database | None = None
        self.conf: KeystoneConf | None = None
        self.tokens: TokenProvider | None = None
        self.host = runtime.config.controller.name
        runtime.register_token_validator(self.validate_for_service)

    # ---- lifecycle (driven by /etc/init.d/keystone on the simulated controller) ----------
    def start(self) -> None:
        """Read keystone.conf, open the database it names, load the key repository.
        Raises RuntimeError with the log line a real Keystone would write."""
        machines = self.runtime.machines
        conf_file = machines.path(self.host, CONF_PATH)
        if not conf_file.is_file():
            raise RuntimeError(f"Config file not found: {CONF_PATH}")
        conf = KeystoneConf.read(conf_file)
        if conf.token_provider != "fernet":
            raise RuntimeError(
                f"token provider {conf.token_provider!r} is not emulated; "
                "set [token] provider = fernet"
            )
        db = machines.open_database(self.host, conf.database_connection, models.Base.metadata)
        if not db.tables_exist():
            raise RuntimeError(
                "the keystone database has no tables: run `keystone-manage db_sync` first"
            )
        keys = KeyRepository(machines.path(self.host, conf.key_repository))
        if not keys.key_numbers():
            raise RuntimeError(
                "No encryption keys found; run keystone-manage fernet_setup to bootstrap one."
            )
        with self._lock:
            self.conf, self.db = conf, db
            self.tokens = TokenProvider(keys, conf.token_expiration)

    def stop(self) -> None:
        with self._lock:
            if self.db is not None:
                self.db.dispose()
            self.db = self.conf = self.tokens = None

    @property
    def running(self) -> bool:
        return self.tokens is not None

    # ---- request pipeline ---------------------------------------------------------------
    def unavailable(self) -> HttpError | None:
        if self.running:
            return None
        return ServiceUnavailable(
            f"Keystone is not running on {self.host} (sim). Install and start it: run "
            "notebooks/02-keystone.ipynb or `labkit install sim keystone`."
        )

    def prepare(self, call: Call, route: Route) -> None:
        if getattr(route.handler, "public", False):
            return
        call.auth = self.authenticate(call)

    def authenticate(self, call: Call) -> Token:
        token_id = call.headers.get("x-auth-token", "")
        if not token_id:
            raise Unauthorized()
        try:
            with self.session() as s:
                return self.provider.validate(s, token_id, self.runtime.now())
        except NotFound:
            raise Unauthorized() from None

    def validate_for_service(self, token_id: str) -> Token:
        """What keystonemiddleware in Glance/Nova asks: is this token valid, and whose?"""
        if not self.running:
            raise Unauthorized()
        with self.session() as s:
            try:
                return self.provider.validate(s, token_id, self.runtime.now())
            except NotFound:
                raise Unauthorized() from None

    def render_error(self, error: HttpError, call: Call) -> Response:
        if isinstance(error, KeystoneError):
            body = error.body()
        else:
            body = KeystoneError(error.message, status=error.status).body()
        headers = dict(error.headers)
        if error.status == 401:
            headers["WWW-Authenticate"] = f'Keystone uri="{call.root_url}/v3"'
        return json_response(body, error.status, headers)

    def not_found(self, call: Call) -> HttpError:
        return NotFound("The resource could not be found.")

    def method_not_allowed(self, call: Call, allowed: list[str]) -> HttpError:
        return MethodNotAllowed()

    def bad_json(self) -> HttpError:
        return bad_json()

    def too_large(self, call: Call, limit: int) -> Response:
        # oslo.middleware's sizelimit answers before Keystone does, in WebOb's shape.
        content_type, body = webob_style.body(
            413,
            f"Request is too large. Larger than max_request_body_size ({limit}).",
            accept=call.headers.get("accept"),
        )
        return Response(body, status_code=413, media_type=content_type)

    def finish(self, call: Call, response: Response) -> None:
        response.headers["Vary"] = "X-Auth-Token"

    # ---- helpers for handlers ------------------------------------------------------------
    @property
    def provider(self) -> TokenProvider:
        if self.tokens is None:
            raise self.unavailable() or RuntimeError("keystone not started")
        return self.tokens

    def session(self) -> Any:
        if self.db is None:
            raise self.unavailable() or RuntimeError("keystone not started")
        return self.db.read()

    def write(self) -> Any:
        if self.db is None:
            raise self.unavailable() or RuntimeError("keystone not started")
        return self.db.write()

    @property
    def hash_rounds(self) -> int:
        return self.conf.password_hash_rounds if self.conf else 12


def enforce(call: Call, rule: str, target: dict[str, Any] | None = None) -> None:
    """Raise Keystone's 403 when the caller's token does not satisfy ``rule``."""
    token: Token = call.auth
    if not policy.enforce(rule, token.credentials(), target or {}):
        raise Forbidden(rule)


def body_of(call: Call, key: str) -> dict[str, Any]:
    """The ``{"<key>": {...}}`` object of a request, as Keystone reads it."""
    data = call.json()
    if not isinstance(data, dict):
        raise bad_json()
    inner = data.get(key, {})
    if not isinstance(inner, dict):
        raise ValidationError.expecting(key, "request body")
    return inner


def query_bool(call: Call, name: str) -> bool:
    """Keystone's query_filter_is_true: present and not "0"/"false"."""
    if name not in call.query:
        return False
    return call.query[name].lower() not in {"0", "false"}
