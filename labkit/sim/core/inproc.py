"""HTTP between the sim's services, in-process: real requests, no sockets, no thread hops.

In a real cloud Glance asks Keystone about a token over HTTP, and Nova calls Placement,
Glance and Neutron over HTTP. Rooms of the sim do the same with an ordinary
:class:`httpx.Client` -- real methods, URLs, headers and JSON bodies -- whose transport hands
the request straight to the target room's pipeline (:meth:`.http.ServiceApp.handle_inline`) in
the calling thread. So a request that fans out to other services can never exhaust the
server's thread pool waiting on itself, and every such call still shows in the target's
access log and in the trace, as a child of the caller's span. A plain request skips httpx's
client machinery on its way to the transport (:class:`InProcessClient`), sending the same
bytes.

URLs are resolved as the calling host would: the sim's own address and port route by
DevStack path (``http://127.0.0.1:PORT/identity/v3``), and a simulated host with a service's
real port reaches that service if it runs there (``http://controller:5000/v3``). Anything else
is refused like a closed port.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol
from urllib.parse import unquote

import httpx
from starlette.requests import Request

from labkit.sim.core import context

if TYPE_CHECKING:
    from labkit.sim.core.http import ServiceApp
    from labkit.sim.core.runtime import Runtime


class Router(Protocol):
    def resolve(self, host: str, port: int | None, path: str) -> tuple[ServiceApp, str] | None:
        """The service answering at that address and the path below its prefix."""
        ...


class InProcessTransport(httpx.BaseTransport):
    """An httpx transport that delivers requests to the sim's rooms in this thread."""

    def __init__(self, runtime: Runtime, router: Router, component: str, host: str) -> None:
        self.runtime = runtime
        self.router = router
        self.component = component
        self.host = host

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        raw_path = url.raw_path.split(b"?", 1)[0]
        response = self.deliver(
            Outgoing(
                request.method,
                url.scheme,
                url.host,
                url.port,
                raw_path,
                url.query,
                [(k.lower(), v) for k, v in request.headers.raw],
                request.read(),
            ),
            lambda: request,
        )
        response.request = request
        return response

    def deliver(self, out: Outgoing, request: Callable[[], httpx.Request]) -> httpx.Response:
        """Run ``out`` through the target room's pipeline (:meth:`.http.ServiceApp.handle_inline`)
        and answer what it answered. ``request`` makes the httpx request the answer (or the
        refused connection) belongs to."""
        path = unquote(out.raw_path.decode("ascii"))
        found = self.router.resolve(out.host, out.port, path)
        if found is None:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request())
        app, below = found
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": out.method,
            "scheme": out.scheme,
            "server": (out.host, out.port or 80),
            "client": (self.host, 0),
            "root_path": "",
            "path": path,
            "raw_path": out.raw_path,
            "query_string": out.query,
            "headers": out.headers,
        }
        inner = Request(scope)
        inner._body = out.body  # what Request.body() would have read
        parent = context.current() or self.runtime.root_context(self.component, self.host)
        response = app.handle_inline(inner, below, parent, self.component, self.host)
        content = getattr(response, "body", None)
        if content is None:
            raise httpx.RemoteProtocolError(
                f"{app.name} answered with a stream, which in-process calls do not carry",
                request=request(),
            )
        return httpx.Response(
            response.status_code,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers],
            content=bytes(content),
        )


class Outgoing(NamedTuple):
    """One request as it leaves the caller: what the target's ASGI scope is made of."""

    method: str
    scheme: str
    host: str
    port: int | None  # None for the scheme's default port, as httpx.URL.port
    raw_path: bytes  # percent-encoded, without the query
    query: bytes
    headers: list[tuple[bytes, bytes]]  # names in lower case, in the order httpx sends them
    body: bytes


# A URL whose every character httpx would send as it is: a lower-case host name, an optional
# port, and a path and query of RFC 3986's unreserved and sub-delims characters, ':', '@',
# '/', '?' and well-formed percent-escapes. No dot segments (httpx removes them). Anything
# else goes through httpx's own URL parsing.
_PLAIN_URL = re.compile(
    r"(https?)://([a-z0-9][a-z0-9.-]*)(?::([0-9]{1,5}))?"
    r"((?:/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*)*)"
    r"(?:\?((?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*))?"
)
_DOT_SEGMENT = re.compile(r"/\.\.?(?=/|$)")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_BODY_METHODS = ("POST", "PUT", "PATCH")


class InProcessClient(httpx.Client):
    """The :class:`httpx.Client` a room calls the others with. A plain request -- a URL
    httpx would send unchanged, a ``json`` or ``content`` body, no ``params``, ``auth``,
    cookies or redirects to follow -- skips httpx's client machinery (URL parsing and
    merging, the auth and redirect loops, the cookie jar: ~0.3 ms a call, more than a
    small handler takes) and goes straight to the transport with the very method, path,
    query, headers (httpx's defaults, merged and ordered as httpx merges them, ``Host``
    and ``Content-Length`` added as httpx adds them) and body httpx would have sent. The
    target sees the same request, logs the same line and records the same trace event.
    Everything else takes httpx's own way, to the same transport."""

    def __init__(self, transport: InProcessTransport, headers: dict[str, str]) -> None:
        super().__init__(transport=transport, timeout=30.0, headers=headers)
        self.inproc = transport

    def request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Response:
        out = self._plain(method, url, kwargs)
        if out is None:
            return super().request(method, url, **kwargs)
        response = self.inproc.deliver(out, lambda: self._made(method, url, kwargs))
        if "set-cookie" in response.headers:  # as httpx's client keeps them (none does)
            response.request = self._made(method, url, kwargs)
            self.cookies.extract_cookies(response)
        return response

    def _made(self, method: str, url: httpx.URL | str, kwargs: dict[str, Any]) -> httpx.Request:
        """The request httpx would have built, for an error or a cookie that names it."""
        fields = ("content", "json", "headers")
        return self.build_request(method, url, **{k: kwargs[k] for k in fields if k in kwargs})

    def _plain(self, method: str, url: object, kwargs: dict[str, Any]) -> Outgoing | None:
        """The request, if it is a plain one (see the class); else None."""
        for name, value in kwargs.items():
            if name in ("content", "json", "headers", "timeout"):  # (no socket to wait on)
                continue
            if name == "auth" and (value is None or value is httpx.USE_CLIENT_DEFAULT):
                continue
            if name == "follow_redirects" and value in (False, httpx.USE_CLIENT_DEFAULT):
                continue
            if name in ("data", "files", "params", "cookies", "extensions") and value is None:
                continue
            return None
        if not isinstance(url, str) or self.cookies or self.auth is not None:
            return None
        if self.follow_redirects or self.params or self.event_hooks["request"]:
            return None
        if self.event_hooks["response"] or str(self.base_url):
            return None
        found = _PLAIN_URL.fullmatch(url)
        if found is None or _DOT_SEGMENT.search(found.group(4)):
            return None
        scheme, host, port_text, path, query = found.groups()
        port = int(port_text) if port_text else None
        if port is not None and port > 65535:
            return None
        if port == _DEFAULT_PORTS[scheme]:
            port = None  # as httpx.URL.port
        netloc = host if port is None else f"{host}:{port}"
        content, data = kwargs.get("content"), kwargs.get("json")
        auto: dict[str, str] = {}
        if content is not None:
            if not isinstance(content, (bytes, str)):
                return None
            body = content.encode() if isinstance(content, str) else content
            if body:
                auto["Content-Length"] = str(len(body))
        elif data is not None:
            text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            body = text.encode()
            auto = {"Content-Length": str(len(body)), "Content-Type": "application/json"}
        else:
            body = b""
        headers = self._header_list(kwargs.get("headers"), auto, netloc, method)
        if headers is None:
            return None
        return Outgoing(
            method,
            scheme,
            host,
            port,
            (path or "/").encode(),
            (query or "").encode(),
            headers,
            body,
        )

    def _header_list(
        self, given: object, auto: dict[str, str], netloc: str, method: str
    ) -> list[tuple[bytes, bytes]] | None:
        """The header list httpx sends: the client's, updated with ``given`` (a replaced
        name moves to the end), the body's added where missing, then ``Host`` and an empty
        body's ``Content-Length`` in front. Names in lower case, as an ASGI scope has them."""
        merged = list(self.headers.multi_items())
        if given:
            if not isinstance(given, dict):
                return None
            replaced = {name.lower() for name in given}
            merged = [(k, v) for k, v in merged if k.lower() not in replaced]
            merged += list(given.items())
        names = {k.lower() for k, _ in merged}
        for name, value in auto.items():
            if name.lower() not in names:
                merged.append((name, value))
                names.add(name.lower())
        front = []
        if "host" not in names:
            front.append(("Host", netloc))
        sized = "content-length" in names or "transfer-encoding" in names
        if not sized and method in _BODY_METHODS:
            front.append(("Content-Length", "0"))
        try:
            return [(k.lower().encode("ascii"), v.encode("ascii")) for k, v in front + merged]
        except (UnicodeEncodeError, AttributeError):  # httpx's own rules for the rest
            return None


def client(runtime: Runtime, router: Router, component: str, host: str) -> httpx.Client:
    """The HTTP client a service uses to reach the others (``component`` on ``host``)."""
    return InProcessClient(
        InProcessTransport(runtime, router, component, host),
        headers={"User-Agent": f"{component} (labkit sim)"},
    )
