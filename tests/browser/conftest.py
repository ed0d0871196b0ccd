"""The browser tests' summary line. Their fixtures (:mod:`tests.browser.harness`) are
defined once, in tests/conftest.py, for every test folder: a second definition would start a
second Playwright in the same worker, which refuses to start inside the first one's loop.
Screenshots are kept in ``tests/browser/artifacts/`` (git-ignored) after the run."""

from __future__ import annotations

import pytest

from tests.browser.harness import ARTIFACTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if ARTIFACTS.is_dir() and any(ARTIFACTS.glob("*.png")):
        terminalreporter.write_line(f"browser screenshots: {ARTIFACTS}")
