"""Stable, readable output: short aliases for ids, relative times, tables with an HTML face.

Notebook outputs are kept in the notebooks and compared by nbval, so what labkit prints must
not change from one run to the next. Ids (32 hex digits) and timestamps would; a learner
also reads ``project demo`` and ``in 59 min`` faster than ``ff04f52c...`` and an ISO date.

Introduced in notebooks/00-welcome.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# ---- aliases ---------------------------------------------------------------------------------


class Aliases:
    """Short stable names for ids: ``project:demo``, ``user:admin``; ``user-2`` when unnamed.

    Name-based aliases stay the same however many objects a sim has handed out before;
    unnamed ids are numbered in the order they are first shown, which is the order of the
    notebook's cells and so stable too.
    """

    def __init__(self) -> None:
        self._by_id: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def add(self, ident: str, name: str | None = None, kind: str = "id") -> str:
        """Give ``ident`` an alias (keeps the first one given) and return it."""
        if ident in self._by_id:
            return self._by_id[ident]
        if name:
            alias = f"{kind}:{name}" if kind != "id" else name
            taken = set(self._by_id.values())
            n = 2
            base = alias
            while alias in taken:
                alias, n = f"{base}#{n}", n + 1
        else:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            alias = f"{kind}-{self._counts[kind]}"
        self._by_id[ident] = alias
        return alias

    def __call__(self, ident: str | None, kind: str = "id") -> str:
        """The alias of ``ident``, numbering it if it has none yet."""
        if not ident:
            return "-"
        return self._by_id.get(ident) or self.add(ident, None, kind)

    def __contains__(self, ident: object) -> bool:
        return ident in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def items(self) -> list[tuple[str, str]]:
        return list(self._by_id.items())

    def replace_in(self, text: str) -> str:
        """Every known id in ``text`` replaced by its alias (for CLI output and logs)."""
        for ident, alias in sorted(self._by_id.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(ident, alias)
        return text


# ---- time ------------------------------------------------------------------------------------


def parse_time(value: str | datetime) -> datetime:
    """ISO 8601 as OpenStack writes it (``...Z``, ``+00:00``, ``+0000``, with or without
    microseconds) to an aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = value.strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":  # +0000 -> +00:00
        text = text[:-2] + ":" + text[-2:]
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 60:
        return f"{minutes:.0f} min"
    hours, rest = divmod(round(minutes), 60)
    if hours < 48:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{hours // 24} days"


def relative_time(when: str | datetime, now: str | datetime) -> str:
    """``in 59 min``, ``3 s ago``, ``now``. ``now`` is the cloud's clock (the sim's may be in
    the future on purpose), never this machine's."""
    delta = (parse_time(when) - parse_time(now)).total_seconds()
    if abs(delta) < 1:
        return "now"
    return f"in {_span(delta)}" if delta > 0 else f"{_span(delta)} ago"


def duration(delta: timedelta | float) -> str:
    """A span without direction: ``1 h``, ``59 min``."""
    seconds = delta.total_seconds() if isinstance(delta, timedelta) else delta
    return _span(seconds)


# ---- tables ----------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    return str(value)


@dataclass
class Table:
    """Rows under headers: aligned plain text for terminals and nbval, an HTML table in
    notebooks. ``marks`` colours whole rows in HTML (``ok``, ``warn``, ``fail``, ``dim``)."""

    columns: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)
    title: str = ""
    note: str = ""
    marks: list[str] = field(default_factory=list)

    def add(self, *values: Any, mark: str = "") -> None:
        self.rows.append(values)
        self.marks.append(mark)

    def cells(self) -> list[list[str]]:
        return [[_cell(v) for v in row] for row in self.rows]

    def __str__(self) -> str:
        cells = self.cells()
        widths = [
            max([len(c)] + [len(r[i]) for r in cells if i < len(r)])
            for i, c in enumerate(self.columns)
        ]

        def line(values: Sequence[str]) -> str:
            return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=False)).rstrip()

        out = [self.title] if self.title else []
        out += [line(self.columns), line(["-" * w for w in widths])]
        out += [line(r) for r in cells]
        if self.note:
            out.append(self.note)
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colours = {"ok": "#e8f5e9", "warn": "#fff8e1", "fail": "#ffebee", "dim": "#f5f5f5"}
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in self.columns)
        body = []
        for row, mark in zip(self.cells(), self.marks + [""] * len(self.rows), strict=False):
            style = f" style='background:{colours[mark]}'" if mark in colours else ""
            tds = "".join(
                f"<td style='text-align:left'>{html.escape(c, quote=False)}</td>" for c in row
            )
            body.append(f"<tr{style}>{tds}</tr>")
        title = f"<b>{html.escape(self.title)}</b>" if self.title else ""
        note = f"<div><i>{html.escape(self.note)}</i></div>" if self.note else ""
        return (
            f"{title}<table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>{note}"
        )


@dataclass
class Text:
    """Preformatted text that shows the same in a terminal and a notebook (no escaping
    surprises, monospace in HTML)."""

    text: str
    title: str = ""

    def __str__(self) -> str:
        return f"{self.title}\n{self.text}" if self.title else self.text

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        title = f"<b>{html.escape(self.title)}</b>" if self.title else ""
        return f"{title}<pre>{html.escape(self.text, quote=False)}</pre>"
