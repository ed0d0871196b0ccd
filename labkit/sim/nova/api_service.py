"""nova-api: the process (uwsgi on port 8774 on the controller) and its HTTP face.

The face does what Nova's paste pipeline does around every request: keystonemiddleware's
auth_token (the shared :mod:`labkit.sim.core.authtoken`), microversion negotiation (406 for
an unsupported version, the version echoed in ``OpenStack-API-Version`` and
``X-OpenStack-Nova-API-Version``), ``x-compute-request-id`` next to
``x-openstack-request-id``, and Nova's fault bodies.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import Response

from labkit.sim.core import webob_style
from labkit.sim.core.authtoken import (
    AuthToken,
    EndpointNotFound,
    IdentityUnavailable,
    InvalidToken,
    TokenInfo,
)
from labkit.sim.core.http import (
    Call,
    HttpError,
    Route,
    Routes,
    ServiceApp,
    is_public,
    json_response,
)
from labkit.sim.nova import microversions as mv
from labkit.sim.nova.api import query
from labkit.sim.nova.errors import NovaError
from labkit.sim.nova.service import NovaProcess

MAX_BODY = 114688  # oslo.middleware sizelimit in front of nova-api


@dataclass(frozen=True)
class Caller:
    """Who is calling and with which microversion (Nova's RequestContext, trimmed)."""

    user_id: str
    project_id: str
    roles: frozenset[str]
    token: str
    version: mv.Version

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_reader(self) -> bool:
        return bool(self.roles & {"reader", "member", "admin"})


class RouterMiss(HttpError):
    """No route for this path and method. Nova's Routes mapper has none either: its router
    (``nova.api.wsgi.Router._dispatch``) *returns* a bare ``webob.exc.HTTPNotFound()`` --
    outside the fault wrapper, so the body is WebOb's page (HTML, JSON or text by
    ``Accept``), not a ``{"itemNotFound": ...}`` fault. A method the path does not serve is
    the same 404: each route is connected with ``conditions={"method": [...]}``, and a
    condition that fails is no match (no 405, no ``Allow``)."""

    status = 404

    def __init__(self) -> None:
        super().__init__("")


def _folded(call: Call, name: str) -> str | None:
    """A header's values joined by ``,`` (a repeated header, as WSGI servers fold it)."""
    values = call.headers.getlist(name)
    return ",".join(values) if values else None


class NovaApi(NovaProcess):
    name = "nova-api"
    auth: AuthToken | None = None

    def after_configure(self) -> None:
        conf = self.nova_conf
        self.auth = AuthToken(
            conf.authtoken,
            self.http_client,
            self.log,
            self.ctx.hosts.memcached,
            lambda: self.runtime.now().timestamp(),
        )

    def before_release(self) -> None:
        self.auth = None


class NovaApiApp(ServiceApp):
    name = "nova-api"
    prefix = "/compute"
    max_body = MAX_BODY
    json_utf8_only = True  # jsonutils.loads: the body decoded as UTF-8 first

    def __init__(self, process: NovaApi, routes: Routes) -> None:
        super().__init__(process.runtime, routes, process)
        self.nova = process

    def prepare(self, call: Call, route: Route) -> None:
        if is_public(route):
            call.extra["version"] = str(self._version(call))
            return
        if self.nova.dependency_error():
            raise NovaError(
                "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ "
                "and attach the Nova API log if possible.\n"
                "<class 'oslo_db.exception.DBConnectionError'>",
                status=500,
            )
        # keystonemiddleware answers before Nova looks at the microversion: a 401 has no
        # version headers, a 406 needs a valid token.
        info = self._authenticate(call)
        version = self._version(call)
        call.extra["version"] = str(version)
        call.auth = Caller(
            user_id=info.user_id,
            project_id=info.project_id or "",
            roles=info.roles,
            token=call.headers.get("x-auth-token", ""),
            version=version,
        )
        if call.ctx is not None:
            call.ctx.user_id, call.ctx.project_id = info.user_id, info.project_id or ""
            call.ctx.roles = tuple(sorted(info.roles))
            call.ctx.auth_token = call.auth.token
        # Nova's query_schema decorators: before the handler, its policy and its lookups.
        query.check(call, route.method, route.template, version)

    def _version(self, call: Call) -> mv.Version:
        try:
            return mv.negotiate(
                _folded(call, "openstack-api-version"),
                _folded(call, "x-openstack-nova-api-version"),
            )
        except mv.Unsupported as exc:
            call.extra["version"] = exc.requested
            raise NovaError(
                f"Version {exc.requested} is not supported by the API. Minimum is 2.1 and "
                f"maximum is {mv.max_version()}.",
                status=406,
            ) from None
        except mv.Malformed as exc:
            raise NovaError(
                f"API Version String {exc} is of invalid format. Must be of format "
                "MajorNum.MinorNum.",
                status=400,
            ) from None

    def _authenticate(self, call: Call) -> TokenInfo:
        auth = self.nova.auth
        if auth is None:
            raise self.unavailable() or NovaError("nova-api is not running", status=503)
        try:
            return auth.check(call.headers.get("x-auth-token", "").strip())
        except InvalidToken:
            raise HttpError(
                "The request you have made requires authentication.",
                status=401,
                title="Unauthorized",
                headers={"WWW-Authenticate": auth.www_authenticate},
            ) from None
        except IdentityUnavailable as exc:
            raise HttpError(str(exc), status=503, title="Service Unavailable") from None
        except EndpointNotFound as exc:
            self.nova.log.error("[%s] %s", call.request_id, exc)
            raise NovaError(str(exc), status=500) from None

    def render_error(self, error: HttpError, call: Call) -> Response:
        if isinstance(error, RouterMiss):
            content_type, page = webob_style.body(404, accept=call.headers.get("accept"))
            return Response(page, 404, headers={"Content-Type": content_type})
        headers = dict(error.headers)
        if error.status in (401, 503) and not isinstance(error, NovaError):
            # keystonemiddleware's own body, before Nova's fault wrapper
            body: dict[str, object] = {
                "error": {
                    "code": error.status,
                    "title": error.title or "",
                    "message": error.message,
                }
            }
            return json_response(body, error.status, headers)
        nova_error = (
            error if isinstance(error, NovaError) else NovaError(error.message, status=error.status)
        )
        response = json_response(nova_error.body(), error.status, headers)
        response.headers["Content-Type"] = "application/json; charset=UTF-8"
        return response

    def not_found(self, call: Call) -> HttpError:
        return NovaError("The resource could not be found.", status=404)

    def unrouted(self, call: Call, allowed: list[str]) -> HttpError:
        # keystonemiddleware is in front of the API router: no valid token, a 401 first.
        # (Paths outside /v2.1 belong to the versions app, which has no auth.)
        if call.path.startswith("/v2.1/"):
            self._authenticate(call)
        return RouterMiss()

    def bad_json(self) -> HttpError:
        return NovaError("Malformed request body", status=400)

    def internal_error(self, call: Call) -> HttpError:
        return NovaError(
            "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and "
            "attach the Nova API log if possible.",
            status=500,
        )

    def finish(self, call: Call, response: Response) -> None:
        response.headers["x-compute-request-id"] = call.request_id
        version = call.extra.get("version")
        if version and call.path.rstrip("/") not in ("", "/"):
            response.headers["OpenStack-API-Version"] = f"compute {version}"
            response.headers["X-OpenStack-Nova-API-Version"] = str(version)
            response.headers["Vary"] = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
