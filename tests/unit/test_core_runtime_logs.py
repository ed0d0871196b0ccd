"""The runtime's buffered service logs: written in one go at flush, the very lines a plain
FileHandler would have written one by one, and still written after logging.config closed
the files (uvicorn's dictConfig does)."""

from __future__ import annotations

import logging
from pathlib import Path

from labkit.sim.core.config import SimConfig, SimHost
from labkit.sim.core.http import log_info
from labkit.sim.core.runtime import Runtime, _SimClockFormatter, _SimTime

CONTROLLER = SimHost("controller", "10.64.0.11", ("controller",), 2, 8.0, 50.0)


def _runtime(tmp_path: Path) -> Runtime:
    config = SimConfig(
        state_dir=tmp_path / "state", port=1, hosts=(CONTROLLER,), deterministic=True
    )
    return Runtime(config)  # the steady clock: both handlers stamp the same time


def test_flushed_lines_are_the_lines_a_file_handler_writes(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    try:
        log = runtime.logger("keystone")
        plain = logging.Logger("labkit.sim.keystone", logging.INFO)
        plain.addFilter(_SimTime(runtime.clock))
        reference = logging.FileHandler(tmp_path / "reference.log")
        reference.setFormatter(_SimClockFormatter())
        plain.addHandler(reference)
        for number in range(3):
            args = ("req-1", "127.0.0.1", "GET", f"/v3/{number}", "", 200, 10, 0.001)
            line = '[%s] %s "%s %s%s" status: %d len: %d time: %.4f'
            log_info(log, line, *args)
            log.error("[-] %s", "oslo_db.exception.DBConnectionError: ünïcode")
            plain.info(line, *args)
            plain.error("[-] %s", "oslo_db.exception.DBConnectionError: ünïcode")
        log.debug("below the level: never written")
        runtime.flush_logs()
        reference.close()
        written = (runtime.logs_dir / "keystone.log").read_text()
        assert written == (tmp_path / "reference.log").read_text()
        assert written.count("\n") == 6
    finally:
        runtime.close()


def test_lines_after_the_file_was_closed_reopen_it(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    try:
        log = runtime.logger("glance-api")
        log.info("before")
        runtime.flush_logs()
        buffered = log.handlers[0]
        assert isinstance(buffered, logging.handlers.MemoryHandler)
        assert isinstance(buffered.target, logging.FileHandler)
        buffered.target.close()  # what logging.config.dictConfig does to every handler
        log.info("after")
        runtime.flush_logs()
        lines = (runtime.logs_dir / "glance-api.log").read_text().splitlines()
        assert [line.rsplit(" ", 1)[1] for line in lines] == ["before", "after"]
    finally:
        runtime.close()
