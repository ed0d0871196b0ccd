"""``lab.check_progress()``: how far along the notebooks' arc this lab really is.

Course platforms give learners a "check my progress" button; here it reads the lab itself,
not which cells ran: the layers installed, a token Keystone issues, an image active, a
server booted, a tcp/22 rule, a keypair, a login into a guest, the seed's projects. The
checks are :mod:`labkit.instructor.probe`'s exercises -- the same the instructor's report
shows -- and the answer ends with the next step: the notebook to open, or the fix of what
is broken.

Introduced for instructors (``labkit progress ENV``); any notebook can call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from labkit import layers
from labkit.display import Table
from labkit.instructor.probe import Finding, notebooks_folder, probe

if TYPE_CHECKING:
    from labkit.lab import Lab

MARKS = {"ok": "done", "was": "done (cleaned up since)", "todo": "not yet", "fail": "BROKEN"}
_ROW_MARK = {"ok": "ok", "was": "ok", "todo": "dim", "fail": "fail", "skip": "dim"}


@dataclass(frozen=True)
class NextStep:
    """What to do next: a notebook to open (and why), or a fix."""

    text: str
    notebook: str = ""  # e.g. "notebooks/05-access.ipynb" ("" when none applies)


def _arc_order() -> list[str]:
    return [n.name for n in layers.NOTEBOOKS]


def notebook_for(name: str, folder: Path | None) -> str:
    """``notebooks/NAME.ipynb`` if it exists, else the next notebook of the arc that does
    ("" when none is left)."""
    if folder is None:
        return f"notebooks/{name}.ipynb"
    order = _arc_order()
    start = order.index(name) if name in order else 0
    for candidate in order[start:]:
        if (folder / f"{candidate}.ipynb").is_file():
            return f"notebooks/{candidate}.ipynb"
    return ""


def next_step(findings: list[Finding], folder: Path | None) -> NextStep:
    """The first exercise not done: its fix if it is broken, else its notebook."""
    for finding in findings:
        if not finding.exercise or finding.status in ("ok", "was", "skip"):
            continue
        if finding.status == "fail":
            fix = finding.fix or "lab.explain(error) on the failing call says more"
            return NextStep(f"Repair first: {finding.title.lower()} fails -- {fix}")
        path = notebook_for(finding.notebook, folder)
        if not path:
            return NextStep(
                f"Next: {finding.title.lower()} -- its notebook ({finding.notebook}) is not "
                "written yet."
            )
        return NextStep(f"Next: {finding.title.lower()} -- open {path}.", path)
    return NextStep("Every exercise of the arc is done: on to notebooks/08-beyond.ipynb.")


@dataclass(frozen=True)
class Progress:
    """The learner's arc on one lab, checked now."""

    lab: str
    findings: tuple[Finding, ...]
    next: NextStep

    @property
    def exercises(self) -> list[Finding]:
        return [f for f in self.findings if f.exercise and f.status != "skip"]

    @property
    def done(self) -> int:
        return sum(f.done for f in self.exercises)

    def table(self) -> Table:
        t = Table(
            ["notebook", "exercise", "status", "what the lab shows"],
            title=f"Progress of lab {self.lab}: {self.done} of {len(self.exercises)} done",
            note=self.next.text,
        )
        for f in self.findings:
            if not f.exercise:
                continue
            detail = f.detail + (f" -- fix: {f.fix}" if f.status == "fail" and f.fix else "")
            status = MARKS.get(f.status, f.status)
            t.add(f.notebook, f.title, status, detail, mark=_ROW_MARK[f.status])
        return t

    def __str__(self) -> str:
        return str(self.table())

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()


def check_progress(lab: Lab, name: str | None = None) -> Progress:
    """Check ``lab`` now and say how far along the arc it is (see the module docstring);
    ``name`` labels it (default: its env's name)."""
    found = probe(lab, exercises_only=True).findings
    return Progress(name or lab.env.name, tuple(found), next_step(found, notebooks_folder()))
