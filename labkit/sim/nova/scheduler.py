"""nova-scheduler: Placement's candidates, then Zed's filters and weighers, then a claim.

``select_destinations`` (an RPC *call* from the conductor) does what
``nova/scheduler/manager.py`` does:

1. ask Placement for allocation candidates for the flavor's VCPU / MEMORY_MB / DISK_GB
   (Placement already drops hosts without room: the RAM, disk and core filters of old);
   DISK_GB is root + ephemeral + swap rounded up to whole GB (:func:`resources_from_flavor`);
2. turn each candidate provider into a host state (the compute node and its service);
3. run the enabled filters -- ComputeFilter, ComputeCapabilitiesFilter,
   ImagePropertiesFilter, ServerGroupAntiAffinityFilter, ServerGroupAffinityFilter (and
   AvailabilityZoneFilter if enabled) -- recording which host each one kept or dropped, why;
4. weigh the survivors (RAM, CPU, disk weighers, each normalised to 0..1 across the hosts and
   multiplied by its ``*_weight_multiplier``) and sort;
5. claim the instance's resources on the best host with ``PUT /allocations/{instance}``
   (a 409 means someone else took them: try the next host), and return it with alternates.
   When one instance of a multi-server request finds no host, the claims already made for
   the earlier ones are deleted before NoValidHost is raised (``_ensure_sufficient_hosts``
   -> ``_cleanup_allocations``): a failed request holds nothing in Placement.

Every decision is recorded in the trace (a ``note`` event under the select_destinations hop)
so notebooks/04 can draw the decision table. No candidates or no host left is
NoValidHost, "No valid host was found. There are not enough hosts available."
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, select

from labkit.sim.core.context import RequestContext
from labkit.sim.core.sql import Prepared
from labkit.sim.nova import models as m
from labkit.sim.nova.clients import ServiceUnreachable
from labkit.sim.nova.service import NovaProcess

NO_VALID_HOST = "No valid host was found. There are not enough hosts available."


class NoValidHost(Exception):
    def __init__(self, reason: str = "") -> None:
        super().__init__(NO_VALID_HOST + (f" {reason}" if reason else ""))
        self.reason = reason


@dataclass
class HostState:
    host: str
    node: str
    uuid: str  # the compute node's uuid = its resource provider
    service: m.Service | None
    free_ram_mb: float
    free_disk_gb: float
    free_vcpus: float
    host_ip: str = ""
    hypervisor_type: str = "QEMU"
    # Is its nova-compute reporting (running, logged in to RabbitMQ)? Asked once per request,
    # as Nova reads each service's heartbeat once into its host states.
    reporting: bool = False
    weight: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)


class NovaScheduler(NovaProcess):
    name = "nova-scheduler"
    topic = "scheduler"

    def after_configure(self) -> None:
        self.register_service()

    def before_release(self) -> None:
        self.record_stop()

    # ---- RPC ---------------------------------------------------------------------------
    def select_destinations(
        self, ctx: RequestContext, spec: dict[str, Any], instance_uuids: list[str]
    ) -> list[list[dict[str, Any]]]:
        conf = self.nova_conf
        resources = resources_from_flavor(spec["flavor"])
        query = ",".join(f"{k}:{v}" for k, v in resources.items() if v)
        try:
            answer = self.placement.request(
                "GET", f"/allocation_candidates?resources={query}&limit=1000"
            )
        except ServiceUnreachable as exc:
            self.log.error("[%s] Failed to retrieve allocation candidates: %s", ctx.request_id, exc)
            raise NoValidHost("Failed to retrieve allocation candidates from placement") from None
        if answer.status_code != 200:
            self.log.error(
                "[%s] Placement answered %s to GET /allocation_candidates: %s",
                ctx.request_id,
                answer.status_code,
                answer.text[:300],
            )
            raise NoValidHost()
        body = answer.json()
        requests = body.get("allocation_requests") or []
        if not requests:
            self.log.debug(
                "[%s] Got no allocation candidates from the Placement API.", ctx.request_id
            )
            self.runtime.tracer.note(
                ctx,
                "note",
                "scheduler decision",
                "no candidates",
                resources=resources,
                hosts=[],
                filters=[],
                weights={},
            )
            raise NoValidHost()
        states = self._host_states(body.get("provider_summaries") or {})
        by_uuid = {s.uuid: s for s in states}
        candidates = [by_uuid[uuid] for uuid in _providers(requests) if uuid in by_uuid]
        group = spec.get("group")
        if group is not None:  # a copy: the hosts chosen below join it, for this request only
            spec = {**spec, "group": {**group, "hosts": list(group.get("hosts") or [])}}
        request_by_rp = {next(iter(r["allocations"])): r for r in requests}
        chosen: list[list[dict[str, Any]]] = []
        claimed: list[str] = []
        for index, uuid in enumerate(instance_uuids):
            # As Nova's _schedule: the filters and weighers run again for every instance
            # of a multi-create, on host states that already carry the earlier ones.
            # (the decisions are recorded for the first instance only: see the note below)
            decisions: list[dict[str, Any]] | None = [] if index == 0 else None
            hosts = self._filtered(ctx, candidates, spec, decisions)
            self._weigh(hosts, conf, scores=index == 0)
            hosts.sort(key=lambda s: (-s.weight, s.host))
            if index == 0:
                self.runtime.tracer.note(
                    ctx,
                    "note",
                    "scheduler decision",
                    hosts[0].host if hosts else "NoValidHost",
                    resources=resources,
                    candidates=[s.host for s in states],
                    filters=decisions,
                    weights={s.host: {"total": round(s.weight, 4), **s.scores} for s in hosts},
                )
            picked = None
            if hosts:
                try:
                    picked = self._claim(ctx, uuid, hosts, request_by_rp, spec)
                except Exception:
                    self._cleanup_allocations(ctx, claimed)
                    raise
            if picked is None:
                if hosts:
                    self.log.debug(
                        "[%s] Unable to successfully claim against any host.", ctx.request_id
                    )
                self.log.debug(
                    "[%s] There are %d hosts available but %d instances requested to build.",
                    ctx.request_id,
                    len(claimed),
                    len(instance_uuids),
                )
                self._cleanup_allocations(ctx, claimed)
                raise NoValidHost()
            claimed.append(uuid)
            alternates = [h for h in hosts if h is not picked][: conf.max_attempts - 1]
            chosen.append([_selection(picked)] + [_selection(h) for h in alternates])
            # Nova's _consume_selected_host: the next instance sees this host with less
            # free (so a batch spreads as the weighers intend) and, in a server group, the
            # host among the group's hosts (so anti-affinity keeps the next one off it).
            picked.free_ram_mb -= resources["MEMORY_MB"]
            picked.free_vcpus -= resources["VCPU"]
            picked.free_disk_gb -= resources["DISK_GB"]
            if spec.get("group") is not None:
                spec["group"]["hosts"].append(picked.host)
            for host in candidates:
                host.weight, host.scores = 0.0, {}
        return chosen

    def _filtered(
        self,
        ctx: RequestContext,
        hosts: list[HostState],
        spec: dict[str, Any],
        decisions: list[dict[str, Any]] | None,
    ) -> list[HostState]:
        """The hosts that pass the enabled filters (every decision appended to
        ``decisions``, unless None), or only the forced ones: an admin's zone:host skips
        the filters."""
        forced = list(spec.get("force_hosts") or [])
        if forced:
            kept = [s for s in hosts if s.host in forced or s.node in forced]
            if kept:
                self.log.info(
                    "[%s] Host filter forcing available hosts to %s",
                    ctx.request_id,
                    ", ".join(forced),
                )
            else:
                self.log.info(
                    "[%s] No hosts matched due to not matching 'force_hosts' value of '%s'",
                    ctx.request_id,
                    ", ".join(forced),
                )
            if decisions is not None:
                decisions += [
                    {"filter": "force_hosts", "host": s.host, "passed": True, "why": "forced"}
                    for s in kept
                ]
            return kept
        for name in self.nova_conf.enabled_filters:
            check = _FILTERS.get(name)
            if check is None:
                continue
            kept = []
            for state in hosts:
                ok, why = check(self, state, spec)
                if decisions is not None:
                    decisions.append({"filter": name, "host": state.host, "passed": ok, "why": why})
                if ok:
                    kept.append(state)
            hosts = kept
        return list(hosts)

    # ---- steps -------------------------------------------------------------------------
    def _host_states(self, summaries: dict[str, Any]) -> list[HostState]:
        states: list[HostState] = []
        for _, db in self.nova_cells.all():
            nodes = [m.ComputeNode(**dict(zip(_NODE_KEYS, r, strict=True))) for r in _NODES.all(db)]
            services = {
                x.id: x
                for x in (
                    m.Service(**dict(zip(_SERVICE_KEYS, r, strict=True))) for r in _SERVICES.all(db)
                )
            }
            for node in nodes:
                summary = summaries.get(node.uuid)
                if summary is None:
                    continue
                res = summary.get("resources", {})
                states.append(
                    HostState(
                        host=node.host,
                        node=node.hypervisor_hostname,
                        uuid=node.uuid,
                        service=services.get(node.service_id),
                        free_ram_mb=_free(res, "MEMORY_MB"),
                        free_disk_gb=_free(res, "DISK_GB"),
                        free_vcpus=_free(res, "VCPU"),
                        host_ip=node.host_ip,
                        hypervisor_type=node.hypervisor_type,
                    )
                )
        group = self.room.servicegroup
        for state in states:
            if state.service is not None:
                state.reporting = group.reporting(state.service.host, state.service.binary)
        return states

    def _weigh(self, hosts: list[HostState], conf: Any, scores: bool = True) -> None:
        """Each host's weight; with ``scores``, each weigher's share too (what the trace's
        decision table shows, for the first instance of a request)."""
        for name, attr, multiplier in (
            ("RAMWeigher", "free_ram_mb", conf.ram_weight_multiplier),
            ("CPUWeigher", "free_vcpus", conf.cpu_weight_multiplier),
            ("DiskWeigher", "free_disk_gb", conf.disk_weight_multiplier),
        ):
            values = [float(getattr(h, attr)) for h in hosts]
            low, high = (min(values), max(values)) if values else (0.0, 0.0)
            for host, value in zip(hosts, values, strict=True):
                normal = 0.0 if high == low else (value - low) / (high - low)
                score = normal * multiplier
                if scores:
                    host.scores[name] = round(score, 4)
                host.weight += score

    def _cleanup_allocations(self, ctx: RequestContext, instance_uuids: list[str]) -> None:
        """Delete the claims made for ``instance_uuids`` (Nova's ``_cleanup_allocations``,
        ``delete_allocation_for_instance(force=True)`` each): the request failed as a whole,
        so none of its servers may keep resources. Best effort, as Nova: a failure is logged."""
        if not instance_uuids:
            return
        self.log.debug("[%s] Cleaning up allocations for %s", ctx.request_id, instance_uuids)
        for uuid in instance_uuids:
            try:
                answer = self.placement.request("DELETE", f"/allocations/{uuid}")
            except ServiceUnreachable as exc:
                self.log.error(
                    "[%s] could not delete allocations of %s: %s", ctx.request_id, uuid, exc
                )
                continue
            if answer.status_code not in (204, 404):
                self.log.error(
                    "[%s] Placement answered %s deleting the allocations of %s: %s",
                    ctx.request_id,
                    answer.status_code,
                    uuid,
                    answer.text[:300],
                )

    def _claim(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        hosts: list[HostState],
        requests: dict[str, dict[str, Any]],
        spec: dict[str, Any],
    ) -> HostState | None:
        for host in hosts:
            request = requests.get(host.uuid)
            if request is None:
                continue
            body = {
                "allocations": request["allocations"],
                "project_id": spec["project_id"],
                "user_id": spec["user_id"],
                "consumer_generation": None,
            }
            answer = self.placement.request("PUT", f"/allocations/{instance_uuid}", json=body)
            if answer.status_code == 204:
                return host
            self.log.warning(
                "[%s] Unable to submit allocation for instance %s on %s (%s): trying the next",
                ctx.request_id,
                instance_uuid,
                host.host,
                answer.status_code,
            )
        return None


def resources_from_flavor(flavor: dict[str, Any]) -> dict[str, int]:
    """What one server of ``flavor`` asks Placement for (``nova/scheduler/utils.py``
    ``ResourceRequest``): its VCPU and MEMORY_MB, and DISK_GB = root + ephemeral + swap,
    the swap's MB rounded *up* to whole GB (``convert_mb_to_ceil_gb``): a 512 MB swap
    takes a whole GB of the host's disk. A resource of 0 is left out of the query."""
    swap_gb = math.ceil(int(flavor.get("swap") or 0) / 1024)
    return {
        "VCPU": int(flavor["vcpus"]),
        "MEMORY_MB": int(flavor["memory_mb"]),
        "DISK_GB": int(flavor["root_gb"]) + int(flavor.get("ephemeral_gb") or 0) + swap_gb,
    }


# ---- filters ---------------------------------------------------------------------------------


def _compute_filter(
    sched: NovaScheduler, state: HostState, spec: dict[str, Any]
) -> tuple[bool, str]:
    service = state.service
    if service is None:
        return False, "no nova-compute service for this node"
    if service.disabled:
        return False, f"disabled: {service.disabled_reason or 'no reason given'}"
    up = sched.room.servicegroup.is_up(
        service,
        sched.runtime.now().timestamp(),
        sched.nova_conf.service_down_time,
        reporting=state.reporting,
    )
    if not up:
        return False, "nova-compute is down (no heartbeat within service_down_time)"
    return True, "service up and enabled"


def _capabilities_filter(
    sched: NovaScheduler, state: HostState, spec: dict[str, Any]
) -> tuple[bool, str]:
    wanted = {
        k.split(":", 1)[1]: v
        for k, v in (spec["flavor"].get("extra_specs") or {}).items()
        if k.startswith("capabilities:")
    }
    have = {"hypervisor_type": state.hypervisor_type, "host_ip": state.host_ip}
    for key, value in wanted.items():
        if str(have.get(key, "")) != str(value).removeprefix("s== ").strip():
            return False, f"capabilities:{key} is {have.get(key)!r}, the flavor wants {value!r}"
    return True, "flavor's capabilities extra specs match" if wanted else "no capabilities asked"


def _image_filter(sched: NovaScheduler, state: HostState, spec: dict[str, Any]) -> tuple[bool, str]:
    props = spec.get("image") or {}
    wanted = props.get("hypervisor_type")
    if wanted and str(wanted).lower() != state.hypervisor_type.lower():
        return False, f"image wants hypervisor_type {wanted}, the host is {state.hypervisor_type}"
    arch = props.get("architecture")
    if arch and arch not in ("x86_64", "i686"):
        return False, f"image wants architecture {arch}, the host is x86_64"
    return True, "image properties fit"


def _group_filter(affinity: bool) -> Any:
    def check(sched: NovaScheduler, state: HostState, spec: dict[str, Any]) -> tuple[bool, str]:
        group = spec.get("group") or {}
        policy = group.get("policy")
        if policy not in (("affinity",) if affinity else ("anti-affinity",)):
            return True, "no server group with this policy"
        hosts = set(group.get("hosts") or [])
        if not hosts:
            return True, "the group has no members yet"
        if affinity:
            return (state.host in hosts), f"group members are on {', '.join(sorted(hosts))}"
        return (state.host not in hosts), f"group members are on {', '.join(sorted(hosts))}"

    return check


def _az_filter(sched: NovaScheduler, state: HostState, spec: dict[str, Any]) -> tuple[bool, str]:
    zone = spec.get("availability_zone")
    if zone and zone != sched.nova_conf.default_availability_zone:
        return False, f"the host is in {sched.nova_conf.default_availability_zone}, not {zone}"
    return True, "availability zone fits"


_FILTERS = {
    "ComputeFilter": _compute_filter,
    "ComputeCapabilitiesFilter": _capabilities_filter,
    "ImagePropertiesFilter": _image_filter,
    "ServerGroupAntiAffinityFilter": _group_filter(affinity=False),
    "ServerGroupAffinityFilter": _group_filter(affinity=True),
    "AvailabilityZoneFilter": _az_filter,
}


def _free(resources: dict[str, Any], name: str) -> float:
    r = resources.get(name) or {}
    return float(r.get("capacity", 0)) - float(r.get("used", 0))


def _providers(requests: list[dict[str, Any]]) -> list[str]:
    return [uuid for r in requests for uuid in r.get("allocations", {})]


def _selection(state: HostState) -> dict[str, Any]:
    return {"service_host": state.host, "nodename": state.node, "compute_node_uuid": state.uuid}


# the hosts' rows, read at every scheduling (compiled once, core/sql.py): each cell's
# compute nodes and services, made into the objects a session would have loaded
_NODE_TABLE = cast(Table, m.ComputeNode.__table__)
_SERVICE_TABLE = cast(Table, m.Service.__table__)
_NODE_KEYS = tuple(_NODE_TABLE.c.keys())
_SERVICE_KEYS = tuple(_SERVICE_TABLE.c.keys())
_NODES = Prepared(select(*_NODE_TABLE.c))
_SERVICES = Prepared(select(*_SERVICE_TABLE.c))
