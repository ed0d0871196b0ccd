"""The sim's ASGI application: one port, requests routed by path prefix, DevStack style.

``/identity`` is Keystone, ``/image`` Glance, ``/mirror`` the lab's image mirror, ``/_sim`` the
sim's own control API. :class:`labkit.sim.sim.Sim` builds it; this module only routes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from labkit.sim.core.http import ServiceApp


class SimApp:
    """Finds the room for a path and lets it answer; flushes the trace in the background."""

    def __init__(
        self,
        services: list[ServiceApp],
        flush: Callable[[], None],
        shutdown: Callable[[], None],
    ) -> None:
        # Longest prefix first, so "/identity" never shadows a longer one.
        self.services = sorted(services, key=lambda s: len(s.prefix), reverse=True)
        self._flush = flush
        self._shutdown = shutdown

    def route(self, path: str) -> tuple[ServiceApp, str] | None:
        """The service whose prefix ``path`` falls under, and the path below that prefix."""
        for service in self.services:
            prefix = service.prefix
            if path == prefix or path.startswith(prefix + "/"):
                return service, path[len(prefix) :]
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        found = self.route(path)
        if found is not None:
            service, below = found
            response = await service.handle(Request(scope, receive), below)
        else:
            response = JSONResponse(
                {
                    "error": f"nothing is served at {path}",
                    "services": {s.name: s.prefix for s in self.services},
                },
                status_code=404,
            )
        await response(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        flusher: asyncio.Task[None] | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                flusher = asyncio.create_task(self._flush_periodically())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if flusher is not None:
                    flusher.cancel()
                await run_in_threadpool(self._shutdown)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            await run_in_threadpool(self._flush)
