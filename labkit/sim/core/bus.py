"""The message bus: RabbitMQ as oslo.messaging uses it, between the sim's services.

Nova's components talk over RPC: nova-api *casts* ``schedule_and_build_instances`` to the
``conductor`` topic, the conductor *calls* ``select_destinations`` on ``scheduler`` and waits
for the answer, then casts ``build_and_run_instance`` to ``compute.<host>``, the queue of one
nova-compute. This module gives the sim the same semantics:

- **Targets.** A topic, optionally narrowed to one server (``compute`` on ``worker1`` is the
  queue ``compute.worker1``). A message to a bare topic goes to whichever server of the topic
  takes it, as RabbitMQ hands a shared queue's messages to its consumers.
- **cast** returns at once and nothing comes back. **call** waits for the reply, or raises
  :class:`MessagingTimeout` after the caller's timeout (oslo's ``rpc_response_timeout``). An
  exception raised by the remote handler comes back as :class:`RemoteError`.
- **A broker that must be there.** Nothing is delivered unless the simulated RabbitMQ runs
  and the service's ``transport_url`` logs in: the bus asks a *broker check* (the sim wires in
  the simulated hosts' RabbitMQ) with the URL of each side. A sender that cannot log in logs
  oslo's AMQP error and its message never reaches a queue; a server that cannot log in logs
  the error and consumes nothing, so a ``call`` to it times out -- what a wrong RabbitMQ
  password in nova.conf does to a real cloud.
- **FIFO per server, one worker each.** Each server handles its messages in order on its own
  thread, so a slow nova-compute never holds up the API or another compute. Messages wait in
  their queue while their server is stopped and are handled when it starts again.
- **Deterministic mode.** With the sim's steady clock, every message goes through one
  dispatcher thread, in the order it was sent, and a call made by a handler runs inline; each
  delivery moves the clock. The same scripted requests then give the same trace, whatever the
  threads do (see ``tests/unit/test_bus.py``). :meth:`Bus.wait_idle` lets a script wait for
  the background work to finish.

Every delivery is a trace event (``rpc-cast`` / ``rpc-call``) whose parent is the sender's
span, so a boot reads as one tree from the API request down to the compute.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from labkit.sim.core import context
from labkit.sim.core.context import RequestContext
from labkit.sim.core.trace import Hop

DEFAULT_TIMEOUT = 60.0  # oslo.messaging's rpc_response_timeout

# The broker check: None when a client with this transport_url can log in, else the error
# text oslo.messaging would log (e.g. "... ACCESS_REFUSED - Login was refused ...").
BrokerCheck = Callable[[str], "str | None"]


class MessagingTimeout(Exception):
    """No reply came within the caller's timeout (oslo_messaging.MessagingTimeout)."""


class RemoteError(Exception):
    """The remote handler raised: oslo_messaging.RemoteError carries its type and text."""

    def __init__(self, exc_type: str, value: str, tb: str = "") -> None:
        super().__init__(f"Remote error: {exc_type} {value}")
        self.exc_type = exc_type
        self.value = value
        self.traceback = tb


class Runtime(Protocol):
    """What the bus needs of the sim's runtime (see :class:`labkit.sim.core.runtime.Runtime`)."""

    @property
    def tracer(self) -> Any: ...

    def after_mutation(self) -> None: ...

    def root_context(
        self, component: str, host: str = "", request_id: str = ""
    ) -> RequestContext: ...

    def wait(self, seconds: float, until: threading.Event | None = None) -> bool: ...

    def logger(self, name: str) -> Any: ...

    def record_internal_error(
        self, service: str, what: str, request_id: str, text: str
    ) -> None: ...


@dataclass(frozen=True)
class Target:
    topic: str
    server: str | None = None

    def __str__(self) -> str:
        return f"{self.topic}.{self.server}" if self.server else self.topic


@dataclass
class _Reply:
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None


@dataclass
class _Message:
    seq: int
    target: Target
    method: str
    kwargs: dict[str, Any]
    ctx: RequestContext  # the sender's context at send time
    span: str  # this delivery's span, a child of the sender's
    kind: str  # "rpc-cast" | "rpc-call"
    sender: str
    sender_host: str
    reply: _Reply | None = None


class RpcServer:
    """One service's consumer on a topic (oslo_messaging.get_rpc_server)."""

    def __init__(
        self,
        bus: Bus,
        component: str,
        host: str,
        target: Target,
        endpoint: object,
        transport_url: Callable[[], str],
    ) -> None:
        self.bus = bus
        self.component = component
        self.host = host
        self.target = target  # topic + this server's name
        self.endpoint = endpoint
        self.transport_url = transport_url
        self.running = False
        self._thread: threading.Thread | None = None
        self._broker_error: str | None = None

    @property
    def consuming(self) -> bool:
        """Started, and logged in to the broker (checked, and logged, as the service would)."""
        return self.consuming_with({})

    def consuming_with(self, answers: dict[str, str | None]) -> bool:
        """:attr:`consuming`, with the broker's answers already asked in the same breath
        (transport URL -> error): a delivery asks it of every server on the bus, and a
        hundred nova-computes share one URL."""
        if not self.running:
            return False
        url = self.transport_url()
        if url in answers:
            error = answers[url]
        else:
            error = answers[url] = self.bus.broker_error(url)
        if error != self._broker_error:
            log = self.bus.runtime.logger(self.component)
            if error:
                log.error(
                    "[-] AMQP server on %s is unreachable: %s. Trying again in 1 seconds.",
                    _broker_address(self.transport_url()),
                    error,
                )
            elif self._broker_error:
                log.info(
                    "[-] Reconnected to AMQP server on %s", _broker_address(self.transport_url())
                )
            self._broker_error = error
        return error is None

    def queues(self) -> tuple[Target, Target]:
        """The two queues it consumes: its topic's shared one and its own."""
        return Target(self.target.topic), self.target

    def start(self) -> None:
        with self.bus.cond:
            if self.running:
                return
            self.running = True
            if not self.bus.deterministic:
                self._thread = threading.Thread(
                    target=self.bus.serve_forever,
                    args=(self,),
                    name=f"bus-{self.component}-{self.host}",
                    daemon=True,
                )
                self._thread.start()
            self.bus.cond.notify_all()

    def stop(self) -> None:
        """Stop consuming. Queued messages stay in the broker for the next start."""
        with self.bus.cond:
            self.running = False
            self.bus.cond.notify_all()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)


class RpcClient:
    """A service's handle on a target (oslo_messaging.get_rpc_client)."""

    def __init__(
        self,
        bus: Bus,
        component: str,
        host: str,
        target: Target,
        transport_url: Callable[[], str],
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.bus = bus
        self.component = component
        self.host = host
        self.target = target
        self.transport_url = transport_url
        self.timeout = timeout

    def prepare(self, server: str | None = None, timeout: float | None = None) -> RpcClient:
        """A client narrowed to one server and/or with another timeout (oslo's prepare())."""
        return RpcClient(
            self.bus,
            self.component,
            self.host,
            Target(self.target.topic, server or self.target.server),
            self.transport_url,
            self.timeout if timeout is None else timeout,
        )

    def cast(self, method: str, **kwargs: Any) -> None:
        self.bus.send(self, method, kwargs, reply=None)

    def call(self, method: str, **kwargs: Any) -> Any:
        reply = _Reply()
        msg_id = self.bus.send(self, method, kwargs, reply=reply)
        if not reply.done.is_set():
            # Also when the message never left (no broker): oslo keeps retrying the
            # connection until the caller's timeout runs out.
            self.bus.await_reply(reply, self.timeout)
        if not reply.done.is_set():
            raise MessagingTimeout(
                f"Timed out waiting for a reply to message ID {msg_id or _fake_msg_id()}"
            )
        if reply.error is not None:
            raise reply.error
        return reply.value


class Bus:
    """The broker's queues and the workers that drain them."""

    def __init__(self, runtime: Runtime, broker: BrokerCheck, deterministic: bool) -> None:
        self.runtime = runtime
        self.broker = broker
        self.deterministic = deterministic
        self.cond = threading.Condition()
        self._queues: dict[Target, deque[_Message]] = {}
        self._servers: list[RpcServer] = []
        self._seq = itertools.count(1)
        self._busy = 0  # messages being handled right now
        self._closed = False
        self._held: set[str] = set()  # RPC methods whose messages wait in their queue (drills)
        self._dispatcher: threading.Thread | None = None
        self._dispatcher_ident: int | None = None
        self._turns: dict[str, int] = {}  # per topic queue: whose turn (round robin)
        self._idle: set[RpcServer] = set()  # worker threads waiting for a message

    # ---- wiring --------------------------------------------------------------------------
    def server(
        self,
        component: str,
        host: str,
        topic: str,
        endpoint: object,
        transport_url: Callable[[], str],
        server: str | None = None,
    ) -> RpcServer:
        rpc = RpcServer(
            self, component, host, Target(topic, server or host), endpoint, transport_url
        )
        with self.cond:
            self._servers.append(rpc)
        return rpc

    def client(
        self,
        component: str,
        host: str,
        topic: str,
        transport_url: Callable[[], str],
        server: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> RpcClient:
        return RpcClient(self, component, host, Target(topic, server), transport_url, timeout)

    def broker_error(self, transport_url: str) -> str | None:
        if self._closed:
            return "the sim is shutting down"
        return self.broker(transport_url)

    # ---- sending -------------------------------------------------------------------------
    def send(
        self, client: RpcClient, method: str, kwargs: dict[str, Any], reply: _Reply | None
    ) -> str | None:
        """Queue a message; returns its id, or None when the sender could not reach the
        broker (logged as oslo.messaging logs it)."""
        error = self.broker_error(client.transport_url())
        if error is not None:
            self.runtime.logger(client.component).error(
                "[%s] AMQP server on %s is unreachable: %s. Trying again in 1 seconds.",
                _request_id(),
                _broker_address(client.transport_url()),
                error,
            )
            return None
        sender = context.current() or self._background_context(client)
        message = _Message(
            seq=next(self._seq),
            target=client.target,
            method=method,
            kwargs=kwargs,
            ctx=sender,
            span=sender.child_span(),
            kind="rpc-call" if reply is not None else "rpc-cast",
            sender=client.component,
            sender_host=client.host,
            reply=reply,
        )
        if (
            reply is not None
            and self.deterministic
            and self._on_dispatcher()
            and method not in self._held
        ):
            # A call from a handler: run it inline, in order, on the dispatcher itself.
            with self.cond:
                server = self._pick(message.target)
            if server is not None:
                self._deliver(server, message)
                return f"{message.seq:032x}"
        with self.cond:
            self._queues.setdefault(message.target, deque()).append(message)
            self.cond.notify_all()
        if self.deterministic:
            self._ensure_dispatcher()
        return f"{message.seq:032x}"

    def await_reply(self, reply: _Reply, timeout: float) -> None:
        if self.deterministic and self._on_dispatcher():
            self.runtime.wait(timeout)
            return
        if self.deterministic:
            # The dispatcher answers in its own time; the steady clock moves only if the
            # reply never comes, so the caller sees a deterministic timeout.
            if not reply.done.wait(min(timeout, 30.0)):
                self.runtime.wait(timeout)
            return
        self.runtime.wait(timeout, until=reply.done)

    # ---- delivery ------------------------------------------------------------------------
    def _consumers(self, target: Target) -> list[RpcServer]:
        """The servers consuming what is sent to ``target`` (looking does not take a turn)."""
        answers: dict[str, str | None] = {}
        return [
            s
            for s in self._servers
            if s.consuming_with(answers)
            and s.target.topic == target.topic
            and (target.server is None or s.target.server == target.server)
        ]

    def _pick(self, target: Target) -> RpcServer | None:
        """The consuming server for a target: round robin over a topic's servers, one turn
        per topic (RabbitMQ hands a queue's messages to its consumers in turn)."""
        consuming = self._consumers(target)
        if not consuming:
            return None
        turn = self._turns.get(target.topic, 0)
        self._turns[target.topic] = turn + 1
        return consuming[turn % len(consuming)]

    def _next_for(self, server: RpcServer) -> _Message | None:
        """The oldest message waiting in one of a server's two queues (caller holds cond).

        A message of the topic's shared queue goes to the consumers in turn, as RabbitMQ
        hands a queue's messages round robin to its consumers: to the idle consumer whose
        turn it is (a busy one is passed over, as a consumer whose prefetch is full)."""
        best: deque[_Message] | None = None
        for key in server.queues():
            queue = self._queues.get(key)
            if queue and queue[0].method in self._held:
                continue
            if key.server is None and queue and not self._my_turn(server, key):
                continue
            if queue and (best is None or queue[0].seq < best[0].seq):
                best = queue
        if best is None:
            return None
        message = best.popleft()
        if message.target.server is None:
            self._turns[message.target.topic] = self._turns.get(message.target.topic, 0) + 1
        return message

    def _my_turn(self, server: RpcServer, key: Target) -> bool:
        idle = [s for s in self._consumers(key) if s is server or s in self._idle]
        return idle[self._turns.get(key.topic, 0) % len(idle)] is server

    def serve_forever(self, server: RpcServer) -> None:
        """One server's worker thread (non-deterministic mode)."""
        while True:
            with self.cond:
                message = None
                while message is None:
                    if not server.running or self._closed:
                        self._idle.discard(server)
                        return
                    if server.consuming:
                        message = self._next_for(server)
                    if message is None:
                        self._idle.add(server)
                        self.cond.wait(timeout=1.0)
                self._idle.discard(server)
                self._busy += 1
            try:
                self._deliver(server, message)
            finally:
                with self.cond:
                    self._busy -= 1
                    self.cond.notify_all()

    def _ensure_dispatcher(self) -> None:
        with self.cond:
            if self._dispatcher is None or not self._dispatcher.is_alive():
                self._dispatcher = threading.Thread(
                    target=self._dispatch_forever, name="bus-dispatcher", daemon=True
                )
                self._dispatcher.start()

    def _on_dispatcher(self) -> bool:
        return threading.get_ident() == self._dispatcher_ident

    def _dispatch_forever(self) -> None:
        """The single worker of deterministic mode: oldest deliverable message first."""
        self._dispatcher_ident = threading.get_ident()
        while True:
            with self.cond:
                found: tuple[RpcServer, _Message] | None = None
                while found is None:
                    if self._closed:
                        return
                    found = self._oldest_deliverable()
                    if found is None:
                        self.cond.wait(timeout=1.0)
                self._busy += 1
            try:
                self._deliver(*found)
            finally:
                with self.cond:
                    self._busy -= 1
                    self.cond.notify_all()

    def _oldest_deliverable(self) -> tuple[RpcServer, _Message] | None:
        candidates = sorted(
            (q[0].seq, key)
            for key, q in self._queues.items()
            if q and q[0].method not in self._held
        )
        for _, key in candidates:
            server = self._pick(key)
            if server is not None:
                return server, self._queues[key].popleft()
        return None

    def _deliver(self, server: RpcServer, message: _Message) -> None:
        self.runtime.after_mutation()
        sender = message.ctx
        ctx = sender.derived(server.component, server.host, message.span)
        hop = Hop(
            request_id=sender.request_id,
            span=message.span,
            parent=sender.span,
            kind=message.kind,
            source=message.sender,
            source_host=message.sender_host,
            target=server.component,
            target_host=server.host,
            action=message.method,
            global_request_id=sender.root_request_id,
        )
        started = time.perf_counter()
        status = "ok"
        handler = getattr(server.endpoint, message.method, None)
        try:
            with context.bound(ctx):
                if handler is None:
                    raise RemoteError(
                        "UnsupportedVersion",
                        f"Endpoint does not support RPC method {message.method}",
                    )
                value = handler(ctx, **message.kwargs)
            if message.reply is not None:
                message.reply.value = value
        except RemoteError as exc:
            status = "error"
            if message.reply is not None:
                message.reply.error = exc
        except Exception as exc:  # the handler failed: the caller gets a RemoteError
            status = "error"
            text = traceback.format_exc()
            server_log = self.runtime.logger(server.component)
            server_log.error(
                "[%s] Exception during message handling: %s", sender.root_request_id, text
            )
            if message.reply is not None:
                message.reply.error = RemoteError(type(exc).__name__, str(exc), text)
        finally:
            self.runtime.tracer.record(hop, status, started)
            if message.reply is not None:
                message.reply.done.set()

    # ---- waiting and closing -------------------------------------------------------------
    def pending(self) -> int:
        """Messages queued for a server that is consuming, plus those being handled."""
        with self.cond:
            waiting = sum(
                len(q)
                for key, q in self._queues.items()
                if q and q[0].method not in self._held and self._consumers(key)
            )
            return waiting + self._busy

    def waiting(self, topic: str) -> int:
        """How many of ``topic``'s servers are idle, waiting for a message."""
        with self.cond:
            return sum(1 for s in self._idle if s.target.topic == topic)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no deliverable message is queued or running (for scripts and tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending() == 0:
                return True
            with self.cond:
                self.cond.wait(timeout=0.05)
        return self.pending() == 0

    def hold(self, method: str) -> None:
        """Keep messages of ``method`` in their queues (a consumer that is slow to pick them
        up): a drill can then change the world before the message is handled."""
        with self.cond:
            self._held.add(method)

    def release(self, method: str) -> None:
        with self.cond:
            self._held.discard(method)
            self.cond.notify_all()

    def queued(self) -> dict[str, int]:
        """Messages waiting per queue (what ``rabbitmqctl list_queues`` shows)."""
        with self.cond:
            return {str(key): len(q) for key, q in self._queues.items() if q}

    def close(self) -> None:
        with self.cond:
            self._closed = True
            for server in self._servers:
                server.running = False
            self.cond.notify_all()

    def _background_context(self, client: RpcClient) -> RequestContext:
        """Work no request started (a periodic task) still gets a root span."""
        return self.runtime.root_context(client.component, client.host)


def _broker_address(transport_url: str) -> str:
    """``rabbit://openstack:PASS@controller:5672/`` -> ``controller:5672``."""
    rest = transport_url.split("://", 1)[-1]
    return rest.rsplit("@", 1)[-1].strip("/") or "localhost:5672"


def _request_id() -> str:
    ctx = context.current()
    return ctx.root_request_id if ctx else "-"


def _fake_msg_id() -> str:
    return "0" * 32
