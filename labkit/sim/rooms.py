"""The table of rooms: every OpenStack service the sim emulates, in the order it is built.

One row per room, in the order a cloud comes up (each after what it needs). Everything
that needs to know which services exist reads this table instead of keeping its own list:

- :class:`labkit.sim.sim.Sim` builds each room (``<package>.build(ctx)``) and mounts its HTTP
  faces at their prefixes; the room registers its processes and commands itself;
- :mod:`labkit.sim.coverage` generates COVERAGE.md from each room's routes and LIMITATIONS;
- :mod:`labkit.install` registers the room's install layers (``labkit.install.<layer>``);
- :mod:`labkit.explain` loads each room's explanations and maps URLs and service types to
  the room's layer on the map (:mod:`labkit.layers`).

This module is plain data and imports nothing heavy: the notebooks' side of labkit reads it
without loading the server. Adding a service means adding a row here and a package that
follows ``labkit/sim/ROOMS.md``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RoomSpec:
    name: str  # the room's package name under labkit.sim
    title: str  # for people: "Keystone (identity v3)"
    service_type: str  # its catalog type: "identity"
    prefix: str  # where the sim serves it, DevStack style: "/identity"
    port: int  # where the real service listens on its host: 5000
    layer: str  # its layer on the map (labkit.layers key)
    install_layers: tuple[str, ...]  # labkit.install layers that install it, in order
    services: tuple[str, ...]  # its processes' init-script names on the hosts
    explain: str = ""  # module with its ENTRIES for lab.explain ("" = none yet)

    @property
    def package(self) -> str:
        """The room's package: ``build(ctx) -> Room`` and the LIMITATIONS docstring."""
        return f"labkit.sim.{self.name}"

    @property
    def api(self) -> str:
        """The module whose ``all_routes()`` is the room's route table."""
        return f"{self.package}.api"


ROOMS: tuple[RoomSpec, ...] = (
    RoomSpec(
        name="keystone",
        title="Keystone (identity v3)",
        service_type="identity",
        prefix="/identity",
        port=5000,
        layer="keystone",
        install_layers=("keystone",),
        services=("keystone",),
        explain="labkit.explain.keystone",
    ),
    RoomSpec(
        name="glance",
        title="Glance (image v2)",
        service_type="image",
        prefix="/image",
        port=9292,
        layer="glance",
        install_layers=("glance",),
        services=("glance-api",),
        explain="labkit.explain.glance",
    ),
    RoomSpec(
        name="placement",
        title="Placement (placement v1.39)",
        service_type="placement",
        prefix="/placement",
        port=8778,
        layer="compute",
        install_layers=("placement",),
        services=("placement-api",),
        explain="labkit.explain.placement",
    ),
    RoomSpec(
        name="neutron",
        title="Neutron (network v2.0)",
        service_type="network",
        prefix="/networking",
        port=9696,
        layer="networking",
        install_layers=("networking",),
        services=(
            "neutron-api",
            "neutron-rpc-server",
            "neutron-linuxbridge-agent",
            "neutron-dhcp-agent",
            "neutron-metadata-agent",
        ),
        explain="labkit.explain.neutron",
    ),
    RoomSpec(
        name="nova",
        title="Nova (compute v2.1, microversions 2.1-2.93)",
        service_type="compute",
        prefix="/compute",
        port=8774,
        layer="compute",
        install_layers=("nova-controller", "nova-compute"),
        services=(
            "nova-api",
            "nova-api-metadata",
            "nova-conductor",
            "nova-scheduler",
            "nova-compute",
        ),
        explain="labkit.explain.nova",
    ),
)


def get(name: str) -> RoomSpec:
    for room in ROOMS:
        if room.name == name:
            return room
    raise KeyError(f"no room {name!r}; rooms: {', '.join(r.name for r in ROOMS)}")


# The base services every layer relies on (installed by the "base" layer on the hosts).
BASE_SERVICES = ("chrony", "mariadb", "rabbitmq-server", "memcached")


def layer_of_service(name: str) -> str | None:
    """The map layer a service (init-script name) belongs to, if the lab knows it."""
    if name in BASE_SERVICES:
        return "base"
    return next((room.layer for room in ROOMS if name in room.services), None)


def by_port(port: int) -> RoomSpec | None:
    for room in ROOMS:
        if room.port == port:
            return room
    return None
