"""``lab.run(...)`` (:func:`labkit.instructor.live.run_in_notebook`): a real run of notebook
00 for two attendees' sims, two at a time, with the live table recorded as it is redrawn."""

from __future__ import annotations

import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from labkit.instructor.live import ProgressView, run_in_notebook
from labkit.instructor.report import RunReport
from labkit.lab import Lab
from tests.notebooks import harness

pytestmark = pytest.mark.slow

WELCOME = harness.NOTEBOOKS / "00-welcome.ipynb"


class _States(HTMLParser):
    """Per lab in a drawn table: the status class of each notebook cell, and the state."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, list[str]] = {}
        self.state: dict[str, str] = {}
        self._lab = ""
        self._in_state = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "tr" and "data-lab" in a:
            self._lab = a["data-lab"]
            self.cells[self._lab] = []
        elif tag == "td" and a.get("class", "").startswith("nb "):
            self.cells[self._lab].append(a["class"][3:])
        self._in_state = tag == "td" and a.get("class") == "state"

    def handle_data(self, data: str) -> None:
        if self._in_state:
            self.state[self._lab] = data


def _read(view: ProgressView) -> _States:
    states = _States()
    states.feed(view.html)
    return states


def test_lab_run_draws_a_live_table_and_returns_the_report(tmp_path: Path) -> None:
    views: list[ProgressView] = []
    root, out = tmp_path / "state", tmp_path / "run"
    # Through the Lab, as a notebook calls it: attendees' sims under that lab's state root.
    report = Lab.from_env("sim", state_root=root).run(
        [WELCOME],
        envs=["sim:x", "sim:y"],
        parallel=2,
        out=out,
        cell_timeout=240,
        env_timeout=300,
        show=views.append,
        interval=0.2,
    )
    assert isinstance(report, RunReport)
    assert [e.label for e in report.envs] == ["x", "y"]
    for env in report.envs:
        assert env.passed == ["00-welcome"] and env.verdict == "ok", env
    assert (out / "report.json").is_file() and (out / "report.html").is_file()
    assert RunReport.from_json((out / "report.json").read_text()) == report

    # The table was redrawn as the run went: first both labs waiting or running, then each
    # notebook seen running, and at the end both passed with the verdict.
    drawn = [_read(v) for v in views]
    assert set(drawn[0].cells) == {"x", "y"}
    assert all(cells == ["waiting"] or cells == ["running"] for cells in drawn[0].cells.values())
    for lab in ("x", "y"):
        assert any(d.cells[lab] == ["running"] for d in drawn), f"{lab} never drawn running"
    last = views[-1]
    assert last.final and _read(last).cells == {"x": ["passed"], "y": ["passed"]}
    assert _read(last).state == {"x": "ok", "y": "ok"}
    assert str(out / "report.html") in last.html
    assert "[#] 1/1" in last.text
    # Each lab had a sim of its own, under the state root given; the run stopped both.
    for lab in ("x", "y"):
        assert (root / "attendees" / lab / "sim").is_dir()


def test_interrupting_the_cell_stops_the_notebooks_and_still_reports(tmp_path: Path) -> None:
    """Ctrl-C (the notebook's interrupt) while a lab's notebook runs: its worker and kernel
    are ended at once, not its sim, and the report says what ran and that it was stopped."""
    from tests.sim.test_instructor_run import _sleepy_notebook

    notebook = _sleepy_notebook(tmp_path / "notebooks")
    interrupted: list[float] = []

    def show(view: ProgressView) -> None:
        if not interrupted and _read(view).cells.get("slow") == ["running"]:
            interrupted.append(time.monotonic())
            raise KeyboardInterrupt

    report = run_in_notebook(
        [notebook],
        envs=["sim:slow"],
        out=tmp_path / "run",
        state_root=tmp_path / "state",
        show=show,
        interval=0.2,
    )
    assert interrupted, "the notebook was never drawn running"
    assert time.monotonic() - interrupted[0] < 60  # not the 120 s the cell sleeps
    env = report.env("slow")
    assert env.error == "stopped: the run was interrupted during sleepy", env.error
    run = env.notebooks[0]
    assert run.status == "failed" and run.failure is not None
    assert run.failure.error_name == "KeyboardInterrupt"
    assert env.verdict == "notebook-failed"
