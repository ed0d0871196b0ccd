"""A boot's hops on real hosts, from what the real cloud records: the server's actions and
events (``openstack server event list``) and the services' log lines that carry the boot's
request id, collected from every host over SSH.

The sim records every hop as it happens; a real cloud does not. What it does keep:

* nova-api's request id (``req-...``) on the ``create`` action, and each action's events
  with their host and times (``compute__do_build_and_run_instance`` on the compute host);
* that same id in every log line written while serving the request -- in nova-api's,
  nova-conductor's, nova-scheduler's and nova-compute's own logs (the id travels in the RPC
  context), and, as the *global* request id, in the logs of the services Nova calls with it
  (Placement, Glance, Neutron receive it in the ``X-OpenStack-Request-ID`` header).

:func:`hops` turns those into the same hop list the sim's trace gives (``source``,
``target``, ``action``, ``status``, ``at``, ``kind``), so
:func:`labkit.diagrams.graphs.request_flow`
draws both. Who called Placement, Glance or Neutron is not in their logs: the caller is
named from the path and the moment (before the compute host's build began, nova-api was
checking the request; after, nova-compute was building), as a reader of those logs would.
The RPC hops between Nova's services (``schedule_and_build_instances``,
``select_destinations``, ``build_and_run_instance``) are in Nova's code for every boot and
are placed at the moment the hop they lead to shows up.

Introduced in notebooks/04-nova (on real hosts).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

LOG_DIRS = ("nova", "neutron", "placement", "glance", "keystone")
# Log file stem -> the participant the sequence diagram names.
SERVICES = {
    "nova-api": "nova-api",
    "nova-conductor": "nova-conductor",
    "nova-scheduler": "nova-scheduler",
    "nova-compute": "nova-compute",
    "placement-api": "placement-api",
    "glance-api": "glance-api",
    "neutron-api": "neutron-server",
    "neutron-server": "neutron-server",
    "neutron-rpc-server": "neutron-server",
    "keystone": "keystone",
}
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?)")
# The request lines of Nova's and Placement's request logs ("GET /path" status: 200) and of
# eventlet's WSGI server in Glance ("GET /path HTTP/1.1" 200 1298).
_REQUEST = re.compile(r'"(GET|PUT|POST|DELETE|PATCH|HEAD) (\S+)[^"]*"\s+(?:status:\s*)?(\d{3})\b')
# The caller's address, right after the bracketed context: "...default default] 10.64.0.3 "
_CLIENT = re.compile(r"\] (\d{1,3}(?:\.\d{1,3}){3}) ")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # oslo.log's colour reset at the end of a line


@dataclass(frozen=True)
class LogLine:
    host: str
    service: str  # the participant, e.g. "nova-compute"
    file: str
    at: float  # seconds since the epoch (the hosts share this machine's clock)
    text: str


def parse_time(text: str) -> float | None:
    """``2026-12-03 05:31:02.123`` (oslo.log, UTC on the lab's hosts) or an API's ISO time
    (``2026-12-03T05:31:02.000000``, with or without a zone) as epoch seconds."""
    try:
        stamp = datetime.fromisoformat(text.strip().replace(" ", "T").removesuffix("Z"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def grep_command(request_id: str) -> str:
    """The shell command run on each host: every log line that names the request id."""
    folders = " ".join(f"/var/log/{d}" for d in LOG_DIRS)
    return f"grep -rHF --include='*.log' -e {shlex.quote(request_id)} {folders} 2>/dev/null; true"


def parse_grep(host: str, output: str) -> list[LogLine]:
    """``grep -H`` output (``/var/log/nova/nova-api.log:2026-... line``) as log lines."""
    out = []
    for raw in output.splitlines():
        path, sep, text = raw.partition(":")
        if not sep:
            continue
        stem = path.rsplit("/", 1)[-1].removesuffix(".log")
        text = _ANSI.sub("", text)
        found = _STAMP.match(text)
        at = parse_time(found.group(1)) if found else None
        if at is None:
            continue
        out.append(LogLine(host, SERVICES.get(stem, stem), path, at, text))
    return sorted(out, key=lambda line: line.at)


def collect(run: Any, hosts: Iterable[str], request_id: str) -> list[LogLine]:
    """The log lines naming ``request_id`` on every host; ``run(host, command)`` returns a
    result with ``stdout`` (labkit's SSH connections to the hosts)."""
    lines: list[LogLine] = []
    for host in hosts:
        lines += parse_grep(host, str(run(host, grep_command(request_id)).stdout))
    return sorted(lines, key=lambda line: line.at)


def _caller(
    line: LogLine,
    path: str,
    build_started: float | None,
    build_host: str,
    hosts: dict[str, str],
    controller: str,
) -> str:
    """Who made this request. The line names the caller's address: a host other than the
    controller runs only nova-compute among Nova's services; from the controller, once the
    build began there, it is nova-compute, else nova-scheduler for Placement and nova-api
    for Glance and Neutron (checking the image, network and groups before it answers)."""
    found = _CLIENT.search(line.text)
    host = hosts.get(found.group(1), "") if found else ""
    if host and host != controller:
        return "nova-compute"
    # Action times have whole seconds: a second's slack.
    building = build_started is not None and line.at >= build_started + 1.0
    if host == build_host and building:
        return "nova-compute"
    if line.service == "placement-api":
        return "nova-scheduler"
    return "nova-api"


def hops(
    actions: list[dict[str, Any]],
    lines: list[LogLine],
    hosts: dict[str, str] | None = None,
    controller: str = "controller",
) -> list[dict[str, Any]]:
    """The boot as hops (see the module docstring). ``actions``: the server's ``create``
    action as ``GET .../os-instance-actions/{request_id}`` returns it (``start_time`` and
    ``events`` with ``event``, ``host``, ``start_time``, ``finish_time``, ``result``);
    ``hosts``: address -> host name of the env's hosts, to name callers."""
    events: list[dict[str, Any]] = []

    def add(
        source: str, target: str, action: str, at: float, status: str = "", kind: str = "http"
    ) -> None:
        events.append(
            {
                "id": len(events) + 1,
                "source": source,
                "target": target,
                "action": action,
                "status": status,
                "at": at,
                "kind": kind,
            }
        )

    create = actions[0] if actions else {}
    created = parse_time(str(create.get("start_time") or "")) or (lines[0].at if lines else 0.0)
    build_started = None
    build_host = ""
    for event in create.get("events") or []:
        if "build_and_run_instance" in str(event.get("event", "")):
            build_started = parse_time(str(event.get("start_time") or ""))
            build_host = str(event.get("host") or "")
    api_done = False
    scheduled = False
    for line in lines:
        request = _REQUEST.search(line.text)
        if line.service == "nova-api" and request and not api_done:
            method, path, status = request.groups()
            add(
                "client",
                "nova-api",
                f"{method} {path.split('?')[0]}",
                min(line.at, created),
                status,
            )
            add("nova-api", "nova-conductor", "schedule_and_build_instances", line.at, kind="cast")
            api_done = True
        elif line.service in ("placement-api", "glance-api", "neutron-server") and request:
            method, path, status = request.groups()
            caller = _caller(line, path, build_started, build_host, hosts or {}, controller)
            if caller == "nova-scheduler" and not scheduled:
                add(
                    "nova-conductor",
                    "nova-scheduler",
                    "select_destinations",
                    line.at - 0.001,
                    kind="call",
                )
                scheduled = True
            add(caller, line.service, f"{method} {path.split('?')[0]}", line.at, status)
    if not api_done:
        add("client", "nova-api", "POST /servers", created)
        add("nova-api", "nova-conductor", "schedule_and_build_instances", created, kind="cast")
    if build_started is not None:
        if not scheduled:
            add(
                "nova-conductor",
                "nova-scheduler",
                "select_destinations",
                build_started - 0.002,
                kind="call",
            )
        target = "nova-compute"
        add(
            "nova-conductor",
            target,
            f"build_and_run_instance ({build_host})",
            build_started - 0.001,
            kind="cast",
        )
    return sorted(events, key=lambda e: (e["at"], e["id"]))
