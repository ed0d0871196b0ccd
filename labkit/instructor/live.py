"""``labkit run``'s progress as it goes: one row per lab, one cell per notebook.

The runner (:mod:`labkit.instructor.run`) tells a :class:`RunProgress` what happens -- each
lab's plan, a notebook started, a notebook done, the lab's time running out, the probe, the
verdict -- and the model is drawn two ways from the same data:

* in a terminal, a bar per lab at the end of each line the runner prints as a notebook
  finishes (``[##..] 2/4``);
* in a notebook, :func:`run_in_notebook` (``lab.run(...)``) shows :meth:`RunProgress.view`
  as a live table, redrawn in place (an output with a display id) while the labs run, and
  returns the report's model (:class:`~labkit.instructor.report.RunReport`).

Events come from the runner's threads (one per lab); the model takes a lock for each and
counts its changes, so a reader on another thread (the notebook's cell) redraws only when
something changed.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labkit.instructor.report import RunReport

FINISHED = ("passed", "failed", "timeout", "not-run", "kept")
# A notebook cell's look, as the report's colours: (symbol, background).
LOOK: dict[str, tuple[str, str]] = {
    "waiting": ("·", "#ffffff"),
    "running": ("▶", "#e3f2fd"),
    "passed": ("✓", "#e8f5e9"),
    "kept": ("✓", "#f1f8e9"),  # passed in an earlier run (resume)
    "failed": ("✗", "#ffebee"),
    "timeout": ("⏱", "#ffebee"),
    "not-run": ("-", "#f5f5f5"),
}
VERDICT_BACKGROUND = {
    "ok": "#e8f5e9",
    "broken": "#ffebee",
    "lab-broken": "#ffe0b2",
    "notebook-failed": "#ffe0b2",
    "incomplete": "#f5f5f5",
}


@dataclass
class LabRow:
    """One lab's progress."""

    label: str
    notebooks: list[str]
    where: str = ""
    status: dict[str, str] = field(default_factory=dict)  # notebook -> a key of LOOK
    seconds: dict[str, float] = field(default_factory=dict)
    running: str | None = None
    running_since: float | None = None  # time.monotonic() when it started
    first_failure: str = ""
    error: str = ""
    phase: str = "waiting"  # waiting, running, probing, done
    verdict: str = ""

    def __post_init__(self) -> None:
        for name in self.notebooks:
            self.status.setdefault(name, "waiting")

    @property
    def done(self) -> int:
        return sum(self.status[n] in FINISHED for n in self.notebooks)

    @property
    def passed(self) -> int:
        return sum(self.status[n] in ("passed", "kept") for n in self.notebooks)

    def bar(self, width: int | None = None) -> str:
        """``[##..] 2/4``: one mark per notebook (or ``width`` marks), # for done."""
        total = len(self.notebooks) or 1
        width = width or len(self.notebooks) or 1
        filled = round(width * self.done / total)
        return f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{len(self.notebooks)}"

    def elapsed(self, now: float | None = None) -> float:
        """Seconds spent on finished notebooks, plus the running one so far."""
        spent = sum(self.seconds.values())
        if self.running_since is not None:
            spent += (now if now is not None else time.monotonic()) - self.running_since
        return spent

    def state(self) -> str:
        """What the lab is doing, in a few words."""
        if self.phase == "done":
            return self.verdict or "done"
        if self.phase == "probing":
            return "probing the lab"
        if self.running:
            return f"running {self.running}"
        return "finished its notebooks" if self.done == len(self.notebooks) else "waiting"


class RunProgress:
    """The live model of a run. :meth:`apply` takes the runner's events; the views read it."""

    def __init__(self, notebooks: Iterable[str] = ()) -> None:
        self.notebooks = list(notebooks)
        self.rows: dict[str, LabRow] = {}
        self.lines: list[str] = []  # what the runner said, in order
        self.report_path: Path | None = None
        self.finished = False
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.version = 0  # counts changes
        self.stop_requested = threading.Event()
        self._stoppers: dict[str, Callable[[], None]] = {}

    # ---- stopping (an interrupted notebook cell) ------------------------------------------------
    def on_stop(self, label: str, stop: Callable[[], None] | None) -> None:
        """The runner's way to end lab ``label``'s worker (``None``: nothing to end)."""
        with self._lock:
            if stop is None:
                self._stoppers.pop(label, None)
            else:
                self._stoppers[label] = stop

    def stop(self) -> None:
        """End every running lab's notebooks (never its sim); labs not started yet are not
        started. The runner then probes and reports what ran."""
        self.stop_requested.set()
        with self._lock:
            stoppers = list(self._stoppers.values())
        for stop in stoppers:
            stop()

    # ---- events ---------------------------------------------------------------------------------
    def plan(self, labs: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Every lab's ``plan`` event at once (so no reader sees half the labs)."""
        with self._changed:
            for label, event in labs:
                self._plan(label, event)
            self.version += 1
            self._changed.notify_all()

    def _plan(self, label: str, event: dict[str, Any]) -> None:
        for name in event.get("notebooks", []):
            if name not in self.notebooks:
                self.notebooks.append(name)
        row = LabRow(label, list(event.get("notebooks", [])), str(event.get("where", "")))
        for name in event.get("kept", []):
            row.status[name] = "kept"
        self.rows[label] = row

    def apply(self, label: str, event: dict[str, Any], now: float | None = None) -> None:
        """One event for lab ``label``. ``event['event']`` is one of ``plan`` (notebooks,
        kept, where), ``start`` (notebook), ``done`` (the worker's: notebook, status,
        seconds, cell, error), ``lab-error`` (error), ``probe``, ``verdict`` (verdict and
        each notebook's final status)."""
        now = time.monotonic() if now is None else now
        with self._changed:
            kind = event.get("event")
            if kind == "plan":
                self._plan(label, event)
            else:
                row = self.rows.setdefault(label, LabRow(label, list(self.notebooks)))
                self._apply(row, str(kind), event, now)
            self.version += 1
            self._changed.notify_all()

    @staticmethod
    def _apply(row: LabRow, kind: str, event: dict[str, Any], now: float) -> None:
        name = str(event.get("notebook", ""))
        if kind == "start":
            row.phase, row.running, row.running_since = "running", name, now
            row.status[name] = "running"
        elif kind == "done":
            row.status[name] = str(event.get("status", "failed"))
            row.seconds[name] = float(event.get("seconds") or 0.0)
            if row.running == name:
                row.running, row.running_since = None, None
            if event.get("error") and not row.first_failure:
                row.first_failure = f"{name} cell {event.get('cell')}: {event['error']}"
        elif kind == "lab-error":
            row.error = str(event.get("error", ""))
            row.running, row.running_since = None, None
        elif kind == "probe":
            row.phase, row.running, row.running_since = "probing", None, None
        elif kind == "verdict":
            row.phase, row.verdict = "done", str(event.get("verdict", ""))
            for nb, status in (event.get("notebooks") or {}).items():
                if row.status.get(nb) != "kept":
                    row.status[nb] = status

    def say(self, line: str) -> None:
        with self._changed:
            self.lines.append(line)
            self.version += 1
            self._changed.notify_all()

    def finish(self, report_path: Path | None) -> None:
        with self._changed:
            self.finished, self.report_path = True, report_path
            self.version += 1
            self._changed.notify_all()

    def wait_for_change(self, seen: int, timeout: float) -> int:
        """Block until the model's version is past ``seen`` (or ``timeout``); the version."""
        with self._changed:
            self._changed.wait_for(lambda: self.version != seen, timeout=timeout)
            return self.version

    def bar(self, label: str) -> str:
        with self._lock:
            row = self.rows.get(label)
            return row.bar() if row else ""

    # ---- views ----------------------------------------------------------------------------------
    def snapshot(self, now: float | None = None) -> list[dict[str, Any]]:
        """Each lab's row as plain data (what both views draw; what tests read)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return [
                {
                    "label": r.label,
                    "cells": {n: r.status.get(n, "") for n in self.notebooks},
                    "done": r.done,
                    "total": len(r.notebooks),
                    "bar": r.bar(),
                    "state": r.state(),
                    "seconds": round(r.elapsed(now), 1),
                    "first_failure": r.first_failure or r.error,
                    "verdict": r.verdict,
                }
                for r in self.rows.values()
            ]

    def to_text(self, now: float | None = None) -> str:
        """The table as a terminal shows it."""
        from labkit.display import Table

        table = Table(["lab", "progress", *self.notebooks, "time", "state", "first failure"])
        for row in self.snapshot(now):
            marks = [LOOK.get(row["cells"][n], ("?", ""))[0] for n in self.notebooks]
            table.add(
                row["label"],
                row["bar"],
                *marks,
                f"{row['seconds']:.0f} s",
                row["state"],
                row["first_failure"][:80] or "-",
            )
        return str(table)

    def to_html(self, now: float | None = None) -> str:
        """The table as a notebook shows it: inline styles only (a notebook's output is
        sanitised and kept), a bar and a coloured cell per notebook."""
        e = html.escape
        cell = "border:1px solid #ddd;padding:2px 6px;text-align:left"
        head = "".join(
            f"<th style='{cell};background:#f5f5f5'>{e(h)}</th>"
            for h in ["lab", "progress", *self.notebooks, "time", "state", "first failure"]
        )
        body = []
        for row in self.snapshot(now):
            share = 100 * row["done"] // max(row["total"], 1)
            bar = (
                "<div style='width:90px;height:10px;background:#eee;display:inline-block'>"
                f"<div style='width:{share}%;height:10px;background:#66bb6a'></div></div> "
                f"{row['done']}/{row['total']}"
            )
            marks = "".join(
                f"<td class='nb {e(status)}' title='{e(name)}: {e(status)}' "
                f"style='{cell};background:{LOOK.get(status, ('', '#fff'))[1]}'>"
                f"{LOOK.get(status, ('?', ''))[0]}</td>"
                for name, status in row["cells"].items()
            )
            state_bg = VERDICT_BACKGROUND.get(row["verdict"], "#ffffff")
            body.append(
                f"<tr data-lab='{e(row['label'])}'><td style='{cell}'><b>{e(row['label'])}</b></td>"
                f"<td style='{cell}'>{bar}</td>{marks}"
                f"<td style='{cell}'>{row['seconds']:.0f} s</td>"
                f"<td class='state' style='{cell};background:{state_bg}'>{e(row['state'])}</td>"
                f"<td style='{cell}'>{e(row['first_failure'][:160]) or '-'}</td></tr>"
            )
        with self._lock:
            finished, path = self.finished, self.report_path
        foot = ""
        if finished and path is not None:
            foot = f"<div>report: <code>{e(str(path))}</code></div>"
        elif not finished:
            foot = "<div><i>running ...</i></div>"
        return (
            "<table class='labkit-run-progress' style='border-collapse:collapse'>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{foot}"
        )

    def view(self) -> ProgressView:
        """An object a notebook displays as the HTML table (text elsewhere)."""
        with self._lock:
            finished = self.finished
        return ProgressView(self.to_text(), self.to_html(), finished)


@dataclass(frozen=True)
class ProgressView:
    text: str
    html: str
    final: bool = False

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return self.html


Show = Callable[[ProgressView], None]


def _display_in_place() -> Show:
    """A ``show`` that draws into one notebook output and redraws it in place."""
    from IPython.display import display

    handle: Any = None

    def show(view: ProgressView) -> None:
        nonlocal handle
        if handle is None:
            handle = display(view, display_id=True)  # type: ignore[no-untyped-call]
        else:
            handle.update(view)

    return show


def _print_on_change() -> Show:
    """A ``show`` for a terminal: the table each time it changed, at most every 5 s."""
    last_time, last_text = [0.0], [""]

    def show(view: ProgressView) -> None:
        due = time.monotonic() - last_time[0] >= 5
        if view.final or (view.text != last_text[0] and due):
            print(view.text, flush=True)
            last_time[0], last_text[0] = time.monotonic(), view.text

    return show


def run_in_notebook(
    notebooks: Iterable[str | Path],
    envs: Iterable[str],
    *,
    parallel: int | None = None,
    out: str | Path | None = None,
    state_root: Path | None = None,
    cell_timeout: float | None = 600.0,
    env_timeout: float | None = 3600.0,
    resume: bool = False,
    fail_fast: bool = False,
    keep_sims: bool = False,
    show: Show | None = None,
    interval: float = 1.0,
) -> RunReport:
    """``labkit run`` from a notebook: ``envs`` as ``--env`` takes them (``sim:alice``,
    ``@workshop.yaml`` ...), at most ``parallel`` labs at once, outputs and the report in
    ``out`` (default ``<state root>/runs/run-<time>``). A live table shows each lab's
    notebooks as they pass or fail (``show`` replaces that drawing, e.g. in tests); the
    run's report model is returned, also written to ``out/report.json`` and ``.html``.

    Interrupting the cell ends the labs' notebooks (not their sims) and still writes the
    report of what ran; ``resume=True`` goes on from there."""
    from labkit import config
    from labkit.instructor import attendees
    from labkit.instructor.run import RunOptions, default_parallel, run
    from labkit.widgets.env import in_notebook

    root = state_root or config.default_state_root()
    if out is None:
        out = root / "runs" / time.strftime("run-%Y%m%d-%H%M%S")
    options = RunOptions(
        notebooks=[Path(n) for n in notebooks],
        attendees=attendees.parse(list(envs), state_root),
        out=Path(out).expanduser().resolve(),
        parallel=parallel or default_parallel(),
        cell_timeout=cell_timeout or None,
        env_timeout=env_timeout or None,
        resume=resume,
        fail_fast=fail_fast,
        keep_sims=keep_sims,
    )
    progress = RunProgress()
    show = show or (_display_in_place() if in_notebook() else _print_on_change())
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["report"] = run(options, say=progress.say, progress=progress)
        except BaseException as exc:
            result["error"] = exc
        finally:
            progress.finish(options.out / "report.html" if "report" in result else None)

    worker = threading.Thread(target=work, name="labkit-run", daemon=True)
    worker.start()
    seen = -1
    interrupted = False
    while worker.is_alive():
        try:
            # Redraw on every change, and each `interval` anyway (the running time moves).
            seen = progress.wait_for_change(seen, interval)
            if progress.rows:  # planned: the labs are known
                show(progress.view())
        except KeyboardInterrupt:
            if interrupted:
                raise
            interrupted = True
            progress.stop()  # the run goes on to probe and report what ran
    worker.join()
    show(progress.view())
    if "error" in result:
        raise result["error"]
    report: RunReport = result["report"]
    return report
