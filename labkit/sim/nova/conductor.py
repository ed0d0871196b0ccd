"""nova-conductor: from an accepted request to a server in a cell, or buried in cell0.

``schedule_and_build_instances`` (cast by nova-api) does what
``nova/conductor/manager.py ComputeTaskManager.schedule_and_build_instances`` does: calls the
scheduler's ``select_destinations``; on success, per instance, finds the chosen host's cell
(its HostMapping -- "Host 'worker1' is not mapped to any cell" when ``nova-manage cell_v2
discover_hosts`` never ran for it), creates the instance in that cell, starts the ``create``
instance action with the API's request id, drops the build request and casts
``build_and_run_instance`` to ``compute.<host>``. On NoValidHost (or no answer from the
scheduler) the instances are buried in cell0 in ERROR, with a fault and the action event
``conductor_schedule_and_build_instances`` -- as Zed records only failures here.

A server may be deleted while it is being scheduled: nova-api then deletes its build
request (``_delete_while_booting``). Whoever deletes the build request first wins -- the
delete is one ``DELETE ... WHERE instance_uuid = ?`` whose row count says who did it, as
``BuildRequest.destroy()`` raises BuildRequestNotFound for the loser. The conductor looks
twice: before it creates the instance in the cell (gone: it frees the claim and stops) and
when it drops the build request afterwards (gone: the user won in between, so it destroys
the instance it just made and frees the claim -- "the build request was deleted before
the instance was created", ``_delete_build_request``). Either way nothing is left behind:
no server listed but not found, no claim in Placement, no quota held.
"""

from __future__ import annotations

import functools
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, literal, select, update

from labkit.sim.core.bus import MessagingTimeout, RemoteError
from labkit.sim.core.context import RequestContext
from labkit.sim.core.sql import Prepared, PreparedWrite
from labkit.sim.core.store import Transaction
from labkit.sim.nova import models as m
from labkit.sim.nova import moves
from labkit.sim.nova.scheduler import NO_VALID_HOST
from labkit.sim.nova.service import NovaProcess


class NovaConductor(NovaProcess):
    name = "nova-conductor"
    topic = "conductor"

    def after_configure(self) -> None:
        self.register_service()
        self._recover_build_requests()

    def _recover_build_requests(self) -> None:
        """Build requests whose message died with the process (the sim restarted, RabbitMQ
        with it) are buried in cell0 and their claims freed, so nothing stays BUILD forever
        and Placement keeps no allocation for a server that does not run."""
        cells = self.nova_cells
        if not cells.api.tables_exist():
            return
        with cells.api.read() as s:
            builds = [dict(b.instance) for b in s.scalars(select(m.BuildRequest))]
        if not builds or cells.cell0() is None:
            return
        ctx = self.runtime.root_context(self.name, self.host)
        for instance in builds:
            uuid = instance["uuid"]
            self.log.warning("[-] [instance: %s] build request left over from a restart", uuid)
            try:
                self.placement.request("DELETE", f"/allocations/{uuid}")
            except Exception as exc:  # Placement may not be up yet; the claim stays, logged
                self.log.error("[-] could not free allocations of %s: %s", uuid, exc)
            message = (
                f"Build of instance {uuid} aborted: nova-conductor restarted before it was "
                "scheduled"
            )
            self._bury_in_cell0(ctx, instance, message, message)

    def before_release(self) -> None:
        self.record_stop()

    # ---- RPC ---------------------------------------------------------------------------
    def schedule_and_build_instances(self, ctx: RequestContext, instance_uuids: list[str]) -> None:
        cells = self.nova_cells
        api = cells.api
        builds, specs = {}, {}
        for uuid in dict.fromkeys(instance_uuids):
            build = _BUILD_REQUEST.one(api, uuid=uuid)
            if build is not None:
                builds[uuid] = build[0]
            spec = _REQUEST_SPEC.one(api, uuid=uuid)
            if spec is not None:
                specs[uuid] = spec[0]
        # deleted while queued: skip (the API drops build request and spec together)
        uuids = [u for u in instance_uuids if u in builds and u in specs]
        if not uuids:
            return
        spec = specs[uuids[0]]
        try:
            selections = self.rpc_client("scheduler").call(
                "select_destinations", spec=spec, instance_uuids=uuids
            )
        except (RemoteError, MessagingTimeout) as exc:
            if isinstance(exc, MessagingTimeout):
                detail = f"MessagingTimeout: {exc}"
                message = NO_VALID_HOST
            else:
                detail = f"{exc.exc_type}: {exc.value}"
                message = exc.value if exc.exc_type == "NoValidHost" else NO_VALID_HOST
            self.log.warning("[%s] Failed to schedule instances: %s", ctx.request_id, detail)
            for uuid in uuids:
                self._bury_in_cell0(ctx, builds[uuid], message, detail)
            return
        for uuid, choices in zip(uuids, selections, strict=True):
            self._build_on(ctx, builds[uuid], specs.get(uuid, spec), choices)

    def migrate_server(
        self, ctx: RequestContext, instance_uuid: str, flavor: dict[str, Any]
    ) -> None:
        """A resize: a destination from the scheduler, then ``prep_resize`` there."""
        moves.migrate_server(self, ctx, instance_uuid, flavor)

    def rebuild_instance(
        self, ctx: RequestContext, instance_uuid: str, image_ref: str, orig_image_ref: str
    ) -> None:
        """A rebuild, on the server's own host."""
        moves.rebuild_server(self, ctx, instance_uuid, image_ref, orig_image_ref)

    # ---- steps -------------------------------------------------------------------------
    def _build_on(
        self,
        ctx: RequestContext,
        instance: dict[str, Any],
        spec: dict[str, Any],
        choices: list[dict[str, Any]],
    ) -> None:
        cells = self.nova_cells
        host = choices[0]["service_host"]
        uuid = instance["uuid"]
        mapping = _HOST_MAPPING.one(cells.api, host=host)
        cell_id = mapping[0] if mapping is not None else None
        # One last look before the instance is made: was the server deleted meanwhile?
        still_wanted = _BUILD_REQUEST.one(cells.api, uuid=uuid) is not None
        cell = next((c for c in cells.mappings() if c.id == cell_id), None)
        if cell is None:
            message = f"Host '{host}' is not mapped to any cell"
            self.log.error("[%s] %s", ctx.request_id, message)
            self.placement.request("DELETE", f"/allocations/{instance['uuid']}")
            self._bury_in_cell0(ctx, instance, message, f"HostMappingNotFound: {message}")
            return
        if not still_wanted:
            self.log.debug(
                "[%s] [instance: %s] While scheduling instance, the build request was "
                "already deleted.",
                ctx.request_id,
                uuid,
            )
            with cells.api.write() as s:  # no orphan mapping (the API drops it too)
                s.execute(delete(m.InstanceMapping).where(m.InstanceMapping.instance_uuid == uuid))
            self._free_claim(ctx, uuid)
            return
        now = self.now_iso()
        row = _instance_columns(instance)
        row["host"], row["node"] = host, choices[0]["nodename"]
        # Always the chosen host's zone, asked for or not (get_host_availability_zone: an
        # aggregate's zone, else default_availability_zone -- no zoned aggregates here)
        row["availability_zone"] = self.nova_conf.default_availability_zone
        # (statements compiled once, core/sql.py: each boot makes these writes)
        with cells.cell(cell).transaction() as tx:
            _new_instance(tuple(row)).run(tx, **row)
            _NEW_ACTION.run(
                tx,
                instance_uuid=uuid,
                action="create",
                request_id=ctx.request_id,
                user_id=instance["user_id"],
                project_id=instance["project_id"],
                start_time=instance["created_at"],
                updated_at=now,
            )
        with cells.api.transaction() as tx:
            built = _destroy_build_request(tx, uuid)
            if built:
                _MAP_TO_CELL.run(tx, uuid=uuid, cell_id=cell.id)
                self._join_group(tx, uuid, spec)
        if not built:
            # The user deleted the server after the look above: the instance just made is
            # destroyed, its claim freed, and nothing is sent to the compute host.
            self.log.debug(
                "[%s] [instance: %s] The build request was deleted before the instance was "
                "created: destroying it.",
                ctx.request_id,
                uuid,
            )
            self._destroy_instance(cells.cell(cell), uuid)
            self._free_claim(ctx, uuid)
            self.runtime.tracer.note(ctx, "state", "deleted while booting", "deleted", host=host)
            return
        self.runtime.tracer.note(ctx, "state", "instance in cell", cell.name, host=host)
        self.rpc_client("compute", host).cast(
            "build_and_run_instance",
            instance_uuid=uuid,
            cell=cell.uuid,
            requested_networks=spec.get("networks", "auto"),
            host_list=choices,
        )

    def _join_group(self, tx: Transaction, uuid: str, spec: dict[str, Any]) -> None:
        """Record the server in its server group (``os:scheduler_hints: group``)."""
        group = spec.get("group") or {}
        if group.get("uuid"):
            found = _GROUP_MEMBERS.one(tx, uuid=group["uuid"])
            if found is not None and uuid not in found[1]:
                _SET_MEMBERS.run(tx, id=found[0], members=[*found[1], uuid])

    def _free_claim(self, ctx: RequestContext, uuid: str) -> None:
        """``delete_allocation_for_instance``: what the scheduler claimed for a server that
        will not be built. Best effort: a failure is logged (the claim stays)."""
        try:
            self.placement.request("DELETE", f"/allocations/{uuid}")
        except Exception as exc:
            self.log.error("[%s] could not free allocations of %s: %s", ctx.request_id, uuid, exc)

    def _destroy_instance(self, db: Any, uuid: str) -> None:
        """``instance.destroy()``: the cell's record is marked deleted (never shown again,
        counted in no quota)."""
        with db.write() as s:
            row = s.scalars(select(m.Instance).where(m.Instance.uuid == uuid)).first()
            if row is not None and not row.deleted:
                row.vm_state, row.task_state = "deleted", None
                row.deleted, row.terminated_at = True, self.now_iso()

    def _bury_in_cell0(
        self, ctx: RequestContext, instance: dict[str, Any], message: str, detail: str
    ) -> None:
        cells = self.nova_cells
        found = cells.cell0()
        if found is None:
            self.log.error(
                "[%s] cell0 is not mapped: cannot bury %s", ctx.request_id, instance["uuid"]
            )
            return
        cell0, db = found
        now = self.now_iso()
        with db.write() as s:
            row = _instance_row(instance)
            row.vm_state, row.task_state = "error", None
            row.fault = {"code": 500, "message": message, "details": detail, "created": now}
            s.add(row)
            action = m.InstanceAction(
                instance_uuid=row.uuid,
                action="create",
                request_id=ctx.request_id,
                user_id=instance["user_id"],
                project_id=instance["project_id"],
                start_time=instance["created_at"],
                finish_time=now,
                message="Error",
                updated_at=now,
            )
            s.add(action)
            s.flush()
            s.add(
                m.InstanceActionEvent(
                    action_id=action.id,
                    event="conductor_schedule_and_build_instances",
                    start_time=now,
                    finish_time=now,
                    result="Error",
                    traceback=f"Traceback (most recent call last):\n  ...\n{detail}\n",
                    host=self.service_host(),
                    details=message,
                )
            )
        with cells.api.transaction() as tx:
            buried = _destroy_build_request(tx, instance["uuid"])
            if buried:
                _MAP_TO_CELL.run(tx, uuid=instance["uuid"], cell_id=cell0.id)
        if not buried:
            # "Instance was deleted before we finished scheduling": not kept in cell0 either.
            self._destroy_instance(db, instance["uuid"])
            return
        self.runtime.tracer.note(ctx, "state", "buried in cell0", "error", reason=message)


def _destroy_build_request(tx: Transaction, uuid: str) -> bool:
    """Delete the build request in one statement; True if this call deleted it (False: the
    user's delete got there first, ``BuildRequestNotFound``)."""
    return bool(_DROP_BUILD_REQUEST.run(tx, uuid=uuid))


def _instance_columns(instance: dict[str, Any]) -> dict[str, Any]:
    """The instance nova-api made, as the cell's row: its fields that are columns."""
    return {k: v for k, v in instance.items() if k in _INSTANCES.c}


@functools.cache
def _new_instance(given: tuple[str, ...]) -> PreparedWrite:
    """The INSERT of an instance row with these columns given, as the ORM would write it:
    a column not given takes its Python default (``tags`` ``[]``, ``locked`` False ...),
    one without a default is left out (NULL). One statement per set of columns given."""
    values: dict[str, Any] = {}
    for column in _INSTANCES.c:
        if column.name in given:
            values[column.name] = bindparam(column.name, type_=column.type)
        elif column.default is not None and not column.primary_key:
            default = cast(Any, column.default)
            made = default.arg(None) if default.is_callable else default.arg
            values[column.name] = literal(made, type_=column.type)
    return PreparedWrite(insert(_INSTANCES).values(values))


def _instance_row(instance: dict[str, Any]) -> m.Instance:
    fields = {k: v for k, v in instance.items() if k in m.Instance.__table__.columns}
    metadata = fields.pop("metadata", {})
    row = m.Instance(**fields)
    row.metadata_ = metadata
    return row


# the conductor's reads and writes at each boot, compiled once (core/sql.py)
_INSTANCES = cast(Table, m.Instance.__table__)
_ACTIONS = cast(Table, m.InstanceAction.__table__)
_NEW_ACTION = PreparedWrite(
    insert(_ACTIONS).values(
        {
            name: bindparam(name)
            for name in (
                "instance_uuid",
                "action",
                "request_id",
                "user_id",
                "project_id",
                "start_time",
                "updated_at",
            )
        }
    )
)
_BUILD_REQUESTS = cast(Table, m.BuildRequest.__table__)
_DROP_BUILD_REQUEST = PreparedWrite(
    delete(_BUILD_REQUESTS)
    .where(_BUILD_REQUESTS.c.instance_uuid == bindparam("uuid"))
    .returning(_BUILD_REQUESTS.c.instance_uuid)
)
_MAPPINGS = cast(Table, m.InstanceMapping.__table__)
_MAP_TO_CELL = PreparedWrite(
    update(_MAPPINGS)
    .where(_MAPPINGS.c.instance_uuid == bindparam("uuid"))
    .values(cell_id=bindparam("cell_id"))
)
_GROUPS = cast(Table, m.InstanceGroup.__table__)
_GROUP_MEMBERS = Prepared(
    select(_GROUPS.c.id, _GROUPS.c.members).where(_GROUPS.c.uuid == bindparam("uuid")).limit(1)
)
_SET_MEMBERS = PreparedWrite(
    update(_GROUPS).where(_GROUPS.c.id == bindparam("id")).values(members=bindparam("members"))
)
_BUILD_REQUEST = Prepared(
    select(m.BuildRequest.instance).where(m.BuildRequest.instance_uuid == bindparam("uuid"))
)
_REQUEST_SPEC = Prepared(
    select(m.RequestSpec.spec).where(m.RequestSpec.instance_uuid == bindparam("uuid"))
)
_HOST_MAPPING = Prepared(
    select(m.HostMapping.cell_id).where(m.HostMapping.host == bindparam("host"))
)
