"""The sim's small HTTP framework: routes, the per-request ``Call`` and service errors.

Every emulated service (a "room") is a :class:`ServiceApp` mounted under a DevStack-style
prefix (``/identity``, ``/image`` ...). The core does what every OpenStack API process does
around a request -- request id, body size limit, routing, access log, turning exceptions into
error bodies -- and leaves the *shape* of those bodies to the room, because Keystone, Glance
and Nova each answer errors differently.

Handlers are plain functions ``handler(call, **path_params) -> Response`` run in a worker
thread (they use SQLite) -- or on the event loop's own thread when marked :func:`on_loop`
(short, compute-only handlers) -- or ``async`` functions for streaming routes (image upload)
that read ``call.request.stream()`` themselves.

Each request runs under a :class:`~.context.RequestContext` (its request id, the global
request id a calling service passed on, its span in the trace) and is recorded as an ``http``
trace event. Calls from one service to another enter through :meth:`ServiceApp.handle_inline`
(see :mod:`.inproc`): the same pipeline, in the caller's thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import logging
import re
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, QueryParams
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from labkit.sim.core import context
from labkit.sim.core.context import GLOBAL_REQUEST_ID_HEADER, RequestContext
from labkit.sim.core.runtime import Runtime
from labkit.sim.core.trace import Hop


class Process(Protocol):
    """What an HTTP face needs of the process behind it (:class:`.service.ServiceProcess`)."""

    @property
    def host(self) -> str: ...

    @property
    def running(self) -> bool: ...

    def unavailable(self) -> HttpError | None: ...


T = TypeVar("T")
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
_GLOBAL_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def public(handler: Handler) -> Handler:
    """Mark a route served without a token (version documents, ``POST /v3/auth/tokens``)."""
    handler.public = True  # type: ignore[attr-defined]
    return handler


def is_public(route: Route) -> bool:
    return bool(getattr(route.handler, "public", False))


def on_loop(handler: Handler) -> Handler:
    """Mark a route whose handler runs on the event loop's thread instead of a request
    thread: for handlers that only compute and read local SQLite files -- never wait on
    another service, the bus, a lock held for long or the clock -- and mostly answer from
    memory in tens of microseconds (meanwhile the loop serves no other connection).

    A hop to a request thread and back wakes two threads and costs ~0.1 ms of CPU, as much
    as such a handler's whole work; on a busy machine each wake-up also waits for a core.
    Put it below the route decorator."""
    handler.on_loop = True  # type: ignore[attr-defined]
    return handler


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
    ctx: RequestContext | None = None  # request ids and trace span (set by the pipeline)
    caller: str = "client"  # who sent it: "client", or the calling service's name
    caller_host: str = ""

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
        scheme = self.request.scope.get("scheme", "http")  # what request.url.scheme says
        return f"{scheme}://{host}{self.service.prefix}"

    @property
    def url(self) -> str:
        query = f"?{self.request.url.query}" if self.request.url.query else ""
        return f"{self.root_url}{self.path}{query}"

    def json(self) -> Any:
        """The body as JSON, or the service's malformed-body error. Services on
        oslo.serialization (``json_utf8_only``) decode it as UTF-8 first, so a UTF-16 body
        or a byte-order mark is malformed there, where ``json.loads(bytes)`` (Flask's
        ``get_json``) guesses the encoding. Nesting too deep for the parser is malformed too
        (the real services let the RecursionError out as a 500: a bug not copied)."""
        if not self.body:
            return None
        try:
            return json.loads(self.body.decode() if self.service.json_utf8_only else self.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise self.service.bad_json() from None


# What Django's iri_to_uri leaves as it is: RFC 3986's reserved characters and '~' (letters,
# digits and "_.-" too, as quote() always does), and '%' so that a URI already encoded stays.
_URI_SAFE = "/#%[]=:;$&()+,!?*@'~"


def iri_to_uri(iri: str) -> str:
    """A URL as a header can carry it: non-ASCII characters as their UTF-8 bytes
    percent-encoded, and so are spaces, control characters and ``"<>\\^`{|}``; what
    is already percent-encoded stays as it is (Django's ``iri_to_uri``; Keystone's Flask and
    Nova's WebOb do the same to a ``Location`` a handler sets with a name in it).

    Every ``Location`` the sim sends goes through here: :func:`json_response` and
    :func:`empty_response` encode the one they are given (before Starlette encodes headers
    as latin-1, which a character past U+00FF would fail), and the pipeline encodes any
    other response's on its way out (:meth:`ServiceApp._end`). Rooms put plain names in."""
    return quote(iri, safe=_URI_SAFE)


def _with_location_encoded(headers: dict[str, str] | None) -> dict[str, str] | None:
    if not headers:
        return headers
    for key, value in headers.items():
        if key.lower() == "location":
            uri = iri_to_uri(value)
            if uri != value:
                return {**headers, key: uri}
    return headers


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(data),
        status_code=status,
        headers=_with_location_encoded(headers),
        media_type="application/json",
    )


def empty_response(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    """No body (Starlette leaves Content-Length off a 204, as HTTP asks)."""
    return Response(b"", status_code=status, headers=_with_location_encoded(headers))


class ServiceApp:
    """The HTTP face of a service. Subclasses set the class attributes and hooks."""

    name: str = "service"  # also the access log's file name: logs/<name>.log
    prefix: str = "/"
    # The port the real service listens on, when it is not its room's (RoomSpec.port):
    # nova-api-metadata's 8775 is Nova's second port. None = the room's.
    port: int | None = None
    max_body: int | None = None  # bytes; None = unlimited (streaming routes read their own)
    json_utf8_only: bool = False  # Call.json(): oslo's jsonutils (True) or Flask's reading
    request_id_header: str = "x-openstack-request-id"

    def __init__(self, runtime: Runtime, routes: Routes, process: Process | None = None) -> None:
        self.runtime = runtime
        self.routes = routes
        self.process = process
        self.host = process.host if process is not None else runtime.config.controller.name

    # ---- hooks rooms override -------------------------------------------------------
    def unavailable(self) -> HttpError | None:
        """An error while the service is not started on its host (a 503 by default)."""
        if self.process is None or self.process.running:
            return None
        return self.process.unavailable() or HttpError(
            f"{self.name} is not running on {self.host} (sim).", status=503
        )

    def prepare(self, call: Call, route: Route) -> None:
        """Authenticate, parse microversions ... before the handler runs. May raise HttpError.
        Public routes (:func:`public`) skip authentication."""
        if not is_public(route):
            call.auth = self.authenticate(call)

    def authenticate(self, call: Call) -> Any:
        """The caller's identity (rooms validate the token); None = no authentication."""
        return None

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

    def unrouted(self, call: Call, allowed: list[str]) -> HttpError:
        """What a request no route serves gets: a 405 when the path is served with other
        methods (``allowed``), else a 404. Runs on a request thread in the request's
        context; a room whose real service authenticates before it routes (keystonemiddleware
        in front of the router) checks the token here first and raises its 401."""
        return self.method_not_allowed(call, allowed) if allowed else self.not_found(call)

    def bad_json(self) -> HttpError:
        return HttpError("Malformed request body.", status=400)

    def too_large(self, call: Call, limit: int) -> Response:
        return self.render_error(
            HttpError(f"Request is too large. Larger than {limit}.", status=413), call
        )

    def internal_error(self, call: Call) -> HttpError:
        """What a bug in the sim answers, in the service's shape."""
        return HttpError(
            "An unexpected error prevented the server from fulfilling your request.", status=500
        )

    def finish(self, call: Call, response: Response) -> None:
        """Add headers every answer of this service carries."""

    # ---- the request pipeline ----------------------------------------------------------
    def _begin(
        self,
        request: Request,
        path: str,
        parent: RequestContext | None,
        caller: str,
        caller_host: str,
    ) -> Call:
        runtime = self.runtime
        request_id = runtime.new_request_id()
        if parent is not None:
            span, global_id = parent.child_span(), parent.root_request_id
        else:
            root = runtime.root_context(self.name, self.host, request_id)
            span = root.span
            wanted = request.headers.get(GLOBAL_REQUEST_ID_HEADER, "")
            global_id = wanted if _GLOBAL_ID.match(wanted) else ""
        call = Call(request, runtime, self, request_id, path or "/")
        call.caller, call.caller_host = caller, caller_host
        call.ctx = RequestContext(
            request_id=request_id,
            span=span,
            global_request_id=global_id if global_id != request_id else "",
            component=self.name,
            host=self.host,
        )
        call.extra["parent_span"] = parent.span if parent is not None else ""
        if request.method in MUTATING:
            runtime.after_mutation()
        return call

    def _end(self, call: Call, response: Response, started: float) -> Response:
        headers = response.headers
        headers.setdefault(self.request_id_header, call.request_id)
        self.finish(call, response)
        location = headers.get("location")  # one made without json/empty_response
        if location is not None:
            uri = iri_to_uri(location)  # (Starlette decoded the header's bytes as latin-1)
            if uri != location:
                headers["location"] = uri
        self._access_log(call, response, started)
        return response

    def _error_response(self, call: Call, exc: BaseException) -> Response:
        if isinstance(exc, HttpError):
            return self.render_error(exc, call)
        if isinstance(exc, ClientDisconnect):
            # The client hung up before its body was all there (a Content-Length larger
            # than what it sent): nobody reads this answer, and it is no sim bug. Logged as
            # a 400 with no body.
            return Response(b"", status_code=400)
        # A bug in the sim: answer in the service's shape, log loudly.
        self.runtime.record_internal_error(
            self.name, f"{call.method} {call.path}", call.request_id, traceback.format_exc()
        )
        return self.render_error(self.internal_error(call), call)

    async def handle(self, request: Request, path: str) -> Response:
        started = time.perf_counter()
        call = self._begin(request, path, None, "client", "")
        try:
            response = await self._dispatch(call)
        except Exception as exc:
            response = self._error_response(call, exc)
        return self._end(call, response, started)

    def handle_inline(
        self, request: Request, path: str, parent: RequestContext, caller: str, caller_host: str
    ) -> Response:
        """A call from another service of the sim, run in the caller's thread (no event loop,
        no thread pool): see :mod:`.inproc`. Streaming routes are not reachable this way."""
        started = time.perf_counter()
        call = self._begin(request, path, parent, caller, caller_host)
        try:
            blocked = self.unavailable()
            if blocked is not None:
                raise blocked
            route, params, allowed = self.routes.match(call.method, call.path)
            if route is None:
                raise self._unrouted_bound(call, allowed)
            if route.streaming:
                raise HttpError(f"{route.name} streams: not callable in-process", status=501)
            call.params = params
            call.body = request._body  # set by the in-process transport
            if self.max_body is not None and len(call.body) > self.max_body:
                response = self.too_large(call, self.max_body)
            else:
                response = self._run_sync(call, route, params)
        except Exception as exc:
            response = self._error_response(call, exc)
        return self._end(call, response, started)

    async def _dispatch(self, call: Call) -> Response:
        blocked = self.unavailable()
        if blocked is not None:
            raise blocked
        route, params, allowed = self.routes.match(call.method, call.path)
        if route is None:
            raise await in_thread(self.runtime, self._unrouted_bound, call, allowed)
        call.params = params
        if not route.streaming:
            try:
                call.body = await read_body(call.request, self.max_body)
            except BodyTooLarge as exc:
                return self.too_large(call, exc.limit)
        if route.streaming:
            await run_in_threadpool(self._prepare_bound, call, route)
            result = route.handler(call, **params)
            return await result if isinstance(result, Awaitable) else result  # type: ignore[no-any-return]
        if getattr(route.handler, "on_loop", False):
            return self._run_sync(call, route, params)  # see on_loop
        return await in_thread(self.runtime, self._run_sync, call, route, params)

    def _unrouted_bound(self, call: Call, allowed: list[str]) -> HttpError:
        assert call.ctx is not None
        with context.bound(call.ctx):
            return self.unrouted(call, allowed)

    def _prepare_bound(self, call: Call, route: Route) -> None:
        assert call.ctx is not None
        with context.bound(call.ctx):
            self.prepare(call, route)

    def _run_sync(self, call: Call, route: Route, params: dict[str, str]) -> Response:
        assert call.ctx is not None
        with context.bound(call.ctx):
            self.prepare(call, route)
            response = route.handler(call, **params)
        assert isinstance(response, Response), f"{route.name} returned {type(response)}"
        return response

    def _access_log(self, call: Call, response: Response, started: float) -> None:
        """The service's access log line (keystone.log / glance-api.log style) and the trace
        event of this hop, written where the request was handled."""
        seconds = time.perf_counter() - started
        length = len(getattr(response, "body", b"") or b"")
        request = call.request
        peer = request.scope.get("client")
        client = call.caller_host or (peer[0] if peer else "-")
        query = _query_of(request)
        ids = call.request_id
        if call.ctx is not None and call.ctx.root_request_id != call.request_id:
            ids = f"{call.request_id} {call.ctx.root_request_id}"  # local and global, as oslo logs
        log_info(
            self.runtime.logger(self.name),
            '[%s] %s "%s %s%s" status: %d len: %d time: %.4f',
            ids,
            client,
            call.method,
            call.path,
            f"?{query}" if query else "",
            response.status_code,
            length,
            seconds,
        )
        ctx = call.ctx
        assert ctx is not None
        self.runtime.tracer.record(
            Hop(
                request_id=call.request_id,
                span=ctx.span,
                parent=call.extra.get("parent_span", ""),
                kind="http",
                source=call.caller,
                source_host=call.caller_host,
                target=self.name,
                target_host=self.host,
                action=f"{call.method} {self.prefix}{call.path}",
                global_request_id=ctx.root_request_id,
            ),
            str(response.status_code),
            started,
        )


async def read_body(request: Request, limit: int | None) -> bytes:
    """The whole body, or :class:`BodyTooLarge` as soon as it exceeds ``limit``.

    Reads the ASGI messages itself, as ``request.stream()`` would (and marks the stream
    consumed as it does), without an async generator per request."""
    declared = request.headers.get("content-length")
    if limit is not None and declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.disconnect":
            raise ClientDisconnect()
        if kind != "http.request":
            continue
        chunk: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        if not more:
            request._stream_consumed = True
        if chunk:
            size += len(chunk)
            if limit is not None and size > limit:
                raise BodyTooLarge(limit)
            chunks.append(chunk)
        if not more:
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _query_of(request: Request) -> str:
    """``request.url.query`` without building the URL object when there is no query (most
    requests): the access log needs only this."""
    if not request.scope.get("query_string"):
        return ""
    return request.url.query


def log_info(logger: logging.Logger, msg: str, *args: object) -> None:
    """``logger.info(msg, *args)`` for the access log's lines, without looking up the
    caller's file and line in the stack (``logging`` does on every call; the sim's
    format never shows them). The same record otherwise: filters, handlers, level."""
    if logger.isEnabledFor(logging.INFO):
        logger.handle(logger.makeRecord(logger.name, logging.INFO, "(sim)", 0, msg, args, None))


async def in_thread(runtime: Runtime, work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` on one of the runtime's request threads, in a copy of this task's
    context (its request context with it), awaited without blocking the event loop.

    What ``loop.run_in_executor`` does, with one future instead of two chained ones (an
    asyncio future wrapping the executor's): the thread hands its result straight to the
    loop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    run = contextvars.copy_context().run

    def on_thread() -> None:
        try:
            result = run(work, *args)
        except BaseException as exc:  # handed to the awaiting task, as run_in_executor does
            loop.call_soon_threadsafe(_settle, future, None, exc)
        else:
            loop.call_soon_threadsafe(_settle, future, result, None)

    runtime.executor.submit(on_thread)
    return await future


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():  # the request's task went away meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
