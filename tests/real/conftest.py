"""The real-host tier: opt-in only (``make test-real`` sets LABKIT_REAL=1).

Without LABKIT_REAL=1 every test marked ``real`` is deselected here -- reported as
deselected, never silently passed. With it, a machine that cannot run local lab hosts (not
root, no network namespaces) makes the tests fail loudly.
"""

from __future__ import annotations

import os

import pytest

OPT_IN = "LABKIT_REAL"
TIMINGS: list[str] = []  # lines for the closing summary (durations of up/down, per step)


def _enabled() -> bool:
    return os.environ.get(OPT_IN) == "1"


def pytest_report_header(config: pytest.Config) -> str:
    if _enabled():
        return "real-host tests: ON (local lab hosts on this machine)"
    return f"real-host tests: deselected (set {OPT_IN}=1, e.g. `make test-real`, to run them)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _enabled():
        return
    real = [item for item in items if item.get_closest_marker("real")]
    if real:
        config.hook.pytest_deselected(items=real)
        items[:] = [item for item in items if not item.get_closest_marker("real")]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.section("local lab host timings")
        for line in TIMINGS:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def real_timings() -> list[str]:
    return TIMINGS
