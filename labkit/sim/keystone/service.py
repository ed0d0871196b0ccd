"""The Keystone process of the sim, and its HTTP face.

Like the real one it reads ``/etc/keystone/keystone.conf`` on its host (in the sim: the
file under ``<state>/hosts/controller/``), which the install plan wrote, and it only answers
once ``/etc/init.d/keystone start`` has run. Before that, requests get 503 with a message
saying how to install it. While its database is unreachable (MariaDB stopped), every request
that needs it answers Keystone's 500, and keystone.log has the DBConnectionError.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from starlette.responses import Response

from labkit.sim.core import webob_style
from labkit.sim.core.http import (
    Call,
    HttpError,
    Route,
    Routes,
    ServiceApp,
    json_response,
    public,
)
from labkit.sim.core.service import ServiceFailed, ServiceProcess
from labkit.sim.core.store import Database
from labkit.sim.keystone import models, policy
from labkit.sim.keystone.config import CONF_PATH, KeystoneConf
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

MAX_REQUEST_BODY = 114688  # oslo.middleware sizelimit default, in front of Keystone
__all__ = ["CONF_PATH", "KeystoneApp", "KeystoneConf", "KeystoneService", "public"]


class KeystoneService(ServiceProcess):
    """keystone (uwsgi) on the controller: keystone.conf, its database, its Fernet keys."""

    name = "keystone"
    conf_path = CONF_PATH

    def configure(self, conf_file: Path) -> None:
        """Read keystone.conf, open the database it names, load the key repository.
        Raises ServiceFailed with the log line a real Keystone would write."""
        conf = KeystoneConf.read(conf_file)
        if conf.token_provider != "fernet":
            raise ServiceFailed(
                f"token provider {conf.token_provider!r} is not emulated; "
                "set [token] provider = fernet"
            )
        db = self.open_database(conf.database_connection, models.Base.metadata)
        if not db.tables_exist() and _synced(db):
            db.create_all()  # a database synced before the credential and policy tables
        if not db.tables_exist():
            raise ServiceFailed(
                "the keystone database has no tables: run `keystone-manage db_sync` first"
            )
        keys = KeyRepository(self.host_path(conf.key_repository))
        if not keys.key_numbers():
            raise ServiceFailed(
                "No encryption keys found; run keystone-manage fernet_setup to bootstrap one."
            )
        self.conf, self.db = conf, db
        self.tokens = TokenProvider(keys, conf.token_expiration)

    def release(self) -> None:
        if self.db is not None:
            self.db.dispose()
        self.db = self.conf = self.tokens = None

    conf: KeystoneConf | None = None
    db: Database | None = None
    tokens: TokenProvider | None = None

    def unavailable(self) -> HttpError | None:
        return ServiceUnavailable(
            f"Keystone is not running on {self.host} (sim). Install and start it: run "
            "notebooks/02-keystone.ipynb or `labkit install sim keystone`."
        )

    # ---- what handlers use ------------------------------------------------------------------
    @property
    def provider(self) -> TokenProvider:
        if self.tokens is None:
            raise self.unavailable() or RuntimeError("keystone not started")
        return self.tokens

    def database(self) -> Database:
        """Keystone's database, for what is read through the token provider's memo."""
        if self.db is None:
            raise self.unavailable() or RuntimeError("keystone not started")
        return self.db

    def session(self) -> Any:
        return self.database().read()

    def write(self) -> Any:
        if self.db is None:
            raise self.unavailable() or RuntimeError("keystone not started")
        return self.db.write()

    @property
    def hash_rounds(self) -> int:
        return self.conf.password_hash_rounds if self.conf else 12


_VERSION_PATHS = ("", "/v3")


class KeystoneApp(ServiceApp):
    """Keystone's HTTP face at ``/identity`` (port 5000 on the controller)."""

    name = "keystone"
    prefix = "/identity"
    max_body = MAX_REQUEST_BODY

    def __init__(self, process: KeystoneService, routes: Routes) -> None:
        super().__init__(process.runtime, routes, process)
        self.keystone = process

    # ---- request pipeline ---------------------------------------------------------------
    def prepare(self, call: Call, route: Route) -> None:
        if call.path.rstrip("/") not in _VERSION_PATHS and self.keystone.dependency_error():
            # oslo.db's DBConnectionError reaches Keystone's error handler: a plain 500.
            raise KeystoneError(
                "An unexpected error prevented the server from fulfilling your request.",
                status=500,
            )
        super().prepare(call, route)

    def authenticate(self, call: Call) -> Token:
        token_id = call.headers.get("x-auth-token", "")
        if not token_id:
            raise Unauthorized()
        try:
            return self.provider.validate(self.database(), token_id, self.runtime.now())
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
        return MethodNotAllowed(allowed)

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

    # ---- helpers for handlers (the process holds the state) --------------------------------
    @property
    def provider(self) -> TokenProvider:
        return self.keystone.provider

    def session(self) -> Any:
        return self.keystone.session()

    def database(self) -> Database:
        return self.keystone.database()

    def write(self) -> Any:
        return self.keystone.write()

    @property
    def hash_rounds(self) -> int:
        return self.keystone.hash_rounds


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


def _synced(db: Database) -> bool:
    """Whether ``keystone-manage db_sync`` ran on ``db`` (its first table is there)."""
    return "domain" in inspect(db.engine).get_table_names()
