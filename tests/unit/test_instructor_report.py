"""The instructor's report without labs: the model and its verdicts, reading output notebooks
(written here as papermill writes them), explain on a notebook's error, the terminal summary
and the HTML page (parsed with the standard library), and how labs are named."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from labkit.errors import LabkitError
from labkit.explain import explain
from labkit.instructor import attendees
from labkit.instructor.probe import Finding
from labkit.instructor.progress import next_step, notebook_for
from labkit.instructor.report import (
    CellFailure,
    EnvResult,
    NotebookRun,
    RunReport,
    explain_failure,
    finished_ok,
    notebook_status,
    read_notebook_run,
    summary,
    to_html,
)
from labkit.instructor.worker import mark_unfinished

REPO = Path(__file__).resolve().parents[2]


# ---- a report made by hand ----------------------------------------------------------------------


def _finding(key: str, status: str, layer: str = "keystone", exercise: bool = True) -> Finding:
    return Finding(key, f"check {key}", layer, "02-keystone", status, f"{key} {status}", exercise)  # type: ignore[arg-type]


def _failure(notebook: str = "02-keystone", cell: int = 6, layer: str = "keystone") -> CellFailure:
    return CellFailure(
        notebook=notebook,
        cell=cell,
        execution_count=4,
        source_head='results = lab.install("keystone")',
        error_name="Unauthorized",
        error_message="The request you have made requires authentication. (HTTP 401)",
        layer=layer,
        layer_title="layer 3: Identity: Keystone",
        title="Keystone refused the login (401)",
        cause="wrong password",
        fix="compare the credentials",
        entry="keystone.unauthorized",
    )


def _env(label: str, failed: bool, broken: bool, not_run: bool = False) -> EnvResult:
    runs = [NotebookRun("00-welcome", "passed", 5.0, f"{label}/00-welcome.ipynb")]
    if failed:
        runs.append(NotebookRun("02-keystone", "failed", 3.5, "x", _failure()))
    elif not_run:
        runs.append(NotebookRun("02-keystone", "not-run"))
    else:
        runs.append(NotebookRun("02-keystone", "passed", 9.0, "x"))
    probe = [_finding("lab", "ok", "lab"), _finding("token", "fail" if broken else "ok")]
    return EnvResult(label, "sim.yaml", "sim", f"sim of {label}", runs, probe)


def _report() -> RunReport:
    return RunReport(
        ["00-welcome", "02-keystone"],
        [
            _env("ok-lab", False, False),
            _env("broken-lab", True, True),
            _env("lab-only", False, True),
            _env("notebook-only", True, False),
            _env("cut-short", False, False, not_run=True),
        ],
        started="2024-05-01T10:00:00+00:00",
        finished="2024-05-01T10:05:00+00:00",
    )


def test_verdicts_put_the_notebooks_next_to_the_probe() -> None:
    report = _report()
    assert [e.verdict for e in report.envs] == [
        "ok",
        "broken",
        "lab-broken",
        "notebook-failed",
        "incomplete",
    ]
    assert not report.ok
    assert RunReport(["00-welcome"], [_env("x", False, False)]).ok


def test_an_env_result_knows_what_passed_and_what_failed_first() -> None:
    env = _report().env("broken-lab")
    assert env.passed == ["00-welcome"]
    assert env.first_failure == _failure()
    assert [f.key for f in env.probe_failures] == ["token"]
    assert env.seconds == pytest.approx(8.5)
    with pytest.raises(KeyError):
        _report().env("nobody")


def test_the_report_survives_json() -> None:
    report = _report()
    again = RunReport.from_json(report.to_json())
    assert again == report
    assert again.env("broken-lab").first_failure == _failure()


def test_the_terminal_summary_has_a_row_per_lab_and_says_why() -> None:
    text = summary(_report())
    rows = {line.split()[0]: line for line in text.splitlines() if line.split()}
    assert "02-keystone cell 6 (In [4]): Unauthorized" in rows["broken-lab"]
    assert rows["broken-lab"].rstrip().endswith("broken")
    assert rows["ok-lab"].rstrip().endswith("ok")
    assert "lab-only: CHECK: notebooks passed but the lab is broken" in text
    assert "notebook-only: CHECK: a notebook failed but the lab looks healthy" in text
    assert "  layer:   layer 3: Identity: Keystone  -- Keystone refused the login (401)" in text
    assert "  fix:     compare the credentials" in text


# ---- the HTML page ------------------------------------------------------------------------------


class _Page(HTMLParser):
    """Every table by id (or class), as rows of (row class, cell texts); and every tag
    that would load something from elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[tuple[str, list[str]]]] = {}
        self.external: list[str] = []
        self.tags: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if tag in ("script", "link", "img", "iframe") or (a.get("src") or "").startswith("http"):
            self.external.append(tag)
        if tag == "table":
            self._table = a.get("id") or a.get("class") or "?"
            self.tables.setdefault(self._table, [])
        elif tag == "tr" and self._table:
            self.tables[self._table].append((a.get("class") or "", []))
        elif tag in ("td", "th") and self._table:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._cell is not None and self._table:
            self.tables[self._table][-1][1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _page(report: RunReport) -> _Page:
    page = _Page()
    page.feed(to_html(report))
    page.close()
    return page


def test_the_html_summary_table_has_one_row_per_lab_with_its_verdict() -> None:
    page = _page(_report())
    rows = page.tables["summary"]
    head, body = rows[0][1], rows[1:]
    assert head == ["lab", "passed", "first failure", "layer", "probe", "time", "verdict"]
    by_lab = {cells[0]: (cls, cells) for cls, cells in body}
    assert list(by_lab) == ["ok-lab", "broken-lab", "lab-only", "notebook-only", "cut-short"]
    cls, cells = by_lab["broken-lab"]
    assert cls == "broken"
    assert cells[1:5] == ["1/2", "02-keystone cell 6 (In [4]): Unauthorized", "keystone", "token"]
    assert by_lab["lab-only"][0] == "lab-broken" and by_lab["lab-only"][1][3] == "-"
    assert by_lab["ok-lab"][1][4] == "healthy"


def test_the_html_page_is_self_contained_and_escapes_what_it_shows() -> None:
    report = _report()
    report.envs[0].label = "<script>alert(1)</script>"
    report.envs[1].notebooks[1] = NotebookRun(
        "02-keystone",
        "failed",
        1.0,
        "x",
        _failure().__class__(**{**_failure().__dict__, "error_message": "a < b & c"}),
    )
    text = to_html(report)
    page = _page(report)
    assert page.external == []  # no scripts, styles or images from elsewhere
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "a &lt; b &amp; c" in text
    assert page.tables["summary"][1][1][0] == "<script>alert(1)</script>"  # as text


def test_each_lab_has_its_notebooks_failure_and_probe_in_the_html() -> None:
    page = _page(_report())
    notebooks = page.tables["notebooks"]  # every lab's rows, in order
    assert ["02-keystone", "failed", "3.5 s", "x"] in [cells for _, cells in notebooks]
    probe = [cells for _, cells in page.tables["probe"]]
    assert ["check token", "keystone", "fail", "token fail"] in probe
    text = to_html(_report())
    assert "First failure: 02-keystone cell 6 (In [4])" in text
    assert "<td class='layer'>layer 3: Identity: Keystone</td>" in text


# ---- output notebooks as papermill leaves them --------------------------------------------------


def _code(source: str, status: str = "completed", tags: tuple[str, ...] = (), **extra: Any) -> Any:
    return {
        "cell_type": "code",
        "execution_count": extra.pop("count", None),
        "metadata": {"tags": list(tags), "papermill": {"status": status, **extra}},
        "outputs": extra.pop("outputs", []) if "outputs" in extra else [],
        "source": source,
    }


def _write(path: Path, cells: list[Any], **papermill: Any) -> Path:
    meta = {"papermill": {"parameters": {"env": "/envs/sim.yaml"}, "duration": 12.5, **papermill}}
    path.write_text(json.dumps({"cells": cells, "metadata": meta, "nbformat": 4}))
    return path


def test_a_notebook_that_ran_to_its_end_passed(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "a.ipynb",
        [_code('env = "sim"', tags=("parameters",)), _code("lab = 1")],
        end_time="2024-05-01T10:00:00",
        exception=None,
    )
    assert notebook_status(path) == ("passed", 12.5, None)
    assert finished_ok(path, "/envs/sim.yaml")
    assert not finished_ok(path, "/envs/other.yaml")  # another lab's output
    assert not finished_ok(tmp_path / "missing.ipynb", "/envs/sim.yaml")


def test_the_failing_cell_is_counted_as_in_the_notebook_as_written(tmp_path: Path) -> None:
    error = {
        "output_type": "error",
        "ename": "InstallError",
        "evalue": "Step 3/16 failed (layer keystone, on controller): Create Keystone's tables",
        "traceback": ["\x1b[0;31mInstallError\x1b[0m: Step 3/16 failed"],
    }
    cells = [
        {
            "cell_type": "markdown",
            "metadata": {"tags": ["papermill-error-cell-tag"]},
            "source": "x",
        },
        {"cell_type": "markdown", "metadata": {}, "source": "# Keystone"},
        _code('env = "sim"', tags=("parameters",)),
        _code('env = "/envs/sim.yaml"', tags=("injected-parameters",)),
        _code("lab = Lab.from_env(env)", count=1),
        _code('results = lab.install("keystone")\nresults', "failed", count=2, outputs=[error]),
        _code("never ran", "pending"),
    ]
    path = _write(tmp_path / "b.ipynb", cells, end_time="t", exception=True)
    status, seconds, raw = notebook_status(path)
    assert (status, seconds) == ("failed", 12.5)
    assert raw is not None and raw["cell"] == 3 and raw["execution_count"] == 2
    assert raw["traceback"] == "InstallError: Step 3/16 failed"  # colours removed
    assert not finished_ok(path, "/envs/sim.yaml")
    run = read_notebook_run("02-keystone", path, explain, tmp_path)
    assert run.status == "failed" and run.output == "b.ipynb"
    assert run.failure is not None and run.failure.where == "02-keystone cell 3 (In [2])"
    assert run.failure.source_head == 'results = lab.install("keystone")\nresults'
    # InstallError's entry matches on the class name: the rebuilt error keeps it.
    assert run.failure.entry == "install.step-failed" and run.failure.layer == "keystone"


def test_a_cell_that_ran_out_of_time_is_marked_in_the_notebook(tmp_path: Path) -> None:
    cells = [
        _code("a = 1", count=1, start_time="t0", end_time="t1"),
        _code("import time; time.sleep(999)", "running", count=2, start_time="t1"),
        _code("b = 2", "pending"),
    ]
    path = _write(tmp_path / "c.ipynb", cells)
    mark_unfinished(path, "LabTimeout", "the lab's time ran out after 60 s", timeout=True)
    status, _, raw = notebook_status(path)
    assert status == "timeout"
    assert raw is not None and raw["cell"] == 1 and raw["ename"] == "LabTimeout"
    nb = json.loads(path.read_text())
    assert nb["metadata"]["labkit"]["status"] == "timeout"
    assert nb["cells"][1]["outputs"][-1]["evalue"] == "the lab's time ran out after 60 s"


def test_a_notebook_cut_short_without_a_word_did_not_run_to_its_end(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.ipynb", [_code("a = 1", "running", start_time="t0")])
    assert notebook_status(path)[0] == "not-run"
    assert read_notebook_run("x", tmp_path / "nothing.ipynb", explain, tmp_path).status == "not-run"


def test_explain_reads_a_client_error_from_its_name_and_text() -> None:
    raw = {
        "cell": 6,
        "ename": "Unauthorized",
        "evalue": "The request you have made requires authentication. (HTTP 401) "
        "(Request-ID: req-60c15f55-5359-4f68-ba8e-494ac456801e)",
        "source": 'results = lab.install("keystone")',
    }
    failure = explain_failure("02-keystone", raw, explain)
    assert failure.layer == "keystone" and failure.layer_title.endswith("Identity: Keystone")
    assert "401" in failure.title and failure.cause and failure.fix


def test_an_unknown_error_keeps_its_text_and_names_no_layer() -> None:
    raw = {"cell": 2, "ename": "ZeroDivisionError", "evalue": "division by zero", "source": "1/0"}
    failure = explain_failure("00-welcome", raw, explain)
    assert (failure.layer, failure.entry) == ("", "unknown")
    assert failure.error_message == "division by zero"


# ---- naming labs --------------------------------------------------------------------------------


def test_env_and_label_are_split_at_the_last_colon_only_for_a_label() -> None:
    assert attendees.split_spec("sim:alice") == ("sim", "alice")
    assert attendees.split_spec("envs/sim.yaml:b-2") == ("envs/sim.yaml", "b-2")
    assert attendees.split_spec("sim") == ("sim", None)
    assert attendees.split_spec(r"C:\labs\sim.yaml") == (r"C:\labs\sim.yaml", None)


def test_labelled_sims_get_their_own_folder_and_a_port_kept_between_runs(tmp_path: Path) -> None:
    first = attendees.parse(["sim:a", "sim:b", "sim"], tmp_path)
    assert [a.label for a in first] == ["a", "b", "sim"]
    a, b, plain = first
    assert a.state_root == tmp_path / "attendees" / "a"
    assert a.port and b.port and a.port != b.port
    assert plain.state_root == tmp_path and plain.port is None
    again = attendees.parse(["sim:b", "sim:a"], tmp_path)
    assert {x.label: x.port for x in again} == {"a": a.port, "b": b.port}
    env = a.kernel_environment()
    assert env["LABKIT_STATE_DIR"] == str(a.state_root)
    assert env["LABKIT_SIM_PORT"] == str(a.port)
    assert env["LABKIT_ENV"] == str(REPO / "envs" / "sim.yaml")
    assert env["LABKIT_WIDGETS"] == "0"


def test_two_labs_with_one_name_or_one_sim_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LabkitError, match="Two labs are called 'a'"):
        attendees.parse(["sim:a", "sim:a"], tmp_path)
    listing = tmp_path / "workshop.yaml"
    listing.write_text(f"attendees:\n  - name: other\n    state_dir: {tmp_path / 'x'}\n")
    with pytest.raises(LabkitError, match="share the state folder"):
        attendees.parse(["sim", f"@{listing}"], tmp_path / "x")


def test_an_attendees_file_lists_labs(tmp_path: Path) -> None:
    listing = tmp_path / "workshop.yaml"
    listing.write_text(
        f"attendees:\n  - name: alice\n    env: {REPO / 'envs' / 'sim.yaml'}\n    port: 18701\n"
        "  - name: bob\n    state_dir: labs/bob\n"
    )
    alice, bob = attendees.parse([f"@{listing}"], tmp_path / "root")
    assert (alice.label, alice.port) == ("alice", 18701)
    assert alice.state_root == (tmp_path / "root" / "attendees" / "alice").resolve()
    assert bob.state_root == (tmp_path / "labs" / "bob").resolve() and bob.port
    listing.write_text("attendees:\n  - name: alice\n    colour: blue\n")
    with pytest.raises(LabkitError, match="colour"):
        attendees.parse([f"@{listing}"], tmp_path)


# ---- progress: the next step --------------------------------------------------------------------


def test_the_next_step_is_the_first_exercise_not_done(tmp_path: Path) -> None:
    for name in ("00-welcome", "04-nova", "05-access", "08-beyond"):
        (tmp_path / f"{name}.ipynb").write_text("{}")
    done = Finding("lab", "The lab answers", "lab", "00-welcome", "ok")
    health = Finding("services", "Services", "lab", "01-hosts", "todo", exercise=False)
    todo = Finding("keypair", "A keypair", "networking", "05-access", "todo")
    step = next_step([done, health, todo], tmp_path)
    assert step.notebook == "notebooks/05-access.ipynb"
    assert step.text == "Next: a keypair -- open notebooks/05-access.ipynb."
    broken = Finding("token", "A token", "keystone", "02-keystone", "fail", fix="start it")
    assert next_step([done, broken, todo], tmp_path).text.startswith("Repair first: a token")
    # A notebook not written yet: the next one of the arc that is.
    assert notebook_for("07-scale-out", tmp_path) == "notebooks/08-beyond.ipynb"
    assert notebook_for("99-cleanup", tmp_path) == ""
