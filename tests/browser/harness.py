"""Browser tests in the distribution's Chromium, driven by Playwright for Python.

Playwright usually downloads a browser of its own (``playwright install``); this lab never
does: it drives ``/usr/bin/chromium`` from the distribution's packages
(``apt-get install chromium``), which ``make test`` installs on a fresh machine when run as
root. Without it the browser tests **fail** -- a skipped test would let a broken report
through CI unnoticed -- and say what to run.

The fixtures (made visible by ``tests/browser/conftest.py``; other test folders import them
from here):

* ``browser`` -- one headless Chromium per test session (per xdist worker): starting it
  takes about a second, a new page a few milliseconds;
* ``page`` -- a fresh page (own context: no cookies or storage shared between tests);
* ``screenshot(page, name)`` saves a PNG under :data:`ARTIFACTS` (kept after the run,
  git-ignored) and returns its path, and :func:`looks_blank` tells a screenshot that shows
  something from an empty page.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from labkit.lab import dashboard

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

CHROMIUM = Path(os.environ.get("LABKIT_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
INSTALL = "sudo apt-get install -y --no-install-recommends chromium"

# The flags labkit itself starts Chromium with (no background fetches, sync or GPU; as root
# --no-sandbox); Playwright adds --headless and a fresh --user-data-dir.
CHROMIUM_ARGS = list(dashboard.CHROMIUM_ARGS)


def missing_browser() -> str:
    """Why the browser tests cannot run here, or '' when they can."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        found = shutil.which("chromium") or shutil.which("chromium-browser")
        also = f" (there is one at {found}: LABKIT_CHROMIUM={found})" if found else ""
        return (
            f"The browser tests need Chromium at {CHROMIUM}{also}. Install the distribution's "
            f"package: {INSTALL} (`make test` does this itself when run as root)."
        )
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "The browser tests need Playwright for Python: .venv/bin/pip install -e '.[dev]'"
    return ""


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the session. Fails (never skips) when it cannot start."""
    why = missing_browser()
    if why:
        pytest.fail(why, pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        chromium = driver.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page, 1280x900, in a context of its own."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def screenshot_path(name: str) -> Path:
    """Where a screenshot called ``name`` goes: ``tests/browser/artifacts/<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "page"
    return ARTIFACTS / f"{safe}.png"


@pytest.fixture()
def screenshot(request: pytest.FixtureRequest) -> Callable[..., Path]:
    """``screenshot(page_or_locator, name=None)``: a PNG kept in :data:`ARTIFACTS`, named
    after the test unless ``name`` is given; its path is returned (and shown in the test's
    report section)."""

    def take(target: Page | Locator, name: str | None = None, full_page: bool = False) -> Path:
        path = screenshot_path(name or request.node.name)
        if full_page and hasattr(target, "set_content"):  # a Page; a Locator is its own size
            target.screenshot(path=str(path), full_page=True)
        else:
            target.screenshot(path=str(path))
        request.node.user_properties.append(("screenshot", str(path)))
        return path

    return take


def colour_counts(png: Path) -> dict[tuple[int, int, int], int]:
    """How many pixels of each colour a PNG has (RGB)."""
    from PIL import Image  # Pillow: a dependency of matplotlib

    with Image.open(png) as image:
        rgb = image.convert("RGB")
        return {colour: n for n, colour in rgb.getcolors(maxcolors=1 << 24) or []}


def looks_blank(png: Path, min_colours: int = 8, min_ink: float = 0.005) -> str:
    """Why a screenshot looks blank ('' when it does not): fewer than ``min_colours``
    distinct colours (text is anti-aliased: a rendered page has dozens), or less than
    ``min_ink`` of its pixels away from white."""
    counts = colour_counts(png)
    total = sum(counts.values())
    ink = sum(n for (r, g, b), n in counts.items() if min(r, g, b) < 245)
    if len(counts) < min_colours:
        return f"{png.name}: only {len(counts)} colour(s)"
    if total == 0 or ink / total < min_ink:
        return f"{png.name}: {ink} of {total} pixels away from white"
    return ""
