"""Read a tempest run's results (``subunit_json.py``'s JSON lines of ``stestr last
--subunit``) into counts per API area and each failure's first error line."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

AREA = re.compile(r"tempest\.api\.(\w+)")
# The exception line of a traceback: "tempest.lib.exceptions.NotFound: Object not found".
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Failure|Mismatch|\w+): ")


@dataclass(frozen=True)
class Outcome:
    test: str  # the test id, class.method[tags] (or "setUpClass (module.Class)")
    status: str  # passed, failed or skipped
    message: str  # for failed: the first error line (with tempest's "Details:" line)


def area(test: str) -> str:
    """The API area of a test id: compute, network, identity, image ... ('other' else)."""
    found = AREA.search(test)
    return found.group(1) if found else "other"


def first_error(text: str) -> str:
    """The exception line after the last traceback of a failure's text (and tempest's
    ``Details:`` line under it), else its first non-empty line."""
    lines = [line.rstrip() for line in text.splitlines()]
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
    tail = lines[starts[-1] + 1 :] if starts else lines
    for i, line in enumerate(tail):
        if EXCEPTION_LINE.match(line):
            details = next(
                (d.strip() for d in tail[i + 1 : i + 4] if d.strip().startswith("Details:")), ""
            )
            return f"{line} {details}".strip()[:300]
    return next((line.strip() for line in lines if line.strip()), "")[:300]


STATUS = {"success": "passed", "xfail": "passed", "skip": "skipped"}  # else failed


def read(results: Path) -> list[Outcome]:
    """Every test of a JSON lines file."""
    outcomes = []
    for line in results.read_text().splitlines():
        test = json.loads(line)
        status = STATUS.get(test["status"], "failed")
        message = first_error(test["details"]) if status == "failed" else ""
        outcomes.append(Outcome(test["id"], status, message))
    return outcomes


def report(outcomes: list[Outcome]) -> str:
    """Counts per area (and in all), then the failures with their first error line."""
    counts: Counter[tuple[str, str]] = Counter((area(o.test), o.status) for o in outcomes)
    areas = sorted({a for a, _ in counts})
    lines = [f"{'area':<12} {'passed':>7} {'failed':>7} {'skipped':>8}"]
    for name in [*areas, "total"]:

        def count(status: str, name: str = name) -> int:
            if name == "total":
                return sum(n for (_, s), n in counts.items() if s == status)
            return counts[(name, status)]

        lines.append(f"{name:<12} {count('passed'):>7} {count('failed'):>7} {count('skipped'):>8}")
    failed = sorted((o for o in outcomes if o.status == "failed"), key=lambda o: o.test)
    if failed:
        lines.extend(["", f"failed ({len(failed)}):"])
        lines.extend(f"  {o.test}\n      {o.message}" for o in failed)
    return "\n".join(lines)
