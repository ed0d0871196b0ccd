"""A notebook run a second time on the same lab says the same things: its prose must not
depend on the state only a first run finds. papermill runs it twice against one sim; every
cell's output, sanitized as nbval sanitizes it, must match the first run's -- except the
cells listed below, whose output is *meant* to show that the lab has been here before."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import nbformat
import papermill
import pytest

from tests.notebooks import harness
from tests.notebooks.test_papermill import EXPECTED, RERUN
from tests.notebooks.test_papermill import outputs_text as papermill_text

# Cells whose output differs on a second run by design, with why (their prose allows it).
CHANGES_ON_RERUN = {
    "02-keystone": {
        "b759fc3b": "the install finds every step already done",
        "a86c6429": "the token is made with the key the earlier rotations left primary",
        "7050c238": "the key repository holds what the earlier rotations made",
        "26711ab3": "a rotation starts from the earlier run's keys",
        "7a0ea08d": "a rotation starts from the earlier run's keys",
    },
    "03-glance": {
        "3b7ebc1b": "the install finds every step already done",
    },
}


def _sanitizers() -> list[tuple[re.Pattern[str], str]]:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(harness.SANITIZE)
    return [(re.compile(cfg[s]["regex"]), cfg[s]["replace"]) for s in cfg.sections()]


def _outputs(nb: nbformat.NotebookNode) -> dict[str, str]:
    """Each code cell's outputs as nbval compares them (text, sanitized), by cell id."""
    rules = _sanitizers()
    out: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        parts: list[str] = []
        stream = ""  # a stream arrives in chunks that split differently from run to run
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                stream += o["text"]
                continue
            parts.append(stream)
            stream = ""
            if "data" in o:
                parts += [str(o["data"][k]) for k in ("text/plain", "text/html") if k in o["data"]]
        text = "\n".join([*parts, stream]).replace("\r\n", "\n")
        for pattern, replacement in rules:
            text = pattern.sub(replacement, text)
        out[cell.id] = text
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", RERUN)
def test_a_second_run_on_the_same_lab_says_the_same(
    name: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    state_dir, port = tmp_path / "state", harness.free_port()
    saved = harness.apply(harness.kernel_environment(state_dir, port))
    runs = []
    try:
        harness.start_from_template(tmp_path_factory, name, state_dir, port)
        for run in ("first", "second"):
            runs.append(
                papermill.execute_notebook(
                    str(harness.NOTEBOOKS / f"{name}.ipynb"),
                    str(tmp_path / f"{name}.{run}.ipynb"),
                    cwd=str(harness.NOTEBOOKS),
                    kernel_name="python3",
                    progress_bar=False,
                    execution_timeout=240,
                )
            )
    finally:
        harness.stop_sim(state_dir)
        harness.restore(saved)
    # The first run is also this notebook's "runs alone on a fresh sim" test (see
    # test_papermill.py, which leaves the notebooks run here to this test).
    assert runs[0].metadata.papermill.exception is not True
    text = papermill_text(runs[0])
    for expected in EXPECTED[name]:
        assert expected in text, f"{name}: {expected!r} not in the first run's outputs"
    first, second = (_outputs(nb) for nb in runs)
    allowed = CHANGES_ON_RERUN.get(name, {})
    assert set(allowed) <= set(first), "a listed cell is gone from the notebook"
    differing = [cid for cid in first if cid not in allowed and first[cid] != second[cid]]
    assert not differing, "\n\n".join(
        f"cell {cid} differs on a second run:\n--- first\n{first[cid]}\n--- second\n{second[cid]}"
        for cid in differing
    )
    # And the listed cells really do differ (else they need not be listed).
    assert [cid for cid in allowed if first[cid] == second[cid]] == []
