"""Server actions that move or remake a server: ``rebuild``, ``resize``, ``confirmResize``,
``revertResize`` (``nova/api/openstack/compute/servers.py`` and ``nova/compute/api.py``).

nova-api checks, sets the task state, records the instance action and casts; the rest is
the conductor's and the computes' (:mod:`labkit.sim.nova.moves`).
"""

from __future__ import annotations

import base64
import re
from typing import Any

from sqlalchemy import select
from starlette.responses import Response

from labkit.sim.core.http import Call, empty_response, json_response
from labkit.sim.nova import instances, moves, quota, views
from labkit.sim.nova import models as m
from labkit.sim.nova.api import _instance as srv
from labkit.sim.nova.api import body as checks
from labkit.sim.nova.api._helpers import caller, is_uuid, microversion_at_least, nova
from labkit.sim.nova.errors import bad_request, conflict, forbidden

_NAME = re.compile(r"^\S(.*\S)?$", re.DOTALL)
_REBUILD_KEYS = (
    "name",
    "imageRef",
    "adminPass",
    "metadata",
    "preserve_ephemeral",
    "OS-DCF:diskConfig",
    "accessIPv4",
    "accessIPv6",
)
_REBUILD_KEYS_SINCE = (
    ("2.19", "description"),
    ("2.54", "key_name"),
    ("2.57", "user_data"),
    ("2.63", "trusted_image_certificates"),
    ("2.90", "hostname"),
)


def _object(call: Call, action: str, args: Any) -> dict[str, Any]:
    if not isinstance(args, dict):
        raise bad_request(
            f"Invalid input for field/attribute {action}. Value: {args}. {args!r} is not of "
            "type 'object'"
        )
    return args


def _unexpected(action: str, args: dict[str, Any], allowed: set[str]) -> None:
    extra = [k for k in args if k not in allowed]
    if extra:
        verb = "were" if len(extra) > 1 else "was"
        raise bad_request(
            f"Invalid input for field/attribute {action}. Value: {args}. Additional properties "
            f"are not allowed ({', '.join(repr(k) for k in extra)} {verb} unexpected)"
        )


# ---- rebuild -----------------------------------------------------------------------------------


def rebuild(call: Call, cell: m.CellMapping | None, inst: dict[str, Any], raw: Any) -> Response:
    api = nova(call)
    args = _object(call, "rebuild", raw)
    allowed = set(_REBUILD_KEYS) | {
        k for v, k in _REBUILD_KEYS_SINCE if microversion_at_least(call, v)
    }
    if not microversion_at_least(call, "2.57"):
        allowed.add("personality")
    _unexpected("rebuild", args, allowed)
    if "imageRef" not in args:
        raise bad_request(
            f"Invalid input for field/attribute rebuild. Value: {args}. 'imageRef' is a "
            "required property"
        )
    image_ref = args["imageRef"]
    if not isinstance(image_ref, str) or not is_uuid(image_ref):
        raise bad_request(
            f"Invalid input for field/attribute imageRef. Value: {image_ref}. {image_ref!r} "
            "is not a 'uuid'"
        )
    changes: dict[str, Any] = {}
    if "name" in args:
        name = args["name"]
        if not isinstance(name, str) or not name or len(name) > 255 or not _NAME.match(name):
            raise bad_request(
                f"Invalid input for field/attribute name. Value: {name}. {name!r} is not a 'name'"
            )
        changes["display_name"] = name
    if "description" in args:
        description = args["description"]
        if description is not None and (not isinstance(description, str) or len(description) > 255):
            raise bad_request(
                f"Invalid input for field/attribute description. Value: {description}."
            )
        changes["display_description"] = description
    if "metadata" in args:
        changes["metadata"] = srv.check_metadata("metadata", args["metadata"])
    if "user_data" in args:
        user_data = args["user_data"]
        if user_data is not None:
            try:
                base64.b64decode(str(user_data), validate=True)
            except (ValueError, TypeError):
                raise bad_request(
                    f"Invalid input for field/attribute user_data. Value: {user_data}. "
                    f"{user_data!r} is not a 'base64'"
                ) from None
        changes["user_data"] = user_data
    if "hostname" in args:
        hostname = args["hostname"]
        pattern = "^[a-zA-Z0-9]+[a-zA-Z0-9-]*[a-zA-Z0-9]+$"
        if not isinstance(hostname, str) or not 2 <= len(hostname) <= 63:
            raise bad_request(f"Invalid input for field/attribute hostname. Value: {hostname}.")
        if not re.match(pattern, hostname):
            raise bad_request(
                f"Invalid input for field/attribute hostname. Value: {hostname}. "
                f"{hostname!r} does not match '{pattern}'"
            )
        changes["hostname"] = hostname
    password = checks.admin_password(args)
    changes.update(checks.access_ips(args))
    requested_disk = checks.disk_config(args)
    srv.check_lock(call, inst)
    srv.check_state(inst, "rebuild", ("active", "stopped", "error"))
    cell = srv.placed(cell, inst, "rebuild")
    if "key_name" in args:
        changes["key_name"], changes["key_data"] = _keypair(call, args["key_name"])
    image = srv.fetch_image(call, image_ref)
    if image is None:
        raise bad_request("Cannot find image for rebuild")
    if image.get("status") != "active":
        raise bad_request(f"Image {image_ref} is not active.")
    srv.check_flavor_image(inst["flavor"], image)
    # the image may have changed: its auto_disk_config property counts again
    changes["auto_disk_config"] = checks.image_disk_config(
        {**image, "id": image_ref}, requested_disk
    )
    if "metadata" in changes:
        srv.check_metadata_quota(call, inst["project_id"], changes["metadata"])
    orig_image = inst.get("image_ref") or ""
    if orig_image != image_ref:  # the scheduler's image filter must see the new image
        props = {k: image[k] for k in ("hypervisor_type", "architecture") if image.get(k)}
        moves.set_spec(api.nova_cells, inst["uuid"], image=props)
    srv.save(
        call,
        cell,
        inst["uuid"],
        task_state="rebuilding",
        image_ref=image_ref,
        progress=0,
        **changes,
    )
    srv.record_action(call, cell, inst, "rebuild")
    api.rpc_client("conductor").cast(
        "rebuild_instance",
        instance_uuid=inst["uuid"],
        image_ref=image_ref,
        orig_image_ref=orig_image,
    )
    _, now = srv.lookup(call, inst["uuid"])
    server = views.server_after_change(call, now, keypair=microversion_at_least(call, "2.54"))
    server["adminPass"] = srv.admin_password(call, password)
    if microversion_at_least(call, "2.57"):
        # from 2.57 the user data at the top (and not among the 2.75 view's admin fields)
        server.pop("OS-EXT-SRV-ATTR:user_data", None)
        server["user_data"] = now.get("user_data")
    return json_response({"server": server}, 202)


def _keypair(call: Call, name: Any) -> tuple[str | None, str | None]:
    """2.54: the caller's keypair by name; null removes the key."""
    if name is None:
        return None, None
    with nova(call).nova_cells.api.read() as s:
        row = s.scalars(
            select(m.KeyPair).where(
                m.KeyPair.user_id == caller(call).user_id, m.KeyPair.name == str(name)
            )
        ).first()
    if row is None:
        raise bad_request("Invalid key_name provided.")
    return row.name, row.public_key


# ---- resize ------------------------------------------------------------------------------------


def resize(call: Call, cell: m.CellMapping | None, inst: dict[str, Any], raw: Any) -> Response:
    api = nova(call)
    args = _object(call, "resize", raw)
    _unexpected("resize", args, {"flavorRef", "OS-DCF:diskConfig"})
    ref = args.get("flavorRef")
    if "flavorRef" not in args:
        raise bad_request(
            f"Invalid input for field/attribute resize. Value: {args}. 'flavorRef' is a "
            "required property"
        )
    if not isinstance(ref, str | int) or isinstance(ref, bool) or ref == "":
        raise bad_request(
            f"Invalid input for field/attribute flavorRef. Value: {ref}. {ref!r} is not "
            "valid under any of the given schemas"
        )
    requested_disk = checks.disk_config(args)
    srv.check_lock(call, inst)
    srv.check_state(inst, "resize", ("active", "stopped"))
    cell = srv.placed(cell, inst, "resize")
    if not inst.get("host"):
        raise conflict(f"Instance {inst['uuid']} is not ready")
    if not srv.compute_up(call, inst["host"]):
        raise conflict("Service is unavailable at this time.")
    flavor_id = str(ref).rstrip("/").rsplit("/", 1)[-1]
    current = inst["flavor"]
    # flavors.get_flavor_by_flavor_id without a context: any flavor, private ones too
    with api.nova_cells.api.read() as s:
        row = s.scalars(select(m.Flavor).where(m.Flavor.flavorid == flavor_id)).first()
    same = row is not None and row.flavorid == current["flavorid"]
    if row is None or (row.disabled and not same):
        raise bad_request(f"Flavor {flavor_id} could not be found.")
    new = views.flavor_for_instance(row)
    if new["root_gb"] == 0 and current["root_gb"] != 0:
        raise bad_request(
            "Server disk was unable to be resized because: Resize to zero disk flavor is not "
            "allowed."
        )
    if same:
        raise bad_request("When resizing, instances must change flavor!")
    _check_upsize_quota(call, inst["project_id"], current, new)
    image = srv.fetch_image(call, inst.get("image_ref") or "") if inst.get("image_ref") else None
    if image is not None:
        srv.check_flavor_image(new, image)
    # API.resize: the disk config asked for, MANUAL when none was
    srv.save(
        call,
        cell,
        inst["uuid"],
        task_state="resize_prep",
        progress=0,
        auto_disk_config=bool(requested_disk),
    )
    srv.record_action(call, cell, inst, "resize")
    api.rpc_client("conductor").cast("migrate_server", instance_uuid=inst["uuid"], flavor=new)
    return empty_response(202)


def _check_upsize_quota(
    call: Call, project_id: str, current: dict[str, Any], new: dict[str, Any]
) -> None:
    """``_check_quota_for_upsize``: only the growth in cores and ram is checked (the DB
    driver); TooManyInstances (403) names every resource that would go over."""
    deltas = {
        "cores": int(new["vcpus"]) - int(current["vcpus"]),
        "ram": int(new["memory_mb"]) - int(current["memory_mb"]),
    }
    deltas = {k: v for k, v in deltas.items() if v > 0}
    if not deltas:
        return
    cells = nova(call).nova_cells
    allowed = quota.limits(cells, project_id)
    used = instances.count_usage(cells, project_id)
    overs = sorted(k for k, v in deltas.items() if 0 <= allowed[k] < used[k] + v)
    if not overs:
        return
    names = ", ".join(overs)
    raise forbidden(
        f"Quota exceeded for {names}: Requested {', '.join(str(deltas[k]) for k in overs)}, "
        f"but already used {', '.join(str(used[k]) for k in overs)} of "
        f"{', '.join(str(allowed[k]) for k in overs)} {names}"
    )


# ---- confirm and revert ------------------------------------------------------------------------


def _finished_migration(call: Call, inst: dict[str, Any]) -> dict[str, Any]:
    found = moves.migration_of(nova(call).nova_cells, inst["uuid"])
    if found is None or found.get("status") != "finished":
        raise bad_request("Instance has not been resized.")
    return found


def confirm_resize(
    call: Call, cell: m.CellMapping | None, inst: dict[str, Any], raw: Any
) -> Response:
    srv.check_lock(call, inst)
    srv.check_state(inst, "confirmResize", ("resized",))
    cell = srv.placed(cell, inst, "confirmResize")
    migration = _finished_migration(call, inst)
    if not srv.compute_up(call, migration["source_compute"]):
        raise conflict("Service is unavailable at this time.")
    moves.save_migration(nova(call).nova_cells, inst["uuid"], status="confirming")
    srv.record_action(call, cell, inst, "confirmResize")
    nova(call).rpc_client("compute", migration["source_compute"]).cast(
        "confirm_resize", instance_uuid=inst["uuid"], migration_uuid=migration["uuid"]
    )
    return empty_response(204)


def revert_resize(
    call: Call, cell: m.CellMapping | None, inst: dict[str, Any], raw: Any
) -> Response:
    srv.check_lock(call, inst)
    srv.check_state(inst, "revertResize", ("resized",))
    cell = srv.placed(cell, inst, "revertResize")
    migration = _finished_migration(call, inst)
    # reverting a downsize grows the server again: that growth must fit the quota
    _check_upsize_quota(call, inst["project_id"], migration["new_flavor"], migration["old_flavor"])
    cells = nova(call).nova_cells
    moves.set_spec(cells, inst["uuid"], flavor=dict(migration["old_flavor"]))
    srv.save(call, cell, inst["uuid"], task_state="resize_reverting")
    moves.save_migration(cells, inst["uuid"], status="reverting")
    srv.record_action(call, cell, inst, "revertResize")
    nova(call).rpc_client("compute", migration["dest_compute"]).cast(
        "revert_resize", instance_uuid=inst["uuid"], migration_uuid=migration["uuid"]
    )
    return empty_response(202)


def confirm_before_delete(call: Call, cell: m.CellMapping, inst: dict[str, Any]) -> None:
    """``_confirm_resize_on_deleting``: a server deleted in VERIFY_RESIZE is confirmed first
    (an RPC *call* to the source), so the migration's allocation and the source's claim do
    not leak."""
    migration = moves.migration_of(nova(call).nova_cells, inst["uuid"])
    if migration is None or migration.get("status") not in ("finished", "confirming"):
        return
    if not srv.compute_up(call, migration["source_compute"]):
        return
    moves.save_migration(nova(call).nova_cells, inst["uuid"], status="confirming")
    srv.record_action(call, cell, inst, "confirmResize")
    try:
        nova(call).rpc_client("compute", migration["source_compute"]).call(
            "confirm_resize", instance_uuid=inst["uuid"], migration_uuid=migration["uuid"]
        )
    except Exception as exc:  # the delete goes on, as Nova's does when the source is gone
        nova(call).log.warning(
            "[%s] confirming the resize of %s before deleting it failed: %s",
            call.request_id,
            inst["uuid"],
            exc,
        )


ACTIONS: dict[str, Any] = {
    "rebuild": rebuild,
    "resize": resize,
    "confirmResize": confirm_resize,
    "revertResize": revert_resize,
}
