"""``labkit run``'s live progress without labs: the model fed the runner's events, and the
two tables drawn from it (the terminal's text with a bar per lab, the notebook's HTML)."""

from __future__ import annotations

import threading
from html.parser import HTMLParser

from labkit.instructor.live import LabRow, ProgressView, RunProgress

NOTEBOOKS = ["00-welcome", "01-hosts", "02-keystone"]


class _Cells(HTMLParser):
    """Each row of the progress table: its lab, and every cell's class, title and text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[dict[str, str]]] = {}
        self._row: list[dict[str, str]] | None = None
        self._cell: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "tr" and "data-lab" in a:
            self._row = self.rows.setdefault(a["data-lab"], [])
        elif tag == "td" and self._row is not None:
            self._cell = {"class": a.get("class", ""), "title": a.get("title", ""), "text": ""}
            self._row.append(self._cell)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell["text"] += data


def _progress() -> RunProgress:
    """Two labs part-way: a has passed 00 and runs 01 since t=100; b failed 00, passed 01
    and was kept 02 from an earlier run."""
    p = RunProgress()
    p.apply("a", {"event": "plan", "notebooks": NOTEBOOKS, "kept": [], "where": "sim a"}, 0)
    p.apply("b", {"event": "plan", "notebooks": NOTEBOOKS, "kept": ["02-keystone"]}, 0)
    p.apply("a", {"event": "start", "notebook": "00-welcome"}, 90)
    p.apply("a", {"event": "done", "notebook": "00-welcome", "status": "passed", "seconds": 10.0})
    p.apply("a", {"event": "start", "notebook": "01-hosts"}, now=100)
    p.apply("b", {"event": "start", "notebook": "00-welcome"}, now=90)
    done = {"event": "done", "notebook": "00-welcome", "status": "failed", "seconds": 4.0}
    p.apply("b", {**done, "cell": 3, "error": "Unauthorized: HTTP 401"})
    p.apply("b", {"event": "done", "notebook": "01-hosts", "status": "passed", "seconds": 6.0})
    return p


def test_the_model_follows_the_runners_events() -> None:
    rows = {r["label"]: r for r in _progress().snapshot(now=130)}
    a, b = rows["a"], rows["b"]
    assert a["cells"] == {"00-welcome": "passed", "01-hosts": "running", "02-keystone": "waiting"}
    assert (a["done"], a["total"], a["bar"], a["state"]) == (1, 3, "[#..] 1/3", "running 01-hosts")
    assert a["seconds"] == 40.0  # 10 s for 00, and 30 s into 01
    assert b["cells"] == {"00-welcome": "failed", "01-hosts": "passed", "02-keystone": "kept"}
    assert b["bar"] == "[###] 3/3" and b["state"] == "finished its notebooks"
    assert b["first_failure"] == "00-welcome cell 3: Unauthorized: HTTP 401"


def test_probe_and_verdict_finish_a_row_with_the_reports_statuses() -> None:
    p = _progress()
    p.apply("b", {"event": "probe"})
    assert p.snapshot()[1]["state"] == "probing the lab"
    final = {"00-welcome": "failed", "01-hosts": "passed", "02-keystone": "passed"}
    p.apply("b", {"event": "verdict", "verdict": "broken", "notebooks": final})
    b = p.snapshot()[1]
    assert b["state"] == "broken" and b["verdict"] == "broken"
    assert b["cells"]["02-keystone"] == "kept"  # still shown as from the earlier run
    p.apply("a", {"event": "lab-error", "error": "the lab's time ran out after 60 s"})
    a = p.snapshot(now=130)[0]
    assert a["state"] == "waiting" and a["first_failure"].startswith("the lab's time ran out")


def test_the_terminal_table_has_a_bar_per_lab() -> None:
    text = _progress().to_text(now=130)
    lines = {line.split()[0]: line for line in text.splitlines()[2:]}
    assert lines["a"].split()[1:6] == ["[#..]", "1/3", "✓", "▶", "·"]
    assert "40 s" in lines["a"] and "running 01-hosts" in lines["a"]
    assert lines["b"].split()[1:6] == ["[###]", "3/3", "✗", "✓", "✓"]
    assert lines["b"].rstrip().endswith("00-welcome cell 3: Unauthorized: HTTP 401")
    assert _progress().bar("b") == "[###] 3/3" and _progress().bar("nobody") == ""


def test_the_notebook_table_draws_the_same_rows() -> None:
    progress = _progress()
    page = _Cells()
    page.feed(progress.to_html(now=130))
    assert sorted(page.rows) == ["a", "b"]
    a = page.rows["a"]
    assert a[0]["text"] == "a" and a[1]["text"].strip() == "1/3"
    notebook_cells = [c for c in a if c["class"].startswith("nb ")]
    assert [c["class"] for c in notebook_cells] == ["nb passed", "nb running", "nb waiting"]
    assert notebook_cells[1]["title"] == "01-hosts: running"
    assert "running 01-hosts" in [c["text"] for c in a]
    b = page.rows["b"]
    assert "00-welcome cell 3: Unauthorized: HTTP 401" in b[-1]["text"]
    assert "running ..." in progress.to_html()
    progress.finish(None)
    assert "running ..." not in progress.to_html()


def test_a_row_shares_its_bar_out_among_marks() -> None:
    row = LabRow("x", [f"{i:02}" for i in range(8)])
    for name in row.notebooks[:2]:
        row.status[name] = "passed"
    assert row.bar() == "[##......] 2/8" and row.bar(width=4) == "[#...] 2/8"


def test_the_view_is_html_in_a_notebook_and_text_elsewhere() -> None:
    progress = _progress()
    view = progress.view()
    assert isinstance(view, ProgressView) and not view.final
    assert repr(view) == view.text and view._repr_html_().startswith("<table")
    progress.finish(None)
    assert progress.view().final


def test_a_reader_waits_for_the_next_change_and_stop_calls_the_runners_stoppers() -> None:
    progress = RunProgress()
    seen = progress.version
    timer = threading.Timer(0.05, progress.say, ["a line"])
    timer.start()
    assert progress.wait_for_change(seen, timeout=5) == seen + 1
    assert progress.lines == ["a line"]
    stopped: list[str] = []
    progress.on_stop("a", lambda: stopped.append("a"))
    progress.on_stop("b", lambda: stopped.append("b"))
    progress.on_stop("b", None)  # b's worker ended on its own
    progress.stop()
    assert stopped == ["a"] and progress.stop_requested.is_set()
