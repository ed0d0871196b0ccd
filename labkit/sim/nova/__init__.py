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

The computes drive each server's guest (:mod:`labkit.sim.guests`) as the libvirt driver
drives a domain: spawned at the end of the build, powered off and on by stop, start and
reboot, destroyed by delete, re-imaged by rebuild and moved with its disk by resize.

``server rebuild`` and ``server resize`` (with ``resize confirm`` / ``resize revert``) go the
same way through the conductor, the scheduler and the computes, with Zed's instance action
events and Placement allocations moved as Nova moves them (the old flavor held by the
migration until confirm or revert; :mod:`labkit.sim.nova.moves`). Server metadata and tags,
flavor access (private flavors) and ``os-simple-tenant-usage`` are served too, and so are
what Zed keeps of the nova-network era: the security group proxy and ``os-networks`` /
``os-tenant-networks`` reading Neutron up to microversion 2.35, the 410s of the APIs only
nova-network and cells v1 served, ``os-hosts`` up to 2.42, and the image proxy
(``/images`` up to 2.35, its metadata up to 2.38) reading and writing Glance. Host
aggregates (``os-aggregates``) are kept with their hosts and metadata.

``nova-api-metadata`` (port 8775 on the controller, behind Neutron's metadata proxy and
agent) serves each guest its OpenStack and EC2 metadata trees -- ``meta_data.json`` with its
key, ``user_data``, ``network_data.json`` from its ports, the vendor data, the EC2
``meta-data/`` tree -- checking the agent's ``X-Instance-ID-Signature`` against
``metadata_proxy_shared_secret`` when ``[neutron] service_metadata_proxy`` is on; the same
files make a server's config drive (:func:`labkit.sim.nova.metadata.documents`).

LIMITATIONS (not emulated, or emulated differently):
  - one cell (cell1) besides cell0; no cells v1, no multi-cell listing order;
  - nova-compute writes to the cell database directly (real computes go through the
    conductor's object indirection) and finds it through the controller's configuration;
  - the hypervisor is :mod:`labkit.sim.guests`: a guest boots, runs cloud-init and answers
    SSH, and ``os-getConsoleOutput`` is its serial console (asked of the compute over RPC);
    nova-compute does not wait for Neutron's ``network-vif-plugged`` before starting it and
    runs no power-state sync; there is no VNC/SPICE/serial console proxy, no volumes (boot
    from volume, attach), no snapshots, shelve, cold migrate (``migrate``), live migration,
    evacuate, rescue, suspend or pause; the host actions of ``os-hosts`` (enable, maintenance,
    power) are the libvirt driver's 501 answered by nova-api itself, without asking the
    compute over RPC; a server's diagnostics are answered by nova-api too, with the
    guest's disk and network counters at 0; the instance usage audit never runs
    (``instance_usage_audit`` is False), so its log shows every compute host "not run";
  - aggregates live in the API database only: Nova mirrors their hosts into Placement
    aggregates, and its scheduler, ``os-availability-zone`` and the servers' zones read an
    aggregate's ``availability_zone`` -- the sim's do not yet (every host is in the default
    zone whatever its aggregates say); no ``cache_images`` (2.81);
  - resize: the scheduler may choose the server's own host (the sim behaves as with
    ``allow_resize_to_same_host = True``); the migration record is kept with the request
    spec in the API database (Nova: the cell's ``migrations`` table), so there is no
    os-migrations or server migrations API; no automatic confirm after
    ``resize_confirm_window``; no reschedule to an alternate host when prep_resize fails;
    a private flavor can be the target whatever the project's access (as in Nova);
  - rebuild: always on the server's own host, without the scheduler's re-check of a new
    image; ``preserve_ephemeral``, ``personality`` and trusted certificates are accepted and
    ignored;
  - task states the server status view does not map are not entered
    (``rebuild_block_device_mapping``, ``rebuild_spawning``, ``resize_migrated``); a stopped
    server shows SHUTOFF rather than REBUILD/RESIZE while it is rebuilt or resized, and a
    revert shows VERIFY_RESIZE rather than REVERT_RESIZE;
  - service heartbeats are not written every ``report_interval``: a running service that
    reaches RabbitMQ counts as just seen, a stopped one as seen when it stopped;
  - scheduler: the filters ComputeFilter, ComputeCapabilitiesFilter (hypervisor_type,
    host_ip), ImagePropertiesFilter (hypervisor_type, architecture), ServerGroup(Anti)Affinity
    and AvailabilityZoneFilter; the RAM, CPU and disk weighers; no host_subset_size
    randomisation, no reschedules to alternates;
  - policy: Zed's defaults reduced to admin, owner-or-admin and reader checks;
  - keypairs: ssh and x509 types stored as given; key generation before 2.92 makes RSA keys;
  - quotas: the DB driver counting from the cells (no unified limits, no
    ``count_usage_from_placement``); of the quota classes only ``default`` counts (every
    project's defaults, as in Nova), the others are kept and shown;
    migrations, volume attachments and interfaces APIs are not served; the
    server list filters by name, status, host, flavor, image, reservation_id, tags (2.26),
    ``changes-since``/``changes-before`` and ``ip``/``ip6`` (from the servers' network
    info, where Nova asks Neutron for the ports), not by metadata; ``restore`` finds no
    soft-deleted server (``reclaim_instance_interval`` is 0) and ``injectNetworkInfo``
    does nothing, as libvirt's driver;
  - metadata: the trees of Zed (OpenStack 2012-08-10 to 2020-10-14, EC2 1.0 to
    2009-04-04) built from the cell's row and from Neutron asked when the instance is first
    looked up (Nova reads its network info cache), cached ``metadata_cache_expiration``
    seconds of sim time; no injected files (``content/``), dynamic vendor data,
    load-balancer providers (``X-Metadata-Provider`` finds no subnets), tagged devices,
    pinned CPUs or floating IPs (``public-ipv4`` is empty); EC2 ids are the instance's row
    id and the order in which the cell first saw each image (Nova's mapping tables); a
    password a guest POSTs is kept in the instance's ``system_metadata``, as Nova keeps it;
    a path below an EC2 leaf is a 404 (Nova stumbles: 500);
  - os-simple-tenant-usage counts a server from its last ``launched_at`` (a resize or
    rebuild relaunches it, as in Nova) and bills the flavor it has now for the whole window.
"""

from __future__ import annotations

from labkit.sim.core.service import Command, Room, RoomContext
from labkit.sim.nova import manage
from labkit.sim.nova.api import all_routes
from labkit.sim.nova.api_service import NovaApi, NovaApiApp
from labkit.sim.nova.compute import NovaCompute
from labkit.sim.nova.conductor import NovaConductor
from labkit.sim.nova.metadata_api import NovaMetadataApi, NovaMetadataApp
from labkit.sim.nova.scheduler import NovaScheduler
from labkit.sim.nova.service import NovaProcess, NovaRoom


def build(ctx: RoomContext) -> Room:
    """The controller's services (nova-api, nova-api-metadata, the conductor and the
    scheduler), a compute on every host with the worker role, and nova-manage (from
    nova-common)."""
    room = NovaRoom(ctx)
    controller = ctx.runtime.config.controller.name
    api = NovaApi(ctx, controller, room)
    api.http = NovaApiApp(api, all_routes())
    metadata_api = NovaMetadataApi(ctx, controller, room)  # Debian's nova-api ships it too
    metadata_api.http = NovaMetadataApp(metadata_api)
    processes: list[NovaProcess] = [
        api,
        metadata_api,
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
