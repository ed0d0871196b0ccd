"""``/servers``: create (the boot's first hop), list, show, delete, actions, instance actions.

The actions that move or remake a server (rebuild, resize and its confirm/revert) are in
:mod:`server_moves`; the checks every action shares in :mod:`_instance`."""

from __future__ import annotations

import base64
import re
import threading
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy import delete as sql_delete
from starlette.responses import Response

from labkit.sim.core.bus import MessagingTimeout, RemoteError
from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.core.sql import Prepared
from labkit.sim.nova import instances, quota, views
from labkit.sim.nova import models as m
from labkit.sim.nova.api import _instance as srv
from labkit.sim.nova.api import body as checks
from labkit.sim.nova.api import query, server_admin, server_moves
from labkit.sim.nova.api import security_groups as secgroups
from labkit.sim.nova.api._helpers import (
    body_of,
    caller,
    is_uuid,
    links,
    microversion_at_least,
    nova,
    owner_or_admin,
    query_int,
    require_admin,
)
from labkit.sim.nova.clients import ServiceUnreachable
from labkit.sim.nova.errors import (
    NovaError,
    bad_request,
    conflict,
    instance_not_found,
    invalid_state,
    not_found,
    port_limit_exceeded,
    unexpected,
)

routes = Routes()
# Quota check and build-request creation happen under one lock, so concurrent creates can
# never exceed a quota between the check and the write (Nova rechecks after; same effect).
_CREATE_LOCK = threading.Lock()
_NAME = re.compile(r"^\S(.*\S)?$", re.DOTALL)


# ---- create -------------------------------------------------------------------------------------


@routes.post("/v2.1/servers")
def create(call: Call) -> Response:
    api = nova(call)
    who = caller(call)
    body = body_of(call, "server")
    name = body.get("name")
    if not isinstance(name, str) or not name or len(name) > 255 or not _NAME.match(name):
        raise bad_request(
            f"Invalid input for field/attribute name. Value: {name}. "
            + (
                "'name' is a required property"
                if name is None
                else f"{name!r} does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'"
            )
        )
    # what the create schema checks before the handler runs (a 400 in its words)
    password = checks.admin_password(body)
    access = checks.access_ips(body)
    requested_disk = checks.disk_config(body)
    for field in ("min_count", "max_count"):
        if field in body:
            checks.check(field, body[field], checks.POSITIVE_INTEGER)
    min_count = int(body.get("min_count", 1))
    max_count = int(body.get("max_count", min_count))
    if min_count > max_count:
        raise bad_request("min_count must be <= max_count")
    flavor = _flavor(call, body.get("flavorRef"))
    image = _image(call, body.get("imageRef"), body.get("block_device_mapping_v2"), flavor)
    auto_disk_config = checks.image_disk_config(image, requested_disk)
    networks = _networks(call, body.get("networks"))
    key_name, key_data = _keypair(call, body.get("key_name"))
    zone, forced_host = _zone_and_forced_host(call, body.get("availability_zone") or None)
    if zone and zone != api.nova_conf.default_availability_zone:
        raise bad_request("The requested availability zone is not available")
    groups = [g.get("name") for g in body.get("security_groups") or [] if isinstance(g, dict)]
    group_ids = secgroups.check_requested(call, [g for g in groups if isinstance(g, str) and g])
    # Nova reads either spelling (servers.py create: os:scheduler_hints, else the extension's
    # OS-SCH-HNT:scheduler_hints, which openstacksdk and so `server create --hint` send).
    raw = call.json()
    hints = raw.get("os:scheduler_hints") or raw.get("OS-SCH-HNT:scheduler_hints") or {}
    group = _server_group(call, str(hints.get("group"))) if hints.get("group") else None
    metadata = srv.check_metadata("metadata", body.get("metadata") or {})
    srv.check_metadata_quota(call, who.project_id, metadata)
    tags = _tags(body.get("tags") or [])
    user_data = _user_data(body.get("user_data"))
    config_drive = _config_drive(body.get("config_drive"))
    # Neutron's port quota first (validate_networks), then Nova's own, each of which may
    # lower max_count down to min_count or refuse the request.
    max_count = _ports_allow(call, networks, min_count, max_count)
    cells = api.nova_cells
    now = api.now_iso()
    reservation = f"r-{api.runtime.ids.hex_id()[:8]}"
    uuids: list[str] = []
    with _CREATE_LOCK:
        count = quota.check_create(cells, who.project_id, flavor, min_count, max_count)
        with cells.api.write() as s:
            for index in range(count):
                uuid = api.runtime.ids.dashed_id()
                uuids.append(uuid)
                display = name if count == 1 else f"{name}-{index + 1}"
                instance = {
                    "uuid": uuid,
                    "display_name": display,
                    "display_description": body.get("description"),
                    "project_id": who.project_id,
                    "user_id": who.user_id,
                    "image_ref": image.get("id", ""),
                    "flavor": views.flavor_for_instance(flavor),
                    "vm_state": "building",
                    "task_state": "scheduling",
                    "power_state": 0,
                    "availability_zone": zone or None,
                    "key_name": key_name,
                    "key_data": key_data,
                    "user_data": user_data,
                    "config_drive": config_drive,
                    "access_ip_v4": access.get("access_ip_v4"),
                    "access_ip_v6": access.get("access_ip_v6"),
                    "auto_disk_config": auto_disk_config,
                    "hostname": instances.sanitize_hostname(display, f"Server-{uuid}"),
                    "launch_index": index,
                    "reservation_id": reservation,
                    "metadata": dict(metadata),
                    "tags": tags,
                    "security_groups": group_ids or ["default"],
                    "created_at": now,
                    "updated_at": None,
                }
                s.add(
                    m.BuildRequest(instance_uuid=uuid, project_id=who.project_id, instance=instance)
                )
                s.add(
                    m.RequestSpec(
                        instance_uuid=uuid,
                        spec={
                            "flavor": views.flavor_for_instance(flavor),
                            "image": image.get("properties", {}),
                            "project_id": who.project_id,
                            "user_id": who.user_id,
                            "availability_zone": zone,
                            "force_hosts": [forced_host] if forced_host else [],
                            "networks": networks,
                            "group": group,
                            "num_instances": count,
                        },
                    )
                )
                s.add(
                    m.InstanceMapping(
                        instance_uuid=uuid, project_id=who.project_id, user_id=who.user_id
                    )
                )
    if call.ctx is not None:
        api.runtime.tracer.note(
            call.ctx, "state", "building/scheduling", "building", instances=uuids
        )
    api.rpc_client("conductor").cast("schedule_and_build_instances", instance_uuids=uuids)
    if body.get("return_reservation_id"):
        return json_response({"reservation_id": reservation}, 202)
    first = uuids[0]
    server = {
        "id": first,
        "links": links(call, "servers", first),
        "OS-DCF:diskConfig": "AUTO" if auto_disk_config else "MANUAL",
        "security_groups": [{"name": g} for g in groups if g] or [{"name": "default"}],
        "adminPass": srv.admin_password(call, password),
    }
    return json_response(
        {"server": server}, 202, {"Location": f"{call.root_url}/v2.1/servers/{first}"}
    )


# parameter_types.boolean: what Nova's schema accepts for config_drive
_BOOLEANS = [True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes"]
_BOOLEANS += [False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no"]


def _user_data(value: Any) -> str | None:
    """``user_data``: base64 text of at most 65535 characters (the create schema)."""
    if value is None:
        return None
    prefix = f"Invalid input for field/attribute user_data. Value: {value}."
    if not isinstance(value, str):
        raise bad_request(f"{prefix} {value!r} is not of type 'string'")
    if len(value) > 65535:
        raise bad_request(f"{prefix} {value!r} is too long")
    try:
        base64.decodebytes(value.encode())  # Nova's base64 format check: lenient decoding
    except (ValueError, TypeError):
        raise bad_request(f"{prefix} {value!r} is not a 'base64'") from None
    return value


def _config_drive(value: Any) -> str:
    """``config_drive`` as Nova stores it: ``"True"`` or ``""`` (``_check_config_drive``)."""
    if value is None:
        return ""
    if not isinstance(value, bool | str) or value not in _BOOLEANS:
        raise bad_request(
            f"Invalid input for field/attribute config_drive. Value: {value}. "
            f"{value!r} is not one of {_BOOLEANS!r}"
        )
    return "True" if str(value).lower() in ("true", "1", "on", "yes") else ""


def _flavor(call: Call, ref: Any) -> m.Flavor:
    if not isinstance(ref, str | int) or ref == "":
        raise bad_request(
            "Invalid input for field/attribute flavorRef. Value: None. 'flavorRef' is a required "
            "property"
        )
    flavor_id = str(ref).rstrip("/").rsplit("/", 1)[-1]
    found = _FLAVOR.one(nova(call).nova_cells.api, flavorid=flavor_id)
    row = None if found is None else m.Flavor(**dict(zip(_FLAVOR_COLUMNS, found, strict=True)))
    if row is None or row.disabled or not srv.visible_flavor(call, row):
        raise bad_request(f"Flavor {flavor_id} could not be found.")
    return row


# the flavor a create names, read at every create (compiled once, core/sql.py); the answer is
# a Flavor made from the row, as the session would have loaded it
_FLAVORS = cast(Table, m.Flavor.__table__)
_FLAVOR_COLUMNS = tuple(_FLAVORS.c.keys())
_FLAVOR = Prepared(select(*_FLAVORS.c).where(_FLAVORS.c.flavorid == bindparam("flavorid")))


def _image(call: Call, ref: Any, bdms: Any, flavor: m.Flavor) -> dict[str, Any]:
    image_id = str(ref or "").rstrip("/").rsplit("/", 1)[-1]
    if not image_id and isinstance(bdms, list):
        image_id = next(
            (
                str(b.get("uuid"))
                for b in bdms
                if isinstance(b, dict) and b.get("boot_index") in (0, "0")
            ),
            "",
        )
    if not image_id:
        raise bad_request(
            "Block Device Mapping is Invalid: Boot sequence for the instance and image/block "
            "device mapping combination is not valid."
        )
    image = srv.fetch_image(call, image_id)
    if image is None:
        raise bad_request(f"Image {image_id} could not be found.")
    if image.get("status") != "active":
        raise bad_request(f"Image {image_id} is not active.")
    srv.check_flavor_image(views.flavor_for_instance(flavor), image)
    props = {k: image[k] for k in ("hypervisor_type", "architecture") if image.get(k)}
    return {"id": image_id, "properties": props, "auto_disk_config": image.get("auto_disk_config")}


def _networks(call: Call, value: Any) -> Any:
    if value is None:
        if microversion_at_least(call, "2.37"):
            raise bad_request(
                "Invalid input for field/attribute server. Value: ... 'networks' is a required "
                "property"
            )
        return "auto"
    if value in ("auto", "none"):
        if not microversion_at_least(call, "2.37"):
            raise bad_request(
                f"Invalid input for field/attribute networks. Value: {value}. {value!r} is not of "
                "type 'array'"
            )
        return value
    if not isinstance(value, list):
        raise bad_request(f"Invalid input for field/attribute networks. Value: {value}.")
    out = []
    for item in value:
        if not isinstance(item, dict) or not (item.get("uuid") or item.get("port")):
            raise bad_request("Bad networks format: network uuid is not in proper format")
        if item.get("uuid") and not is_uuid(str(item["uuid"])):
            raise bad_request(
                f"Bad networks format: network uuid is not in proper format ({item['uuid']})"
            )
        out.append({k: item[k] for k in ("uuid", "port", "fixed_ip") if item.get(k)})
    return out


def _ports_allow(call: Call, networks: Any, min_count: int, max_count: int) -> int:
    """How many of ``max_count`` servers the project's Neutron port quota can take, as
    ``nova/network/neutron.py validate_networks`` and ``compute/api.py _provision_instances``
    work it out before anything is made:

    - each server needs one port per requested network (``auto`` or an empty list: one;
      ``none`` and ready-made ports (``{"port": ...}``): none -- nothing to check then);
    - Neutron is asked, with the caller's token, for the project's ``port`` limit
      (``GET /v2.0/quotas/{project}``; -1: unlimited) and its ports
      (``GET /v2.0/ports?tenant_id=...&fields=id``);
    - more ports than the limit already: 403 "The number of defined ports: N is over the
      limit: L"; room for fewer than ``min_count`` servers: 403 "Maximum number of ports
      exceeded" (PortLimitExceeded); room for fewer than ``max_count``: that many.
    """
    if networks == "none":
        return max_count
    if networks == "auto" or not networks:  # auto, or an empty list: one network found
        per_server = 1
    else:
        per_server = sum(1 for n in networks if not n.get("port"))
    if not per_server:
        return max_count
    project = caller(call).project_id
    limit = (_from_neutron(call, f"/quotas/{project}", "quota") or {}).get("port", -1)
    if limit == -1:
        return max_count
    ports = _from_neutron(call, f"/ports?tenant_id={project}&fields=id", "ports") or []
    free = int(limit) - len(ports)
    if free < 0:
        raise port_limit_exceeded(
            f"The number of defined ports: {len(ports)} is over the limit: {limit}"
        )
    room = max_count if free >= per_server * max_count else free // per_server
    if room < min_count:
        raise port_limit_exceeded()
    if room < max_count:
        nova(call).log.info(
            "[%s] max count reduced from %d to %d due to network port quota",
            call.request_id,
            max_count,
            room,
        )
    return room


def _from_neutron(call: Call, path: str, key: str) -> Any:
    """``GET path`` from Neutron as the caller (neutronclient with the user's token);
    anything but a 200 is an error Nova does not expect: 500."""
    api = nova(call)
    try:
        answer = api.neutron.request("GET", path, caller(call).token)
    except ServiceUnreachable as exc:
        api.log.error("[%s] Neutron: %s", call.request_id, exc)
        raise unexpected("neutronclient.common.exceptions.ConnectionFailed") from None
    if answer.status_code != 200:
        api.log.error("[%s] Neutron Error: %s", call.request_id, answer.text[:300])
        raise unexpected("neutronclient.common.exceptions.NeutronClientException")
    return answer.json().get(key)


def _keypair(call: Call, name: Any) -> tuple[str | None, str | None]:
    if not name:
        return None, None
    with nova(call).nova_cells.api.read() as s:
        row = s.scalars(
            select(m.KeyPair).where(
                m.KeyPair.user_id == caller(call).user_id, m.KeyPair.name == name
            )
        ).first()
    if row is None:
        raise bad_request("Invalid key_name provided.")
    return row.name, row.public_key


def _server_group(call: Call, group_id: str) -> dict[str, Any]:
    cells = nova(call).nova_cells
    with cells.api.read() as s:
        group = s.scalars(select(m.InstanceGroup).where(m.InstanceGroup.uuid == group_id)).first()
        if group is None:
            raise bad_request(f"Invalid server group {group_id}")
        members = list(group.members)
        policy = group.policy
    hosts = sorted(
        {i["host"] for u in members if (f := instances.find(cells, u)) and (i := f[1]).get("host")}
    )
    return {"uuid": group_id, "policy": policy, "hosts": hosts}


def _zone_and_forced_host(call: Call, requested: str | None) -> tuple[str | None, str | None]:
    """Nova's legacy ``zone:host[:node]`` (and ``zone::node``) spelling of a zone, which lets an
    admin force a server onto a host, past the scheduler's filters (what
    ``server create --availability-zone nova:worker2`` sends). Anyone else gets the policy's
    403; more than two colons, Nova's InvalidInput."""
    if not requested or ":" not in requested:
        return requested, None
    colons = requested.count(":")
    host: str | None = None
    node: str | None = None
    if colons == 1:
        zone, host = requested.split(":")
    elif colons == 2 and "::" in requested:
        zone, node = requested.split("::")
    elif colons == 2:
        zone, host, node = requested.split(":")
    else:
        raise bad_request("Invalid input received: Unable to parse availability_zone")
    if host or node:
        require_admin(call, "os_compute_api:servers:create:forced_host")
    return zone or None, host or node or None


def _tags(value: Any) -> list[str]:
    """Server tags (2.52 on create): at most 50 strings of 1..60 characters without '/' or
    ','; kept sorted, as Nova's tag table returns them."""
    if not isinstance(value, list) or len(value) > 50:
        raise bad_request(f"Invalid input for field/attribute tags. Value: {value}.")
    for tag in value:
        if not isinstance(tag, str) or not 0 < len(tag) <= 60 or "/" in tag or "," in tag:
            raise bad_request(
                f"Invalid input for field/attribute tags. Value: {value}. {tag!r} does not "
                "match '^[^,/]*$'"
            )
    return sorted(set(value))


# ---- read ----------------------------------------------------------------------------------------


def _filtered(call: Call) -> list[dict[str, Any]]:
    who = caller(call)
    all_projects = (
        call.query.get("all_tenants", "").lower() in ("1", "true", "")
        and "all_tenants" in call.query
    )
    if all_projects and not who.is_admin:
        all_projects = False
    # Without all_tenants the caller's own project, whatever project_id or tenant_id say
    # (lp:#1185290); with it, an admin may name one project.
    project = (
        (call.query.get("project_id") or call.query.get("tenant_id")) if all_projects else None
    )
    since, before = _changes_window(call)
    found = instances.listing(
        nova(call).nova_cells,
        None if all_projects and not project else (project or who.project_id),
        # changes-since/-before list the servers deleted in the window too
        include_deleted=since is not None or before is not None,
    )
    if since is not None or before is not None:
        found = [i for i in found if _changed_within(i, since, before)]
    found = _ip_filtered(call, found)
    name = call.query.get("name")
    if name:
        try:
            pattern = re.compile(name)
        except re.error:
            raise bad_request(f"Invalid regular expression: {name}") from None
        found = [i for i in found if pattern.search(i["display_name"])]
    wanted = call.query.get("status")
    if wanted:
        found = [i for i in found if views.status(i) == wanted.upper()]
    host = call.query.get("host")
    if host and who.is_admin:
        found = [i for i in found if i.get("host") == host]
    reservation = call.query.get("reservation_id")  # an exact match, for every user
    if reservation:
        found = [i for i in found if i.get("reservation_id") == reservation]
    for key in ("flavor", "image"):
        value = call.query.get(key)
        if value:
            found = [
                i
                for i in found
                if (i["flavor"]["flavorid"] if key == "flavor" else i.get("image_ref")) == value
            ]
    if microversion_at_least(call, "2.26"):
        found = _tag_filtered(call, found)
    marker = call.query.get("marker")
    if marker:
        ids = [i["uuid"] for i in found]
        if marker in ids:
            found = found[ids.index(marker) + 1 :]
        else:
            found = _after_unlisted_marker(call, found, marker)
    limit = query_int(call, "limit")
    if limit is not None:
        if limit < 0:
            raise bad_request("Invalid input for query parameters limit.")
        found = found[:limit]
    return found


def _changes_window(call: Call) -> tuple[datetime | None, datetime | None]:
    """``changes-since`` and (2.66) ``changes-before`` as UTC datetimes (the query schema
    checked them already)."""
    since = (
        query.parse_isotime(call.query["changes-since"]) if "changes-since" in call.query else None
    )
    before = None
    if "changes-before" in call.query and microversion_at_least(call, "2.66"):
        before = query.parse_isotime(call.query["changes-before"])
    return since, before


def _changed_within(inst: dict[str, Any], since: datetime | None, before: datetime | None) -> bool:
    """The DB filter ``updated_at >= changes-since`` (and ``<= changes-before``). A build
    request passes: its instance has no ``updated_at`` yet and ``BuildRequestList`` ignores
    both filters. A server never updated (NULL) does not."""
    if inst.get("id") is None:  # still a build request
        return True
    stamp = inst.get("updated_at")
    if not stamp:
        return False
    updated = datetime.fromisoformat(stamp).replace(tzinfo=UTC)
    return (since is None or updated >= since) and (before is None or updated <= before)


def _ip_filtered(call: Call, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``ip`` and ``ip6`` (a member: ``ip6`` from 2.5): the servers with a fixed address that
    contains either text. Nova asks Neutron for the ports whose fixed IP contains it
    (``fixed_ips=ip_address_substr=...``, ML2's ip-substring-filtering extension) and keeps
    the servers they belong to, leaving out build requests (no ports yet); the sim reads
    the same addresses from the servers' network info."""
    wanted = [call.query.get("ip")]
    if caller(call).is_admin or microversion_at_least(call, "2.5"):
        wanted.append(call.query.get("ip6"))  # dropped for a member before 2.5
    texts = [text for text in wanted if text]
    if not texts:
        return found

    def matches(inst: dict[str, Any]) -> bool:
        return any(
            text in address
            for port in inst.get("network_info") or []
            for address in port.get("fixed_ips", [])
            for text in texts
        )

    return [i for i in found if i.get("id") is not None and matches(i)]


def _after_unlisted_marker(
    call: Call, found: list[dict[str, Any]], marker: str
) -> list[dict[str, Any]]:
    """The servers after a marker the filters leave out. Nova reads the marker with
    ``read_deleted='yes'`` and any project's: a server deleted since the last page (Horizon
    pages its instance list from the last row it showed) still places the next page; only
    a uuid Nova never had is ``marker [...] not found``."""
    key = None
    for inst in instances.listing(nova(call).nova_cells, None, include_deleted=True):
        if inst["uuid"] == marker:
            key = (inst.get("created_at") or "", inst["uuid"])
            break
    if key is None:
        raise bad_request(f"marker [{marker}] not found")
    # Newest first: what comes after the marker sorts below it.
    return [i for i in found if (i.get("created_at") or "", i["uuid"]) < key]


def _tag_filtered(call: Call, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``tags`` (all of them), ``tags-any``, ``not-tags`` (not all of them),
    ``not-tags-any`` (none of them): comma-separated, as Nova's DB filters read them."""

    def wanted(name: str) -> set[str] | None:
        raw = call.query.get(name)
        return {t for t in raw.split(",") if t} if raw else None

    every, some, not_every, none_of = (
        wanted("tags"),
        wanted("tags-any"),
        wanted("not-tags"),
        wanted("not-tags-any"),
    )
    out = []
    for inst in found:
        have = set(inst.get("tags") or [])
        if every is not None and not every <= have:
            continue
        if some is not None and not some & have:
            continue
        if not_every is not None and not_every <= have:
            continue
        if none_of is not None and none_of & have:
            continue
        out.append(inst)
    return out


@routes.get("/v2.1/servers")
def list_servers(call: Call) -> Response:
    return json_response({"servers": [views.server_brief(call, i) for i in _filtered(call)]})


@routes.get("/v2.1/servers/detail")
def list_detail(call: Call) -> Response:
    return json_response({"servers": views.servers(call, _filtered(call))})


@routes.get("/v2.1/servers/{server_id}")
def show(call: Call, server_id: str) -> Response:
    _, inst = srv.lookup(call, server_id)
    return json_response({"server": views.server(call, inst, show_server_groups=True)})


# ---- delete and actions -----------------------------------------------------------------------


@routes.delete("/v2.1/servers/{server_id}")
def delete(call: Call, server_id: str) -> Response:
    cell, inst = srv.lookup(call, server_id)
    _delete(call, server_id, cell, inst)
    return empty_response(204)


def _force_delete(
    call: Call, cell: m.CellMapping | None, inst: dict[str, Any], raw: Any
) -> Response:
    """``forceDelete`` (deferred_delete.py): ``API.force_delete`` is the delete of a server
    in any state (lock checked), whether soft-deleted or not -- with Zed's
    ``reclaim_instance_interval`` of 0 the same as ``DELETE``, answered 202."""
    _delete(call, inst["uuid"], cell, inst)
    return empty_response(202)


def _delete(call: Call, server_id: str, cell: m.CellMapping | None, inst: dict[str, Any]) -> None:
    api = nova(call)
    srv.check_lock(call, inst)
    if cell is None:
        if _delete_while_booting(call, server_id):
            return
        # The conductor took the build request first: the server is in a cell now (or
        # buried in cell0), so the normal delete follows.
        cell, inst = srv.lookup(call, server_id)
        cell = srv.placed(cell, inst, "delete")
    if inst.get("vm_state") == "resized":
        server_moves.confirm_before_delete(call, cell, inst)
        cell, inst = srv.lookup(call, server_id)
        cell = srv.placed(cell, inst, "delete")
    srv.record_action(call, cell, inst, "delete")
    host = inst.get("host")
    if host and inst.get("vm_state") != "error" and srv.compute_up(call, host):
        srv.save(call, cell, server_id, task_state="deleting")
        api.rpc_client("compute", host).cast("terminate_instance", instance_uuid=server_id)
    else:
        _local_delete(call, cell, inst)


def _delete_while_booting(call: Call, uuid: str) -> bool:
    """Delete a server that is still a build request (``compute/api.py
    _delete_while_booting``): deleting its build request is what stops the boot. One
    ``DELETE`` statement decides the race with the conductor, which drops the build request
    when it puts the server in a cell: a row deleted here means the API won -- the request
    spec and mapping go too, and whatever the scheduler already claimed is freed
    (``_local_delete_cleanup``); the conductor, finding the build request gone, makes
    nothing or destroys what it made. No row: the conductor won and the caller deletes the
    server where it now is."""
    api = nova(call)
    with api.nova_cells.api.write() as s:
        gone = s.execute(sql_delete(m.BuildRequest).where(m.BuildRequest.instance_uuid == uuid))
        if not gone.rowcount:  # type: ignore[attr-defined]
            return False
        s.execute(sql_delete(m.RequestSpec).where(m.RequestSpec.instance_uuid == uuid))
        s.execute(sql_delete(m.InstanceMapping).where(m.InstanceMapping.instance_uuid == uuid))
    try:
        api.placement.request("DELETE", f"/allocations/{uuid}")
    except ServiceUnreachable as exc:  # Nova logs "Allocation delete failed" and goes on
        api.log.warning("[%s] cleanup of %s failed: %s", call.request_id, uuid, exc)
    return True


def _local_delete(call: Call, cell: m.CellMapping, inst: dict[str, Any]) -> None:
    """What nova-api does when the server has no running compute (ERROR, compute down)."""
    api = nova(call)
    uuid = inst["uuid"]
    try:
        ports = api.neutron.request("GET", f"/ports?device_id={uuid}")
        for port in ports.json().get("ports", []) if ports.status_code == 200 else []:
            api.neutron.request("DELETE", f"/ports/{port['id']}")
        api.placement.request("DELETE", f"/allocations/{uuid}")
    except Exception as exc:  # the delete goes on; Nova logs and moves on too
        api.log.warning("[%s] cleanup of %s failed: %s", call.request_id, uuid, exc)
    srv.save(
        call,
        cell,
        uuid,
        vm_state="deleted",
        task_state=None,
        deleted=True,
        terminated_at=api.now_iso(),
    )


@routes.post("/v2.1/servers/{server_id}/action")
def action(call: Call, server_id: str) -> Response:
    data = call.json()
    if not isinstance(data, dict) or len(data) != 1:
        raise bad_request("There is no such action: None")
    name, args = next(iter(data.items()))
    handler = _ACTIONS.get(name)
    if handler is None:
        raise bad_request(f"There is no such action: {name}")
    cell, inst = srv.lookup(call, server_id)
    response: Response = handler(call, cell, inst, args)
    return response


def _need_host(cell: m.CellMapping | None, inst: dict[str, Any], method: str) -> m.CellMapping:
    if cell is None or not inst.get("host"):
        raise invalid_state(inst["uuid"], "vm_state", inst.get("vm_state"), method)
    return cell


def _power_action(
    call: Call,
    cell: m.CellMapping | None,
    inst: dict[str, Any],
    method: str,
    allowed: tuple[str, ...],
    task: str,
    rpc: str,
    **kwargs: Any,
) -> Response:
    cell = _need_host(cell, inst, method)
    srv.check_lock(call, inst)
    if inst.get("vm_state") not in allowed or inst.get("task_state"):
        attr, value = (
            ("task_state", inst.get("task_state"))
            if inst.get("task_state")
            else ("vm_state", inst.get("vm_state"))
        )
        raise invalid_state(inst["uuid"], attr, value, method)
    srv.record_action(call, cell, inst, method)
    srv.save(call, cell, inst["uuid"], task_state=task)
    nova(call).rpc_client("compute", inst["host"]).cast(rpc, instance_uuid=inst["uuid"], **kwargs)
    return empty_response(202)


def _stop(call: Call, cell: m.CellMapping | None, inst: dict[str, Any], raw: Any) -> Response:
    return _power_action(
        call, cell, inst, "stop", ("active", "error"), "powering-off", "stop_instance"
    )


def _start(call: Call, cell: m.CellMapping | None, inst: dict[str, Any], raw: Any) -> Response:
    return _power_action(call, cell, inst, "start", ("stopped",), "powering-on", "start_instance")


def _reboot(call: Call, cell: m.CellMapping | None, inst: dict[str, Any], raw: Any) -> Response:
    args = raw if isinstance(raw, dict) else {}
    kind = str(args.get("type", "")).upper()
    if kind not in ("SOFT", "HARD"):
        raise bad_request(
            f"Invalid input for field/attribute type. Value: {args.get('type')}. "
            f"{args.get('type')!r} is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']"
        )
    task = "rebooting" if kind == "SOFT" else "rebooting_hard"
    return _power_action(
        call,
        cell,
        inst,
        "reboot",
        ("active", "stopped", "error") if kind == "HARD" else ("active",),
        task,
        "reboot_instance",
        reboot_type=kind,
    )


def _console(call: Call, cell: m.CellMapping | None, inst: dict[str, Any], raw: Any) -> Response:
    """``os-getConsoleOutput``: nova-api asks the server's compute over RPC (a *call*,
    ``rpc_response_timeout``), which reads the guest's serial console from its
    hypervisor and keeps the last ``length`` lines as Nova's ``_tail_log`` does."""
    args = raw if isinstance(raw, dict) else {}
    length = args.get("length")
    if length is not None:
        text = str(length)
        if isinstance(length, bool) or not re.fullmatch(r"-?[0-9]+", text) or int(text) < -1:
            raise bad_request(f"Invalid input for field/attribute length. Value: {length}.")
    if cell is None or not inst.get("host"):
        raise conflict(f"Instance {inst['uuid']} is not ready")
    try:
        output = (
            nova(call)
            .rpc_client("compute", inst["host"])
            .call("get_console_output", instance_uuid=inst["uuid"], tail_length=length)
        )
    except RemoteError as exc:
        if exc.exc_type in ("InstanceNotFound", "ConsoleNotAvailable"):
            raise not_found(exc.value) from None
        raise _unexpected(exc.exc_type) from None
    except MessagingTimeout:
        raise _unexpected("oslo_messaging.exceptions.MessagingTimeout") from None
    # Nova drops the control characters an XML body could not carry (tab and newline stay)
    return json_response({"output": re.sub(r"[\x00-\x08\x0b-\x1f]", "", str(output))})


def _unexpected(kind: str) -> NovaError:
    return NovaError(
        "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and "
        f"attach the Nova API log if possible.\n<class '{kind}'>",
        status=500,
    )


def _lock(call: Call, cell: m.CellMapping | None, inst: dict[str, Any], raw: Any) -> Response:
    args = raw if isinstance(raw, dict) else {}
    cell = _need_host(cell, inst, "lock") if cell is None else cell
    reason = args.get("locked_reason") if microversion_at_least(call, "2.73") else None
    srv.record_action(call, cell, inst, "lock")
    srv.save(call, cell, inst["uuid"], locked=True, locked_reason=reason)
    return empty_response(202)


def _unlock(call: Call, cell: m.CellMapping | None, inst: dict[str, Any], raw: Any) -> Response:
    cell = _need_host(cell, inst, "unlock") if cell is None else cell
    srv.record_action(call, cell, inst, "unlock")
    srv.save(call, cell, inst["uuid"], locked=False, locked_reason=None)
    return empty_response(202)


_ACTIONS: dict[str, Any] = {
    "os-stop": _stop,
    "os-start": _start,
    "reboot": _reboot,
    "os-getConsoleOutput": _console,
    "lock": _lock,
    "unlock": _unlock,
    "forceDelete": _force_delete,
    **server_moves.ACTIONS,
    **server_admin.ACTIONS,
    **secgroups.ACTIONS,
}


# ---- instance actions ----------------------------------------------------------------------------


def _actions_of(call: Call, server_id: str) -> tuple[m.CellMapping | None, list[m.InstanceAction]]:
    cells = nova(call).nova_cells
    if not is_uuid(server_id):
        raise instance_not_found(server_id)
    with cells.api.read() as s:
        mapping = s.get(m.InstanceMapping, server_id)
        cell = s.get(m.CellMapping, mapping.cell_id) if mapping and mapping.cell_id else None
    if mapping is None or not (
        caller(call).is_admin or caller(call).project_id == mapping.project_id
    ):
        # Nova looks the instance up first (common.get_instance), project-only for a
        # non-admin: another project's server is not found, before any policy check.
        raise instance_not_found(server_id)
    owner_or_admin(call, mapping.project_id, "os_compute_api:os-instance-actions:list")
    if cell is None:
        return None, []
    with cells.cell(cell).read() as s:
        rows = list(
            s.scalars(
                select(m.InstanceAction)
                .where(m.InstanceAction.instance_uuid == server_id)
                .order_by(m.InstanceAction.id.desc())
            )
        )
        for row in rows:
            _ = row.events  # loaded while the session is open
    return cell, rows


def _action_view(call: Call, row: m.InstanceAction) -> dict[str, Any]:
    out: dict[str, Any] = {
        "action": row.action,
        "instance_uuid": row.instance_uuid,
        "message": row.message,
        "project_id": row.project_id,
        "request_id": row.request_id,
        "start_time": row.start_time,
        "user_id": row.user_id,
    }
    if microversion_at_least(call, "2.58"):
        out["updated_at"] = row.updated_at
    return out


@routes.get("/v2.1/servers/{server_id}/os-instance-actions")
def list_actions(call: Call, server_id: str) -> Response:
    _, rows = _actions_of(call, server_id)
    return json_response({"instanceActions": [_action_view(call, r) for r in rows]})


@routes.get("/v2.1/servers/{server_id}/os-instance-actions/{request_id}")
def show_action(call: Call, server_id: str, request_id: str) -> Response:
    _, rows = _actions_of(call, server_id)
    row = next((r for r in rows if r.request_id == request_id), None)
    if row is None:
        raise not_found(f"Action for request_id {request_id} on instance {server_id} not found")
    who = caller(call)
    out = _action_view(call, row)
    events = []
    for event in row.events:
        shown: dict[str, Any] = {
            "event": event.event,
            "start_time": event.start_time,
            "finish_time": event.finish_time,
            "result": event.result,
        }
        if who.is_admin:
            shown["traceback"] = event.traceback
        if microversion_at_least(call, "2.62"):
            if who.is_admin:
                shown["host"] = event.host
            shown["hostId"] = views.host_id({"host": event.host, "project_id": row.project_id})
        if microversion_at_least(call, "2.84"):
            shown["details"] = event.details
        events.append(shown)
    out["events"] = events
    return json_response({"instanceAction": out})
