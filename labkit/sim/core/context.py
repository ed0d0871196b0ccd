"""The request context that travels with work through the sim, as it does through OpenStack.

A real cloud ties one user action together with request ids: each service gives the request
its own local id (``req-…``, the ``x-openstack-request-id`` it answers with) and passes the
*global* request id on, in the ``X-OpenStack-Request-ID`` header of the HTTP calls it makes
and inside every RPC message (oslo.context's ``global_request_id``). Nova's logs of one boot on
four hosts can thus be read together.

The sim does the same, and adds one thing a real cloud only has with OSProfiler: every hop
gets a *span*, a path like ``r12.3.1`` whose parent is ``r12.3``. Trace events record their
span and parent, so labkit can read back the tree of one request. Spans are built from the
parent's span and a per-parent counter, never from a global one, so they do not depend on
how threads happened to be scheduled.

The current context lives in a :mod:`contextvars` variable: the HTTP pipeline sets it while a
handler runs, the bus sets it while a message handler runs, and in-process HTTP calls and bus
sends read it to make their child spans.
"""

from __future__ import annotations

import contextvars
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

# Headers the sim's services send each other (``X-OpenStack-Request-ID`` is OpenStack's own).
GLOBAL_REQUEST_ID_HEADER = "X-OpenStack-Request-ID"
PARENT_SPAN_HEADER = "X-Labkit-Parent-Span"


@dataclass
class RequestContext:
    """Who is doing what, on whose behalf: what a service knows about the work it runs."""

    request_id: str  # this service's own id for the request
    span: str  # this hop in the trace tree
    global_request_id: str = ""  # the id of the whole user action ("" = this is the root)
    component: str = ""  # the service doing the work: "nova-api", "nova-compute"
    host: str = ""  # where it runs
    user_id: str = ""
    project_id: str = ""
    roles: tuple[str, ...] = ()
    auth_token: str = field(default="", repr=False)  # the user's token, passed on (never traced)
    _children: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    @property
    def root_request_id(self) -> str:
        """The id every service logs for this user action (oslo's global_request_id)."""
        return self.global_request_id or self.request_id

    def child_span(self) -> str:
        """The span of the next hop this work starts (an HTTP call, a message)."""
        return f"{self.span}.{next(self._children)}"

    def to_message(self) -> dict[str, Any]:
        """The context as it travels in an RPC message (oslo.context's ``to_dict`` subset)."""
        return {
            "request_id": self.request_id,
            "global_request_id": self.root_request_id,
            "user_id": self.user_id,
            "project_id": self.project_id,
            "roles": list(self.roles),
        }

    def derived(self, component: str, host: str, span: str) -> RequestContext:
        """The same user action, continued by ``component`` on ``host`` as ``span``."""
        return RequestContext(
            request_id=self.request_id,
            span=span,
            global_request_id=self.global_request_id,
            component=component,
            host=host,
            user_id=self.user_id,
            project_id=self.project_id,
            roles=self.roles,
            auth_token=self.auth_token,
        )


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "labkit_sim_request_context", default=None
)


def current() -> RequestContext | None:
    """The context of the work running in this thread (None outside any request)."""
    return _current.get()


@contextmanager
def bound(ctx: RequestContext) -> Iterator[RequestContext]:
    """Run a block as ``ctx``'s work: what it calls and sends becomes ``ctx``'s children."""
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
