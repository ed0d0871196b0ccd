"""The composition root: one :class:`Sim` builds a whole emulated cloud, in order.

    runtime (config, clock, ids, logs, trace)
      -> simulated hosts (files, packages, MariaDB, RabbitMQ, memcached) and their shell
      -> message bus (its broker is the hosts' RabbitMQ) and the wire (networks, firewalls)
      -> the hypervisors and their guests (labkit.sim.guests), the router on the wire
      -> every room of labkit.sim.rooms.ROOMS, each given a RoomContext
      -> the lab's own services (control API, image mirror) and the ASGI app

Nothing is half built: each part receives what it needs when it is made, and the core
(:mod:`labkit.sim.core`) imports nothing from above it. The server process
(:mod:`labkit.sim.server`) makes one ``Sim``; tests can make several in one process.
"""

from __future__ import annotations

import importlib

import httpx

from labkit.sim import mirror
from labkit.sim.app import SimApp
from labkit.sim.control import api as control
from labkit.sim.core import inproc
from labkit.sim.core.bus import Bus
from labkit.sim.core.config import SimConfig
from labkit.sim.core.http import ServiceApp
from labkit.sim.core.runtime import Runtime
from labkit.sim.core.service import Room, RoomContext
from labkit.sim.core.wire import Endpoint, Wire
from labkit.sim.guests import Guests
from labkit.sim.machines.machines import Machines
from labkit.sim.machines.shell import Shell
from labkit.sim.rooms import ROOMS, by_port


class Sim:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.runtime = Runtime(config)
        self.machines = Machines(self.runtime)
        self.shell = Shell(self.machines)
        self.bus = Bus(self.runtime, self.machines.amqp_error, config.deterministic)
        self.wire = Wire()
        # the router at the network's gateway: answers ping from every network
        self.wire.attach(Endpoint(address=config.network_gateway, network_id=""))
        self.guests = Guests(self.runtime, self.wire, self.bus)
        self.context = RoomContext(
            self.runtime, self.machines, self.bus, self.http_client, self.wire, self.guests
        )
        self.rooms: list[Room] = [
            importlib.import_module(spec.package).build(self.context) for spec in ROOMS
        ]
        faces: list[ServiceApp] = [
            control.create(self.runtime, self.machines, self.shell, self.bus, self.wire),
            mirror.create(self.runtime),
        ]
        for room in self.rooms:
            for process in room.processes:
                self.machines.add_daemon(process)
            for command in room.commands:
                self.shell.add_command(command)
            self.shell.checks.update(room.checks)
            faces += room.faces
        self.app = SimApp(faces, self.runtime.flush, self.close)
        for problem in self.machines.restore():
            self.runtime.logger("sim").warning("could not restart %s", problem)

    def http_client(self, component: str, host: str) -> httpx.Client:
        """The HTTP client ``component`` on ``host`` uses to reach the other services."""
        return inproc.client(self.runtime, self, component, host)

    def resolve(self, host: str, port: int | None, path: str) -> tuple[ServiceApp, str] | None:
        """Who answers ``http://host:port/path`` as seen from inside the cloud: nobody (a
        refused connection) when that service's process is not running."""
        found: tuple[ServiceApp, str] | None = None
        if port == self.config.port and host in (self.config.bind, "127.0.0.1", "localhost"):
            found = self.app.route(path)
        elif on := self.machines.resolve_host(host):
            # A face listens on its own port if it names one, else on its room's.
            wanted, spec = port or 80, by_port(port or 80)
            found = next(
                (
                    (face, path)
                    for room in self.rooms
                    for face in room.faces
                    if face.host == on
                    and (
                        face.port == wanted
                        if face.port is not None
                        else spec is not None and face.prefix == spec.prefix
                    )
                ),
                None,
            )
        if found is not None and found[0].process is not None and not found[0].process.running:
            return None
        return found

    def close(self) -> None:
        """Stop the background work and write what is buffered (a clean shutdown)."""
        self.guests.close()
        self.bus.close()
        self.runtime.flush(clean_shutdown=True)
