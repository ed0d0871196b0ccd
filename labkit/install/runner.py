"""Apply a plan with a runner, step by step, reporting each step as it goes.

For every step the runner first checks whether it is already done (a second run of an
installer then changes nothing and says so), otherwise applies it. A failing step stops the
plan with an :class:`~labkit.errors.InstallError` naming the step, the host and the output;
running the plan again continues where it stopped, because finished steps check as done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from labkit.errors import InstallError
from labkit.install import steps as st

DONE, CHANGED, FAILED, VERIFIED = "already done", "changed", "failed", "ok"
# Steps that only look (wait for a URL, probe a database): they never change a host.
PROBES = (st.WaitHttp, st.ProbeDatabase)


@dataclass
class StepResult:
    step: st.Step
    status: str
    seconds: float = 0.0
    output: list[str] = field(default_factory=list)


class Runner(Protocol):
    """Where steps run: the sim's simulated hosts, or real hosts over SSH."""

    def check(self, step: st.Step, changed_paths: set[str]) -> bool: ...

    def apply(self, step: st.Step, changed_paths: set[str]) -> tuple[int, list[str]]: ...


Listener = Callable[[int, int, st.Step, StepResult | None], None]


def apply_plan(
    plan: list[st.Step], runner: Runner, listener: Listener | None = None, layer: str = ""
) -> list[StepResult]:
    """Run ``plan``; ``listener(index, total, step, result)`` is told before (result None)
    and after each step."""
    results: list[StepResult] = []
    changed_paths: set[str] = set()
    for index, step in enumerate(plan, start=1):
        if listener:
            listener(index, len(plan), step, None)
        started = time.perf_counter()
        if runner.check(step, changed_paths):
            result = StepResult(step, DONE, time.perf_counter() - started)
        else:
            code, output = runner.apply(step, changed_paths)
            probe = isinstance(step, PROBES) or getattr(step, "verify", False)
            status = FAILED if code != 0 else VERIFIED if probe else CHANGED
            result = StepResult(step, status, time.perf_counter() - started, output)
        results.append(result)
        if listener:
            listener(index, len(plan), step, result)
        if result.status == FAILED:
            where = f"layer {layer}, " if layer else ""
            raise InstallError(
                f"Step {index}/{len(plan)} failed ({where}on {step.host}): {step.title}\n"
                + "\n".join(f"    {line}" for line in result.output[-15:]),
                "Fix the cause shown above, then run the same install again: steps already "
                "done are skipped. lab.explain(error) says more about common failures.",
            )
    return results


def summary(results: list[StepResult]) -> str:
    changed = sum(r.status == CHANGED for r in results)
    done = sum(r.status == DONE for r in results)
    seconds = sum(r.seconds for r in results)
    return (
        f"{len(results)} steps: {changed} changed, {done} already done, "
        f"{len(results) - changed - done} checks ({seconds:.1f} s)"
    )
