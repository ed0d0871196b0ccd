"""The browser fixtures (see :mod:`tests.browser.harness`) for the tests in this folder.
Screenshots are kept in ``tests/browser/artifacts/`` (git-ignored) after the run."""

from __future__ import annotations

import pytest

from tests.browser.harness import ARTIFACTS, browser, page, screenshot

__all__ = ["browser", "page", "screenshot"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if ARTIFACTS.is_dir() and any(ARTIFACTS.glob("*.png")):
        terminalreporter.write_line(f"browser screenshots: {ARTIFACTS}")
