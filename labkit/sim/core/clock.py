"""The sim's clock: real time, or a steady clock for stable notebook outputs.

The steady clock starts at :data:`STEADY_EPOCH` and moves one second forward each time the
sim answers a request that changes state (POST, PUT, PATCH, DELETE). Replaying the same
notebook against a fresh sim therefore stamps the same times on everything. The epoch lies
in the future on purpose: clients such as keystoneauth compare a token's ``expires_at`` with
their own real clock and would otherwise re-authenticate on every call.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol

STEADY_EPOCH = datetime(2030, 1, 1, 9, 0, 0, tzinfo=UTC)


class Clock(Protocol):
    def now(self) -> datetime: ...

    def tick(self) -> None: ...


class RealClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def tick(self) -> None:
        """Real time moves by itself."""


class SteadyClock:
    """Deterministic time: ``epoch + ticks`` seconds. ``ticks`` is persisted by the caller."""

    def __init__(self, ticks: int = 0, epoch: datetime = STEADY_EPOCH) -> None:
        self._epoch = epoch
        self._ticks = ticks
        self._lock = threading.Lock()
        self._now = (ticks, epoch + timedelta(seconds=ticks))

    @property
    def ticks(self) -> int:
        return self._ticks

    def now(self) -> datetime:
        # Asked for every log line, trace event and timestamp, while the time moves only
        # once per state-changing request: the datetime of the last tick is kept (one
        # tuple, replaced whole, so a reader on another thread sees a matching pair).
        ticks = self._ticks
        known = self._now
        if known[0] != ticks:
            known = self._now = (ticks, self._epoch + timedelta(seconds=ticks))
        return known[1]

    def tick(self) -> None:
        with self._lock:
            self._ticks += 1

    def advance(self, seconds: int) -> None:
        """Let time pass at once (a wait that deterministic mode does not sit through)."""
        with self._lock:
            self._ticks += max(0, seconds)


def isotime(moment: datetime, subsecond: bool = False) -> str:
    """``2030-01-01T09:00:00Z`` (oslo isotime) or ``...00.000000Z`` (Keystone's subsecond)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    m = moment
    if m.year < 1000:  # strftime's %Y does not pad short years on every platform
        return m.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if subsecond else "%Y-%m-%dT%H:%M:%SZ")
    # The same text as strftime, several times faster (two per token issue and validation).
    text = f"{m.year}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
    return f"{text}.{m.microsecond:06d}Z" if subsecond else f"{text}Z"
