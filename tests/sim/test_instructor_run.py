"""``labkit run`` as an instructor uses it: notebooks 00-03 against three attendees' sims at
once, one of them broken on purpose before the run, then the report.

The broken lab is attendee ``c``: Keystone installed, then the admin user's password changed
through Keystone's API (``openstack user set --password``), as an attendee might by
mistake. Notebook 02's install needs admin's token for its last steps, and the installer
cannot repair a password it does not own, so the notebook fails there -- whereas a wrong
``[database] connection`` in keystone.conf (the issue's other example) is written back by
that same install and does not survive the run.

Everything is checked from what the run leaves behind: the output notebooks, report.json
(the model), report.html (parsed with the standard library) and the terminal summary --
against the notebooks' own cells, not hard-coded indices.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from labkit import cli
from labkit.instructor import attendees
from labkit.instructor.report import RunReport
from tests import osc_fork
from tests.notebooks import harness

pytestmark = pytest.mark.slow

NOTEBOOKS = [harness.NOTEBOOKS / f"{name}.ipynb" for name in harness.ORDER[:4]]


def _cell_index(notebook: Path, text: str) -> int:
    """The index (as nbformat counts) of the code cell whose source holds ``text``."""
    cells = json.loads(notebook.read_text())["cells"]
    found = [i for i, c in enumerate(cells) if text in "".join(c["source"])]
    assert len(found) == 1, f"{text!r} is in cells {found} of {notebook.name}"
    return found[0]


class _Rows(HTMLParser):
    """The rows of the table with id ``summary``: each row's class and cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self._in_summary = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("id") == "summary":
            self._in_summary = True
        elif self._in_summary and tag == "tr":
            self.rows.append((a.get("class") or "", []))
        elif self._in_summary and tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_summary = False
        elif tag == "td" and self._cell is not None and self.rows:
            self.rows[-1][1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def workshop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Three attendees' labs; ``c`` broken before the run, and running (an attendee's lab
    that is up), ``a`` and ``b`` not made yet (the run's notebooks make them)."""
    root = tmp_path_factory.mktemp("workshop")
    labs = attendees.parse(["sim:a", "sim:b", "sim:c"], root)
    broken = labs[2].lab()
    broken.ensure("keystone")
    conn = broken.connect("admin")
    conn.identity.update_user(conn.identity.find_user("admin"), password="changed-by-mistake")
    try:
        yield {"root": root, "labs": labs, "out": root / "run"}
    finally:
        from labkit.sim import process

        for one in labs:
            process.stop(one.lab().paths)


def _labkit_run(workshop: dict[str, Any], *extra: str, envs: tuple[str, ...]) -> int:
    argv = ["--state-dir", str(workshop["root"]), "run", *map(str, NOTEBOOKS)]
    for env in envs:
        argv += ["--env", env]
    argv += ["--out", str(workshop["out"]), "--cell-timeout", "240", "--env-timeout", "400"]
    return cli.main([*argv, *extra])


@pytest.fixture(scope="module")
def first_run(
    workshop: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """``labkit run`` once: three labs, two at a time (a 2-core machine), with the tests'
    fast ``openstack`` on the kernels' PATH (as the notebook tests; the real CLI otherwise)."""
    with pytest.MonkeyPatch.context() as patch:
        shim = osc_fork.shim_dir()
        if shim is not None:
            patch.setenv("PATH", f"{shim}{os.pathsep}{os.environ['PATH']}")
            patch.setenv(osc_fork.SOCKET_VAR, osc_fork.socket_path())
        capture = tmp_path_factory.mktemp("stdout") / "out.txt"
        with open(capture, "w") as out, contextlib.redirect_stdout(out):
            code = _labkit_run(workshop, "--parallel", "2", envs=("sim:a", "sim:b", "sim:c"))
    out_dir: Path = workshop["out"]
    yield {
        "code": code,
        "stdout": capture.read_text(),
        "report": RunReport.from_json((out_dir / "report.json").read_text()),
        "html": (out_dir / "report.html").read_text(),
    }


def test_the_healthy_labs_pass_every_notebook(first_run: dict[str, Any]) -> None:
    report: RunReport = first_run["report"]
    assert report.notebooks == [n.stem for n in NOTEBOOKS]
    for label in ("a", "b"):
        env = report.env(label)
        assert env.passed == report.notebooks, env.notebooks
        assert env.verdict == "ok", [f for f in env.probe if f.status == "fail"]
        assert all(n.seconds and n.seconds > 0 for n in env.notebooks)
        # The probe saw what notebooks 00-03 make, from the lab itself.
        done = {f.key for f in env.probe if f.status == "ok"}
        assert {"lab", "base", "services", "keystone", "token", "glance", "image"} <= done
        assert env.probe[[f.key for f in env.probe].index("nova")].status == "todo"


def test_the_report_names_the_broken_lab_its_failing_cell_and_layer(
    first_run: dict[str, Any],
) -> None:
    report: RunReport = first_run["report"]
    assert first_run["code"] == 1
    broken = report.env("c")
    assert broken.passed == ["00-welcome", "01-hosts"]
    failure = broken.first_failure
    assert failure is not None
    keystone = NOTEBOOKS[2]
    assert failure.notebook == "02-keystone"
    assert failure.cell == _cell_index(keystone, 'results = lab.install("keystone")')
    assert 'lab.install("keystone")' in failure.source_head
    assert failure.error_name == "Unauthorized"
    assert "HTTP 401" in failure.error_message
    assert failure.layer == "keystone"
    assert "Keystone" in failure.layer_title
    assert failure.cause and failure.fix
    # Notebook 03 starts with lab.ensure("keystone"), which fails the same way.
    glance = broken.notebooks[3]
    assert glance.status == "failed" and glance.failure is not None
    assert glance.failure.cell == _cell_index(NOTEBOOKS[3], 'ensure("keystone")')
    # The probe agrees, on its own: no token for admin, explained as Keystone's.
    token = next(f for f in broken.probe if f.key == "token")
    assert token.status == "fail" and token.explained_layer == "keystone"
    assert broken.verdict == "broken"


def test_each_output_notebook_is_kept(first_run: dict[str, Any], workshop: dict[str, Any]) -> None:
    report: RunReport = first_run["report"]
    for env in report.envs:
        for run in env.notebooks:
            path = workshop["out"] / run.output
            assert path.is_file() and path.parent.name == env.label
            params = json.loads(path.read_text())["metadata"]["papermill"]["parameters"]
            assert params["env"].endswith("sim.yaml")


def test_the_terminal_shows_progress_and_the_summary(first_run: dict[str, Any]) -> None:
    text: str = first_run["stdout"]
    finished = [line for line in text.splitlines() if line.startswith("[")]
    assert len(finished) == 12, text
    assert any(" c " in line and "02-keystone" in line and "failed" in line for line in finished)
    summary = text[text.index("lab  passed") :]
    row = next(line for line in summary.splitlines() if line.startswith("c "))
    assert "2/4" in row and "02-keystone cell" in row and "keystone" in row and "broken" in row
    assert "c: broken: a notebook failed and the probe agrees" in summary


def test_the_html_report_has_one_row_per_lab(first_run: dict[str, Any]) -> None:
    rows = _Rows()
    rows.feed(first_run["html"])
    by_lab = {cells[0]: (cls, cells) for cls, cells in rows.rows if cells}  # not the head
    assert sorted(by_lab) == ["a", "b", "c"]
    assert by_lab["a"][0] == "ok" and by_lab["b"][0] == "ok"
    cls, cells = by_lab["c"]
    assert cls == "broken"
    assert cells[1] == "2/4" and cells[2].startswith("02-keystone cell") and cells[3] == "keystone"
    assert "http://" not in first_run["html"].split("<body>")[0]  # no external assets


def test_the_html_report_renders_in_a_browser(
    first_run: dict[str, Any], workshop: dict[str, Any], page: Any, screenshot: Any
) -> None:
    """The report this run wrote, in the distribution's Chromium: a row per lab as
    report.json has it, c's first failing cell and its layer on screen, c's explanation
    reached by its link, and screenshots that show the table (tests/browser/artifacts)."""
    from tests.browser.report_page import check_report_page

    html: Path = workshop["out"] / "report.html"
    report: RunReport = first_run["report"]
    assert [e.label for e in report.envs] == ["a", "b", "c"]
    shots = check_report_page(page, html, report, screenshot, "labkit-run-report")
    assert shots["table"].stat().st_size > 0


def test_resume_keeps_what_passed_and_reruns_what_failed(
    first_run: dict[str, Any], workshop: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """Run again with --resume (and --fail-fast): lab a has nothing left to run; lab c
    runs notebook 02 again, fails there again and stops, so 03 is not run this time."""
    out: Path = workshop["out"]
    kept = [*(out / "a").glob("*.ipynb"), *(out / "c").glob("0[01]-*.ipynb")]
    before = {p: p.stat().st_mtime_ns for p in kept}
    code = _labkit_run(workshop, "--resume", "--fail-fast", envs=("sim:a", "sim:c"))
    text = capsys.readouterr().out
    assert code == 1
    assert "a: " in text and "kept from an earlier run: 00-welcome, 01-hosts, 02-keystone, " in text
    finished = [line for line in text.splitlines() if line.startswith("[")]
    assert len(finished) == 1 and "c 02-keystone" in " ".join(finished[0].split()), finished
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())  # not run again
    report = RunReport.from_json((out / "report.json").read_text())
    assert [n.resumed for n in report.env("a").notebooks] == [True] * 4
    # Nothing ran for a: its sim was started for the probe alone (and stopped after).
    assert report.env("a").verdict == "ok", report.env("a").probe
    c = report.env("c")
    assert [(n.status, n.resumed) for n in c.notebooks] == [
        ("passed", True),
        ("passed", True),
        ("failed", False),
        ("not-run", False),
    ]
    assert c.first_failure is not None and c.first_failure.notebook == "02-keystone"
    assert c.verdict == "broken"


def test_check_many_labs_is_one_table(
    first_run: dict[str, Any], workshop: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """After the run: a's sim was stopped (the run started it), c's still runs (it was up
    before the run) but refuses admin's password."""
    code = cli.main(["--state-dir", str(workshop["root"]), "check", "sim:a", "sim:c"])
    text = capsys.readouterr().out
    assert code == 1
    rows = {line.split()[0]: line for line in text.splitlines() if line[:2] in ("a ", "c ")}
    assert "FAIL The lab answers: no sim running" in rows["a"]
    a_root = workshop["root"] / "attendees" / "a"
    assert f"fix: `labkit --state-dir {a_root} sim up --env " in rows["a"]  # a's sim, no other
    assert " ok " in rows["c"] and "FAIL Keystone issues a token: Unauthorized" in rows["c"]
    assert "0 of 2 labs ready; 2 failed" in text


def test_progress_reads_the_arc_from_the_lab(
    first_run: dict[str, Any], workshop: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["--state-dir", str(workshop["root"]), "progress", "sim:a", "sim:c"])
    text = capsys.readouterr().out
    assert code == 1  # c is broken
    a_part, c_part = text.split("Progress of lab c")
    # a: notebooks 00-03 done (its sim started to look, then stopped again).
    assert "Progress of lab a: 6 of 12 done" in a_part
    assert _status(a_part, "An image is active") == "done"
    assert _status(a_part, "A server booted") == "not yet"
    assert "Next: nova installed -- open notebooks/04-nova.ipynb." in a_part
    assert "started to look, stopped again" in a_part
    assert _status(c_part, "Keystone installed") == "done"
    assert _status(c_part, "Keystone issues a token") == "BROKEN"
    assert "Repair first: keystone issues a token fails" in c_part


def _status(table: str, exercise: str) -> str:
    """The status column of an exercise's row in a progress table."""
    for line in table.splitlines():
        columns = re.split(r"\s{2,}", line.strip())
        if len(columns) >= 3 and columns[1] == exercise:
            return columns[2]
    raise AssertionError(f"no row {exercise!r} in:\n{table}")


def test_sims_up_gives_each_attendee_a_sim_and_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`labkit sims up --count 2`: two sims on their own ports and folders, the attendees
    file that `labkit run --env @...` takes, an env file and clouds.yaml each, and memory."""
    root, out = tmp_path / "state", tmp_path / "workshop"
    listing = out / "attendees.yaml"
    try:
        code = cli.main(["--state-dir", str(root), "sims", "up", "--count", "2", "--out", str(out)])
        text = capsys.readouterr().out
        assert code == 0, text
        labs = attendees.parse([f"@{listing}"], root)
        assert [a.label for a in labs] == ["attendee01", "attendee02"]
        assert len({a.port for a in labs}) == 2
        for a in labs:
            assert a.lab().paths.root == root / "attendees" / a.label / "sim"
            row = next(line for line in text.splitlines() if line.startswith(a.label))
            assert f"{a.label}  {a.port}  yes" in row
            rss = int(row.split()[-2])
            assert 20 < rss < 1024, row  # MiB: a live process, not a unit slip
            variables = dict(
                line.removeprefix("export ").split("=", 1)
                for line in (out / f"{a.label}.env").read_text().splitlines()
            )
            assert variables["LABKIT_SIM_PORT"] == str(a.port)
            assert variables["OS_CLIENT_CONFIG_FILE"] == str(out / a.label / "clouds.yaml")
            assert (out / a.label / "clouds.yaml").is_file()
        assert "such sims fit in 24 GiB" in text
        # The same file names them again for `sims down`, which leaves their state.
        assert cli.main(["--state-dir", str(root), "sims", "down", f"@{listing}"]) == 0
        assert "attendee01: stopped" in capsys.readouterr().out
        assert cli.main(["--state-dir", str(root), "sims", "status", f"@{listing}"]) == 3
    finally:
        from labkit.sim import process

        if listing.is_file():
            for a in attendees.parse([f"@{listing}"], root):
                process.stop(a.lab().paths)


def test_progress_follows_notebook_05s_exercises_through_the_lab(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """On a lab with Nova: nothing of notebook 05 done; then a tcp/22 rule, the lab's key as
    a keypair and a server booted with it (a real SSH login checks it); then all of it
    deleted as notebook 05's last cell does -- done before, and the lab still shows it."""
    from tests.conftest import private_sim

    for lab in private_sim(tmp_path_factory, "progress", layer="nova-compute"):
        before = lab.check_progress()
        found = {f.key: f.status for f in before.findings}
        assert [found[k] for k in ("token", "image", "nova")] == ["ok", "ok", "ok"]
        assert [found[k] for k in ("server-booted", "ssh-rule", "keypair", "guest-login")] == [
            "todo"
        ] * 4
        assert before.next.notebook == "notebooks/04-nova.ipynb"

        key = lab.ssh_key()
        demo = lab.connect("demo")
        demo.compute.create_keypair(name="mykey", public_key=key.with_suffix(".pub").read_text())
        group = demo.network.find_security_group("default", project_id=demo.current_project_id)
        rule = demo.network.create_security_group_rule(
            security_group_id=group.id,
            direction="ingress",
            protocol="tcp",
            port_range_min=22,
            port_range_max=22,
        )
        server = lab.boot("server1", "m1.tiny", "cirros", user="demo", key_name="mykey")
        assert server.status == "ACTIVE"
        now = lab.check_progress()
        by_key = {f.key: f for f in now.findings}
        assert by_key["guest-login"].status == "ok"
        assert by_key["guest-login"].detail == "logged in to server1: hostname server1"
        assert by_key["keypair"].detail == "mykey (demo, the lab key)"
        assert by_key["ssh-rule"].status == by_key["server-booted"].status == "ok"

        demo.compute.delete_server(server)
        demo.compute.wait_for_delete(server)
        demo.compute.delete_keypair("mykey")
        demo.network.delete_security_group_rule(rule)
        after = {f.key: f.status for f in lab.check_progress().findings}
        assert [after[k] for k in ("server-booted", "ssh-rule", "keypair", "guest-login")] == [
            "was"
        ] * 4


def _sleepy_notebook(folder: Path) -> Path:
    """A notebook with the lab notebooks' parameters cell, then a cell that sleeps."""
    folder.mkdir(parents=True, exist_ok=True)
    cell = {"cell_type": "code", "execution_count": None, "outputs": []}
    cells = [
        {**cell, "metadata": {"tags": ["parameters"]}, "source": 'env = "sim"'},
        {**cell, "metadata": {}, "source": "print('before')"},
        {**cell, "metadata": {}, "source": "import time\ntime.sleep(120)"},
        {**cell, "metadata": {}, "source": "print('printed-later')"},
    ]
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb = {"cells": cells, "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}
    path = folder / "sleepy.ipynb"
    path.write_text(json.dumps(nb))
    return path


@pytest.mark.parametrize(
    ("limits", "error", "lab_error"),
    [
        (["--cell-timeout", "3", "--env-timeout", "0"], "CellTimeoutError", ""),
        # Long enough for a kernel to start on a busy machine and reach the sleeping cell.
        (["--cell-timeout", "0", "--env-timeout", "20"], "LabTimeout", "time ran out after 20 s"),
    ],
)
def test_a_cell_or_a_lab_that_runs_too_long_is_stopped_and_named(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    limits: list[str],
    error: str,
    lab_error: str,
) -> None:
    notebook = _sleepy_notebook(tmp_path / "notebooks")
    out = tmp_path / "run"
    argv = ["--state-dir", str(tmp_path / "state"), "run", str(notebook), "--env", "sim:slow"]
    code = cli.main([*argv, "--out", str(out), *limits])
    text = capsys.readouterr().out
    assert code == 1, text
    env = RunReport.from_json((out / "report.json").read_text()).env("slow")
    run = env.notebooks[0]
    assert run.status == "timeout" and run.failure is not None, (env.error, text)
    assert (run.failure.cell, run.failure.error_name) == (2, error)
    assert "time.sleep(120)" in run.failure.source_head
    assert lab_error in env.error
    assert env.verdict == "notebook-failed"  # the lab itself (nothing installed) is fine
    # The output notebook tells the same story to whoever opens it.
    kept = json.loads((out / "slow" / "sleepy.ipynb").read_text())
    assert kept["metadata"]["labkit"]["status"] == "timeout" or error == "CellTimeoutError"
    assert not any("printed-later" in str(c.get("outputs")) for c in kept["cells"])
