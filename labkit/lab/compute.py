"""The compute facade: services and hypervisors, flavors, a boot followed hop by hop, the
scheduler's decision, the logs of one request, and drills.

Everything a real cloud shows comes through its APIs (so it works on real hosts and on an
existing cloud); the hop-by-hop trace, the scheduler's decision table and the services' logs
come from the sim, which records them.

Introduced in notebooks/04-nova.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labkit.display import Table, Text
from labkit.errors import LabkitError
from labkit.lab import realtrace
from labkit.lab.backends import Backend, SimBackend
from labkit.lab.identity import Identity

if TYPE_CHECKING:
    from openstack.compute.v2.server import Server

    from labkit.diagrams import Diagram

# The components a boot's trace passes through, in the order a sequence diagram shows them.
BOOT_PARTICIPANTS = (
    "client",
    "nova-api",
    "keystone",
    "nova-conductor",
    "nova-scheduler",
    "placement-api",
    "nova-compute",
    "glance-api",
    "neutron-server",
)


class Compute:
    def __init__(self, backend: Backend, identity: Identity) -> None:
        self.backend = backend
        self.identity = identity

    def _sim(self) -> SimBackend:
        if not isinstance(self.backend, SimBackend):
            raise LabkitError(
                "Only the sim records every hop of a request.",
                "On real hosts, read the services' logs for the request id instead "
                "(grep REQUEST_ID /var/log/nova/*.log).",
            )
        return self.backend

    # ---- services, hypervisors, flavors -------------------------------------------------
    def services(self) -> Table:
        """``openstack compute service list``: each Nova service, its host, up or down."""
        conn = self.identity.connect("admin")
        table = Table(["binary", "host", "zone", "status", "state"], title="Compute services")
        for s in sorted(conn.compute.services(), key=lambda s: (s.binary, s.host)):
            table.add(
                s.binary,
                s.host,
                s.availability_zone,
                s.status,
                s.state,
                mark="ok" if s.state == "up" else "fail",
            )
        return table

    def hypervisors(self) -> Table:
        """``openstack hypervisor list`` with what Placement says each host has and uses."""
        conn = self.identity.connect("admin")
        table = Table(
            ["hypervisor", "type", "host IP", "state", "vCPU used/total", "RAM MB used/total"],
            title="Hypervisors",
        )
        usage = self._placement_usage(conn)
        for h in sorted(conn.compute.hypervisors(details=True), key=lambda h: h.name):
            used, total = usage.get(h.name, ({}, {}))
            table.add(
                h.name,
                h.hypervisor_type,
                h.host_ip,
                h.state,
                f"{used.get('VCPU', 0)}/{total.get('VCPU', '?')}",
                f"{used.get('MEMORY_MB', 0)}/{total.get('MEMORY_MB', '?')}",
                mark="ok" if h.state == "up" else "fail",
            )
        return table

    @staticmethod
    def _placement_usage(conn: Any) -> dict[str, tuple[dict[str, int], dict[str, int]]]:
        out: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
        placement = conn.placement
        try:
            providers = list(placement.resource_providers())
        except Exception:  # an existing cloud may not let this user read Placement
            return out
        for rp in providers:
            inventories = {
                i.resource_class: int((i.total - i.reserved) * i.allocation_ratio)
                for i in placement.resource_provider_inventories(rp)
            }
            usages = placement.get(f"/resource_providers/{rp.id}/usages").json().get("usages", {})
            out[rp.name] = (usages, inventories)
        return out

    def flavors(self) -> Table:
        """The flavors as t-shirt sizes."""
        conn = self.identity.connect("admin")
        table = Table(["flavor", "id", "vCPU", "RAM MB", "disk GB"], title="Flavors")
        for f in sorted(conn.compute.flavors(), key=lambda f: (f.ram, f.vcpus)):
            table.add(f.name, f.id, f.vcpus, f.ram, f.disk)
        return table

    def guests(self) -> list[dict[str, str]]:
        """Every server as the topology draws it: name, address, host (admin's view)."""
        conn = self.identity.connect("admin")
        out = []
        for s in conn.compute.servers(details=True, all_projects=True):
            addresses = [a["addr"] for net in (s.addresses or {}).values() for a in net]
            out.append(
                {
                    "name": s.name,
                    "address": addresses[0] if addresses else "",
                    "host": s.compute_host or "",
                }
            )
        return sorted(out, key=lambda g: g["name"])

    # ---- a boot, followed -------------------------------------------------------------------
    def boot(
        self,
        name: str,
        flavor: str = "m1.medium",
        image: str = "trusty",
        user: str = "admin",
        wait: bool = True,
        **extra: Any,
    ) -> Server:
        """``openstack server create --flavor FLAVOR --image IMAGE [--wait] NAME``."""
        conn = self.identity.connect(user)
        compute = conn.compute
        server = compute.create_server(
            name=name,
            flavor_id=compute.find_flavor(flavor, ignore_missing=False).id,
            image_id=conn.image.find_image(image, ignore_missing=False).id,
            networks=extra.pop("networks", "auto"),
            **extra,
        )
        if wait:
            server = compute.wait_for_server(
                server, status="ACTIVE", failures=["ERROR"], interval=0.5, wait=300
            )
        return server

    def _server(self, server: Server | str) -> Server:
        conn = self.identity.connect("admin")
        ident = server if isinstance(server, str) else server.id
        found = conn.compute.find_server(ident, ignore_missing=False, all_projects=True)
        return conn.compute.get_server(found.id)

    def create_request_id(self, server: Server | str) -> str:
        """The request id nova-api gave the ``create`` (every hop of the boot carries it)."""
        conn = self.identity.connect("admin")
        found = self._server(server)
        for action in conn.compute.server_actions(found):
            if action.action == "create":
                return str(action.request_id)
        raise LabkitError(f"{found.name} has no create action", "Was it booted by this cloud?")

    def events(self, server: Server | str) -> Table:
        """``openstack server event list`` and ``event show``: actions and their events."""
        conn = self.identity.connect("admin")
        found = self._server(server)
        table = Table(
            ["action", "request id", "event", "host", "result", "start", "finish"],
            title=f"Instance actions of {found.name}",
        )
        for action in reversed(list(conn.compute.server_actions(found))):
            detail = conn.compute.get_server_action(action.request_id, found)
            events = detail.events or [{}]
            for event in events:
                table.add(
                    action.action,
                    action.request_id[:12] + "…",
                    event.get("event", ""),
                    event.get("host", ""),
                    event.get("result", action.message or ""),
                    event.get("start_time", action.start_time),
                    event.get("finish_time", ""),
                    mark="fail" if event.get("result") == "Error" else "",
                )
        return table

    def _real_hosts(self) -> bool:
        return not isinstance(self.backend, SimBackend) and self.backend.has_hosts

    def _host_log_lines(self, request_id: str) -> list[realtrace.LogLine]:
        """Every log line naming ``request_id`` on every host of the env (over SSH)."""
        files = self.backend.host_files()
        hosts = [h.name for h in self.backend.env.hosts]  # type: ignore[union-attr]
        return realtrace.collect(files.run, hosts, request_id)  # type: ignore[attr-defined]

    def trace(self, server: Server | str) -> list[dict[str, Any]]:
        """Every hop of a server's boot: the sim's trace; on real hosts the hops read from
        the server's create action and the log lines carrying its request id
        (:mod:`labkit.lab.realtrace`)."""
        rid = self.create_request_id(server)
        if self._real_hosts():
            conn = self.identity.connect("admin")
            detail = conn.compute.get_server_action(rid, self._server(server))
            action = {"start_time": detail.start_time, "events": detail.events or []}
            env = self.backend.env
            addresses = {h.address: h.name for h in env.hosts}  # type: ignore[union-attr]
            return realtrace.hops(
                [action],
                self._host_log_lines(rid),
                addresses,
                self.backend.plan_context().controller.name,
            )
        return self._sim().client.trace(global_request_id=rid, limit=5000)

    def draw_boot(self, server: Server | str) -> Diagram:
        """The boot as a sequence diagram: client -> nova-api -> conductor -> scheduler ->
        placement -> compute -> glance / neutron, casts and calls marked."""
        from labkit.diagrams import Diagram, graphs

        events = [e for e in self.trace(server) if e["kind"] != "note"]
        return Diagram(
            graphs.request_flow(
                events, title="One boot, hop by hop", order=BOOT_PARTICIPANTS, by_start=True
            )
        )

    def scheduler_decision(self, server: Server | str) -> Table | Text:
        """Which filter kept or dropped which host, and each weigher's score (the sim
        records them; a real scheduler logs them only at debug level, so on real hosts this
        shows what it did log for the request, where the server went and why not)."""
        if self._real_hosts():
            return self._real_scheduler_decision(server)
        notes = [
            e
            for e in self.trace(server)
            if e["kind"] == "note" and e["action"] == "scheduler decision"
        ]
        if not notes:
            return Text("The scheduler recorded no decision for this boot.")
        detail = notes[-1]["detail"]
        table = Table(["host", "filter", "result", "why"], title="The scheduler's decision")
        for row in detail.get("filters", []):
            table.add(
                row["host"],
                row["filter"],
                "kept" if row["passed"] else "dropped",
                row["why"],
                mark="" if row["passed"] else "fail",
            )
        for host, scores in detail.get("weights", {}).items():
            parts = ", ".join(f"{k} {v}" for k, v in scores.items() if k != "total")
            table.add(host, "weighers", f"{scores.get('total', 0)}", parts, mark="ok")
        table.note = (
            f"Placement offered: {', '.join(detail.get('candidates', [])) or 'no host'}; "
            f"chosen: {notes[-1]['status']}."
        )
        return table

    def logs(
        self,
        request_id: str,
        services: tuple[str, ...] = (
            "nova-api",
            "nova-conductor",
            "nova-scheduler",
            "nova-compute",
            "placement-api",
            "keystone",
            "glance-api",
            "neutron-server",
        ),
    ) -> Text:
        """The lines each service logged for one request id (the sim's logs/; on real
        hosts the services' log files on every host, read over SSH)."""
        if self._real_hosts():
            return self._real_logs(request_id, services)
        client = self._sim().client
        out: list[str] = []
        for name in services:
            try:
                lines = client.log(name, tail=2000)
            except Exception:  # a service that never logged anything has no log file yet
                continue
            mine = [line for line in lines if request_id in line]
            if mine:
                out.append(f"== {name}.log")
                out += [f"  {line}" for line in mine[-8:]]
        return Text("\n".join(out) or f"No log line mentions {request_id}.")

    def wait_up(self, binary: str, host: str, timeout: float = 90.0) -> bool:
        """Wait until ``binary`` on ``host`` reports up (a real service needs a few seconds
        after its start for its first report); False if it did not within ``timeout``."""
        import time

        conn = self.identity.connect("admin")
        deadline = time.monotonic() + timeout
        while True:
            rows = list(conn.compute.services(binary=binary, host=host))
            if rows and all(r.state == "up" for r in rows):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(1.0)

    def _real_logs(self, request_id: str, services: tuple[str, ...]) -> Text:
        out: list[str] = []
        lines = self._host_log_lines(request_id)
        for name in services:
            for host in dict.fromkeys(line.host for line in lines):
                mine = [ln for ln in lines if ln.service == name and ln.host == host]
                if mine:
                    out.append(f"== {name} on {host} ({mine[0].file})")
                    out += [f"  {ln.text}" for ln in mine[-8:]]
        return Text("\n".join(out) or f"No log line on the hosts mentions {request_id}.")

    def _real_scheduler_decision(self, server: Server | str) -> Text:
        found = self._server(server)
        rid = self.create_request_id(found)
        lines = [ln for ln in self._host_log_lines(rid) if ln.service == "nova-scheduler"]
        fault = (found.fault or {}).get("message", "")
        where = (
            f"{found.name} went to {found.compute_host}."
            if found.compute_host
            else f"{found.name} found no host: {(fault or found.status).rstrip('.')}."
        )
        text = [
            where,
            "The real nova-scheduler logs each filter's verdict and each weigher's score only "
            "at debug level (`[DEFAULT] debug = True` in nova.conf on the controller, then "
            "restart nova-scheduler); at the lab's INFO level its log has for this request:",
        ]
        text += [f"  {ln.text}" for ln in lines[-12:]] or ["  (no line)"]
        return Text("\n".join(text))
