"""The instructor's report: what ``labkit run`` found, per lab, as data first.

The model is plain dataclasses (:class:`RunReport` > :class:`EnvResult` >
:class:`NotebookRun` > :class:`CellFailure`, and the probe's
:class:`~labkit.instructor.probe.Finding` s), saved as ``report.json`` and drawn two ways:
:func:`summary` for a terminal and :func:`to_html` for a browser -- one self-contained page
(inline styles, no scripts, no external assets) an instructor can mail around.

Everything about a notebook is read back from its output notebook (papermill's metadata:
status and duration per cell, the error output of the failing cell), so a report can be
rebuilt from ``--out`` alone; a failure is run through :func:`labkit.explain.explain` for
its layer, cause and fix.

Each lab gets a *verdict* that puts the notebooks next to the probe, so the two cases an
instructor must not miss stand out: notebooks passed but the lab is broken, and a notebook
failed while the lab is healthy.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from labkit import layers
from labkit.instructor.probe import Finding

NotebookStatus = Literal["passed", "failed", "timeout", "not-run"]
Verdict = Literal["ok", "broken", "lab-broken", "notebook-failed", "incomplete"]

VERDICT_TEXT: dict[str, str] = {
    "ok": "ok: notebooks passed and the lab is healthy",
    "broken": "broken: a notebook failed and the probe agrees",
    "lab-broken": "CHECK: notebooks passed but the lab is broken",
    "notebook-failed": "CHECK: a notebook failed but the lab looks healthy",
    "incomplete": "incomplete: not every notebook ran",
}
TIMEOUT_NAMES = ("CellTimeoutError", "LabTimeout")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# ---- the model ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellFailure:
    """The first cell that failed in a notebook, and ``lab.explain``'s reading of it."""

    notebook: str  # "02-keystone"
    cell: int  # the cell's index in the notebook as written (0-based, as nbformat counts)
    execution_count: int | None  # the In [n] it ran as
    source_head: str  # its first lines
    error_name: str  # "InstallError"
    error_message: str  # the error's text (first lines)
    layer: str = ""  # labkit.layers key ("" when explain does not know)
    layer_title: str = ""
    title: str = ""  # explain's one line
    cause: str = ""
    fix: str = ""
    entry: str = ""  # the explain entry that matched

    @property
    def where(self) -> str:
        run = f" (In [{self.execution_count}])" if self.execution_count else ""
        return f"{self.notebook} cell {self.cell}{run}"


@dataclass(frozen=True)
class NotebookRun:
    notebook: str
    status: NotebookStatus
    seconds: float | None = None
    output: str = ""  # the output notebook, relative to the report's folder
    failure: CellFailure | None = None
    resumed: bool = False  # kept from an earlier run (--resume)


@dataclass
class EnvResult:
    """One lab: its notebooks, what the probe found, and the verdict."""

    label: str
    env: str  # the env file's name
    kind: str  # sim, ssh, cloud
    where: str = ""
    notebooks: list[NotebookRun] = field(default_factory=list)
    probe: list[Finding] = field(default_factory=list)
    error: str = ""  # the lab's own trouble (its time ran out, its worker crashed)

    @property
    def passed(self) -> list[str]:
        return [n.notebook for n in self.notebooks if n.status == "passed"]

    @property
    def first_failure(self) -> CellFailure | None:
        return next((n.failure for n in self.notebooks if n.failure is not None), None)

    @property
    def failed_notebooks(self) -> list[NotebookRun]:
        return [n for n in self.notebooks if n.status in ("failed", "timeout")]

    @property
    def probe_failures(self) -> list[Finding]:
        return [f for f in self.probe if f.status == "fail"]

    @property
    def verdict(self) -> Verdict:
        failed = bool(self.failed_notebooks)
        broken = bool(self.probe_failures)
        if not failed and any(n.status == "not-run" for n in self.notebooks):
            return "incomplete"
        if failed:
            return "broken" if broken else "notebook-failed"
        return "lab-broken" if broken else "ok"

    @property
    def seconds(self) -> float:
        return sum(n.seconds or 0.0 for n in self.notebooks)


@dataclass
class RunReport:
    notebooks: list[str]
    envs: list[EnvResult] = field(default_factory=list)
    started: str = ""
    finished: str = ""
    title: str = "Workshop run"

    @property
    def ok(self) -> bool:
        return all(e.verdict == "ok" for e in self.envs)

    def env(self, label: str) -> EnvResult:
        for e in self.envs:
            if e.label == label:
                return e
        raise KeyError(label)

    # ---- JSON -----------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> RunReport:
        data = json.loads(text)
        envs = []
        for e in data.pop("envs"):
            runs = []
            for n in e.pop("notebooks"):
                failure = n.pop("failure")
                runs.append(NotebookRun(**n, failure=CellFailure(**failure) if failure else None))
            found = [Finding(**f) for f in e.pop("probe")]
            envs.append(EnvResult(**e, notebooks=runs, probe=found))
        return cls(**data, envs=envs)


# ---- reading an output notebook -----------------------------------------------------------------

_PAPERMILL_TAGS = ("injected-parameters", "papermill-error-cell-tag")


def read_notebook(path: Path) -> dict[str, Any]:
    """An .ipynb as the JSON it is (nbformat 4: ``cells``, ``metadata``)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise ValueError(f"{path} is not a notebook")
    return data


def _meta(node: Any, key: str) -> Any:
    return (node.get("metadata") or {}).get(key) or {}


def _source_cells(nb: Any) -> list[tuple[int, Any]]:
    """(index in the notebook as written, cell) for each cell papermill did not add."""
    out: list[tuple[int, Any]] = []
    for cell in nb["cells"]:
        tags = (cell.get("metadata") or {}).get("tags") or []
        if any(t in tags for t in _PAPERMILL_TAGS):
            continue
        out.append((len(out), cell))
    return out


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _head(text: str, lines: int = 3, width: int = 240) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][:lines]
    out = "\n".join(kept)
    return out if len(out) <= width else out[: width - 3] + "..."


def notebook_status(path: Path) -> tuple[NotebookStatus, float | None, dict[str, Any] | None]:
    """Read an output notebook: its status, its duration, and the failing cell's raw facts
    (``cell``, ``execution_count``, ``source``, ``ename``, ``evalue``, ``traceback``)."""
    try:
        nb = read_notebook(path)
    except (OSError, ValueError) as exc:
        return "not-run", None, {"cell": -1, "ename": type(exc).__name__, "evalue": str(exc)}
    pm = _meta(nb, "papermill")
    labkit_meta = _meta(nb, "labkit")
    seconds = pm.get("duration")
    for index, cell in _source_cells(nb):
        cell_pm = _meta(cell, "papermill")
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if cell_pm.get("status") == "failed" or cell_pm.get("exception") or errors:
            # The one that says most: a time limit's, else the cell's own first error.
            named = [e for e in errors if e.get("ename") in TIMEOUT_NAMES]
            error = (named or errors or [{}])[0]
            raw = {
                "cell": index,
                "execution_count": cell.get("execution_count"),
                "source": _text(cell.get("source")),
                "ename": error.get("ename", "Error"),
                "evalue": error.get("evalue", ""),
                "traceback": _ANSI.sub("", "\n".join(error.get("traceback", []))),
            }
            timed_out = labkit_meta.get("status") == "timeout" or raw["ename"] in TIMEOUT_NAMES
            return ("timeout" if timed_out else "failed"), seconds, raw
    if labkit_meta.get("status") == "timeout":  # killed before any cell ran
        return "timeout", seconds, {"cell": -1, "ename": "LabTimeout", "evalue": "", "source": ""}
    if pm.get("end_time") is None or any(
        _meta(c, "papermill").get("status") in ("running", "pending") for _, c in _source_cells(nb)
    ):
        return "not-run", seconds, None
    return "passed", float(seconds) if seconds is not None else None, None


def finished_ok(path: Path, env_parameter: str) -> bool:
    """Did this output notebook run to its end without an error, for this env? (what
    ``--resume`` skips)"""
    if not path.is_file():
        return False
    try:
        nb = read_notebook(path)
    except (OSError, ValueError):
        return False
    parameters = _meta(nb, "papermill").get("parameters") or {}
    if parameters.get("env") != env_parameter:
        return False
    return notebook_status(path)[0] == "passed"


def _as_exception(name: str, message: str) -> BaseException:
    """An exception that reads like the notebook's to :func:`labkit.explain.explain`: the
    same class name and, when the class is one labkit knows, the same base-class names
    (explain matches some entries on those). Built, never raised."""
    import builtins

    from labkit import errors

    real: Any = getattr(errors, name, None) or getattr(builtins, name, None)
    if real is None:  # the clients' own: openstacksdk's, then keystoneauth's
        from keystoneauth1 import exceptions as auth_exceptions
        from openstack import exceptions as sdk_exceptions

        real = getattr(sdk_exceptions, name, None) or getattr(auth_exceptions, name, None)
    names = [name]
    if isinstance(real, type) and issubclass(real, BaseException):
        names = [c.__name__ for c in real.__mro__ if c not in (object, BaseException, Exception)]
    cls: type[Exception] = Exception
    for base_name in reversed(names[1:]):
        cls = type(base_name, (cls,), {})
    leaf: type[Exception] = type(names[0], (cls,), {"__str__": lambda self: message})
    return leaf(message)


Explainer = Callable[[Any], Any]


def explain_failure(notebook: str, raw: dict[str, Any], explain: Explainer) -> CellFailure:
    """A :class:`CellFailure` from a notebook's failing cell, with ``explain``'s (layer,
    cause, fix). ``explain`` is ``lab.explain`` (findings from the lab) or
    :func:`labkit.explain.explain`."""
    name, message = str(raw.get("ename", "Error")), str(raw.get("evalue", ""))
    explanation = explain(_as_exception(name, message))
    if explanation.layer == "" and raw.get("traceback"):
        second = explain(str(raw["traceback"]))
        if second.layer:
            explanation = second
    layer = explanation.layer
    found = layers.find(layer) if layer else None
    return CellFailure(
        notebook=notebook,
        cell=int(raw.get("cell", -1)),
        execution_count=raw.get("execution_count"),
        source_head=_head(str(raw.get("source", ""))),
        error_name=name,
        error_message=_head(message, lines=6, width=600),
        layer=found.key if found else layer,
        layer_title=explanation.layer_title,
        title=explanation.title,
        cause=explanation.cause,
        fix=explanation.fix,
        entry=explanation.entry,
    )


def read_notebook_run(
    notebook: str, path: Path, explain: Explainer, relative_to: Path, resumed: bool = False
) -> NotebookRun:
    """One env x notebook as its output notebook shows it."""
    if not path.is_file():
        return NotebookRun(notebook, "not-run")
    status, seconds, raw = notebook_status(path)
    failure = explain_failure(notebook, raw, explain) if raw and status != "not-run" else None
    try:
        output = str(path.relative_to(relative_to))
    except ValueError:
        output = str(path)
    return NotebookRun(notebook, status, seconds, output, failure, resumed)


# ---- the terminal face --------------------------------------------------------------------------


def _cells(e: EnvResult, total: int) -> list[str]:
    failure = e.first_failure
    first = f"{failure.where}: {failure.error_name}" if failure else (e.error or "-")
    layer = failure.layer if failure else ""
    broken = ", ".join(f.key for f in e.probe_failures) or "healthy"
    return [
        e.label,
        f"{len(e.passed)}/{total}",
        first,
        layer or "-",
        broken,
        f"{e.seconds:.0f} s",
        e.verdict,
    ]


def summary(report: RunReport) -> str:
    """The report as a terminal reads it: one row per lab, then what failed and why."""
    from labkit.display import Table

    table = Table(
        ["lab", "passed", "first failure", "layer", "probe", "time", "verdict"],
        title=f"{report.title}: {len(report.envs)} lab(s) x {len(report.notebooks)} notebook(s)",
    )
    for e in report.envs:
        table.add(*_cells(e, len(report.notebooks)))
    lines = [str(table)]
    for e in report.envs:
        if e.verdict == "ok":
            continue
        lines.append("")
        lines.append(f"{e.label}: {VERDICT_TEXT[e.verdict]}")
        if e.error:
            lines.append(f"  lab:     {e.error}")
        failure = e.first_failure
        if failure:
            lines.append(f"  failed:  {failure.where}: {_head(failure.source_head, 1, 100)}")
            lines.append(f"  error:   {failure.error_name}: {_head(failure.error_message, 1, 160)}")
            lines.append(f"  layer:   {failure.layer_title or 'unknown'}  -- {failure.title}")
            if failure.cause:
                lines.append(f"  cause:   {failure.cause}")
            if failure.fix:
                lines.append(f"  fix:     {failure.fix}")
        for f in e.probe_failures:
            lines.append(f"  probe:   {f.title}: {f.detail}")
            if f.fix:
                lines.append(f"           fix: {f.fix}")
    return "\n".join(lines)


# ---- the HTML face ------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em;color:#212121}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f5f5f5}
tr.ok td.verdict,td.ok{background:#e8f5e9}
tr.broken td.verdict,td.fail,td.failed,td.timeout{background:#ffebee}
tr.lab-broken td.verdict,tr.notebook-failed td.verdict{background:#ffe0b2;font-weight:bold}
tr.incomplete td.verdict,td.todo,td.skip,td.not-run{background:#f5f5f5;color:#616161}
td.was{background:#f1f8e9}
pre{background:#fafafa;border:1px solid #eee;padding:.5em;white-space:pre-wrap;margin:.2em 0}
.explain{border-left:4px solid #c62828;padding-left:.6em;margin:.6em 0}
small{color:#757575}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _summary_table(report: RunReport) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in ("lab", "passed", "first failure", "layer", "probe", "time", "verdict")
    )
    rows = []
    for e in report.envs:
        cells = _cells(e, len(report.notebooks))
        tds = [f"<td class='lab'><a href='#lab-{_e(e.label)}'>{_e(e.label)}</a></td>"]
        tds += [f"<td>{_e(c)}</td>" for c in cells[1:-1]]
        tds.append(
            f"<td class='verdict' title='{_e(VERDICT_TEXT[e.verdict])}'>{_e(cells[-1])}</td>"
        )
        rows.append(f"<tr class='{e.verdict}' data-lab='{_e(e.label)}'>{''.join(tds)}</tr>")
    return (
        f"<table id='summary'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _notebooks_table(e: EnvResult) -> str:
    rows = []
    for n in e.notebooks:
        seconds = f"{n.seconds:.1f} s" if n.seconds is not None else "-"
        output = f"<a href='{_e(n.output)}'>{_e(n.output)}</a>" if n.output else "-"
        kept = " <small>(kept from an earlier run)</small>" if n.resumed else ""
        rows.append(
            f"<tr><td>{_e(n.notebook)}</td><td class='{n.status}'>{_e(n.status)}{kept}</td>"
            f"<td>{seconds}</td><td>{output}</td></tr>"
        )
    return (
        "<table class='notebooks'><thead><tr><th>notebook</th><th>status</th><th>time</th>"
        f"<th>output</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _failure_block(f: CellFailure) -> str:
    return (
        "<div class='explain'>"
        f"<b>First failure: {_e(f.where)}</b>"
        f"<pre>{_e(f.source_head)}</pre>"
        f"<table><tr><th>error</th><td><code>{_e(f.error_name)}: {_e(f.error_message)}</code>"
        f"</td></tr><tr><th>layer</th><td class='layer'>{_e(f.layer_title or 'unknown')}</td></tr>"
        f"<tr><th>explained</th><td>{_e(f.title)}</td></tr>"
        f"<tr><th>cause</th><td>{_e(f.cause)}</td></tr>"
        f"<tr><th>fix</th><td>{_e(f.fix)}</td></tr></table></div>"
    )


def _probe_table(e: EnvResult) -> str:
    rows = []
    for f in e.probe:
        extra = ""
        if f.status == "fail" and (f.cause or f.fix):
            extra = f"<br><small>cause: {_e(f.cause)}</small><br><small>fix: {_e(f.fix)}</small>"
        rows.append(
            f"<tr><td>{_e(f.title)}</td><td>{_e(f.layer)}</td>"
            f"<td class='{f.status}'>{_e(f.status)}</td><td>{_e(f.detail)}{extra}</td></tr>"
        )
    return (
        "<table class='probe'><thead><tr><th>checked on the lab</th><th>layer</th>"
        f"<th>status</th><th>found</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def to_html(report: RunReport) -> str:
    """One self-contained page: the summary table, then a section per lab."""
    sections = []
    for e in report.envs:
        failure = _failure_block(e.first_failure) if e.first_failure else ""
        error = f"<p class='lab-error'><b>{_e(e.error)}</b></p>" if e.error else ""
        sections.append(
            f"<section id='lab-{_e(e.label)}'><h2>{_e(e.label)} "
            f"<small>{_e(e.kind)} -- {_e(e.where or e.env)}</small></h2>"
            f"<p>{_e(VERDICT_TEXT[e.verdict])}</p>{error}"
            f"{_notebooks_table(e)}{failure}"
            f"<h3>Ground truth: the lab checked through its APIs</h3>{_probe_table(e)}</section>"
        )
    when = f"{_e(report.started)} to {_e(report.finished)}" if report.started else ""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(report.title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(report.title)}</h1><p>{len(report.envs)} lab(s); notebooks "
        f"{_e(', '.join(report.notebooks))}. <small>{when}</small></p>"
        f"{_summary_table(report)}{''.join(sections)}</body></html>\n"
    )
