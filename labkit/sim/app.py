"""Assemble one sim: the runtime, the simulated hosts, and every service room, on one port.

Requests are routed by path prefix, DevStack style: ``/identity`` is Keystone, ``/image``
Glance, ``/mirror`` the lab's image mirror, ``/_sim`` the sim's own control API.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from labkit.sim import glance, keystone, mirror
from labkit.sim.control import api as control
from labkit.sim.core.config import SimConfig
from labkit.sim.core.http import ServiceApp
from labkit.sim.core.runtime import Runtime
from labkit.sim.machines.machines import Machines
from labkit.sim.machines.shell import Shell


class SimApp:
    """The ASGI application: finds the room for a path and lets it answer."""

    def __init__(self, runtime: Runtime, services: list[ServiceApp]) -> None:
        self.runtime = runtime
        # Longest prefix first, so "/identity" never shadows a longer one.
        self.services = sorted(services, key=lambda s: len(s.prefix), reverse=True)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        for service in self.services:
            prefix = service.prefix
            if path == prefix or path.startswith(prefix + "/"):
                request = Request(scope, receive)
                response = await service.handle(request, path[len(prefix):])
                await response(scope, receive, send)
                return
        response = JSONResponse(
            {"error": f"nothing is served at {path}",
             "services": {s.name: s.prefix for s in self.services}}, status_code=404)
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
                self.runtime.flush_trace(clean_shutdown=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            await run_in_threadpool(self.runtime.flush_trace)


def build(config: SimConfig) -> SimApp:
    runtime = Runtime(config)
    runtime.machines = Machines(runtime)
    runtime.shell = Shell(runtime.machines)
    services: list[ServiceApp] = [
        control.create(runtime),
        keystone.create(runtime),
        glance.create(runtime),
        mirror.create(runtime),
    ]
    for problem in runtime.machines.restore():
        runtime.logger("sim").warning("could not restart %s", problem)
    return SimApp(runtime, services)
