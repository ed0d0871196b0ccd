"""Horizon's static-file compression is tried again when pyScss misreads a stylesheet, and
fails with the build's error once every attempt has failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labkit.horizon import venv as hv


def _failing(times: int, calls: list[list[str]]) -> Any:
    def run(command: list[str], what: str, cwd: Path | None = None, **env: str) -> None:
        calls.append(command)
        if len(calls) <= times:
            raise hv.HorizonVenvError(f"Building failed while {what}: Syntax error", "retry")

    return run


def test_a_misread_stylesheet_is_compressed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(hv, "_run", _failing(hv.COMPRESS_ATTEMPTS - 1, calls))
    hv._compress(tmp_path)
    assert len(calls) == hv.COMPRESS_ATTEMPTS
    assert all(c[-2:] == ["compress", "--force"] for c in calls)


def test_compression_failing_every_time_is_the_builds_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(hv, "_run", _failing(hv.COMPRESS_ATTEMPTS, calls))
    with pytest.raises(hv.HorizonVenvError, match="compressing Horizon's static files"):
        hv._compress(tmp_path)
    assert len(calls) == hv.COMPRESS_ATTEMPTS
