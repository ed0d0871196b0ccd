"""The sim's small HTTP framework: routes, the per-request ``Call`` and service errors.

Every emulated service (a "room") is a :class:`ServiceApp` mounted under a DevStack-style
prefix (``/identity``, ``/image`` ...). The core does what every OpenStack API process does
around a request -- request id, body size limit, routing, access log, turning exceptions into
error bodies -- and leaves the *shape* of those bodies to the room, because Keystone, Glance
and Nova each answer errors differently.

Handlers are plain functions ``handler(call, **path_params) -> Response`` run in a worker
thread (they use SQLite), or ``async`` functions for streaming routes (image upload) that
read ``call.request.stream()`` themselves.
"""

from __future__ import annotations

import inspect
import json
import re
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from labkit.sim.core.runtime import Runtime

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class HttpError(Exception):
    """An error answer. ``message`` is the service's own text; the room renders the body."""

    status: int = 500

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.title = title
        self.headers = headers or {}


class BodyTooLarge(Exception):
    """Raised while reading a body that exceeds the service's limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


Handler = Callable[..., Any]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    regex: re.Pattern[str]
    handler: Handler
    streaming: bool

    @property
    def name(self) -> str:
        return getattr(self.handler, "__name__", self.template)


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template.rstrip("/"))
    return re.compile(f"^{pattern}/?$")


class Routes:
    """An ordered route table. Decorate handlers with ``@routes.get("/v3/projects")``."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        streaming = inspect.iscoroutinefunction(handler)
        self._routes.append(Route(method, template, _compile(template), handler, streaming))

    def _decorator(self, method: str, template: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(method, template, handler)
            return handler

        return register

    def get(self, template: str) -> Callable[[Handler], Handler]:
        return self._decorator("GET", template)

    def head(self, template: str) -> Callable[[Handler], Handler]:
        return self._decorator("HEAD", template)

    def post(self, template: str) -> Callable[[Handler], Handler]:
        return self._decorator("POST", template)

    def put(self, template: str) -> Callable[[Handler], Handler]:
        return self._decorator("PUT", template)

    def patch(self, template: str) -> Callable[[Handler], Handler]:
        return self._decorator("PATCH", template)

    def delete(self, template: str) -> Callable[[Handler], Handler]:
        return self._decorator("DELETE", template)

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes)

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], list[str]]:
        """Return (route, params, allowed methods). HEAD falls back to GET like WSGI apps."""
        allowed: list[str] = []
        fallback: tuple[Route, dict[str, str]] | None = None
        for route in self._routes:
            found = route.regex.match(path)
            if not found:
                continue
            allowed.append(route.method)
            if route.method == method:
                return route, found.groupdict(), allowed
            if method == "HEAD" and route.method == "GET" and fallback is None:
                fallback = (route, found.groupdict())
        if fallback:
            return fallback[0], fallback[1], allowed
        return None, {}, allowed


@dataclass
class Call:
    """One request as a handler sees it."""

    request: Request
    runtime: Runtime
    service: ServiceApp
    request_id: str
    path: str  # below the service prefix, e.g. "/v3/projects"
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)
    # Filled by the service's prepare(): the authenticated context, microversion, ...
    auth: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def headers(self) -> Headers:
        return self.request.headers

    @property
    def query(self) -> QueryParams:
        return self.request.query_params

    @property
    def root_url(self) -> str:
        """The service's root as the client addressed it, e.g. ``http://127.0.0.1:8642/identity``."""
        host = (
            self.request.headers.get("host")
            or f"{self.runtime.config.bind}:{self.runtime.config.port}"
        )
        return f"{self.request.url.scheme}://{host}{self.service.prefix}"

    @property
    def url(self) -> str:
        query = f"?{self.request.url.query}" if self.request.url.query else ""
        return f"{self.root_url}{self.path}{query}"

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except (ValueError, UnicodeDecodeError):
            raise self.service.bad_json() from None


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(data), status_code=status, headers=headers, media_type="application/json"
    )


def empty_response(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    """No body (Starlette leaves Content-Length off a 204, as HTTP asks)."""
    return Response(b"", status_code=status, headers=headers)


class ServiceApp:
    """Base of every emulated service. Subclasses set the class attributes and hooks."""

    name: str = "service"  # also the access log's file name: logs/<name>.log
    prefix: str = "/"
    max_body: int | None = None  # bytes; None = unlimited (streaming routes read their own)
    request_id_header: str = "x-openstack-request-id"

    def __init__(self, runtime: Runtime, routes: Routes) -> None:
        self.runtime = runtime
        self.routes = routes

    # ---- hooks rooms override -------------------------------------------------------
    def unavailable(self) -> HttpError | None:
        """Return an error while the service is not installed/started on its host."""
        return None

    def prepare(self, call: Call, route: Route) -> None:
        """Authenticate, parse microversions ... before the handler runs. May raise HttpError."""

    def render_error(self, error: HttpError, call: Call) -> Response:
        return json_response(
            {"error": {"code": error.status, "message": error.message}}, error.status, error.headers
        )

    def not_found(self, call: Call) -> HttpError:
        return HttpError("The resource could not be found.", status=404)

    def method_not_allowed(self, call: Call, allowed: list[str]) -> HttpError:
        return HttpError(
            "The method is not allowed for the requested URL.",
            status=405,
            headers={"Allow": ", ".join(sorted(set(allowed)))},
        )

    def bad_json(self) -> HttpError:
        return HttpError("Malformed request body.", status=400)

    def too_large(self, call: Call, limit: int) -> Response:
        return self.render_error(
            HttpError(f"Request is too large. Larger than {limit}.", status=413), call
        )

    def finish(self, call: Call, response: Response) -> None:
        """Add headers every answer of this service carries."""

    # ---- the request pipeline ----------------------------------------------------------
    async def handle(self, request: Request, path: str) -> Response:
        runtime = self.runtime
        started = time.perf_counter()
        call = Call(request, runtime, self, f"req-{uuid.uuid4()}", path or "/")
        if request.method in MUTATING:
            runtime.after_mutation()
        try:
            response = await self._dispatch(call)
        except HttpError as error:
            response = self.render_error(error, call)
        except Exception:  # a bug in the sim: answer in the service's shape, log loudly
            runtime.record_internal_error(self.name, call, traceback.format_exc())
            response = self.render_error(
                HttpError(
                    "An unexpected error prevented the server from fulfilling your request.",
                    status=500,
                ),
                call,
            )
        response.headers.setdefault(self.request_id_header, call.request_id)
        self.finish(call, response)
        runtime.access_log(
            self.name,
            call,
            response.status_code,
            len(getattr(response, "body", b"") or b""),
            time.perf_counter() - started,
        )
        return response

    async def _dispatch(self, call: Call) -> Response:
        blocked = self.unavailable()
        if blocked is not None:
            raise blocked
        route, params, allowed = self.routes.match(call.method, call.path)
        if route is None:
            raise self.method_not_allowed(call, allowed) if allowed else self.not_found(call)
        call.params = params
        if not route.streaming:
            try:
                call.body = await read_body(call.request, self.max_body)
            except BodyTooLarge as exc:
                return self.too_large(call, exc.limit)
        if route.streaming:
            await run_in_threadpool(self.prepare, call, route)
            result = route.handler(call, **params)
            return await result if isinstance(result, Awaitable) else result  # type: ignore[no-any-return]
        return await run_in_threadpool(self._run_sync, call, route, params)

    def _run_sync(self, call: Call, route: Route, params: dict[str, str]) -> Response:
        self.prepare(call, route)
        response = route.handler(call, **params)
        assert isinstance(response, Response), f"{route.name} returned {type(response)}"
        return response


async def read_body(request: Request, limit: int | None) -> bytes:
    declared = request.headers.get("content-length")
    if limit is not None and declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if limit is not None and size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)
