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
        # Action times have whole seconds: the build's cast comes after the hops that
        # lead to it (the API's answer, the scheduler's claim), whatever the rounding.
        before = [
            e["at"] for e in events if e["source"] in ("client", "nova-api", "nova-scheduler")
        ]
        cast_at = max([build_started, *before]) + 0.001
        if not scheduled:
            add("nova-conductor", "nova-scheduler", "select_destinations", cast_at, kind="call")
            cast_at += 0.001
        add(
            "nova-conductor",
            "nova-compute",
            f"build_and_run_instance ({build_host})",
            cast_at,
            kind="cast",
        )
    return sorted(events, key=lambda e: (e["at"], e["id"]))


# ---- one dashboard page load, from the controller's logs ----------------------------------------

# The API logs a dashboard page's requests land in, and the service each file names.
PAGE_LOGS = {
    "/var/log/keystone/keystone.log": "keystone",
    "/var/log/nova/nova-api.log": "nova-api",
    "/var/log/glance/glance-api.log": "glance-api",
    "/var/log/neutron/neutron-api.log": "neutron-api",
    "/var/log/placement/placement-api.log": "placement-api",
}
# uWSGI's own request line (Keystone and Neutron log no request line of their own at INFO):
# [pid: 6060|app: 0|req: 458/912] 10.64.0.1 () {32 vars in 487 bytes} [Thu Dec  3 05:48:51
# 2026] POST /v3/auth/tokens => generated 3398 bytes in 587 msecs (HTTP/1.1 201) ...
_UWSGI = re.compile(
    r"^\[pid: \d+\|[^\]]*\] (\S+) \(\) \{[^}]*\} \[\w{3} (\w{3} +\d+ [\d:]{8} \d{4})\] "
    r"(GET|POST|PUT|DELETE|PATCH|HEAD) (\S+) => generated .*? in (\d+) msecs "
    r"\(HTTP/[\d.]+ (\d{3})\)"
)
# oslo.log's context: [global_request_id request_id user_id project_id ...]
_CONTEXT = re.compile(r"\[(\S+) (req-[0-9a-f-]+) (\S+) (\S+)")
_TIME_TAKEN = re.compile(r"time: ([\d.]+)")


@dataclass(frozen=True)
class PageRequest:
    service: str
    method: str
    path: str
    status: str
    ms: float
    request_id: str  # "" where the log line has none (uWSGI's lines)
    at: float


def tail_command(lines: int = 600) -> str:
    """The last lines of each API log, each prefixed with its file's name."""
    files = " ".join(PAGE_LOGS)
    return f'for f in {files}; do [ -r $f ] && tail -n {lines} $f | sed "s|^|$f:|"; done; true'


def page_requests(
    output: str, started: float, finished: float, caller: str, user_id: str
) -> list[PageRequest]:
    """The API requests logged between ``started`` and ``finished`` (epoch seconds) that
    came from ``caller`` (the dashboard's address): oslo.log request lines made with
    ``user_id``'s token, and uWSGI's lines from that address (whole seconds: one second of
    slack either side; they carry no user, so a service's own call in that second counts
    too)."""
    out: list[PageRequest] = []
    for raw in output.splitlines():
        path, sep, text = raw.partition(":")
        if not sep or path not in PAGE_LOGS:
            continue
        service = PAGE_LOGS[path]
        text = _ANSI.sub("", text)
        uwsgi = _UWSGI.match(text)
        if uwsgi:
            address, stamp, method, url, ms, status = uwsgi.groups()
            at = datetime.strptime(" ".join(stamp.split()), "%b %d %H:%M:%S %Y")
            when = at.replace(tzinfo=UTC).timestamp()
            if address == caller and started - 1 <= when <= finished + 1:
                out.append(PageRequest(service, method, url, status, float(ms), "", when))
            continue
        stamp_found = _STAMP.match(text)
        request = _REQUEST.search(text)
        context = _CONTEXT.search(text)
        client = _CLIENT.search(text)
        if not (stamp_found and request and context and client):
            continue
        when = parse_time(stamp_found.group(1)) or 0.0
        if client.group(1) != caller or context.group(3) != user_id:
            continue
        if not started - 0.5 <= when <= finished + 0.5:
            continue
        method, url, status = request.groups()
        taken = _TIME_TAKEN.search(text)
        ms = float(taken.group(1)) * 1000 if taken else 0.0
        out.append(PageRequest(service, method, url, status, ms, context.group(2), when))
    # nova-api and Placement run under uWSGI too: their requests appear twice, once in
    # uWSGI's line and once in the service's own (with its request id) -- keep the latter.
    named = [r for r in out if r.request_id]
    kept = [
        r
        for r in out
        if r.request_id
        or not any(
            (n.service, n.method, n.path) == (r.service, r.method, r.path)
            and abs(n.at - r.at) <= 1.5
            for n in named
        )
    ]
    return sorted(kept, key=lambda r: r.at)
