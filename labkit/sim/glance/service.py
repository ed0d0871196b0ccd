"""The glance-api process of the sim (its config, database, store) and its HTTP face.

Like the real one it reads ``/etc/glance/glance-api.conf`` on the controller when
``/etc/init.d/glance-api start`` runs, opens the database ``[database] connection`` names and
answers only once started (503 before). Each request then goes through what Zed's
``glance-api-keystone`` paste pipeline does: version negotiation (unknown versions get the
300 version list), auth_token, the context middleware (401 without a valid token), routing.
While its database is unreachable, requests that need it answer a bare 500 (the
DBConnectionError escapes Glance's handlers, as in Zed) and glance-api.log says why.
"""

from __future__ import annotations

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
from labkit.sim.core.http import Call, HttpError, Route, Routes, ServiceApp, public
from labkit.sim.core.service import ServiceFailed, ServiceProcess
from labkit.sim.glance import models
from labkit.sim.glance.config import CONF_PATH, GlanceConf
from labkit.sim.glance.errors import (
    GlanceHttpError,
    PlainServerError,
    service_unavailable,
    unauthorized,
)
from labkit.sim.glance.imports import Importer
from labkit.sim.glance.policy import Context
from labkit.sim.glance.repo import Repo

MAX_JSON_BODY = 16 << 20  # the sim's own guard for JSON bodies (streamed routes excepted)
_V2_ALIASES = (
    "v2",
    "v2.0",
    "v2.1",
    "v2.2",
    "v2.3",
    "v2.4",
    "v2.5",
    "v2.6",
    "v2.7",
    "v2.9",
    "v2.15",
)
_MULTISTORE_ALIASES = ("v2.8", "v2.10", "v2.11", "v2.12", "v2.13")
_CACHE_ALIASES = ("v2.14", "v2.16")
_VND = "application/vnd.openstack.images-"


__all__ = ["CONF_PATH", "GlanceApp", "GlanceService", "public"]


class GlanceService(ServiceProcess):
    """glance-api on the controller: glance-api.conf, its database, stores and imports."""

    name = "glance-api"
    conf_path = CONF_PATH
    conf: GlanceConf | None = None
    repo: Repo | None = None
    auth: AuthToken | None = None
    importer: Importer | None = None

    # ---- lifecycle (driven by /etc/init.d/glance-api on the simulated controller) -------
    def configure(self, conf_file: Path) -> None:
        """Read glance-api.conf and open the database. Raises ServiceFailed with the reason a
        real glance-api would log before exiting."""
        try:
            conf = GlanceConf.read(conf_file)
        except (ValueError, ConfError) as exc:
            raise ServiceFailed(str(exc)) from None
        if conf.multistore:
            if conf.default_backend not in conf.enabled_backends:
                raise ServiceFailed(
                    f"glance_store.exceptions.UnknownScheme: Unknown scheme "
                    f"'{conf.default_backend}' found in URI "
                    "([glance_store] default_backend)"
                )
            odd = [s for s, kind in conf.enabled_backends.items() if kind != "file"]
            if odd:
                raise ServiceFailed(f"the sim emulates the file store only, not {odd}")
        db = self.open_database(conf.database_connection, models.Base.metadata)
        if not db.tables_exist():
            raise ServiceFailed(
                "the glance database has no tables: run `glance-manage db_sync` first"
            )
        for folder in {conf.store_dir(s) for s in conf.enabled_backends} | {
            conf.store_dir(),
            conf.staging_dir,
        }:
            if folder:  # glance_store creates its data directories when it configures
                self.host_path(folder).mkdir(parents=True, exist_ok=True)
        log = self.log
        self.conf = conf
        self.repo = Repo(db, lambda: self.runtime.now().timestamp())
        self.auth = AuthToken(
            conf.authtoken,
            self.ctx.http_client(self.name, self.host),
            log,
            self.ctx.hosts.memcached,
            lambda: self.runtime.now().timestamp(),
        )
        self.importer = Importer(self)
        log.info(
            "Starting glance-api (sim) with %s",
            "multiple stores " + ",".join(conf.enabled_backends)
            if conf.multistore
            else "a single store",
        )

    def release(self) -> None:
        if self.importer is not None:
            self.importer.shutdown()
        if self.repo is not None:
            self.repo.db.dispose()
        if self.auth is not None:
            self.auth.http.close()
        self.conf = self.repo = self.auth = self.importer = None

    def unavailable(self) -> HttpError | None:
        return GlanceHttpError(
            503,
            detail=(
                f"glance-api is not running on {self.host} (sim). Install and start it: run "
                "notebooks/03-glance.ipynb or `labkit install sim glance`."
            ),
        )

    # ---- where things are on the controller ------------------------------------------------

    def store_file(self, image_id: str, store: str | None = None) -> tuple[str, Path]:
        """(location URL, real path) of an image's data in a store."""
        folder = self.config.store_dir(store).rstrip("/")
        in_host = f"{folder}/{image_id}"
        return f"file://{in_host}", self.host_path(in_host)

    def staging_file(self, image_id: str) -> Path:
        return self.host_path(f"{self.config.staging_dir.rstrip('/')}/{image_id}")

    @property
    def config(self) -> GlanceConf:
        if self.conf is None:
            raise self.unavailable() or RuntimeError("glance-api not started")
        return self.conf

    @property
    def images(self) -> Repo:
        if self.repo is None:
            raise self.unavailable() or RuntimeError("glance-api not started")
        return self.repo

    @staticmethod
    def context(call: Call) -> Context:
        ctx = call.auth
        assert isinstance(ctx, Context)
        return ctx


class GlanceApp(ServiceApp):
    """glance-api's HTTP face at ``/image`` (port 9292 on the controller)."""

    name = "glance-api"
    prefix = "/image"
    max_body = MAX_JSON_BODY

    def __init__(self, process: GlanceService, routes: Routes) -> None:
        super().__init__(process.runtime, routes, process)
        self.glance = process

    # ---- request pipeline -------------------------------------------------------------------
    async def handle(self, request: Request, path: str) -> Response:
        return await super().handle(request, self.negotiate(request, path or "/"))

    def negotiate(self, request: Request, path: str) -> str:
        """glance.api.middleware.version_negotiation: ``/v2.x/...`` -> ``/v2/...``; an unknown
        version (or none) -> the version list."""
        first, _, rest = path.lstrip("/").partition("/")
        if first == "versions":
            return "/versions"
        accept = request.headers.get("accept", "")
        if accept.startswith(_VND):
            version, rest = accept[len(_VND) :], path.lstrip("/")
        else:
            version = first
        allowed = list(_V2_ALIASES)
        conf = self.glance.conf
        if conf is not None and conf.multistore:
            allowed += _MULTISTORE_ALIASES
        if conf is not None and conf.image_cache_dir:
            allowed += _CACHE_ALIASES
        if version in allowed:
            return "/v2/" + rest if rest else "/v2"
        return "/"

    def prepare(self, call: Call, route: Route) -> None:
        if getattr(route.handler, "public", False):
            call.extra["no_request_id"] = True
            return
        call.auth = self.authenticate(call)
        wanted = call.headers.get("x-openstack-request-id")
        if wanted:
            call.request_id = wanted if wanted.startswith("req-") else f"req-{wanted}"
            if call.ctx is not None:
                call.ctx.request_id = call.request_id
        if self.glance.dependency_error():
            # oslo.db's DBConnectionError escapes Glance's handlers: eventlet's bare 500.
            raise PlainServerError(self.glance.dependency_error() or "")

    def authenticate(self, call: Call) -> Context:
        conf = self.glance.config
        if not conf.keystone_auth:
            return Context.admin(call.request_id)
        auth = self.glance.auth
        assert auth is not None
        token = call.headers.get("x-auth-token", "").strip()
        try:
            user = auth.check(token)
        except InvalidToken:
            # auth_token runs with delay_auth_decision; the context middleware refuses.
            call.extra["no_request_id"] = True
            raise unauthorized() from None
        except IdentityUnavailable as exc:
            raise service_unavailable(str(exc)) from None
        except EndpointNotFound as exc:
            raise PlainServerError(str(exc)) from None
        return Context(
            request_id=call.request_id,
            user_id=user.user_id,
            project_id=user.project_id,
            project_name=user.project_name,
            roles=user.roles,
            is_admin="admin" in user.roles,
        )

    def render_error(self, error: HttpError, call: Call) -> Response:
        if isinstance(error, PlainServerError):
            self.runtime.logger(self.name).error(
                "[%s] Traceback (most recent call last): ... %s", call.request_id, error.log_line
            )
            call.extra["no_request_id"] = True
            return Response(b"", status_code=500, media_type="text/plain", headers=error.headers)
        explanation: str | None
        if isinstance(error, GlanceHttpError):
            explanation, detail = error.explanation, error.detail
        elif error.status == 405:
            explanation, detail = f"The method {call.method} is not allowed for this resource. ", ""
        elif error.status in (400, 413, 500):
            explanation, detail = error.message, ""
        else:
            explanation, detail = None, ""
        content_type, body = webob_style.body(
            error.status,
            explanation,
            detail=detail,
            accept=call.headers.get("accept"),
            content_type=call.headers.get("content-type", ""),
        )
        if error.status == 405:
            # WebOb's 405 template has no trailing detail lines.
            body = body.replace(b"<br /><br />\\n\\n\\n", b"<br /><br />\\n").replace(
                b"<br /><br />\n\n\n", b"<br /><br />\n"
            )
        headers = dict(error.headers)
        if error.status == 401 and self.glance.auth is not None:
            headers["WWW-Authenticate"] = self.glance.auth.www_authenticate
        return Response(body, status_code=error.status, media_type=content_type, headers=headers)

    def not_found(self, call: Call) -> HttpError:
        return GlanceHttpError(404)

    def method_not_allowed(self, call: Call, allowed: list[str]) -> HttpError:
        # Glance's router spells each path's methods out ('GET, PATCH, DELETE'), always in
        # this order.
        order = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        methods = sorted(set(allowed), key=lambda m: order.index(m) if m in order else len(order))
        return HttpError("", status=405, headers={"Allow": ", ".join(methods)})

    def unrouted(self, call: Call, allowed: list[str]) -> HttpError:
        # Behind version negotiation, /v2 goes through authtoken and the context
        # middleware before the router: no valid token, a 401 first.
        if call.path.startswith("/v2/"):
            self.authenticate(call)
        return super().unrouted(call, allowed)

    def bad_json(self) -> HttpError:
        return GlanceHttpError(400, "Malformed JSON in request body.")

    def finish(self, call: Call, response: Response) -> None:
        if call.extra.get("no_request_id") and self.request_id_header in response.headers:
            # Answered before Glance's context middleware, which is what adds the id.
            del response.headers[self.request_id_header]
