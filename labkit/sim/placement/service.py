"""The placement-api process of the sim (its config and database) and its HTTP face.

Like Debian's ``/etc/init.d/placement-api`` (uwsgi on port 8778), it reads
``/etc/placement/placement.conf`` on the controller at start, opens the database
``[placement_database] connection`` names, writes the standard resource classes and traits
and then answers -- 503 from the sim before that. Each request goes through what Zed's
``placement.deploy`` pipeline does, in its order: request id, keystonemiddleware's
auth_token (no token, or a bad one: its own 401 body; ``GET /`` is exempt), the
microversion middleware (400/406 for a bad ``OpenStack-API-Version``), the router (404/405)
and the handler, whose errors come out in Placement's ``{"errors": [...]}`` shape.
"""

from __future__ import annotations

import json
import re
from email.utils import formatdate
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from labkit.sim.core import webob_style
from labkit.sim.core.authtoken import (
    AuthToken,
    EndpointNotFound,
    IdentityUnavailable,
    InvalidToken,
)
from labkit.sim.core.conf import ConfError
from labkit.sim.core.context import RequestContext
from labkit.sim.core.http import Call, HttpError, Route, Routes, ServiceApp, is_public
from labkit.sim.core.service import ServiceFailed, ServiceProcess
from labkit.sim.core.status import reason_phrase
from labkit.sim.core.store import Database
from labkit.sim.placement import classes, microversion, models
from labkit.sim.placement.config import CONF_PATH, PlacementConf
from labkit.sim.placement.errors import PlacementError, detail_text
from labkit.sim.placement.policy import Context

MAX_JSON_BODY = 16 << 20  # the sim's own guard; Placement has none
UNROUTED = "/__unrouted__"  # where requests no route matches go, after authentication
_ORIGINAL_PATH = "labkit.placement.path"
_UNAUTHORIZED = {
    "error": {
        "code": 401,
        "title": "Unauthorized",
        "message": "The request you have made requires authentication.",
    }
}


# Placement's handler lists a path's methods in the order its ROUTE_DECLARATIONS give them:
# GET, POST, PUT, DELETE everywhere but on a single provider (GET, DELETE, PUT).
_METHOD_ORDER = ("GET", "POST", "PUT", "DELETE")
_PROVIDER_METHOD_ORDER = ("GET", "DELETE", "PUT")
_ONE_PROVIDER = re.compile(r"^/resource_providers/[^/]+/?$")


def _allow(path: str, allowed: list[str]) -> str:
    order = _PROVIDER_METHOD_ORDER if _ONE_PROVIDER.match(path) else _METHOD_ORDER
    rank = {method: index for index, method in enumerate(order)}
    return ", ".join(sorted(dict.fromkeys(allowed), key=lambda m: rank.get(m, len(order))))


class PlacementService(ServiceProcess):
    """placement-api on the controller: placement.conf, its database, its token checks."""

    name = "placement-api"
    conf_path = CONF_PATH
    conf: PlacementConf | None = None
    db: Database | None = None
    auth: AuthToken | None = None

    def configure(self, conf_file: Path) -> None:
        try:
            conf = PlacementConf.read(conf_file)
        except ConfError as exc:
            raise ServiceFailed(str(exc)) from None
        if not conf.database_connection:
            raise ServiceFailed(
                "oslo_db.exception.CantStartEngineError: No sql_connection parameter is "
                "established ([placement_database] connection in placement.conf)"
            )
        db = self.open_database(conf.database_connection, models.Base.metadata)
        if not db.tables_exist():
            db.dispose()
            raise ServiceFailed(
                "sqlalchemy.exc.ProgrammingError: (1146, \"Table 'placement.traits' doesn't "
                'exist"): run `placement-manage db sync` first'
            )
        with db.write() as s:
            classes.ensure_standards(s, self.now())
        self.conf, self.db = conf, db
        if conf.auth_strategy == "keystone":
            self.auth = AuthToken(
                conf.authtoken,
                self.ctx.http_client(self.name, self.host),
                self.log,
                self.ctx.hosts.memcached,
                lambda: self.runtime.now().timestamp(),
            )
        self.log.info("Starting placement-api (sim), auth_strategy = %s", conf.auth_strategy)

    def release(self) -> None:
        if self.db is not None:
            self.db.dispose()
        if self.auth is not None:
            self.auth.http.close()
        self.conf = self.db = self.auth = None

    def unavailable(self) -> HttpError | None:
        return PlacementError(
            503,
            f"placement-api is not running on {self.host} (sim). Install and start it: "
            "lab.ensure('placement') or `labkit install sim placement`.",
            in_handler=False,
        )

    def now(self) -> float:
        return self.runtime.now().timestamp()

    @property
    def database(self) -> Database:
        if self.db is None:
            raise self.unavailable() or RuntimeError("placement-api not started")
        return self.db

    @property
    def config(self) -> PlacementConf:
        if self.conf is None:
            raise self.unavailable() or RuntimeError("placement-api not started")
        return self.conf


class AuthRejected(HttpError):
    """keystonemiddleware's own 401 (outside Placement's error formatting)."""

    def __init__(self, www_authenticate: str) -> None:
        super().__init__(
            "The request you have made requires authentication.",
            status=401,
            headers={"WWW-Authenticate": www_authenticate},
        )


class BareServerError(HttpError):
    """An exception that escaped the whole WSGI pipeline: uwsgi's empty 500."""

    def __init__(self, log_line: str) -> None:
        super().__init__(log_line, status=500)


class PlacementApp(ServiceApp):
    """placement-api's HTTP face at ``/placement`` (port 8778 on the controller)."""

    name = "placement-api"
    prefix = "/placement"
    max_body = MAX_JSON_BODY

    def __init__(self, process: PlacementService, routes: Routes) -> None:
        super().__init__(process.runtime, routes, process)
        self.placement = process
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
            routes.add(method, UNROUTED, self._unrouted)

    # ---- routing: authenticate before a 404/405, as Placement's middleware order does ------
    def _reroute(self, request: Request, path: str) -> str:
        route, _, _ = self.routes.match(request.method, path or "/")
        if route is not None:
            return path
        request.scope[_ORIGINAL_PATH] = path or "/"
        return UNROUTED

    async def handle(self, request: Request, path: str) -> Response:
        return await super().handle(request, self._reroute(request, path))

    def handle_inline(
        self, request: Request, path: str, parent: RequestContext, caller: str, caller_host: str
    ) -> Response:
        return super().handle_inline(
            request, self._reroute(request, path), parent, caller, caller_host
        )

    def _unrouted(self, call: Call) -> Response:
        """Placement's router, reached after authentication: 405 for a path that exists with
        other methods, else 404."""
        path = str(call.request.scope.get(_ORIGINAL_PATH, call.path))
        allowed = [
            r.method
            for r in self.routes
            if r.template != UNROUTED and r.method != "HEAD" and r.regex.match(path)
        ]
        if allowed:
            raise self.method_not_allowed(call, allowed)
        raise PlacementError(404, in_handler=False)

    # ---- the pipeline -----------------------------------------------------------------------
    def prepare(self, call: Call, route: Route) -> None:
        if not is_public(route):
            call.auth = self.authenticate(call)
        try:
            # a repeated header counts as its values joined by ',' (as WSGI folds it)
            folded = ",".join(call.headers.getlist(microversion.HEADER)) or None
            call.extra["mv"] = microversion.parse(folded)
        except microversion.BadVersion as exc:
            raise PlacementError(400, f"Invalid microversion: {exc}", in_handler=False) from None
        except microversion.UnacceptableVersion as exc:
            call.extra["no_version"] = True
            raise PlacementError(406, f"Invalid microversion: {exc}", in_handler=False) from None
        length = call.headers.get("content-length", "")
        if length and not call.headers.get("content-type"):
            if not length.isdigit():
                raise PlacementError(
                    400, "content-length header must be an integer", in_handler=False
                )
            if int(length) > 0:
                raise PlacementError(
                    400, "content-type header required when content-length > 0", in_handler=False
                )
        if not is_public(route) and (down := self.placement.dependency_error()):
            # oslo.db's DBConnectionError is no webob error: the FaultWrapper's 500.
            raise PlacementError(500, down, in_handler=False, headers={"x-bare": "1"})

    def authenticate(self, call: Call) -> Context:
        conf = self.placement.config
        token = call.headers.get("x-auth-token", "").strip()
        if conf.auth_strategy == "noauth2":
            if not token:
                raise PlacementError(401, in_handler=False)
            return Context.noauth(call.request_id, token)
        auth = self.placement.auth
        assert auth is not None
        try:
            user = auth.check(token)
        except InvalidToken:
            raise AuthRejected(auth.www_authenticate) from None
        except IdentityUnavailable as exc:
            raise HttpError(str(exc), status=503) from None
        except EndpointNotFound as exc:
            raise BareServerError(str(exc)) from None
        return Context(
            request_id=call.request_id,
            user_id=user.user_id,
            project_id=user.project_id,
            roles=user.roles,
            system_scope=user.system_scope,
        )

    # ---- error bodies -------------------------------------------------------------------------
    def render_error(self, error: HttpError, call: Call) -> Response:
        call.extra["error"] = error
        if isinstance(error, AuthRejected):
            call.extra["bare"] = True
            return Response(
                json.dumps(_UNAUTHORIZED),
                status_code=401,
                media_type="application/json",
                headers=error.headers,
            )
        if isinstance(error, BareServerError):
            call.extra["bare"] = True
            self.runtime.logger(self.name).error(
                "[%s] Traceback (most recent call last): ... %s", call.request_id, error.message
            )
            return Response(b"", status_code=500, media_type="text/plain")
        if not isinstance(error, PlacementError):
            # keystonemiddleware's 503, or the core's own errors: WebOb's default shapes.
            if error.status in (503, 413):
                call.extra["bare"] = True
            content_type, body = webob_style.body(
                error.status, None, detail=error.message, accept=call.headers.get("accept")
            )
            return Response(body, status_code=error.status, media_type=content_type)
        headers = {k: v for k, v in error.headers.items() if k != "x-bare"}
        if "x-bare" in error.headers or error.status == 503:
            call.extra["bare"] = True
        accept = call.headers.get("accept")
        kind = webob_style.negotiate(accept)
        if kind != "application/json":
            content_type, body = webob_style.body(
                error.status, None, detail=error.detail, accept=accept
            )
            return Response(
                body, status_code=error.status, media_type=content_type, headers=headers
            )
        entry: dict[str, object] = {
            "status": error.status,
            "title": reason_phrase(error.status),
            "detail": detail_text(
                error.status,
                error.detail,
                method=call.method,
                accept=accept,
                media=call.headers.get("content-type") or "None",
            ),
        }
        version = call.extra.get("mv")
        if isinstance(version, microversion.Version) and version.at_least(23):
            entry["code"] = error.code
        entry["request_id"] = call.request_id
        if call.extra.get("no_version"):
            entry["max_version"] = "1.39"
            entry["min_version"] = "1.0"
        return Response(
            json.dumps({"errors": [entry]}),
            status_code=error.status,
            media_type="application/json",
            headers=headers,
        )

    def not_found(self, call: Call) -> HttpError:
        return PlacementError(404, in_handler=False)

    def method_not_allowed(self, call: Call, allowed: list[str]) -> HttpError:
        return PlacementError(
            405,
            "The method specified is not allowed for this resource.",
            in_handler=False,
            headers={
                "Allow": _allow(str(call.request.scope.get(_ORIGINAL_PATH, call.path)), allowed)
            },
        )

    def bad_json(self) -> HttpError:
        return PlacementError(400, "Malformed JSON")

    def too_large(self, call: Call, limit: int) -> Response:
        return self.render_error(
            HttpError(f"Request is too large. Larger than {limit}.", status=413), call
        )

    def internal_error(self, call: Call) -> HttpError:
        return PlacementError(500, "An unexpected error occurred (sim).", in_handler=False)

    def finish(self, call: Call, response: Response) -> None:
        version = call.extra.get("mv")
        if call.extra.get("bare") or not isinstance(version, microversion.Version):
            return
        response.headers["openstack-api-version"] = f"placement {version}"
        error = call.extra.get("error")
        if not (isinstance(error, PlacementError) and not error.in_handler):
            response.headers["vary"] = "openstack-api-version"


def http_date(timestamp: float) -> str:
    return formatdate(timestamp, usegmt=True)
