"""One lab's notebooks, in order, in a process of their own (``python -m
labkit.instructor.worker``, started by :mod:`labkit.instructor.run`).

Why a process per lab: a notebook kernel takes its lab from the environment it inherits
(``LABKIT_STATE_DIR``, ``LABKIT_SIM_PORT``, ``LABKIT_ENV``), and one process has one
environment -- so labs that run side by side each need their own. It also makes the
per-lab time limit simple: the runner ends this process (and its kernel) when the lab's
time is up.

The job comes as JSON on stdin; what happens goes out as JSON lines on stdout, one per
event (``start`` and ``done`` of each notebook). Everything else the process or papermill
prints goes to stderr, which the runner keeps as ``worker.log``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from labkit.instructor.report import notebook_status, read_notebook


def mark_unfinished(path: Path, name: str, message: str, timeout: bool) -> None:
    """Write into an output notebook why it stopped where it did when papermill could not
    (a cell's time ran out, the lab's time ran out, the kernel died): an error output on
    the cell that was running, and ``metadata.labkit.status``. The notebook then tells the
    story on its own, to the report and to anyone who opens it."""
    try:
        nb = read_notebook(path)
    except (OSError, ValueError):
        return
    if not isinstance(nb.get("cells"), list):
        return
    code = [c for c in nb["cells"] if c.get("cell_type") == "code"]
    started = [c for c in code if (c.get("metadata", {}).get("papermill") or {}).get("start_time")]
    target = started[-1] if started else (code[0] if code else None)
    if target is not None:
        error = {"output_type": "error", "ename": name, "evalue": message, "traceback": [message]}
        outputs = target.setdefault("outputs", [])
        if timeout:  # nbclient interrupts a cell whose time is up: say why, not just that
            outputs[:] = [o for o in outputs if o.get("ename") != "KeyboardInterrupt"]
        outputs.append(error)
        meta = target.setdefault("metadata", {}).setdefault("papermill", {})
        meta["status"], meta["exception"] = "failed", True
    metadata = nb.setdefault("metadata", {})
    metadata.setdefault("papermill", {})["exception"] = True
    metadata["labkit"] = {"status": "timeout" if timeout else "failed", "reason": message}
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _cell_timeout(job: dict[str, Any]) -> str:
    return f"the cell ran longer than {job.get('cell_timeout'):.0f} s (--cell-timeout)"


def ensure_output(source: Path, target: Path) -> None:
    """An output notebook to write into even when papermill never got to write one (the
    kernel did not start, the lab's time ran out first): the source, as it is."""
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")


def _emit(out: TextIO, **event: Any) -> None:
    out.write(json.dumps(event) + "\n")
    out.flush()


def run_job(job: dict[str, Any], out: TextIO) -> int:
    """Run every notebook of ``job`` in order; 0 when all passed."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    failures = 0
    for item in job["jobs"]:
        name, source, target = item["notebook"], Path(item["input"]), Path(item["output"])
        target.parent.mkdir(parents=True, exist_ok=True)
        _emit(out, event="start", notebook=name)
        started = time.monotonic()
        try:
            papermill.execute_notebook(
                str(source),
                str(target),
                parameters={"env": job["env"]},
                cwd=str(source.parent),
                kernel_name=job.get("kernel") or "python3",
                progress_bar=False,
                log_output=False,
                execution_timeout=job.get("cell_timeout"),
                request_save_on_cell_execute=True,
            )
        except PapermillExecutionError as exc:
            # papermill wrote the error into the notebook. A KeyboardInterrupt in a batch run
            # is nbclient interrupting a cell that ran out of time.
            if exc.ename == "KeyboardInterrupt" and job.get("cell_timeout"):
                mark_unfinished(target, "CellTimeoutError", _cell_timeout(job), timeout=True)
        except TimeoutError as exc:  # nbclient's CellTimeoutError
            mark_unfinished(target, "CellTimeoutError", f"{_cell_timeout(job)}: {exc}", True)
        except Exception as exc:  # the kernel died, the notebook could not be read ...
            ensure_output(source, target)
            mark_unfinished(target, type(exc).__name__, str(exc), timeout=False)
        status, _, raw = notebook_status(target)
        failures += status != "passed"
        _emit(
            out,
            event="done",
            notebook=name,
            status=status,
            seconds=round(time.monotonic() - started, 1),
            cell=raw.get("cell") if raw else None,
            error=f"{raw.get('ename')}: {str(raw.get('evalue', '')).strip()[:200]}" if raw else "",
        )
        if failures and job.get("fail_fast"):
            break
    return 1 if failures else 0


def main() -> int:
    job = json.loads(sys.stdin.read())
    # Events go to the real stdout; anything else printed (papermill, kernels' noise) to
    # stderr, so a stray print cannot break the runner's reading of events.
    events = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return run_job(job, events)


if __name__ == "__main__":
    sys.exit(main())
