"""``labkit run``: every notebook against every attendee's lab, then the report.

    labkit run notebooks/0*.ipynb --env sim:alice --env sim:bob --env lab-2node \\
        --parallel 2 --out workshop-run --cell-timeout 600 --env-timeout 3600 [--resume]

How it runs:

* Each lab (:mod:`labkit.instructor.attendees`) gets a worker process
  (:mod:`labkit.instructor.worker`) that runs the notebooks **in the order given**, each with
  papermill on a fresh kernel whose environment points at that lab. A notebook that fails
  does not stop the ones after it (each starts with ``lab.ensure``), unless ``--fail-fast``.
* At most ``--parallel`` labs run at once (a bounded pool); each lab's sim has its own
  state folder and port, so they never meet.
* Every output notebook is kept: ``OUT/<lab>/<notebook>.ipynb``, with the worker's log next
  to them. A line is printed as each notebook finishes.
* ``--cell-timeout``: a cell running longer fails its notebook (nbclient's
  CellTimeoutError). ``--env-timeout``: when a lab's time is up its worker and kernel are
  ended -- never its sim -- and the notebook that was running is marked in its output.
* ``--resume`` skips each lab x notebook whose output notebook in OUT finished without an
  error for the same env, so a run cut short (Ctrl-C, a closed laptop) goes on where it
  stopped.

Then each lab is probed (:mod:`labkit.instructor.probe`: its real state through the APIs),
the report is written (``OUT/report.html``, ``OUT/report.json``) and summed up in the
terminal (:mod:`labkit.instructor.report`). Sims the run started are stopped at the end
unless ``--keep-sims``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from labkit.errors import LabkitError
from labkit.instructor.attendees import Attendee, environment_without_cloud_settings
from labkit.instructor.live import RunProgress
from labkit.instructor.report import (
    EnvResult,
    RunReport,
    finished_ok,
    read_notebook_run,
    summary,
    to_html,
)
from labkit.instructor.worker import ensure_output, mark_unfinished

Say = Callable[[str], None]


@dataclass(frozen=True)
class RunOptions:
    notebooks: list[Path]
    attendees: list[Attendee]
    out: Path
    parallel: int = 2
    cell_timeout: float | None = 600.0
    env_timeout: float | None = 3600.0
    resume: bool = False
    kernel: str = "python3"
    fail_fast: bool = False
    keep_sims: bool = False


@dataclass
class _LabRun:
    """One lab's part of the run, as the runner follows it."""

    attendee: Attendee
    folder: Path
    jobs: list[dict[str, str]] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # notebooks --resume left as they were
    error: str = ""


class _Printer:
    """Lines from several threads, whole, with a running count and the lab's bar."""

    def __init__(self, say: Say, total: int, progress: RunProgress) -> None:
        self._say, self._total, self._done = say, total, 0
        self._lock = threading.Lock()
        self.width = 8
        self.progress = progress

    def line(self, text: str) -> None:
        with self._lock:
            self._say(text)

    def finished(self, label: str, event: dict[str, Any]) -> None:
        with self._lock:
            self._done += 1
            where = f"  cell {event['cell']}: {event['error']}" if event.get("error") else ""
            self._say(
                f"[{self._done:>{len(str(self._total))}}/{self._total}] {label:<{self.width}} "
                f"{event['notebook']:<20} {event['status']:<8} {event['seconds']:>6.1f} s  "
                f"{self.progress.bar(label)}{where[:160]}"
            )


def _check_notebooks(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        resolved = path.expanduser().resolve()
        if not resolved.is_file() or resolved.suffix != ".ipynb":
            raise LabkitError(f"No notebook {path}.", "Give .ipynb files, e.g. notebooks/0*.ipynb.")
        if resolved not in out:
            out.append(resolved)
    if not out:
        raise LabkitError("No notebooks to run.", "Give .ipynb files, e.g. notebooks/0*.ipynb.")
    return out


def _plan(options: RunOptions, notebooks: list[Path]) -> list[_LabRun]:
    runs = []
    for a in options.attendees:
        run = _LabRun(a, options.out / a.label)
        for source in notebooks:
            target = run.folder / source.name
            if options.resume and finished_ok(target, str(a.env_file)):
                run.kept.append(source.stem)
                continue
            # An output left by an earlier run would read as this run's if the notebook is
            # not reached this time (--fail-fast, the lab's time running out).
            target.unlink(missing_ok=True)
            run.jobs.append({"notebook": source.stem, "input": str(source), "output": str(target)})
        runs.append(run)
    return runs


def _sim_pid(attendee: Attendee) -> int | None:
    try:
        return int(json.loads(attendee.lab().paths.sim_info.read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def _end_worker(proc: subprocess.Popen[str], attendee: Attendee) -> None:
    """End the worker and what it started (its kernel, a running `openstack`), but not the
    lab's sim: a kernel starts the sim as its child, and the probe still needs it."""
    import psutil

    spare = _sim_pid(attendee)
    try:
        parent = psutil.Process(proc.pid)
        family = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for p in family:
        if p.pid != spare:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                continue


def _run_lab(run: _LabRun, options: RunOptions, printer: _Printer) -> None:
    progress, label = printer.progress, run.attendee.label
    if not run.jobs:
        return
    if progress.stop_requested.is_set():
        run.error = "not run: the run was interrupted"
        progress.apply(label, {"event": "lab-error", "error": run.error})
        return
    run.folder.mkdir(parents=True, exist_ok=True)
    job = {
        "label": run.attendee.label,
        "env": str(run.attendee.env_file),
        "jobs": run.jobs,
        "cell_timeout": options.cell_timeout,
        "kernel": options.kernel,
        "fail_fast": options.fail_fast,
    }
    environment = environment_without_cloud_settings(run.attendee.kernel_environment())
    with open(run.folder / "worker.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "labkit.instructor.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=environment,
            text=True,
            start_new_session=True,
        )
    timed_out = threading.Event()
    progress.on_stop(label, lambda: _end_worker(proc, run.attendee))

    def time_up() -> None:
        timed_out.set()
        _end_worker(proc, run.attendee)

    timer = threading.Timer(options.env_timeout, time_up) if options.env_timeout else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    running: dict[str, str] | None = None
    done: set[str] = set()
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(job))
        proc.stdin.close()
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "start":
                running = next(j for j in run.jobs if j["notebook"] == event["notebook"])
                progress.apply(label, event)
            elif event.get("event") == "done":
                running = None
                done.add(event["notebook"])
                progress.apply(label, event)
                printer.finished(label, event)
        code = proc.wait()
    finally:
        progress.on_stop(label, None)
        if timer is not None:
            timer.cancel()
        if proc.poll() is None:  # the runner itself was interrupted
            _end_worker(proc, run.attendee)
    stopped = progress.stop_requested.is_set() and not timed_out.is_set()
    if timed_out.is_set() or stopped:
        if stopped:
            run.error = "stopped: the run was interrupted"
        else:
            run.error = f"the lab's time ran out after {options.env_timeout:.0f} s (--env-timeout)"
        # The notebook running then -- or, if the worker had not started one yet, the next.
        pending = [j for j in run.jobs if j["notebook"] not in done]
        current = running or (pending[0] if pending else None)
        if current is not None:
            output = Path(current["output"])
            ensure_output(Path(current["input"]), output)
            if stopped:
                mark_unfinished(output, "KeyboardInterrupt", run.error, timeout=False)
            else:
                mark_unfinished(output, "LabTimeout", run.error, timeout=True)
            run.error += f" during {current['notebook']}"
        printer.line(f"{run.attendee.label}: {run.error}")
    elif code not in (0, 1):
        run.error = f"the worker exited with status {code}; see {run.folder / 'worker.log'}"
        printer.line(f"{run.attendee.label}: {run.error}")
    if run.error:
        progress.apply(label, {"event": "lab-error", "error": run.error})


def _result(
    run: _LabRun, notebooks: list[Path], options: RunOptions, progress: RunProgress
) -> EnvResult:
    from labkit.instructor.probe import probe

    a = run.attendee
    progress.apply(a.label, {"event": "probe"})
    lab = a.lab()
    if a.is_sim and not run.jobs and lab.installed_layers():
        # Every notebook was kept (--resume): nothing started this lab's sim, so start it
        # for the probe (the run stops it again). A sim that stopped *during* the run is
        # left down: the probe must report that.
        from labkit.sim import process

        if process.running(lab.paths) is None:
            lab.up()
    runs = [
        read_notebook_run(
            source.stem,
            run.folder / source.name,
            lab.explain,
            options.out,
            resumed=source.stem in run.kept,
        )
        for source in notebooks
    ]
    findings = probe(lab).findings
    result = EnvResult(
        label=a.label,
        env=a.env_file.name,
        kind=a.env.kind,
        where=a.where(),
        notebooks=runs,
        probe=findings,
        error=run.error,
    )
    final = {n.notebook: ("kept" if n.resumed else n.status) for n in runs}
    progress.apply(a.label, {"event": "verdict", "verdict": result.verdict, "notebooks": final})
    return result


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run(options: RunOptions, say: Say = print, progress: RunProgress | None = None) -> RunReport:
    """Run, probe, report (see the module docstring). Returns the report, also written to
    ``OUT/report.json`` and ``OUT/report.html``. ``progress`` follows the run as it goes
    (:mod:`labkit.instructor.live`: the live table of ``lab.run``)."""
    from labkit.sim import process

    if options.parallel < 1:
        raise LabkitError("--parallel must be 1 or more.", "Use --parallel 2 on a 2-core machine.")
    notebooks = _check_notebooks(options.notebooks)
    options.out.mkdir(parents=True, exist_ok=True)
    started = _now()
    runs = _plan(options, notebooks)
    sims_before = {
        r.attendee.label
        for r in runs
        if r.attendee.is_sim and process.running(r.attendee.lab().paths) is not None
    }
    total = sum(len(r.jobs) for r in runs)
    progress = progress if progress is not None else RunProgress()
    names = [n.stem for n in notebooks]
    progress.plan(
        (r.attendee.label, {"notebooks": names, "kept": r.kept, "where": r.attendee.where()})
        for r in runs
    )
    printer = _Printer(say, max(total, 1), progress)
    printer.width = max(len(r.attendee.label) for r in runs)
    say(
        f"labkit run: {len(runs)} lab(s) x {len(notebooks)} notebook(s), "
        f"{min(options.parallel, len(runs))} lab(s) at a time; outputs in {options.out}"
    )
    for r in runs:
        kept = f"; kept from an earlier run: {', '.join(r.kept)}" if r.kept else ""
        say(f"  {r.attendee.label}: {r.attendee.where()}{kept}")
    try:
        with ThreadPoolExecutor(max_workers=options.parallel) as pool:
            for future in [pool.submit(_run_lab, r, options, printer) for r in runs]:
                future.result()
        say("probing each lab through its APIs ...")
        with ThreadPoolExecutor(max_workers=options.parallel) as pool:
            results = list(pool.map(lambda r: _result(r, notebooks, options, progress), runs))
    finally:
        if not options.keep_sims:
            for r in runs:
                if r.attendee.is_sim and r.attendee.label not in sims_before:
                    process.stop(r.attendee.lab().paths)
    report = RunReport(
        notebooks=[n.stem for n in notebooks],
        envs=results,
        started=started,
        finished=_now(),
        title=f"labkit run: {options.out.name}",
    )
    (options.out / "report.json").write_text(report.to_json())
    (options.out / "report.html").write_text(to_html(report))
    say("")
    say(summary(report))
    say("")
    say(f"report: {options.out / 'report.html'}")
    return report


def default_parallel() -> int:
    """As many labs at once as this machine has cores (each lab keeps one busy: its kernel
    and its sim take turns), at least 1."""
    return max(1, os.cpu_count() or 1)
