"""The whole arc, 00 to 99, a second time on the same lab, says the same things.

Every notebook is re-runnable: each cell is idempotent or cleans up what it makes, and 99
takes away what the others left (notebook 07's worker2 included), so a second pass starts
from the cloud the first pass installed. Its prose must stay true: every code cell's output,
sanitized as nbval sanitizes it (and with what a second pass draws afresh masked, such as a
new server's address), must equal the output stored in the notebook -- except the cells
listed in :data:`CHANGES_ON_RERUN`, whose output is *meant* to show that the lab has been
here before (an install that finds its steps done, a key rotation that starts from the keys
the first pass left, a catalog with every service).

    make test-notebooks      # nbval over the folder (the first pass), then this module

This module is not collected by ``pytest tests`` (its name has no ``test_`` prefix): the
notebook run names it after the notebooks, so that it runs on the lab the nbval pass just
used (the root conftest.py's private sim). Run alone (``pytest tests/notebooks/arc_again.py``),
it makes its own sim and runs the first pass itself.
"""

from __future__ import annotations

import configparser
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.notebooks import harness

# What a second pass legitimately shows differently, and why. A notebook that shows the lab
# being built (00-04) shows, on a second pass, the lab the first pass built: every layer
# installed, installs that find their steps done, a catalog with every service, Keystone's
# service users. Its prose says so where it matters (00's "if notebook 02 already ran").
INSTALLED = "shows what the lab has installed so far: on a second pass, every layer"
DONE = "the install finds every step already done"
CATALOG = "the catalog holds every service the first pass installed"
SERVICE_USERS = "the role assignments include the service users of later layers"
ROTATED = "the key repository starts from the keys the first pass's rotations left"
TOKEN_CACHE = (
    "an API's cached service token may have expired since the first pass: the middleware "
    "re-authenticates (401, then a new token) -- as keystonemiddleware does"
)
CHANGES_ON_RERUN: dict[str, dict[str, str]] = {
    "00-welcome": {
        "69887774": INSTALLED,
        "a85349b9": INSTALLED,
        "c6ef3cb2": "Keystone answers now; the cell says notebook 02 already installed it",
    },
    "01-hosts": {
        "edbf4d35": INSTALLED,
        "07093f3f": DONE,
        "84a6fc09": INSTALLED,
        "34b8c392": INSTALLED,
    },
    "02-keystone": {
        "b759fc3b": DONE,
        "f36bc670": SERVICE_USERS,
        "a86c6429": ROTATED,
        "7050c238": ROTATED,
        "26711ab3": ROTATED,
        "7a0ea08d": ROTATED,
        "9dcf7a9f": CATALOG,
        "08111fd8": CATALOG,
        "5c546288": CATALOG,
        "d5d94ec9": CATALOG,
        "fb6680a1": SERVICE_USERS,
        "a02079e7": SERVICE_USERS,
    },
    "03-glance": {
        "3b7ebc1b": DONE,
        "000aeec0": CATALOG,
    },
    "04-nova": {
        "0f6f51f1": DONE,
        "aca89e65": DONE,
        "fbe1f255": DONE,
        "90ff9909": DONE,
        "db785f3b": TOKEN_CACHE,
        "492cb675": TOKEN_CACHE,
    },
}
# Values a second pass draws afresh, masked in both passes before they are compared (on top
# of nbval's own sanitizers): a guest's address and MAC from the pool, its port's id, the
# console's uptime stamps and process ids, the build time the sim's clock measured.
SECOND_PASS_MASKS = (
    (re.compile(r"\b10\.64\.0\.\d+\b"), "10.64.0.X"),
    (re.compile(r"\.(1\d\d|2[0-4]\d)\b"), ".X"),
    (re.compile(r"fa:16:3e(:[0-9a-f]{2}){3}"), "MAC"),
    (re.compile(r"\bport [0-9a-f]{8}\b"), "port PORT"),
    (re.compile(r"\[\s*\d+\.\d+\]"), "[UPTIME]"),
    (re.compile(r"cloud-init\[\d+\]"), "cloud-init[PID]"),
    (re.compile(r"Up \d+\.\d+ seconds"), "Up N seconds"),
    (re.compile(r"Took \d+\.\d+ seconds to build"), "Took N seconds to build"),
    (re.compile(r"<14>\w{3} [ \d]\d \d\d:\d\d:\d\d"), "<14>SYSLOG_TIME"),
)


def _sanitizers() -> list[tuple[re.Pattern[str], str]]:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(harness.SANITIZE)
    return [(re.compile(cfg[s]["regex"]), cfg[s]["replace"]) for s in cfg.sections()]


def outputs(nb: nbformat.NotebookNode) -> dict[str, str]:
    """Each code cell's outputs as nbval compares them (text, sanitized), by cell id, with
    what a second pass draws afresh masked too."""
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
        for pattern, replacement in [*rules, *SECOND_PASS_MASKS]:
            text = pattern.sub(replacement, text)
        out[cell.id] = text
    return out


def run(name: str) -> nbformat.NotebookNode:
    """Notebook ``name`` executed as nbval executes it, on the lab the environment names."""
    nb = nbformat.read(harness.NOTEBOOKS / f"{name}.ipynb", as_version=4)
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(harness.NOTEBOOKS)}},
    ).execute()
    return nb


@pytest.fixture(scope="module")
def first_pass_done(request: pytest.FixtureRequest) -> Iterator[None]:
    """The lab after a first pass: nbval's (same session, same sim) or one run here."""
    if getattr(request.config.option, "nbval", False):
        yield  # the root conftest's sim, which nbval has just taken through 00-99
        return
    state_dir = Path(tempfile.mkdtemp(prefix="labkit-arc-"))
    saved = harness.apply(harness.kernel_environment(state_dir, harness.free_port()))
    try:
        for name in harness.ORDER:
            run(name)
        yield
    finally:
        harness.stop_sim(state_dir)
        harness.restore(saved)
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", harness.ORDER)
def test_a_second_pass_says_what_the_first_said(first_pass_done: None, name: str) -> None:
    stored = outputs(nbformat.read(harness.NOTEBOOKS / f"{name}.ipynb", as_version=4))
    again = outputs(run(name))
    allowed = CHANGES_ON_RERUN.get(name, {})
    assert set(allowed) <= set(stored), "a listed cell is gone from the notebook"
    differing = [cid for cid in stored if cid not in allowed and stored[cid] != again.get(cid)]
    assert not differing, "\n\n".join(
        f"{name}, cell {cid}, differs on a second pass:\n--- stored (first pass)\n"
        f"{stored[cid]}\n--- second pass\n{again.get(cid)}"
        for cid in differing
    )
