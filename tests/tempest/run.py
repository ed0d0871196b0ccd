"""Run upstream tempest against a sim of its own and summarise the outcome.

    .venv/bin/python -m tests.tempest.run [--regex R] [--workdir DIR] [--keep-sim]

(``make tempest TEMPEST_REGEX=...`` runs this.) Steps:

1. ``.venv-tempest``: a virtual environment with ``tempest==47.0.0`` from PyPI, built once
   (a stamp records the pin) -- tempest's pins clash with labkit's own clients;
2. a sim on a free port with its own state folder under the work folder, real clock and
   random ids (``LABKIT_SIM_DETERMINISTIC=0``: tempest compares times), every layer up to
   networking installed;
3. ``tempest.conf`` written from what the cloud answers (``conf.py``);
4. ``tempest run --concurrency 1 --regex R`` in the work folder;
5. counts per API area and every failure's first error line (``summary.py``), also written
   to ``summary.txt`` next to ``results.jsonl``, ``tempest.log`` and the sim's logs.

The work folder (default: a new one under the system's temporary folder) is kept for
reading the logs. The exit status is tempest's.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from labkit.lab import Lab
from labkit.sim import process
from tests.tempest import conf, summary

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv-tempest"
PIN = "tempest==47.0.0"
STAMP = VENV / ".labkit-tempest-stamp"
DEFAULT_REGEX = "tempest.api.compute|tempest.api.network|tempest.api.identity|tempest.api.image"


def ensure_venv() -> Path:
    """The bin folder of ``.venv-tempest``, built when its stamp does not name ``PIN``."""
    bin_dir = VENV / "bin"
    if STAMP.is_file() and STAMP.read_text().strip() == PIN:
        return bin_dir
    print(f"building {VENV.name} with {PIN} (a minute or two) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    pip_env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run([str(bin_dir / "pip"), "install", "--quiet", PIN], check=True, env=pip_env)
    STAMP.write_text(PIN + "\n")
    return bin_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_lab(state_root: Path) -> Lab:
    """A sim with every layer up to networking, on a free port."""
    os.environ["LABKIT_SIM_DETERMINISTIC"] = "0"  # what the sim process inherits
    lab = Lab.from_env(REPO / "envs" / "sim.yaml", state_root=state_root, sim_port=free_port())
    lab.ensure("nova-compute", "networking")
    return lab


def results(bin_dir: Path, workdir: Path) -> Path:
    """The last run's results as JSON lines (stestr's subunit stream read by
    ``subunit_json.py`` in the tempest environment)."""
    stream = subprocess.run(
        [str(bin_dir / "stestr"), "last", "--subunit"], cwd=workdir, capture_output=True
    ).stdout
    lines = subprocess.run(
        [str(bin_dir / "python"), str(Path(__file__).with_name("subunit_json.py"))],
        input=stream,
        capture_output=True,
        check=True,
    ).stdout
    path = workdir / "results.jsonl"
    path.write_bytes(lines)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regex", default=DEFAULT_REGEX, help="tempest run --regex")
    parser.add_argument("--workdir", type=Path, help="default: a new temporary folder")
    parser.add_argument("--keep-sim", action="store_true", help="leave the sim running")
    args = parser.parse_args(argv)

    bin_dir = ensure_venv()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="labkit-tempest-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {workdir}", flush=True)
    lab = start_lab(workdir / "state")
    try:
        config = workdir / "etc" / "tempest.conf"
        config.parent.mkdir(exist_ok=True)
        config.write_text(conf.render(conf.gather(lab), str(workdir / "tempest.log")))
        print(f"sim on port {lab.sim_port}; tempest.conf: {config}", flush=True)
        done = subprocess.run(
            [
                str(bin_dir / "tempest"),
                "run",
                "--config-file",
                str(config),
                "--concurrency",
                "1",
                "--regex",
                args.regex,
            ],
            cwd=workdir,
            env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        )
        internal_errors = lab.sim.health()["internal_errors"]
    finally:
        if not args.keep_sim:
            process.stop(lab.paths)
    text = summary.report(summary.read(results(bin_dir, workdir)))
    text += f"\n\nsim internal errors (500s from a sim bug): {internal_errors}"
    (workdir / "summary.txt").write_text(text + "\n")
    print(f"\n{text}\n\nsummary.txt, results.jsonl, tempest.log and state/ in {workdir}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
