"""What a browser must show of an instructor's report (``OUT/report.html``), checked against
the report's own model (``report.json``), so the same checks serve a report made from a
model here and the one a real ``labkit run`` wrote (tests/sim/test_instructor_run.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from labkit.instructor.report import RunReport
from tests.browser.harness import colour_counts, looks_blank

# The verdict cell's background, as report.py's stylesheet sets it (checked in the browser
# with getComputedStyle, then found in the screenshot's pixels).
VERDICT_BACKGROUND = {
    "ok": (0xE8, 0xF5, 0xE9),
    "broken": (0xFF, 0xEB, 0xEE),
    "lab-broken": (0xFF, 0xE0, 0xB2),
    "notebook-failed": (0xFF, 0xE0, 0xB2),
    "incomplete": (0xF5, 0xF5, 0xF5),
}


def _rgb(css: str) -> tuple[int, int, int]:
    r, g, b = (int(part) for part in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
    return r, g, b


def _pixels_near(counts: dict[tuple[int, int, int], int], colour: tuple[int, int, int]) -> int:
    return sum(
        n for c, n in counts.items() if all(abs(a - b) <= 2 for a, b in zip(c, colour, strict=True))
    )


def check_report_page(
    page: Page, html: Path, report: RunReport, screenshot: Callable[..., Path], name: str
) -> dict[str, Path]:
    """Open ``html`` and check it shows ``report``: the title, a row per lab in order with
    what the model says, the verdict colours, the failing lab's first failing cell and
    layer, reached by its link; screenshots of the table and the page, not blank and with
    the table's colours in them. Returns the screenshots' paths."""
    page.goto(html.resolve().as_uri())
    assert page.title() == report.title
    expect(page.locator("h1")).to_have_text(report.title)

    rows = page.locator("#summary tbody tr")
    expect(rows).to_have_count(len(report.envs))
    total = len(report.notebooks)
    for index, env in enumerate(report.envs):
        row = rows.nth(index)
        expect(row).to_be_visible()
        assert row.get_attribute("data-lab") == env.label
        cells = row.locator("td")
        expect(cells.nth(0)).to_have_text(env.label)
        expect(cells.nth(1)).to_have_text(f"{len(env.passed)}/{total}")
        verdict = cells.nth(6)
        expect(verdict).to_have_text(env.verdict)
        background = verdict.evaluate("td => getComputedStyle(td).backgroundColor")
        assert _rgb(background) == VERDICT_BACKGROUND[env.verdict], (env.label, background)

    failing = [e for e in report.envs if e.first_failure is not None]
    assert failing, "the report has no failing lab to look at"
    env = failing[0]
    failure = env.first_failure
    assert failure is not None
    row = page.locator(f"#summary tbody tr[data-lab='{env.label}']")
    first, layer = row.locator("td").nth(2), row.locator("td").nth(3)
    expect(first).to_contain_text(f"{failure.where}: {failure.error_name}")
    expect(layer).to_have_text(failure.layer or "-")
    expect(first).to_be_in_viewport()

    table_png = screenshot(page.locator("#summary"), f"{name}-table")
    # The lab's link leads to its section, where the failure is explained.
    row.locator("td.lab a").click()
    block = page.locator(f"section[id='lab-{env.label}'] .explain")
    expect(block).to_be_in_viewport()
    expect(block).to_contain_text(f"First failure: {failure.where}")
    expect(block.locator("td.layer")).to_have_text(failure.layer_title or "unknown")
    page_png = screenshot(page, f"{name}-page", full_page=True)

    for png in (table_png, page_png):
        assert not looks_blank(png), looks_blank(png)
    counts = colour_counts(table_png)
    for verdict in {e.verdict for e in report.envs}:
        assert _pixels_near(counts, VERDICT_BACKGROUND[verdict]) > 100, (verdict, table_png)
    return {"table": table_png, "page": page_png}
