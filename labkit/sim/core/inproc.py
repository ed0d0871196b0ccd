"""HTTP between the sim's services, in-process: real requests, no sockets, no thread hops.

In a real cloud Glance asks Keystone about a token over HTTP, and Nova calls Placement,
Glance and Neutron over HTTP. Rooms of the sim do the same with an ordinary
:class:`httpx.Client` -- real methods, URLs, headers and JSON bodies -- whose transport hands
the request straight to the target room's pipeline (:meth:`.http.ServiceApp.handle_inline`) in
the calling thread. So a request that fans out to other services can never exhaust the
server's thread pool waiting on itself, and every such call still shows in the target's
access log and in the trace, as a child of the caller's span.

URLs are resolved as the calling host would: the sim's own address and port route by
DevStack path (``http://127.0.0.1:PORT/identity/v3``), and a simulated host with a service's
real port reaches that service if it runs there (``http://controller:5000/v3``). Anything else
is refused like a closed port.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol
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
        path = unquote(url.raw_path.decode("ascii").split("?", 1)[0])
        found = self.router.resolve(url.host, url.port, path)
        if found is None:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        app, below = found
        body = request.read()
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "server": (url.host, url.port or 80),
            "client": (self.host, 0),
            "root_path": "",
            "path": path,
            "raw_path": url.raw_path.split(b"?", 1)[0],
            "query_string": url.query,
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
        }
        inner = Request(scope)
        inner._body = body  # what Request.body() would have read
        parent = context.current() or self.runtime.root_context(self.component, self.host)
        response = app.handle_inline(inner, below, parent, self.component, self.host)
        content = getattr(response, "body", None)
        if content is None:
            raise httpx.RemoteProtocolError(
                f"{app.name} answered with a stream, which in-process calls do not carry",
                request=request,
            )
        return httpx.Response(
            response.status_code,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers],
            content=bytes(content),
            request=request,
        )


def client(runtime: Runtime, router: Router, component: str, host: str) -> httpx.Client:
    """The HTTP client a service uses to reach the others (``component`` on ``host``)."""
    return httpx.Client(
        transport=InProcessTransport(runtime, router, component, host),
        timeout=30.0,
        headers={"User-Agent": f"{component} (labkit sim)"},
    )
