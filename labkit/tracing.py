"""The causal trace read back: one user action as a tree of hops, from the sim's events.

The sim records every hop (HTTP call, RPC cast or call, state change) with its span and its
parent's span (see ``labkit/sim/core/context.py``). :func:`tree` rebuilds the tree of one
request from those events, and :func:`render` prints it -- the shape every later diagram
(the boot's sequence diagram of notebooks/04) is drawn from.

Pure functions over the event dicts ``GET /_sim/trace`` returns; no I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Hop:
    span: str
    parent: str
    kind: str
    source: str
    source_host: str
    target: str
    target_host: str
    action: str
    status: str
    duration_ms: float
    request_id: str
    at: float  # real start time (seconds since the epoch)
    children: list[Hop] = field(default_factory=list)

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Hop:
        return cls(
            span=str(event.get("span", "")),
            parent=str(event.get("parent", "")),
            kind=str(event.get("kind", "")),
            source=str(event.get("source", "")),
            source_host=str(event.get("source_host", "")),
            target=str(event.get("target", "")),
            target_host=str(event.get("target_host", "")),
            action=str(event.get("action", "")),
            status=str(event.get("status", "")),
            duration_ms=float(event.get("duration_ms", 0.0) or 0.0),
            request_id=str(event.get("request_id", "")),
            at=float(event.get("at", 0.0) or 0.0),
        )

    def walk(self, depth: int = 0) -> Iterable[tuple[int, Hop]]:
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)


def _order(span: str) -> tuple[int, ...]:
    """Spans sort by their numbered path: r3.2 before r3.10."""
    return tuple(int(p) if p.isdigit() else 0 for p in span.split(".")[1:])


def tree(events: Iterable[Mapping[str, Any]]) -> list[Hop]:
    """The roots (hops whose parent is not among the events), each with its subtree."""
    hops = [Hop.from_event(e) for e in events if e.get("span")]
    by_span = {h.span: h for h in hops}
    roots: list[Hop] = []
    for hop in hops:  # events come in the order hops finished: a child before its parent
        parent = by_span.get(hop.parent)
        if parent is not None and parent is not hop:
            parent.children.append(hop)
        else:
            roots.append(hop)
    for hop in hops:
        hop.children.sort(key=lambda h: _order(h.span))
    roots.sort(key=lambda h: h.at)
    return roots


def render(roots: Iterable[Hop]) -> str:
    """An indented text view of a trace tree (the text fallback of the drawn views)."""
    lines = []
    for root in roots:
        for depth, hop in root.walk():
            where = f"{hop.target}@{hop.target_host}" if hop.target_host else hop.target
            lines.append(
                f"{'  ' * depth}{hop.kind:<8} {hop.source} -> {where}: {hop.action}"
                f" [{hop.status}] {hop.duration_ms:.1f} ms"
            )
    return "\n".join(lines)
