"""neutron-api, the Networking API on the controller, and its HTTP face.

Debian splits neutron-server in two init scripts: ``neutron-api`` (uwsgi on port 9696, the
REST API) and ``neutron-rpc-server`` (the RPC side agents talk to, :mod:`.rpc`). Both read
``/etc/neutron/neutron.conf`` and ``/etc/neutron/plugins/ml2/ml2_conf.ini`` and share the
database. neutron-api refuses to start like the real one: no ML2 core plugin, an unknown
mechanism driver, Zed's Linux bridge driver without ``[experimental] linuxbridge = true``,
no tables yet.

Each request goes through what Zed's ``neutron`` paste pipeline does: request id,
keystonemiddleware's auth_token (no token: its own 401), the keystone context, then Neutron
itself, whose errors all have the shape ``{"NeutronError": {"type", "message", "detail"}}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from starlette.responses import Response

from labkit.sim.core import webob_style
from labkit.sim.core.authtoken import (
    AuthToken,
    EndpointNotFound,
    IdentityUnavailable,
    InvalidToken,
)
from labkit.sim.core.conf import ConfError
from labkit.sim.core.http import Call, HttpError, Route, Routes, ServiceApp, is_public
from labkit.sim.core.service import RoomContext, ServiceFailed, ServiceProcess
from labkit.sim.neutron import manage, models
from labkit.sim.neutron.config import ML2_CONF, ML2_PLUGIN_NAMES, NEUTRON_CONF, NeutronConf
from labkit.sim.neutron.db import Repo
from labkit.sim.neutron.errors import (
    NeutronError,
    bad_request,
    http_method_not_allowed,
    http_not_found,
)
from labkit.sim.neutron.notify import AgentNotifier
from labkit.sim.neutron.policy import Context

MAX_JSON_BODY = 16 << 20
KNOWN_MECHANISM_DRIVERS = (
    "linuxbridge",
    "openvswitch",
    "l2population",
    "ovn",
    "sriovnicswitch",
    "macvtap",
)
_WEBOB_TYPES = {
    400: "HTTPBadRequest",
    401: "HTTPUnauthorized",
    403: "HTTPForbidden",
    404: "HTTPNotFound",
    405: "HTTPMethodNotAllowed",
    409: "HTTPConflict",
    413: "HTTPRequestEntityTooLarge",
    500: "HTTPInternalServerError",
    501: "HTTPNotImplemented",
    503: "HTTPServiceUnavailable",
}
INTERNAL = "Request Failed: internal server error while processing your request."


def read_server_conf(process: ServiceProcess) -> NeutronConf:
    """neutron.conf + ml2_conf.ini of the process's host (init script: core_plugin = ml2)."""
    try:
        conf = NeutronConf.read([process.host_path(NEUTRON_CONF), process.host_path(ML2_CONF)])
    except (ValueError, ConfError) as exc:
        raise ServiceFailed(str(exc)) from None
    if conf.core_plugin not in ML2_PLUGIN_NAMES:
        raise ServiceFailed(
            f"the sim emulates the ML2 core plugin only ([DEFAULT] core_plugin = "
            f"{conf.core_plugin or '(not set)'})"
        )
    unknown = [d for d in conf.mechanism_drivers if d not in KNOWN_MECHANISM_DRIVERS]
    if unknown:
        raise ServiceFailed(f"The following mechanism drivers were not found: {set(unknown)}")
    if "linuxbridge" in conf.mechanism_drivers and not conf.experimental_linuxbridge:
        raise ServiceFailed(
            "ERROR neutron.common.experimental Feature 'linuxbridge' is experimental and has "
            "to be explicitly enabled in 'cfg.CONF.experimental'"
        )
    return conf


def open_repo(process: ServiceProcess, conf: NeutronConf) -> Repo:
    db = process.open_database(conf.database_connection, models.Base.metadata)
    manage.add_missing_tables(db)  # a state folder from before the newest tables
    if not db.tables_exist():
        raise ServiceFailed(
            "the neutron database has no tables: run `neutron-db-manage --config-file "
            f"{NEUTRON_CONF} --config-file {ML2_CONF} upgrade heads` first"
        )
    runtime = process.runtime
    return Repo(
        db,
        lambda: runtime.now().timestamp(),
        runtime.ids.dashed_id,
        runtime.ids.bytes,
        conf,
        process.log,
    )


class NeutronApi(ServiceProcess):
    """neutron-api on the controller: neutron.conf, ml2_conf.ini, its database."""

    name = "neutron-api"
    conf_path = NEUTRON_CONF
    conf: NeutronConf | None = None
    repo: Repo | None = None
    auth: AuthToken | None = None
    notifier: AgentNotifier | None = None

    def __init__(self, ctx: RoomContext, host: str) -> None:
        super().__init__(ctx, host)
        # Brings the agents' heartbeats up to date (wired by the room to neutron-rpc-server).
        self.refresh_agents: Callable[[], None] = lambda: None

    def configure(self, conf_file: Path) -> None:
        conf = read_server_conf(self)
        self.repo = open_repo(self, conf)
        self.conf = conf
        if conf.auth_strategy == "keystone":
            self.auth = AuthToken(
                conf.authtoken,
                self.ctx.http_client(self.name, self.host),
                self.log,
                self.ctx.hosts.memcached,
                lambda: self.runtime.now().timestamp(),
            )
        self.notifier = AgentNotifier(
            self.ctx.bus,
            self.name,
            self.host,
            lambda: self.conf.transport_url if self.conf else "",
            self.runtime.config.deterministic,
        )
        self.log.info(
            "Starting neutron-api (sim): ML2 with %s, service plugins %s",
            ",".join(conf.mechanism_drivers) or "no mechanism drivers",
            ",".join(conf.service_plugins) or "none",
        )

    def release(self) -> None:
        if self.repo is not None:
            self.repo.db.dispose()
        if self.auth is not None:
            self.auth.http.close()
        self.conf = self.repo = self.auth = self.notifier = None

    def unavailable(self) -> HttpError | None:
        return NeutronError(
            503,
            "HTTPServiceUnavailable",
            f"neutron-api is not running on {self.host} (sim). Install and start it: "
            "lab.ensure('networking') or `labkit install sim networking`.",
        )

    @property
    def config(self) -> NeutronConf:
        if self.conf is None:
            raise self.unavailable() or RuntimeError("neutron-api not started")
        return self.conf

    @property
    def db(self) -> Repo:
        if self.repo is None:
            raise self.unavailable() or RuntimeError("neutron-api not started")
        return self.repo


class PlainServerError(HttpError):
    """What uwsgi sends when an exception escapes the WSGI application: a bare 500."""

    def __init__(self, log_line: str) -> None:
        super().__init__(log_line, status=500)
        self.log_line = log_line


_ETAG = re.compile(r'(?:^|\s)(W/)?"((?:\\"|.)*?)"')  # WebOb's entity tags


def if_revision(header: str) -> int | None:
    """The revision-if-match extension's constraint: ``If-Match: revision_number=N``
    (check_request_for_revision_constraint, over WebOb's strong entity tags -- quoted or
    bare, weak ones ignored). Neutron's query-parameters hook reads it on every request
    of a collection; a change under it is refused with 412 when the resource's revision
    has moved on."""
    if not header or header == "*":
        return None
    found = _ETAG.findall(header)
    tags = [tag for weak, tag in found if not weak] if found else [header]
    wanted = None
    for tag in tags:
        if not tag.startswith("revision_number="):
            continue
        if wanted is not None:
            raise bad_request("if-match", "Multiple revision_number etags are not supported.")
        try:
            wanted = int(tag.split("revision_number=")[1])
        except ValueError:
            raise bad_request(
                "if-match", "Revision number etag must be in the format of revision_number=<int>"
            ) from None
    return wanted


class KeystoneMiddlewareError(HttpError):
    """An answer of keystonemiddleware itself, before Neutron sees the request."""


class NeutronApp(ServiceApp):
    """neutron-api's HTTP face at ``/networking`` (port 9696 on the controller)."""

    name = "neutron-api"
    prefix = "/networking"
    max_body = MAX_JSON_BODY

    def __init__(self, process: NeutronApi, routes: Routes) -> None:
        super().__init__(process.runtime, routes, process)
        self.neutron = process

    def prepare(self, call: Call, route: Route) -> None:
        if is_public(route):
            call.extra["no_request_id"] = True
            return
        call.auth = self.authenticate(call)
        call.extra["if_revision"] = if_revision(call.headers.get("if-match", ""))
        if self.neutron.dependency_error():
            raise NeutronError(500, "HTTPInternalServerError", INTERNAL)
        self.neutron.refresh_agents()

    def authenticate(self, call: Call) -> Context:
        conf = self.neutron.config
        if conf.auth_strategy != "keystone" or self.neutron.auth is None:
            return Context.admin(call.request_id)
        token = call.headers.get("x-auth-token", "").strip()
        try:
            user = self.neutron.auth.check(token)
        except InvalidToken:
            raise KeystoneMiddlewareError(
                "The request you have made requires authentication.", status=401
            ) from None
        except IdentityUnavailable:
            raise KeystoneMiddlewareError("", status=503) from None
        except EndpointNotFound as exc:
            raise PlainServerError(str(exc)) from None
        return Context(
            request_id=call.request_id,
            user_id=user.user_id,
            project_id=user.project_id or "",
            roles=user.roles,
        )

    def render_error(self, error: HttpError, call: Call) -> Response:
        if isinstance(error, PlainServerError):
            self.runtime.logger(self.name).error(
                "[%s] Traceback (most recent call last): ... %s", call.request_id, error.log_line
            )
            return Response(b"", status_code=500, media_type="text/plain")
        if isinstance(error, KeystoneMiddlewareError):
            return self._middleware_error(error, call)
        if isinstance(error, NeutronError):
            body = error.body()
        else:
            kind = _WEBOB_TYPES.get(error.status, "HTTPInternalServerError")
            message = INTERNAL if error.status >= 500 else error.message
            body = {"NeutronError": {"type": kind, "message": message, "detail": ""}}
        if error.status < 500:
            self.runtime.logger(self.name).info(
                "[%s] %s failed (client error): %s",
                call.request_id,
                call.method,
                body["NeutronError"]["message"],
            )
        return Response(
            json.dumps(body),
            status_code=error.status,
            media_type="application/json",
            headers=error.headers,
        )

    def _middleware_error(self, error: HttpError, call: Call) -> Response:
        if error.status == 401:
            auth = self.neutron.auth
            uri = (auth.conf.www_authenticate_uri or auth.conf.auth_url) if auth else ""
            body = {
                "error": {
                    "code": 401,
                    "title": "Unauthorized",
                    "message": "The request you have made requires authentication.",
                }
            }
            return Response(
                json.dumps(body),
                status_code=401,
                media_type="application/json",
                headers={"WWW-Authenticate": f'Keystone uri="{uri}"'},
            )
        content_type, page = webob_style.body(error.status, None, accept=call.headers.get("accept"))
        return Response(page, status_code=error.status, media_type=content_type)

    def not_found(self, call: Call) -> HttpError:
        return http_not_found()

    def method_not_allowed(self, call: Call, allowed: list[str]) -> HttpError:
        return http_method_not_allowed(allowed)

    def unrouted(self, call: Call, allowed: list[str]) -> HttpError:
        # /v2.0's pipeline has keystonemiddleware before pecan: no valid token, a 401 first.
        if call.path.startswith("/v2.0/"):
            self.authenticate(call)
        return super().unrouted(call, allowed)

    def bad_json(self) -> HttpError:
        return NeutronError(400, "HTTPBadRequest", "Body contains invalid data")

    def internal_error(self, call: Call) -> HttpError:
        return NeutronError(500, "HTTPInternalServerError", INTERNAL)

    def too_large(self, call: Call, limit: int) -> Response:
        return self.render_error(
            NeutronError(413, "HTTPRequestEntityTooLarge", "Request is too large."), call
        )

    def finish(self, call: Call, response: Response) -> None:
        if call.extra.get("no_request_id") and self.request_id_header in response.headers:
            del response.headers[self.request_id_header]
