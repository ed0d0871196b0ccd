"""Routes of the control API (see the package docstring)."""

from __future__ import annotations

import base64
import os
from typing import TYPE_CHECKING

from starlette.responses import Response

from labkit.install.steps import step_from_dict
from labkit.sim.core.bus import Bus
from labkit.sim.core.http import Call, HttpError, Routes, ServiceApp, json_response
from labkit.sim.core.runtime import Runtime
from labkit.sim.core.wire import METADATA_ADDRESS, Wire, WireError, WireRequest
from labkit.sim.machines.machines import Machines, is_safe_path
from labkit.sim.machines.shell import Shell

if TYPE_CHECKING:
    from labkit.sim.gateway import Gateway

routes = Routes()


class ControlApp(ServiceApp):
    name = "sim"
    prefix = "/_sim"

    def __init__(
        self, runtime: Runtime, machines: Machines, shell: Shell, bus: Bus, wire: Wire | None = None
    ) -> None:
        super().__init__(runtime, routes)
        self.machines = machines
        self.shell = shell
        self.bus = bus
        self.wire = wire  # the sim's networks (for /wire/http)
        self.gateway: Gateway | None = None  # the server process attaches its gateway

    def attach_gateway(self, gateway: Gateway) -> None:
        """The lab's door into the guests (:mod:`labkit.sim.gateway`), shown by ``/wire``."""
        self.gateway = gateway

    def bad_json(self) -> HttpError:
        return HttpError("request body is not valid JSON", status=400)


def _sim(call: Call) -> ControlApp:
    service = call.service
    assert isinstance(service, ControlApp)
    return service


def _host(call: Call, host: str) -> None:
    hosts = _sim(call).machines.hosts
    if host not in hosts:
        raise HttpError(f"no host {host!r}; hosts: {', '.join(hosts)}", status=404)


@routes.get("/health")
def health(call: Call) -> Response:
    rt = call.runtime
    return json_response(
        {
            "status": "ok",
            "env": rt.config.env_name,
            "pid": os.getpid(),
            "port": rt.config.port,
            "deterministic": rt.config.deterministic,
            "internal_errors": rt.internal_errors,
            "sim_time": rt.now().isoformat(),
            "services": {f"{s.host}/{s.name}": s.state for s in _sim(call).machines.services()},
        }
    )


@routes.get("/hosts")
def hosts(call: Call) -> Response:
    m = _sim(call).machines
    out = []
    for host in call.runtime.config.hosts:
        out.append(
            {
                "name": host.name,
                "address": host.address,
                "roles": list(host.roles),
                "cpus": host.cpus,
                "ram_gb": host.ram_gb,
                "disk_gb": host.disk_gb,
                "packages": m.installed(host.name),
                "services": [
                    {"name": s.name, "state": s.state, "since": s.since, "detail": s.detail}
                    for s in m.services(host.name)
                ],
                "databases": m.databases(host.name),
            }
        )
    return json_response(
        {
            "hosts": out,
            "network": {
                "cidr": call.runtime.config.network_cidr,
                "gateway": call.runtime.config.network_gateway,
            },
        }
    )


@routes.get("/wire")
def wire(call: Call) -> Response:
    """The provider network as the router sees it: the gateway clients connect through
    (host, port, router address), every endpoint on the wire, and each host's firewall as
    ``iptables -S`` lists the Linux bridge agent's chains."""
    gateway = _sim(call).gateway
    if gateway is None:
        raise HttpError(
            "this sim has no gateway: it runs inside another program, not as "
            "`python -m labkit.sim serve`",
            status=404,
        )
    endpoints = [
        {
            "address": e.address,
            "network_id": e.network_id,
            "host": e.host,
            "port_id": e.port_id,
            "listening": sorted(f"{proto}/{port}" for proto, port in e.listeners)
            + sorted(f"http/{port}" for port in e.http),
            "answers_ping": e.answers_ping,
        }
        for e in sorted(gateway.wire.endpoints(), key=lambda e: (e.network_id, e.address))
    ]
    firewalls = {fw.host: fw.iptables_save() for fw in gateway.wire.firewalls()}
    return json_response(
        {"gateway": gateway.describe(), "endpoints": endpoints, "firewalls": firewalls}
    )


@routes.post("/wire/http")
def wire_http(call: Call) -> Response:
    """An HTTP request sent on the wire from an address, as a guest there would send it (a
    lab and debugging tool: ``curl http://169.254.169.254/...`` from inside a guest).

    Body: ``source`` (the sender's address), ``path``, and optionally ``method`` (GET),
    ``destination`` (169.254.169.254), ``port`` (80), ``headers``, ``body`` (text) and
    ``network_id`` (default: the network the source address is attached to). The answer is
    ``{"ok": true, "status", "headers", "body", "body_base64"}``, or ``{"ok": false,
    "verdict", "error"}`` when no connection is made (``refused``, ``filtered`` ...)."""
    wire = _sim(call).wire
    if wire is None:
        raise HttpError("this sim has no wire", status=404)
    data = call.json()
    if not isinstance(data, dict) or not isinstance(data.get("source"), str):
        raise HttpError('expected {"source": ADDRESS, "path": "/..."}', status=400)
    source, path = data["source"], data.get("path", "/")
    method, headers = data.get("method", "GET"), data.get("headers") or {}
    destination, port = data.get("destination", METADATA_ADDRESS), data.get("port", 80)
    body = data.get("body", "")
    if not (
        isinstance(path, str)
        and path.startswith("/")
        and isinstance(method, str)
        and isinstance(headers, dict)
        and isinstance(destination, str)
        and isinstance(port, int)
        and isinstance(body, str)
    ):
        raise HttpError("path must start with /; headers is an object; port a number", status=400)
    network_id = data.get("network_id")
    if not network_id:
        sender = wire.endpoint(source)
        if sender is None:
            raise HttpError(
                f"no endpoint on the wire has the address {source}: give network_id", status=400
            )
        network_id = sender.network_id
    request = WireRequest(
        source=source,
        network_id=str(network_id),
        method=method.upper(),
        path=path,
        headers={str(k): str(v) for k, v in headers.items()},
        body=body.encode(),
    )
    try:
        answer = wire.http(request, destination, port)
    except WireError as exc:
        return json_response({"ok": False, "verdict": exc.verdict.value, "error": str(exc)})
    return json_response(
        {
            "ok": True,
            "status": answer.status,
            "headers": answer.headers,
            "body": answer.body.decode(errors="replace"),
            "body_base64": base64.b64encode(answer.body).decode(),
        }
    )


@routes.get("/hosts/{host}/file")
def read_file(call: Call, host: str) -> Response:
    _host(call, host)
    path = call.query.get("path", "")
    if not is_safe_path(path):
        raise HttpError("path must be a plain absolute path", status=400)
    target = _sim(call).machines.path(host, path)
    if target.is_dir():
        entries = sorted(p.name + ("/" if p.is_dir() else "") for p in target.iterdir())
        return json_response({"path": path, "kind": "dir", "entries": entries})
    if not target.is_file():
        raise HttpError(f"{path}: No such file or directory", status=404)
    stat = target.stat()
    # Image files run to gigabytes: only small files are read (and sent) whole.
    text = target.read_bytes().decode(errors="replace") if stat.st_size <= 1_000_000 else ""
    return json_response(
        {
            "path": path,
            "kind": "file",
            "size": stat.st_size,
            "mode": oct(stat.st_mode & 0o777),
            "content": text,
        }
    )


@routes.post("/hosts/{host}/steps")
def run_step(call: Call, host: str) -> Response:
    _host(call, host)
    data = call.json()
    if not isinstance(data, dict) or not isinstance(data.get("step"), dict):
        raise HttpError('expected {"step": {...}, "mode": "check"|"apply"}', status=400)
    try:
        step = step_from_dict({**data["step"], "host": host})
    except (TypeError, ValueError) as exc:
        raise HttpError(f"not a valid step: {exc}", status=400) from None
    secrets: dict[str, str] = data.get("secrets") or {}
    changed: set[str] = set(data.get("changed_paths") or [])
    shell = _sim(call).shell
    if data.get("mode") == "check":
        return json_response({"done": shell.check(step, secrets, changed)})
    outcome = shell.apply(step, secrets, changed)
    return json_response(
        {
            "done": outcome.done,
            "changed": outcome.changed,
            "exit_code": outcome.exit_code,
            "output": outcome.output,
            "changed_paths": sorted(changed),
        }
    )


@routes.post("/hosts/{host}/services/{name}/{action}")
def service_action(call: Call, host: str, name: str, action: str) -> Response:
    _host(call, host)
    m = _sim(call).machines
    try:
        if action == "start":
            lines = m.start(host, name)
        elif action == "restart":
            lines = m.start(host, name, restart=True)
        elif action == "stop":
            lines = m.stop(host, name)
        else:
            raise HttpError("action must be start, stop or restart", status=400)
    except RuntimeError as exc:
        return json_response({"ok": False, "output": [str(exc)]}, 409)
    return json_response({"ok": True, "output": lines})


@routes.get("/trace")
def trace(call: Call) -> Response:
    """Trace events in order: ``after`` an event id, of one ``request_id``, or of a whole
    user action (``global_request_id``: every hop it caused, in every service)."""
    try:
        after = int(call.query.get("after", "0"))
        limit = min(int(call.query.get("limit", "500")), 5000)
    except ValueError:
        raise HttpError("after and limit must be integers", status=400) from None
    events = call.runtime.tracer.events(
        after=after,
        limit=limit,
        request_id=call.query.get("request_id"),
        global_request_id=call.query.get("global_request_id"),
    )
    return json_response({"events": events})


@routes.get("/bus")
def bus(call: Call) -> Response:
    """What waits in the message queues (``rabbitmqctl list_queues``)."""
    return json_response({"queues": _sim(call).bus.queued(), "pending": _sim(call).bus.pending()})


@routes.post("/bus/{action}")
def bus_hold(call: Call, action: str) -> Response:
    """``hold`` / ``release`` the messages of one RPC method (``?method=``), for drills."""
    method = call.query.get("method", "")
    if not method.isidentifier():
        raise HttpError("method must be an RPC method name", status=400)
    if action == "hold":
        _sim(call).bus.hold(method)
    elif action == "release":
        _sim(call).bus.release(method)
    else:
        raise HttpError("action must be hold or release", status=404)
    return json_response({"queues": _sim(call).bus.queued()})


@routes.post("/quiesce")
def quiesce(call: Call) -> Response:
    """Wait until background work on the bus is done (scripts and tests; ``?timeout=`` s)."""
    try:
        timeout = min(float(call.query.get("timeout", "30")), 300.0)
    except ValueError:
        raise HttpError("timeout must be a number of seconds", status=400) from None
    idle = _sim(call).bus.wait_idle(timeout)
    return json_response({"idle": idle, "pending": _sim(call).bus.pending()}, 200 if idle else 409)


@routes.post("/clock/advance")
def advance_clock(call: Call) -> Response:
    """Let sim time pass (``?seconds=``): in deterministic mode the steady clock moves only
    with requests, so drills that wait for a heartbeat to age ask for time this way."""
    try:
        seconds = int(call.query.get("seconds", "0"))
    except ValueError:
        raise HttpError("seconds must be an integer", status=400) from None
    if not 0 <= seconds <= 86400:
        raise HttpError("seconds must be between 0 and 86400", status=400)
    if not call.runtime.config.deterministic:
        raise HttpError("this sim runs on real time: wait instead", status=409)
    call.runtime.wait(seconds)
    return json_response({"sim_time": call.runtime.now().isoformat()})


@routes.get("/logs/{service}")
def logs(call: Call, service: str) -> Response:
    if not service.replace("-", "").isalnum():
        raise HttpError("bad log name", status=400)
    call.runtime.flush_logs()
    path = call.runtime.logs_dir / f"{service}.log"
    if not path.is_file():
        raise HttpError(f"no log {service}.log", status=404)
    try:
        tail = max(1, int(call.query.get("tail", "50")))
    except ValueError:
        raise HttpError("tail must be an integer", status=400) from None
    lines = path.read_text(errors="replace").splitlines()[-tail:]
    return json_response({"service": service, "lines": lines})


def create(
    runtime: Runtime, machines: Machines, shell: Shell, bus: Bus, wire: Wire | None = None
) -> ControlApp:
    return ControlApp(runtime, machines, shell, bus, wire)
