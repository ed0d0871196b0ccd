"""The real-host boot trace: log lines as the real services write them, and the hops drawn
from them with the create action's events (no hosts needed)."""

from __future__ import annotations

from labkit.diagrams import graphs
from labkit.lab import realtrace

RID = "req-5c1f0f4e-3d7a-4c55-9a1e-0d6f1f3b2a10"

GREP = f"""\
/var/log/nova/nova-api.log:2026-12-03 05:40:01.100 2101 INFO nova.api.openstack.requestlog [{RID} 1f admin] 10.64.0.1 "POST /v2.1/servers" status: 202 len: 420 microversion: 2.1 time: 0.9
/var/log/neutron/neutron-api.log:2026-12-03 05:40:00.800 2201 INFO neutron.wsgi [{RID} req-aa 1f admin] 10.64.0.2 "GET /v2.0/networks?id=n1 HTTP/1.1" status: 200  len: 900 time: 0.05
/var/log/placement/placement-api.log:2026-12-03 05:40:01.500 2301 INFO placement.requestlog [{RID} req-bb nova service] 10.64.0.2 "GET /placement/allocation_candidates?limit=1000" status: 200 len: 1200
/var/log/placement/placement-api.log:2026-12-03 05:40:01.600 2301 INFO placement.requestlog [{RID} req-cc nova service] 10.64.0.2 "PUT /placement/allocations/abc" status: 204 len: 0
/var/log/glance/glance-api.log:2026-12-03 05:40:02.500 2401 INFO eventlet.wsgi.server [{RID} req-dd] 10.64.0.3 - - [03/Dec/2026 05:40:02] "GET /v2/images/i1/file HTTP/1.1" 200 23396611 0.19\x1b[00m
/var/log/neutron/neutron-api.log:2026-12-03 05:40:03.000 2201 INFO neutron.wsgi [{RID} req-ee] 10.64.0.3 "PUT /v2.0/ports/p1 HTTP/1.1" status: 200 len: 1000
garbage line without a colon
/var/log/nova/nova-compute.log:not a timestamp
"""  # noqa: E501 -- real log lines are long


def test_grep_output_becomes_log_lines_in_time_order() -> None:
    lines = realtrace.parse_grep("controller", GREP)
    assert [ln.service for ln in lines] == [
        "neutron-server",
        "nova-api",
        "placement-api",
        "placement-api",
        "glance-api",
        "neutron-server",
    ]
    assert all(ln.host == "controller" for ln in lines)
    assert abs(lines[1].at - lines[0].at - 0.3) < 1e-6


def test_hops_name_the_callers_and_nova_rpc() -> None:
    lines = realtrace.parse_grep("controller", GREP)
    action = {
        "start_time": "2026-12-03T05:40:00.700000",
        "events": [
            {
                "event": "compute__do_build_and_run_instance",
                "host": "worker1",
                "start_time": "2026-12-03T05:40:02.000000",
            }
        ],
    }
    hosts = {"10.64.0.2": "controller", "10.64.0.3": "worker1"}
    hops = realtrace.hops([action], lines, hosts, "controller")
    pairs = [(h["source"], h["target"], h["action"]) for h in hops]
    assert pairs == [
        ("client", "nova-api", "POST /v2.1/servers"),
        ("nova-api", "neutron-server", "GET /v2.0/networks"),
        ("nova-api", "nova-conductor", "schedule_and_build_instances"),
        ("nova-conductor", "nova-scheduler", "select_destinations"),
        ("nova-scheduler", "placement-api", "GET /placement/allocation_candidates"),
        ("nova-scheduler", "placement-api", "PUT /placement/allocations/abc"),
        ("nova-conductor", "nova-compute", "build_and_run_instance (worker1)"),
        ("nova-compute", "glance-api", "GET /v2/images/i1/file"),
        ("nova-compute", "neutron-server", "PUT /v2.0/ports/p1"),
    ]
    assert [h["kind"] for h in hops if h["source"] == "nova-conductor"] == ["call", "cast"]
    flow = graphs.request_flow(hops, order=("client", "nova-api"), by_start=True)
    assert len(graphs.messages(flow)) == len(hops)


def test_no_log_lines_still_show_the_create_and_the_build() -> None:
    action = {
        "start_time": "2026-12-03T05:40:00Z",
        "events": [
            {
                "event": "compute__do_build_and_run_instance",
                "host": "controller",
                "start_time": "2026-12-03T05:40:05",
            }
        ],
    }
    hops = realtrace.hops([action], [])
    assert [h["target"] for h in hops] == [
        "nova-api",
        "nova-conductor",
        "nova-scheduler",
        "nova-compute",
    ]


def test_the_grep_command_quotes_the_request_id() -> None:
    command = realtrace.grep_command("req-1; rm -rf /")
    assert "'req-1; rm -rf /'" in command and "/var/log/nova" in command


DEMO = "ab084a887d8d4eba8622b0de14a3e81f"
NOVA_SVC = "138a3232a843490ebf22f78be891e067"
TAIL = f"""\
/var/log/keystone/keystone.log:[pid: 6060|app: 0|req: 458/912] 10.64.0.2 () {{32 vars in 487 bytes}} [Thu Dec  3 05:50:05 2026] POST /v3/auth/tokens => generated 3398 bytes in 587 msecs (HTTP/1.1 201) 5 headers in 363 bytes (1 switches on core 1)
/var/log/keystone/keystone.log:[pid: 6060|app: 0|req: 459/913] 10.64.0.1 () {{32 vars in 487 bytes}} [Thu Dec  3 05:50:05 2026] POST /v3/auth/tokens => generated 3398 bytes in 500 msecs (HTTP/1.1 201) 5 headers in 363 bytes (1 switches on core 1)
/var/log/nova/nova-api.log:2026-12-03 05:50:05.520 10966 INFO nova.api.openstack.requestlog [None req-180cea6b-be1d-4fc3-8f62-fe257f539498 {DEMO} e5677da8 - - default default] 10.64.0.2 "GET /v2.1/flavors/detail" status: 200 len: 2080 microversion: 2.1 time: 0.111369\x1b[00m
/var/log/nova/nova-api.log:[pid: 10966|app: 0|req: 123/250] 10.64.0.2 () {{30 vars in 600 bytes}} [Thu Dec  3 05:50:05 2026] GET /v2.1/flavors/detail => generated 2080 bytes in 117 msecs (HTTP/1.1 200) 8 headers in 336 bytes (1 switches on core 0)
/var/log/nova/nova-api.log:[pid: 10967|app: 0|req: 128/251] 10.64.0.2 () {{30 vars in 570 bytes}} [Thu Dec  3 05:50:05 2026] GET /v2.1 => generated 383 bytes in 1 msecs (HTTP/1.1 200) 8 headers in 336 bytes (1 switches on core 0)
/var/log/placement/placement-api.log:2026-12-03 05:50:05.700 8205 INFO placement.requestlog [req-a req-b {NOVA_SVC} 374ae4a2 - - default default] 10.64.0.2 "GET /resource_providers/x/allocations" status: 200 len: 152 microversion: 1.0
/var/log/nova/nova-api.log:2026-12-03 05:49:01.000 10966 INFO nova.api.openstack.requestlog [None req-old {DEMO} e5677da8 - - default default] 10.64.0.2 "GET /v2.1/limits" status: 200 len: 20 microversion: 2.1 time: 0.01
"""  # noqa: E501 -- real log lines are long


def test_a_page_loads_requests_from_the_controllers_logs() -> None:
    started = realtrace.parse_time("2026-12-03 05:50:05.000")
    finished = realtrace.parse_time("2026-12-03 05:50:06.000")
    assert started is not None and finished is not None
    found = realtrace.page_requests(TAIL, started, finished, "10.64.0.2", DEMO)
    rows = sorted((r.service, r.method, r.path, r.status, r.request_id) for r in found)
    assert rows == [
        ("keystone", "POST", "/v3/auth/tokens", "201", ""),  # from the dashboard's address only
        ("nova-api", "GET", "/v2.1", "200", ""),  # no request log line: uWSGI's counts
        # one row, not two: the service's own line (with its request id) wins over uWSGI's
        (
            "nova-api",
            "GET",
            "/v2.1/flavors/detail",
            "200",
            "req-180cea6b-be1d-4fc3-8f62-fe257f539498",
        ),
    ]  # nova-compute's placement call (another user) and the old line (before) are left out
