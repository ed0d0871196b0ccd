"""Nova in the sim: nova-api, nova-conductor, nova-scheduler and one nova-compute per host,
talking over the message bus with Nova's own RPC names, as Zed's Nova does.

``openstack server create --flavor m1.medium --image trusty --wait server1`` goes the real
way: nova-api (quota, flavor and image checks, a build request) casts
``schedule_and_build_instances`` to the conductor, which calls ``select_destinations`` on the
scheduler (Placement's allocation candidates, filters, weighers, a claim) and casts
``build_and_run_instance`` to ``compute.<host>``; the compute walks networking (a Neutron
port), block_device_mapping and spawning to ACTIVE. Every hop is in the trace; instance
actions and events, services and their heartbeats, hypervisors, flavors, quotas and limits
answer as Zed's API does (checked against recordings in ``tests/parity``).

LIMITATIONS (not emulated, or emulated differently):
  - one cell (cell1) besides cell0; no cells v1, no multi-cell listing order;
  - nova-compute writes to the cell database directly (real computes go through the
    conductor's object indirection) and finds it through the controller's configuration;
  - the hypervisor runs no guest yet: ``spawn`` writes a believable console log; there is no
    VNC/serial console, no volumes (boot from volume, attach), no snapshots, shelve,
    migrate, resize, rebuild, rescue, suspend or pause;
  - service heartbeats are not written every ``report_interval``: a running service that
    reaches RabbitMQ counts as just seen, a stopped one as seen when it stopped;
  - scheduler: the filters ComputeFilter, ComputeCapabilitiesFilter (hypervisor_type,
    host_ip), ImagePropertiesFilter (hypervisor_type, architecture), ServerGroup(Anti)Affinity
    and AvailabilityZoneFilter; the RAM, CPU and disk weighers; no host_subset_size
    randomisation, no reschedules to alternates;
  - policy: Zed's defaults reduced to admin, owner-or-admin and reader checks;
  - keypairs: ssh and x509 types stored as given; key generation before 2.92 makes RSA keys;
  - quotas: the DB driver counting from the cells (no unified limits, no
    ``count_usage_from_placement``); os-simple-tenant-usage, migrations, server tags and
    metadata APIs, volume attachments and interfaces APIs are not served.
"""

from __future__ import annotations

from labkit.sim.core.service import Command, Room, RoomContext
from labkit.sim.nova import manage
from labkit.sim.nova.api import all_routes
from labkit.sim.nova.api_service import NovaApi, NovaApiApp
from labkit.sim.nova.compute import NovaCompute
from labkit.sim.nova.conductor import NovaConductor
from labkit.sim.nova.scheduler import NovaScheduler
from labkit.sim.nova.service import NovaProcess, NovaRoom


def build(ctx: RoomContext) -> Room:
    """The controller's three services, a compute on every host with the worker role, and
    nova-manage (from nova-common)."""
    room = NovaRoom(ctx)
    controller = ctx.runtime.config.controller.name
    api = NovaApi(ctx, controller, room)
    api.http = NovaApiApp(api, all_routes())
    processes: list[NovaProcess] = [
        api,
        NovaConductor(ctx, controller, room),
        NovaScheduler(ctx, controller, room),
    ]
    for host in ctx.runtime.config.hosts:
        if "worker" in host.roles or "compute" in host.roles:
            processes.append(NovaCompute(ctx, host.name, room))
    return Room(
        name="nova",
        processes=list(processes),
        commands=[
            Command(
                "nova-manage",
                "nova-common",
                lambda host, argv, user: manage.run(ctx, ctx.runtime.ids, host, argv),
            )
        ],
    )
