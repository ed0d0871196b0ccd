"""Rebuild and resize: the conductor's tasks and the computes' steps, Zed's path simplified.

Resize (``nova/conductor/tasks/migrate.py`` and the compute manager):

1. nova-api checks the new flavor and the quota for the upsize, sets ``resize_prep`` and
   casts ``migrate_server`` to the conductor (action ``resize``);
2. the conductor (events ``conductor_migrate_server`` and ``cold_migrate``) makes the
   migration record, hands the instance's allocation in Placement to the migration (``POST
   /allocations``: the old flavor is now held by the migration's uuid), calls the
   scheduler's ``select_destinations`` with the new flavor (which claims it for the
   instance) and casts ``prep_resize`` to the chosen compute. The sim lets the scheduler
   pick the server's own host, as ``allow_resize_to_same_host = True`` would;
3. ``prep_resize`` (destination) claims the new flavor in its resource tracker and casts
   ``resize_instance`` to the source; ``resize_instance`` moves the server's host to the
   destination and casts ``finish_resize``, which binds its ports there, switches the
   instance to the new flavor and leaves it ``resized`` (VERIFY_RESIZE);
4. ``confirmResize``: the source's ``confirm_resize`` drops the old flavor from its tracker
   and deletes the migration's allocation; ``revertResize``: the destination's
   ``revert_resize`` drops the new flavor and casts ``finish_revert_resize`` to the source,
   which gives the migration's allocation back to the instance, rebinds the ports and
   restores the old flavor.

Rebuild: nova-api sets ``rebuilding`` and casts ``rebuild_instance`` to the conductor
(event ``rebuild_server``), which casts it to the server's compute (event
``compute_rebuild_instance``): the image is checked with Glance, the guest destroyed and
spawned again from the image (a new disk: new host keys, cloud-init runs as for a new
server) and the server comes back ACTIVE (SHUTOFF if it was stopped).

The guest follows a resize as a disk does: powered off on the source by
``resize_instance``, started on the destination with the new flavor by ``finish_resize``
(same disk: same host keys, cloud-init's per-instance work not run again), powered off
there by ``revert_resize`` and started again on the source with the old flavor by
``finish_revert_resize``.

Nova keeps the migration in the cell's ``migrations`` table; the sim keeps it with the
server's request spec in the API database (``spec["migration"]``), where nova-api, the
conductor and the computes all reach it.
"""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import select

from labkit.sim.core.bus import MessagingTimeout, RemoteError
from labkit.sim.core.context import RequestContext
from labkit.sim.nova import instances
from labkit.sim.nova import models as m
from labkit.sim.nova.clients import ServiceUnreachable
from labkit.sim.nova.errors import BuildAborted
from labkit.sim.nova.scheduler import NO_VALID_HOST
from labkit.sim.nova.service import NovaCells, NovaProcess


class NovaCompute(NovaProcess):
    """What the steps here need of nova-compute: :class:`labkit.sim.nova.compute.NovaCompute`
    derives from this, so compute.py imports this module and not the other way round."""

    def _set(self, ctx: RequestContext, uuid: str, **values: Any) -> None:
        raise NotImplementedError

    def _claim(self, flavor: dict[str, Any], sign: int) -> None:
        raise NotImplementedError

    def _spawn(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        image_ref: str,
        flavor: dict[str, Any],
        network_info: list[dict[str, Any]],
    ) -> None:
        raise NotImplementedError

    def _move_guest(
        self, ctx: RequestContext, uuid: str, flavor: dict[str, Any], power_on: bool
    ) -> None:
        """Start the guest's disk on this host with ``flavor`` (``finish_migration``)."""
        raise NotImplementedError


POWER_RUNNING, POWER_SHUTDOWN = 1, 4


class MoveFailed(Exception):
    """Placement refused to move an allocation from one consumer to another."""


# ---- the migration record --------------------------------------------------------------------


def migration_of(cells: NovaCells, instance_uuid: str) -> dict[str, Any] | None:
    """The server's latest migration, or None."""
    with cells.api.read() as s:
        spec = s.get(m.RequestSpec, instance_uuid)
        found = (spec.spec or {}).get("migration") if spec is not None else None
    return dict(found) if found else None


def save_migration(cells: NovaCells, instance_uuid: str, **values: Any) -> dict[str, Any]:
    """Update (or start) the server's migration record; returns it."""
    with cells.api.write() as s:
        spec = s.get(m.RequestSpec, instance_uuid)
        if spec is None:
            spec = m.RequestSpec(instance_uuid=instance_uuid, spec={})
            s.add(spec)
        data = dict(spec.spec or {})
        migration = {**(data.get("migration") or {}), **values}
        spec.spec = {**data, "migration": migration}
    return migration


def set_spec(cells: NovaCells, instance_uuid: str, **values: Any) -> None:
    """The request spec follows the server: its flavor through a resize (and back on
    revert), its image properties through a rebuild, as Nova saves them."""
    with cells.api.write() as s:
        spec = s.get(m.RequestSpec, instance_uuid)
        if spec is not None:
            spec.spec = {**(spec.spec or {}), **values}


# ---- instance actions and fields -----------------------------------------------------------


def _instance(process: NovaProcess, uuid: str) -> dict[str, Any] | None:
    with process.main_cell() as s:
        row = s.scalars(select(m.Instance).where(m.Instance.uuid == uuid)).first()
        return instances.as_dict(row) if row is not None and not row.deleted else None


def event_start(process: NovaProcess, uuid: str, action: str, event: str) -> int | None:
    """An event under the server's latest ``action`` (``wrap_instance_event``)."""
    with process.main_cell() as s:
        found = s.scalars(
            select(m.InstanceAction)
            .where(m.InstanceAction.instance_uuid == uuid, m.InstanceAction.action == action)
            .order_by(m.InstanceAction.id.desc())
        ).first()
        if found is None:
            return None
        row = m.InstanceActionEvent(
            action_id=found.id,
            event=event,
            start_time=process.now_iso(),
            host=process.service_host(),
        )
        s.add(row)
        s.flush()
        return row.id


def event_finish(
    process: NovaProcess, event_id: int | None, result: str, traceback: str | None = None
) -> None:
    if event_id is None:
        return
    with process.main_cell() as s:
        event = s.get(m.InstanceActionEvent, event_id)
        if event is None:
            return
        event.finish_time = process.now_iso()
        event.result = result
        event.traceback = traceback
        action = s.get(m.InstanceAction, event.action_id)
        if action is not None:
            action.finish_time = action.updated_at = event.finish_time
            if result == "Error":
                action.message = "Error"


def _save(process: NovaProcess, ctx: RequestContext, uuid: str, **values: Any) -> None:
    """Instance fields written by the conductor (the computes use their own ``_set``)."""
    with process.main_cell() as s:
        row = s.scalars(select(m.Instance).where(m.Instance.uuid == uuid)).one()
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = process.now_iso()
        state = (row.vm_state, row.task_state)
    if "task_state" in values or "vm_state" in values:
        process.runtime.tracer.note(
            ctx, "state", f"{state[0]}/{state[1] or '-'}", state[0], instance=uuid
        )


def _fault(process: NovaProcess, message: str) -> dict[str, Any]:
    return {"code": 500, "message": message, "details": message, "created": process.now_iso()}


# ---- Placement ------------------------------------------------------------------------------


def move_allocations(process: NovaProcess, source: str, target: str) -> bool:
    """The report client's ``move_allocations``: one ``POST /allocations`` that gives the
    source consumer's allocations to the target and empties the source. False when the
    source holds nothing; MoveFailed when Placement refuses."""
    found = process.placement.request("GET", f"/allocations/{source}")
    held = found.json() if found.status_code == 200 else {}
    if not held.get("allocations"):
        return False
    other = process.placement.request("GET", f"/allocations/{target}")
    target_generation = (
        other.json().get("consumer_generation") if other.status_code == 200 else None
    )
    owner = {"project_id": held["project_id"], "user_id": held["user_id"]}
    body = {
        source: {
            "allocations": {},
            **owner,
            "consumer_generation": held.get("consumer_generation"),
        },
        target: {
            "allocations": {
                rp: {"resources": dict(entry["resources"])}
                for rp, entry in held["allocations"].items()
            },
            **owner,
            "consumer_generation": target_generation,
        },
    }
    answer = process.placement.request("POST", "/allocations", json=body)
    if answer.status_code != 204:
        raise MoveFailed(f"Placement answered {answer.status_code}: {answer.text[:300]}")
    return True


# ---- conductor: resize -----------------------------------------------------------------------


def migrate_server(
    conductor: NovaProcess, ctx: RequestContext, instance_uuid: str, flavor: dict[str, Any]
) -> None:
    """``ComputeTaskManager.migrate_server`` for a resize (``_cold_migrate``)."""
    outer = event_start(conductor, instance_uuid, "resize", "conductor_migrate_server")
    inner = event_start(conductor, instance_uuid, "resize", "cold_migrate")
    inst = _instance(conductor, instance_uuid)
    if inst is None:  # deleted meanwhile
        return
    cells = conductor.nova_cells
    migration_uuid = conductor.runtime.ids.dashed_id()
    save_migration(
        cells,
        instance_uuid,
        uuid=migration_uuid,
        status="pre-migrating",
        migration_type="resize",
        source_compute=inst["host"],
        source_node=inst["node"],
        dest_compute=None,
        dest_node=None,
        old_flavor=dict(inst["flavor"]),
        new_flavor=dict(flavor),
        old_vm_state=inst["vm_state"],
        created_at=conductor.now_iso(),
    )
    try:
        moved = move_allocations(conductor, instance_uuid, migration_uuid)
    except (MoveFailed, ServiceUnreachable) as exc:
        _resize_failed(conductor, ctx, inst, (outer, inner), f"{exc}", moved=False)
        return
    spec = _resize_spec(conductor, instance_uuid, flavor)
    try:
        selections = conductor.rpc_client("scheduler").call(
            "select_destinations", spec=spec, instance_uuids=[instance_uuid]
        )
    except (RemoteError, MessagingTimeout) as exc:
        message = (
            exc.value
            if isinstance(exc, RemoteError) and exc.exc_type == "NoValidHost"
            else NO_VALID_HOST
        )
        _resize_failed(conductor, ctx, inst, (outer, inner), message, moved=moved)
        return
    chosen = selections[0][0]
    set_spec(cells, instance_uuid, flavor=dict(flavor))
    save_migration(
        cells, instance_uuid, dest_compute=chosen["service_host"], dest_node=chosen["nodename"]
    )
    conductor.runtime.tracer.note(
        ctx, "state", "resize destination", chosen["service_host"], instance=instance_uuid
    )
    event_finish(conductor, inner, "Success")
    event_finish(conductor, outer, "Success")
    conductor.rpc_client("compute", chosen["service_host"]).cast(
        "prep_resize", instance_uuid=instance_uuid, migration_uuid=migration_uuid
    )


def _resize_spec(
    conductor: NovaProcess, instance_uuid: str, flavor: dict[str, Any]
) -> dict[str, Any]:
    """The request spec for the move: the new flavor, the server group's hosts as they are
    now (without this server), no ignored hosts."""
    cells = conductor.nova_cells
    with cells.api.read() as s:
        row = s.get(m.RequestSpec, instance_uuid)
        spec = {k: v for k, v in dict(row.spec if row is not None else {}).items()}
    spec.pop("migration", None)
    spec["flavor"] = dict(flavor)
    spec["num_instances"] = 1
    group = dict(spec.get("group") or {})
    if group.get("uuid"):
        with cells.api.read() as s:
            found = s.scalars(
                select(m.InstanceGroup).where(m.InstanceGroup.uuid == group["uuid"])
            ).first()
            members = [u for u in (found.members if found else []) if u != instance_uuid]
        hosts = set()
        for member in members:
            located = instances.find(cells, member)
            if located is not None and located[1].get("host"):
                hosts.add(located[1]["host"])
        spec["group"] = {**group, "hosts": sorted(hosts)}
    return spec


def _resize_failed(
    conductor: NovaProcess,
    ctx: RequestContext,
    inst: dict[str, Any],
    events: tuple[int | None, int | None],
    message: str,
    moved: bool,
) -> None:
    """No destination: the allocation goes back to the instance, which stays as it was
    (``_set_vm_state_and_notify`` with its old vm_state) with a fault; the migration is
    ``error`` and the events are Error."""
    uuid = inst["uuid"]
    conductor.log.warning("[%s] [instance: %s] Resize failed: %s", ctx.request_id, uuid, message)
    if moved:
        migration = migration_of(conductor.nova_cells, uuid) or {}
        with contextlib.suppress(MoveFailed, ServiceUnreachable):
            move_allocations(conductor, migration.get("uuid", ""), uuid)
    save_migration(conductor.nova_cells, uuid, status="error")
    _save(conductor, ctx, uuid, task_state=None, fault=_fault(conductor, message))
    outer, inner = events
    trace = f"Traceback (most recent call last):\n  ...\nNoValidHost: {message}\n"
    event_finish(conductor, inner, "Error", trace)
    event_finish(conductor, outer, "Error", trace)


# ---- conductor: rebuild --------------------------------------------------------------------


def rebuild_server(
    conductor: NovaProcess,
    ctx: RequestContext,
    instance_uuid: str,
    image_ref: str,
    orig_image_ref: str,
) -> None:
    """``ComputeTaskManager.rebuild_instance`` for a rebuild on the server's own host (the
    sim does not ask the scheduler to re-check the host for a new image)."""
    event = event_start(conductor, instance_uuid, "rebuild", "rebuild_server")
    inst = _instance(conductor, instance_uuid)
    if inst is None or not inst.get("host"):
        event_finish(conductor, event, "Error", "the server has no host")
        return
    event_finish(conductor, event, "Success")
    conductor.rpc_client("compute", inst["host"]).cast(
        "rebuild_instance",
        instance_uuid=instance_uuid,
        image_ref=image_ref,
        orig_image_ref=orig_image_ref,
    )


# ---- compute: rebuild ----------------------------------------------------------------------


def rebuild_instance(
    compute: NovaCompute, ctx: RequestContext, instance_uuid: str, image_ref: str
) -> None:
    """``ComputeManager.rebuild_instance``: the guest is spawned again from the new image on
    the same host, with the same ports and the same claim."""

    event = event_start(compute, instance_uuid, "rebuild", "compute_rebuild_instance")
    inst = _instance(compute, instance_uuid)
    if inst is None:
        return
    was_stopped = inst["vm_state"] == "stopped"
    compute._set(ctx, instance_uuid, task_state="rebuilding", power_state=POWER_SHUTDOWN)
    compute.ctx.hypervisors.destroy(instance_uuid)  # the old disk goes
    try:
        compute._spawn(
            ctx, instance_uuid, image_ref, dict(inst["flavor"]), list(inst["network_info"])
        )
        if was_stopped:  # Nova starts the rebuilt guest, then stops it again
            compute.ctx.hypervisors.power_off(instance_uuid)
    except BuildAborted as exc:
        message = str(exc).replace("Build of instance", "Rebuild of instance")
        compute.log.error("[%s] [instance: %s] %s", ctx.request_id, instance_uuid, message)
        compute._set(
            ctx, instance_uuid, vm_state="error", task_state=None, fault=_fault(compute, message)
        )
        event_finish(compute, event, "Error", message)
        return
    compute._set(
        ctx,
        instance_uuid,
        vm_state="stopped" if was_stopped else "active",
        task_state=None,
        power_state=POWER_SHUTDOWN if was_stopped else POWER_RUNNING,
        launched_at=compute.now_iso(),
        progress=100,
    )
    event_finish(compute, event, "Success")


# ---- compute: resize -------------------------------------------------------------------------


def _migration(compute: NovaCompute, instance_uuid: str, migration_uuid: str) -> dict[str, Any]:
    found = migration_of(compute.nova_cells, instance_uuid)
    if found is None or found.get("uuid") != migration_uuid:
        raise MoveFailed(f"Migration {migration_uuid} could not be found.")
    return found


def _error_out(
    compute: NovaCompute, ctx: RequestContext, uuid: str, event: int | None, message: str
) -> None:
    """``_error_out_instance_on_exception``: ERROR with a fault, the migration ``error``."""
    compute.log.error("[%s] [instance: %s] %s", ctx.request_id, uuid, message)
    with contextlib.suppress(Exception):
        save_migration(compute.nova_cells, uuid, status="error")
    compute._set(ctx, uuid, vm_state="error", task_state=None, fault=_fault(compute, message))
    event_finish(compute, event, "Error", message)


def _bind_ports(compute: NovaCompute, inst: dict[str, Any], host: str) -> None:
    """``migrate_instance_finish``: the server's ports follow it to ``host``."""
    for port in inst.get("network_info") or []:
        compute.neutron.request(
            "PUT", f"/ports/{port['port_id']}", json={"port": {"binding:host_id": host}}
        )


def prep_resize(
    compute: NovaCompute, ctx: RequestContext, instance_uuid: str, migration_uuid: str
) -> None:
    """Destination: the move claim for the new flavor, then ``resize_instance`` on the
    source."""
    event = event_start(compute, instance_uuid, "resize", "compute_prep_resize")
    try:
        migration = _migration(compute, instance_uuid, migration_uuid)
    except MoveFailed as exc:
        _error_out(compute, ctx, instance_uuid, event, str(exc))
        return
    compute._claim(migration["new_flavor"], +1)
    event_finish(compute, event, "Success")
    compute.rpc_client("compute", migration["source_compute"]).cast(
        "resize_instance", instance_uuid=instance_uuid, migration_uuid=migration_uuid
    )


def resize_instance(
    compute: NovaCompute, ctx: RequestContext, instance_uuid: str, migration_uuid: str
) -> None:
    """Source: the guest is powered off and its disk "moved"; the server now belongs to the
    destination host."""
    event = event_start(compute, instance_uuid, "resize", "compute_resize_instance")
    try:
        migration = _migration(compute, instance_uuid, migration_uuid)
    except MoveFailed as exc:
        _error_out(compute, ctx, instance_uuid, event, str(exc))
        return
    save_migration(compute.nova_cells, instance_uuid, status="migrating")
    compute._set(ctx, instance_uuid, task_state="resize_migrating")
    compute.ctx.hypervisors.power_off(instance_uuid)  # migrate_disk_and_power_off
    save_migration(compute.nova_cells, instance_uuid, status="post-migrating")
    compute._set(ctx, instance_uuid, host=migration["dest_compute"], node=migration["dest_node"])
    event_finish(compute, event, "Success")
    compute.rpc_client("compute", migration["dest_compute"]).cast(
        "finish_resize", instance_uuid=instance_uuid, migration_uuid=migration_uuid
    )


def finish_resize(
    compute: NovaCompute, ctx: RequestContext, instance_uuid: str, migration_uuid: str
) -> None:
    """Destination: ports bound here, the new flavor in place, VERIFY_RESIZE."""
    event = event_start(compute, instance_uuid, "resize", "compute_finish_resize")
    inst = _instance(compute, instance_uuid)
    try:
        migration = _migration(compute, instance_uuid, migration_uuid)
        if inst is None:
            return
        compute._set(ctx, instance_uuid, task_state="resize_finish")
        _bind_ports(compute, inst, compute.service_host())
        powered = migration.get("old_vm_state") != "stopped"
        compute._move_guest(ctx, instance_uuid, dict(migration["new_flavor"]), powered)
    except (MoveFailed, ServiceUnreachable, BuildAborted) as exc:
        _error_out(compute, ctx, instance_uuid, event, str(exc))
        return
    save_migration(compute.nova_cells, instance_uuid, status="finished")
    compute._set(
        ctx,
        instance_uuid,
        flavor=dict(migration["new_flavor"]),
        vm_state="resized",
        task_state=None,
        power_state=POWER_RUNNING if powered else POWER_SHUTDOWN,
        launched_at=compute.now_iso(),
        progress=100,
    )
    event_finish(compute, event, "Success")


def confirm_resize(
    compute: NovaCompute, ctx: RequestContext, instance_uuid: str, migration_uuid: str
) -> None:
    """Source: the old guest is cleaned up, the old flavor leaves this host's tracker and
    the migration's allocation (the old flavor) is deleted from Placement."""
    event = event_start(compute, instance_uuid, "confirmResize", "compute_confirm_resize")
    inst = _instance(compute, instance_uuid)
    try:
        migration = _migration(compute, instance_uuid, migration_uuid)
    except MoveFailed as exc:
        _error_out(compute, ctx, instance_uuid, event, str(exc))
        return
    if inst is None or migration.get("status") == "confirmed":
        event_finish(compute, event, "Success")  # nothing left to clean up
        return
    compute._claim(migration["old_flavor"], -1)
    try:
        answer = compute.placement.request("DELETE", f"/allocations/{migration_uuid}")
    except ServiceUnreachable as exc:
        _error_out(compute, ctx, instance_uuid, event, f"Deleting allocation failed: {exc}")
        return
    if answer.status_code not in (204, 404):
        compute.log.error(
            "[%s] Deleting allocation in placement for migration %s failed: %s",
            ctx.request_id,
            migration_uuid,
            answer.text[:200],
        )
    save_migration(compute.nova_cells, instance_uuid, status="confirmed")
    stopped = inst.get("power_state") == POWER_SHUTDOWN
    compute._set(ctx, instance_uuid, vm_state="stopped" if stopped else "active", task_state=None)
    event_finish(compute, event, "Success")


def revert_resize(
    compute: NovaCompute, ctx: RequestContext, instance_uuid: str, migration_uuid: str
) -> None:
    """Destination: the new guest is destroyed and the new flavor leaves this host's
    tracker; ``finish_revert_resize`` goes to the source."""
    event = event_start(compute, instance_uuid, "revertResize", "compute_revert_resize")
    try:
        migration = _migration(compute, instance_uuid, migration_uuid)
    except MoveFailed as exc:
        _error_out(compute, ctx, instance_uuid, event, str(exc))
        return
    compute._claim(migration["new_flavor"], -1)
    compute.ctx.hypervisors.power_off(instance_uuid)  # the destination's domain goes
    event_finish(compute, event, "Success")
    compute.rpc_client("compute", migration["source_compute"]).cast(
        "finish_revert_resize", instance_uuid=instance_uuid, migration_uuid=migration_uuid
    )


def finish_revert_resize(
    compute: NovaCompute, ctx: RequestContext, instance_uuid: str, migration_uuid: str
) -> None:
    """Source: the migration's allocation goes back to the instance (the new flavor's is
    gone with it), ports bound here again, the old flavor, host and power state restored."""
    event = event_start(compute, instance_uuid, "revertResize", "compute_finish_revert_resize")
    inst = _instance(compute, instance_uuid)
    try:
        migration = _migration(compute, instance_uuid, migration_uuid)
        if inst is None:
            return
        move_allocations(compute, migration_uuid, instance_uuid)
        _bind_ports(compute, inst, compute.service_host())
    except (MoveFailed, ServiceUnreachable) as exc:
        _error_out(compute, ctx, instance_uuid, event, f"Reverting allocation failed: {exc}")
        return
    powered = migration.get("old_vm_state") != "stopped"
    try:
        compute._move_guest(ctx, instance_uuid, dict(migration["old_flavor"]), powered)
    except (ServiceUnreachable, BuildAborted) as exc:
        _error_out(compute, ctx, instance_uuid, event, f"Reverting the guest failed: {exc}")
        return
    save_migration(compute.nova_cells, instance_uuid, status="reverted")
    compute._set(
        ctx,
        instance_uuid,
        flavor=dict(migration["old_flavor"]),
        host=migration["source_compute"],
        node=migration["source_node"],
        launched_at=compute.now_iso(),
        vm_state="active" if powered else "stopped",
        task_state=None,
        power_state=POWER_RUNNING if powered else POWER_SHUTDOWN,
    )
    event_finish(compute, event, "Success")
