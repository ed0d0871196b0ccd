"""The instructor's HTML report in a real browser, from a report model made here (quick:
no labs). The same checks on a real run's report: tests/sim/test_instructor_run.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page

from labkit.instructor.probe import Finding
from labkit.instructor.report import CellFailure, EnvResult, NotebookRun, RunReport, to_html
from tests.browser.harness import looks_blank
from tests.browser.report_page import check_report_page

NOTEBOOKS = ["00-welcome", "01-hosts", "02-keystone"]


def _failure() -> CellFailure:
    return CellFailure(
        notebook="02-keystone",
        cell=6,
        execution_count=4,
        source_head='results = lab.install("keystone")',
        error_name="Unauthorized",
        error_message="The request you have made requires authentication. (HTTP 401)",
        layer="keystone",
        layer_title="layer 3: Identity: Keystone",
        title="Keystone refused the login (401)",
        cause="the password the installer holds is not the one Keystone has",
        fix="labkit secrets show; set admin's password back",
        entry="keystone.unauthorized",
    )


def _env(label: str, fails: bool) -> EnvResult:
    runs = [NotebookRun(n, "passed", 4.0, f"{label}/{n}.ipynb") for n in NOTEBOOKS[:2]]
    runs.append(
        NotebookRun("02-keystone", "failed", 3.0, f"{label}/02.ipynb", _failure())
        if fails
        else NotebookRun("02-keystone", "passed", 9.0, f"{label}/02.ipynb")
    )
    token = Finding(
        "token", "Keystone issues a token", "keystone", "02-keystone",
        "fail" if fails else "ok", "Unauthorized" if fails else "admin: ok", True,
    )  # fmt: skip
    return EnvResult(label, "sim.yaml", "sim", f"sim {label}", runs, [token])


@pytest.fixture()
def report() -> RunReport:
    envs = [_env(label, fails=label == "carol") for label in ("alice", "bob", "carol")]
    return RunReport(NOTEBOOKS, envs, "2026-01-01T10:00:00+00:00", "2026-01-01T10:05:00+00:00",
                     title="labkit run: workshop")  # fmt: skip


def test_the_report_renders_its_table_in_chromium(
    page: Page, report: RunReport, screenshot: Callable[..., Path], tmp_path: Path
) -> None:
    html = tmp_path / "report.html"
    html.write_text(to_html(report))
    shots = check_report_page(page, html, report, screenshot, "model-report")
    assert all(p.is_file() for p in shots.values())


def test_a_blank_page_is_told_from_a_rendered_one(
    page: Page, screenshot: Callable[..., Path]
) -> None:
    """The blank check can fail: an empty page and one line of text are both caught."""
    page.set_content("<html><body></body></html>")
    assert "colour" in looks_blank(screenshot(page, "blank"))
    page.set_content("<p>x</p>")
    assert looks_blank(screenshot(page, "almost-blank"))
