"""Refresh the outputs stored in notebooks 00-03: run them in order, in place, against a
fresh private sim, under the same environment the nbval run uses.

    .venv/bin/python -m tests.notebooks.regenerate [NAME ...]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tests.notebooks import harness


def main(names: list[str]) -> int:
    state_dir = Path(tempfile.mkdtemp(prefix="labkit-regen-"))
    saved = harness.apply(harness.kernel_environment(state_dir, harness.free_port()))
    try:
        for name in names or list(harness.ORDER):
            path = harness.NOTEBOOKS / f"{name}.ipynb"
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                cell.metadata.pop("execution", None)
            started = time.perf_counter()
            NotebookClient(
                nb,
                timeout=300,
                kernel_name="python3",
                record_timing=False,  # no wall-clock stamps in the stored notebooks
                resources={"metadata": {"path": str(harness.NOTEBOOKS)}},
            ).execute()
            nbformat.write(nb, path)
            print(f"{path.name}: {time.perf_counter() - started:.1f} s")
    finally:
        harness.stop_sim(state_dir)
        harness.restore(saved)
        shutil.rmtree(state_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
