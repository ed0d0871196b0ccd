"""``explain(error)``: which layer an error comes from, the likely cause, and the fix.

A learner who hits ``ForbiddenException: 403`` or a wall of keystoneauth text wants three
answers: *where* (which layer of the map), *why* (the usual cause, in words), and *what now*
(the command or cell that fixes it). :func:`explain` reads whatever the learner has -- an
openstacksdk or keystoneauth exception, the text the ``openstack`` CLI printed, a
``subprocess.CalledProcessError``, a labkit error -- into :class:`Facts`, then walks a
registry of :class:`Entry` patterns, most specific first. With a ``lab`` at hand, entries
add findings from the lab itself (is the sim running, on which port, who has which role).

Every layer adds its own entries: a module in this package with ``ENTRIES = [...]``, listed
in :data:`MODULES` (loaded on first use, so importing labkit stays cheap), or
:func:`register` at run time::

    from labkit.explain import Entry, register
    register(Entry(name="glance.bad-checksum", layer="glance", ...))

Introduced in notebooks/02-keystone.
"""

from __future__ import annotations

import importlib
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from labkit.explain.view import Explanation
from labkit.sim.rooms import ROOMS

# Modules holding ENTRIES, imported on the first explain() call: the lab's own, SSH into
# guests, then one per room of the sim (labkit.sim.rooms), in the rooms' order.
MODULES: list[str] = [
    "labkit.explain.lab",
    "labkit.explain.access",
    *(room.explain for room in ROOMS if room.explain),
]

_STATUS_PATTERNS = (
    re.compile(r"\(HTTP (\d{3})\)"),
    re.compile(r"\b(\d{3}): (?:Client|Server) Error"),
    re.compile(r"Exception: (\d{3})\b"),
)


@dataclass(frozen=True)
class Facts:
    """What can be read off an error, whatever shape it came in."""

    text: str  # every message in the error chain (and CLI output), joined
    types: tuple[str, ...] = ()  # class names along the chain, including base classes
    status: int | None = None
    url: str = ""
    request_id: str = ""
    error: BaseException | None = None

    def has_type(self, *names: str) -> bool:
        return any(name in self.types for name in names)

    def first_line(self) -> str:
        return next((line.strip() for line in self.text.splitlines() if line.strip()), "")


@dataclass(frozen=True)
class Context:
    """What an entry's texts and findings may use: the facts, the regex groups, the lab."""

    facts: Facts
    groups: dict[str, str]
    lab: Any = None


Text = str | Callable[[Context], str]


@dataclass(frozen=True)
class Entry:
    """One known failure. It matches when every condition given holds:

    ``types`` -- any of these class names is in the error chain; ``status`` -- the HTTP
    status; ``pattern`` -- a regex found in the text (its named groups fill ``{...}`` in the
    texts; alternatives of one group may be named ``x``, ``x2``); ``when`` -- any other test.
    Lower ``priority`` is tried first.
    """

    name: str
    layer: str | Callable[[Context], str]
    title: Text
    cause: Text
    fix: Text
    pattern: str = ""
    types: tuple[str, ...] = ()
    status: int | None = None
    when: Callable[[Facts], bool] | None = None
    findings: Callable[[Context], list[str]] | None = None
    priority: int = 50

    def match(self, facts: Facts) -> tuple[str, dict[str, str]] | None:
        """The evidence (matched text) and regex groups, or None."""
        if self.types and not facts.has_type(*self.types):
            return None
        if self.status is not None and facts.status != self.status:
            return None
        if self.when is not None and not self.when(facts):
            return None
        if not self.pattern:
            return facts.first_line(), {}
        found = re.search(self.pattern, facts.text, re.IGNORECASE | re.DOTALL)
        if found is None:
            return None
        groups = {k: v for k, v in found.groupdict().items() if v is not None}
        for key in list(groups):  # alternatives of one group are named service, service2 ...
            groups.setdefault(key.rstrip("0123456789"), groups[key])
        return _line_around(facts.text, found.start(), found.end()), groups


def _line_around(text: str, start: int, end: int) -> str:
    """The whole line(s) the match sits in: evidence a learner recognises from the output."""
    left = text.rfind("\n", 0, start) + 1
    right = text.find("\n", end)
    return text[left : right if right != -1 else len(text)].strip()


_REGISTRY: dict[str, Entry] = {}
_loaded: list[str] = []

# (name, pattern over the error text, layer, title, cause, fix): a service's known failures
# as data, most specific first (glance.py, placement.py, neutron.py, nova.py).
Known = tuple[str, str, str, str, str, str]


def pattern_entries(known: Sequence[Known], priority: int = 30) -> list[Entry]:
    """Entries matched by a pattern alone, tried in the order given."""
    return [
        Entry(
            name=name,
            pattern=pattern,
            layer=layer,
            title=title,
            cause=cause,
            fix=fix,
            priority=priority + index,
        )
        for index, (name, pattern, layer, title, cause, fix) in enumerate(known)
    ]


def register(entry: Entry) -> Entry:
    """Add (or replace, by name) an entry."""
    _REGISTRY[entry.name] = entry
    return entry


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def entries() -> list[Entry]:
    """Every entry, in the order they are tried."""
    for module in MODULES:
        if module not in _loaded:
            for entry in importlib.import_module(module).ENTRIES:
                _REGISTRY.setdefault(entry.name, entry)
            _loaded.append(module)
    return sorted(_REGISTRY.values(), key=lambda e: (e.priority, e.name))


# ---- reading an error ---------------------------------------------------------------------------


def _chain(error: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in out and len(out) < 6:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def _decode(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return "" if value is None else str(value)


def facts_of(error: BaseException | str | Sequence[str]) -> Facts:
    """Turn whatever the learner has into :class:`Facts`."""
    if isinstance(error, str):
        return _with_status(Facts(text=error))
    if not isinstance(error, BaseException):  # IPython's `out = !openstack ...` (an SList)
        return _with_status(Facts(text="\n".join(str(line) for line in error)))
    texts: list[str] = []
    types: list[str] = []
    status: int | None = None
    url = request_id = ""
    for exc in _chain(error):
        types += [cls.__name__ for cls in type(exc).__mro__ if cls not in (object,)]
        if isinstance(exc, subprocess.CalledProcessError):
            cmd = exc.cmd if isinstance(exc.cmd, str) else " ".join(map(str, exc.cmd))
            texts += [
                f"`{cmd}` exited with {exc.returncode}",
                _decode(exc.stderr),
                _decode(exc.output),
            ]
        else:
            texts.append(str(exc))
        details = getattr(exc, "details", None)
        if isinstance(details, str) and details not in texts[-1]:
            texts.append(details)
        for attr in ("status_code", "http_status"):
            value = getattr(exc, attr, None)
            if status is None and isinstance(value, int):
                status = value
        url = url or str(getattr(exc, "url", "") or "")
        request_id = request_id or str(getattr(exc, "request_id", "") or "")
    text = "\n".join(t for t in texts if t)
    return _with_status(
        Facts(
            text=text,
            types=tuple(dict.fromkeys(types)),
            status=status,
            url=url,
            request_id=request_id,
            error=error,
        )
    )


def _with_status(facts: Facts) -> Facts:
    status = facts.status
    if status is None:
        for pattern in _STATUS_PATTERNS:
            found = pattern.search(facts.text)
            if found:
                status = int(found.group(1))
                break
    request_id = facts.request_id
    if not request_id:
        found_id = re.search(r"\breq-[0-9a-f-]{36}\b", facts.text)
        request_id = found_id.group(0) if found_id else ""
    url = facts.url
    if not url:
        found_url = re.search(r"for url: (\S+?),? ", facts.text)
        url = found_url.group(1).rstrip(",") if found_url else ""
    return Facts(
        text=facts.text,
        types=facts.types,
        status=status,
        url=url,
        request_id=request_id,
        error=facts.error,
    )


# ---- where a URL or a service type lives on the map ---------------------------------------------

# The sim's rooms (their DevStack path and the real service's port), then the services an
# existing cloud may have that the sim does not emulate yet.
_URL_LAYERS = (
    *((rf"{re.escape(r.prefix)}\b|:{r.port}\b", r.layer) for r in ROOMS),
    (r"/compute\b|:8774\b|/placement\b|:8778\b", "compute"),
    (r"/networking\b|:9696\b", "networking"),
)
SERVICE_TYPE_LAYERS = {
    **{r.service_type: r.layer for r in ROOMS},
    "compute": "compute",
    "placement": "compute",
    "network": "networking",
    "volumev3": "cinder",
    "block-storage": "cinder",
    "object-store": "swift",
    "orchestration": "heat",
    "dns": "designate",
    "baremetal": "ironic",
}


def layer_from_url(url: str, default: str = "") -> str:
    """The layer serving ``url`` (DevStack-style sim paths or the Install Guide's ports)."""
    for pattern, layer in _URL_LAYERS:
        if re.search(pattern, url):
            return layer
    return default


# ---- explaining ---------------------------------------------------------------------------------


def _render(text: Text, ctx: Context) -> str:
    if callable(text):
        return text(ctx)
    return text.format_map(_Defaults(ctx.groups))


class _Defaults(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return f"<{key}>"


def explain(error: BaseException | str | Sequence[str], lab: Any = None) -> Explanation:
    """Explain ``error`` (an exception, CLI output text or lines); ``lab`` adds findings."""
    facts = facts_of(error)
    for entry in entries():
        matched = entry.match(facts)
        if matched is None:
            continue
        evidence, groups = matched
        ctx = Context(facts, groups, lab)
        findings: list[str] = []
        if entry.findings is not None and lab is not None:
            try:
                findings = entry.findings(ctx)
            except Exception as exc:  # a finding must never hide the explanation itself
                findings = [f"(could not look further: {type(exc).__name__}: {exc})"]
        layer = entry.layer(ctx) if callable(entry.layer) else entry.layer
        return Explanation(
            entry=entry.name,
            layer=layer,
            title=_render(entry.title, ctx),
            cause=_render(entry.cause, ctx),
            fix=_render(entry.fix, ctx),
            evidence=evidence,
            findings=findings,
            error_type=type(error).__name__ if facts.error else "text",
            status=facts.status,
            request_id=facts.request_id,
        )
    return Explanation(
        entry="unknown",
        layer="",
        title="labkit does not recognise this error (yet)",
        cause="None of the known patterns matched. Errors come from one layer; find it by "
        "working up the map from the bottom.",
        fix="From a terminal: `labkit check ENV` (hosts and the sim up?), `openstack token "
        "issue` (Keystone answers and your credentials work?), `openstack catalog list` "
        "(is the service installed and registered?). The service's log says more: "
        "`labkit sim logs SERVICE` on the sim.",
        evidence=facts.first_line(),
        findings=[],
        error_type=type(error).__name__ if facts.error else "text",
        status=facts.status,
        request_id=facts.request_id,
    )


__all__ = [
    "MODULES",
    "SERVICE_TYPE_LAYERS",
    "Context",
    "Entry",
    "Explanation",
    "Facts",
    "entries",
    "explain",
    "facts_of",
    "layer_from_url",
    "register",
    "unregister",
]
