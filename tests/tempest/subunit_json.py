"""A subunit v2 stream (stdin) as JSON lines (stdout): one ``{"id", "status", "details"}``
per test. Runs with ``.venv-tempest``'s Python, which has python-subunit and testtools
(tempest's dependencies; labkit's environment has neither).

    stestr last --subunit | .venv-tempest/bin/python tests/tempest/subunit_json.py

``status`` is testtools' (success, fail, skip, xfail, uxsuccess); ``details`` is the
traceback of a failure or the reason of a skip (empty for a success)."""

from __future__ import annotations

import json
import sys
from typing import Any

import subunit
import testtools


def _text(details: dict[str, Any]) -> str:
    """The traceback or the skip reason; else every text attachment (log lines ...)."""
    for name in ("traceback", "reason"):
        if name in details:
            return str(details[name].as_text())
    texts = [c.as_text() for c in details.values() if c.content_type.type == "text"]
    return "\n".join(texts)


def main() -> None:
    def emit(test: dict[str, Any]) -> None:
        if test["status"] == "exists":  # listed, never run
            return
        status = test["status"]
        details = "" if status == "success" else _text(test["details"])
        line = {"id": test["id"], "status": status, "details": details}
        sys.stdout.write(json.dumps(line) + "\n")

    stream = subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name="stdout")
    result = testtools.StreamToDict(emit)
    result.startTestRun()
    try:
        stream.run(result)
    finally:
        result.stopTestRun()


if __name__ == "__main__":
    main()
