"""The sim's message bus: oslo.messaging's cast/call semantics, the broker, FIFO, isolation."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.sim.core.bus import Bus, MessagingTimeout, RemoteError
from labkit.sim.core.config import SimConfig, SimHost
from labkit.sim.core.context import RequestContext
from labkit.sim.core.runtime import Runtime

GOOD_URL = "rabbit://openstack:RABBIT_PASS@controller:5672/"
BAD_URL = "rabbit://openstack:WRONG@controller:5672/"


class Broker:
    """A RabbitMQ the test switches on and off; only RABBIT_PASS logs in."""

    def __init__(self) -> None:
        self.up = True

    def __call__(self, url: str) -> str | None:
        if not self.up:
            return "[Errno 111] ECONNREFUSED"
        return None if "RABBIT_PASS" in url else "(403) ACCESS_REFUSED - Login was refused"


class Recorder:
    """An RPC endpoint that records what it was asked, in order."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.delay = delay
        self.done = threading.Event()

    def ping(self, ctx: RequestContext, n: int) -> int:
        time.sleep(self.delay)
        self.calls.append(("ping", n))
        self.done.set()
        return n * 10

    def fail(self, ctx: RequestContext) -> None:
        raise ValueError("no valid host")


def _runtime(tmp_path: Path, deterministic: bool = False) -> Runtime:
    host = SimHost("controller", "10.64.0.11", ("controller",), 2, 8.0, 50.0)
    return Runtime(
        SimConfig(state_dir=tmp_path, port=1, deterministic=deterministic, hosts=(host,))
    )


@pytest.fixture()
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = _runtime(tmp_path)
    yield rt
    rt.close()


@pytest.fixture()
def broker() -> Broker:
    return Broker()


@pytest.fixture()
def bus(runtime: Runtime, broker: Broker) -> Iterator[Bus]:
    b = Bus(runtime, broker, deterministic=False)
    yield b
    b.close()


def _serve(bus: Bus, topic: str, host: str, endpoint: object, url: str = GOOD_URL) -> None:
    bus.server(f"svc-{topic}", host, topic, endpoint, lambda: url).start()


def test_call_returns_the_remote_reply(bus: Bus) -> None:
    _serve(bus, "scheduler", "controller", Recorder())
    client = bus.client("nova-conductor", "controller", "scheduler", lambda: GOOD_URL)
    assert client.call("ping", n=4) == 40


def test_cast_returns_at_once_and_is_delivered(bus: Bus) -> None:
    endpoint = Recorder(delay=0.2)
    _serve(bus, "conductor", "controller", endpoint)
    client = bus.client("nova-api", "controller", "conductor", lambda: GOOD_URL)
    started = time.perf_counter()
    assert client.cast("ping", n=1) is None
    assert time.perf_counter() - started < 0.1
    assert endpoint.done.wait(5)
    assert endpoint.calls == [("ping", 1)]


def test_messages_to_one_server_are_handled_in_order(bus: Bus) -> None:
    endpoint = Recorder()
    _serve(bus, "compute", "worker1", endpoint)
    client = bus.client("nova-conductor", "controller", "compute", lambda: GOOD_URL, "worker1")
    for n in range(20):
        client.cast("ping", n=n)
    assert bus.wait_idle(5)
    assert [n for _, n in endpoint.calls] == list(range(20))


def test_call_with_no_server_times_out(bus: Bus) -> None:
    client = bus.client("nova-conductor", "controller", "scheduler", lambda: GOOD_URL, timeout=0.2)
    with pytest.raises(MessagingTimeout, match="Timed out waiting for a reply to message ID"):
        client.call("ping", n=1)


def test_remote_exception_comes_back_as_remote_error(bus: Bus) -> None:
    _serve(bus, "scheduler", "controller", Recorder())
    client = bus.client("nova-conductor", "controller", "scheduler", lambda: GOOD_URL)
    with pytest.raises(RemoteError) as caught:
        client.call("fail")
    assert caught.value.exc_type == "ValueError"
    assert caught.value.value == "no valid host"


def test_unknown_method_is_a_remote_error(bus: Bus) -> None:
    _serve(bus, "scheduler", "controller", Recorder())
    client = bus.client("nova-conductor", "controller", "scheduler", lambda: GOOD_URL)
    with pytest.raises(RemoteError, match="does not support RPC method nope"):
        client.call("nope")


def test_a_server_with_a_wrong_password_consumes_nothing(bus: Bus, runtime: Runtime) -> None:
    endpoint = Recorder()
    _serve(bus, "scheduler", "controller", endpoint, url=BAD_URL)
    client = bus.client("nova-conductor", "controller", "scheduler", lambda: GOOD_URL, timeout=0.3)
    with pytest.raises(MessagingTimeout):
        client.call("ping", n=1)
    assert endpoint.calls == []
    runtime.flush_logs()
    log = (runtime.logs_dir / "svc-scheduler.log").read_text()
    assert "ACCESS_REFUSED" in log


def test_a_sender_that_cannot_log_in_logs_the_amqp_error(bus: Bus, runtime: Runtime) -> None:
    endpoint = Recorder()
    _serve(bus, "conductor", "controller", endpoint)
    client = bus.client("nova-api", "controller", "conductor", lambda: BAD_URL)
    client.cast("ping", n=1)
    assert bus.wait_idle(2)
    assert endpoint.calls == []
    runtime.flush_logs()
    assert (
        "AMQP server on controller:5672 is unreachable"
        in (runtime.logs_dir / "nova-api.log").read_text()
    )


def test_nothing_is_delivered_while_rabbitmq_is_down(bus: Bus, broker: Broker) -> None:
    endpoint = Recorder()
    _serve(bus, "compute", "worker1", endpoint)
    client = bus.client("nova-conductor", "controller", "compute", lambda: GOOD_URL, "worker1")
    client.cast("ping", n=1)
    assert endpoint.done.wait(5)
    broker.up = False
    client.cast("ping", n=2)  # the sender cannot reach the broker: never queued
    time.sleep(0.2)
    assert [n for _, n in endpoint.calls] == [1]


def test_messages_wait_for_a_stopped_server(bus: Bus) -> None:
    endpoint = Recorder()
    server = bus.server("nova-compute", "worker1", "compute", endpoint, lambda: GOOD_URL)
    client = bus.client("nova-conductor", "controller", "compute", lambda: GOOD_URL, "worker1")
    client.cast("ping", n=7)
    time.sleep(0.2)
    assert endpoint.calls == []
    assert bus.queued() == {"compute.worker1": 1}
    server.start()
    assert endpoint.done.wait(5)
    assert endpoint.calls == [("ping", 7)]


def test_a_slow_server_does_not_block_another(bus: Bus) -> None:
    slow, fast = Recorder(delay=2.0), Recorder()
    _serve(bus, "compute", "worker1", slow)
    _serve(bus, "compute", "worker2", fast)
    client = bus.client("nova-conductor", "controller", "compute", lambda: GOOD_URL)
    client.prepare(server="worker1").cast("ping", n=1)
    started = time.perf_counter()
    assert client.prepare(server="worker2").call("ping", n=2) == 20
    assert time.perf_counter() - started < 1.0


def test_a_bare_topic_goes_to_any_of_its_servers(bus: Bus) -> None:
    a, b = Recorder(), Recorder()
    _serve(bus, "conductor", "controller", a)
    _serve(bus, "conductor", "worker1", b)
    client = bus.client("nova-api", "controller", "conductor", lambda: GOOD_URL)
    deadline = time.monotonic() + 5
    while bus.waiting("conductor") < 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # both worker threads at their queues
    for n in range(6):
        client.call("ping", n=n)
    # In turn, as RabbitMQ hands a queue's messages to its consumers.
    assert (len(a.calls), len(b.calls)) == (3, 3)


def test_each_delivery_is_a_trace_event_under_the_senders_span(bus: Bus, runtime: Runtime) -> None:
    _serve(bus, "scheduler", "controller", Recorder())
    client = bus.client("nova-conductor", "controller", "scheduler", lambda: GOOD_URL)
    root = runtime.root_context("nova-conductor", "controller")
    from labkit.sim.core import context

    with context.bound(root):
        client.call("ping", n=1)
    events = runtime.tracer.events()
    assert [(e["kind"], e["source"], e["target"], e["action"], e["parent"]) for e in events] == [
        ("rpc-call", "nova-conductor", "svc-scheduler", "ping", root.span)
    ]
    assert events[0]["span"] == f"{root.span}.1"
    assert events[0]["global_request_id"] == root.request_id


def test_deterministic_mode_runs_calls_from_handlers_inline(tmp_path: Path) -> None:
    rt = _runtime(tmp_path, deterministic=True)
    bus = Bus(rt, Broker(), deterministic=True)
    order: list[str] = []

    class Conductor:
        def build(self, ctx: RequestContext) -> None:
            order.append("conductor")
            order.append(f"scheduler said {scheduler_client.call('pick')}")

    class Scheduler:
        def pick(self, ctx: RequestContext) -> str:
            order.append("scheduler")
            return "worker1"

    _serve(bus, "conductor", "controller", Conductor())
    _serve(bus, "scheduler", "controller", Scheduler())
    scheduler_client = bus.client("nova-conductor", "controller", "scheduler", lambda: GOOD_URL)
    bus.client("nova-api", "controller", "conductor", lambda: GOOD_URL).cast("build")
    assert bus.wait_idle(5)
    assert order == ["conductor", "scheduler", "scheduler said worker1"]
    bus.close()
    rt.close()


def test_deterministic_timeouts_move_the_steady_clock_instead_of_waiting(
    tmp_path: Path,
) -> None:
    rt = _runtime(tmp_path, deterministic=True)
    bus = Bus(rt, Broker(), deterministic=True)
    before = rt.now()
    started = time.perf_counter()

    class Conductor:
        def build(self, ctx: RequestContext) -> None:
            try:
                client.call("pick")
            except MessagingTimeout:
                errors.append("timeout")

    errors: list[str] = []
    client = bus.client("nova-conductor", "controller", "scheduler", lambda: GOOD_URL)
    _serve(bus, "conductor", "controller", Conductor())
    bus.client("nova-api", "controller", "conductor", lambda: GOOD_URL).cast("build")
    deadline = time.monotonic() + 5
    while not errors and time.monotonic() < deadline:
        time.sleep(0.01)
    assert errors == ["timeout"]
    assert time.perf_counter() - started < 5
    assert (rt.now() - before).total_seconds() >= 60  # rpc_response_timeout passed
    bus.close()
    rt.close()


def test_held_messages_wait_until_released(bus: Bus) -> None:
    endpoint = Recorder()
    _serve(bus, "compute", "worker1", endpoint)
    bus.hold("ping")
    client = bus.client("nova-conductor", "controller", "compute", lambda: GOOD_URL, "worker1")
    client.cast("ping", n=1)
    assert bus.wait_idle(1)  # held messages are not pending work
    assert endpoint.calls == []
    assert bus.queued() == {"compute.worker1": 1}
    bus.release("ping")
    assert endpoint.done.wait(5)
    assert endpoint.calls == [("ping", 1)]
