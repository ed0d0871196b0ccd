"""Steps with their durations, printed as they happen (terminal or notebook alike)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Say = Callable[[str], None]


class Steps:
    """``with steps.step("title"):`` prints the title, then ``ok`` or ``FAILED`` with the
    seconds it took; :attr:`timings` keeps them for reports and benchmarks."""

    def __init__(self, say: Say = print, prefix: str = "") -> None:
        self.say = say
        self.prefix = prefix
        self.timings: list[tuple[str, float]] = []

    def note(self, message: str) -> None:
        self.say(f"{self.prefix}    {message}")

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.say(f"{self.prefix}- {title} ...")
        started = time.monotonic()
        try:
            yield
        except BaseException:
            self.say(f"{self.prefix}  FAILED after {time.monotonic() - started:.1f} s: {title}")
            raise
        took = time.monotonic() - started
        self.timings.append((title, took))
        self.say(f"{self.prefix}  ok ({took:.1f} s)")
