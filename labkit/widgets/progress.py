"""Progress of an install: a live progress bar in a notebook, one line per step elsewhere.

Whatever was shown live, the cell's stored output ends as the same plain-text table, so
notebooks re-run under nbval compare equal.
"""

from __future__ import annotations

import sys
from typing import Any

from labkit.install import steps as st
from labkit.install.runner import CHANGED, DONE, StepResult
from labkit.widgets.env import in_notebook, widgets_enabled


def format_seconds(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds >= 0.05 else "<0.1 s"


def results_table(layer: str, results: list[StepResult]) -> str:
    width = max((len(r.step.title) for r in results), default=10)
    lines = [f"{layer}: {_counts(results)}"]
    for index, r in enumerate(results, start=1):
        mark = {CHANGED: "changed", DONE: "already done"}.get(r.status, r.status)
        lines.append(
            f"  {index:>2}. {r.step.title:<{width}}  {r.step.host:<11} {mark:<13}"
            f"{format_seconds(r.seconds):>8}"
        )
    return "\n".join(lines)


def _counts(results: list[StepResult]) -> str:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    parts = [f"{n} {status}" for status, n in counts.items()]
    steps = "step" if len(results) == 1 else "steps"
    return f"{len(results)} {steps}: {', '.join(parts)}"


class InstallProgress:
    """A listener for :func:`labkit.install.runner.apply_plan`."""

    def __init__(self, layer: str, show: bool = True) -> None:
        self.layer = layer
        self.show = show
        self._bar: Any = None
        self._label: Any = None
        self._live = show and widgets_enabled()
        # In a kernel without widgets (papermill, nbval) only the closing table is printed, so
        # the stored output is the very table a live run leaves behind; a terminal gets one
        # line per step as it happens.
        self._stream = show and not self._live and not in_notebook()

    def __call__(self, index: int, total: int, step: st.Step, result: StepResult | None) -> None:
        if not self.show:
            return
        if self._live:
            self._update_widget(index, total, step, result)
        elif self._stream and result is not None:
            mark = {CHANGED: "changed", DONE: "already done"}.get(result.status, result.status)
            print(
                f"[{index:>2}/{total}] {step.title} ({step.host}): {mark}, "
                f"{format_seconds(result.seconds)}",
                file=sys.stdout,
                flush=True,
            )

    def _update_widget(
        self, index: int, total: int, step: st.Step, result: StepResult | None
    ) -> None:
        import ipywidgets as w
        from IPython.display import display

        if self._bar is None:
            self._bar = w.IntProgress(min=0, max=total, description=self.layer)
            self._label = w.Label()
            display(w.VBox([self._bar, self._label]))  # type: ignore[no-untyped-call]
        self._bar.value = index - (0 if result else 1)
        self._label.value = f"{index}/{total} {step.title} on {step.host}" + (
            "" if result is None else f" - {result.status}"
        )

    def finish(self, results: list[StepResult]) -> None:
        if not self.show:
            return
        if self._stream:
            # One closing line: a second run reads "16 already done" at a glance.
            print(f"{self.layer}: {_counts(results)}", flush=True)
            return
        if self._live:
            from IPython.display import clear_output

            clear_output()  # type: ignore[no-untyped-call]
        print(results_table(self.layer, results), flush=True)
