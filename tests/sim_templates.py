"""Labs with layers installed, without installing them again for every fixture.

Installing every layer up to ``nova-compute`` takes a sim some 10 s of CPU (more on a
loaded 2-core machine), and several fixtures want exactly that: a fresh lab "with Nova".
So the first of them in a test run installs those layers once, on a sim of its own, stops
it cleanly and keeps its state folder as a *template*. Every fixture then gets a copy of
that folder and starts a sim on it: the sim brings back the daemons that were running
(``Machines.restore``), as after ``labkit sim down`` / ``up``.

What is port-specific in a state folder is rewritten in the copy (:func:`relocate`): the
catalog's endpoints in Keystone's database, the services' config files, clouds.yaml, the
openrc files. A copy is then checked twice before any test sees it: no file of it may
still name the template's port, and every layer's installer, run again on the copy, must
find all of its steps already done -- what it would find on a lab installed from scratch
on the copy's port. Tests whose subject *is* installing (the notebooks that show it,
``test_sim_process``, ``test_determinism``) install from scratch, as before.

Under pytest-xdist the template is built once per run, by whichever worker needs it first
(a lock file in the run's shared temporary folder); the others wait for it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from labkit import config, portable
from labkit.config import StatePaths
from labkit.envs import SimEnv
from labkit.lab import Lab

REPO = Path(__file__).resolve().parent.parent
SIM_ENV = REPO / "envs" / "sim.yaml"
# Written once, never changed in place (Glance writes an image's file and only unlinks it):
# shared between the template and its copies as hard links.
SHARED_BYTES = re.compile(r"hosts/[^/]+/var/lib/glance/images/[^/]+$")
SMALL = 1 << 20  # config files, clouds.yaml, openrc: rewritten if they name the port


def _run_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder of this test run, shared by its xdist workers."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def template(tmp_path_factory: pytest.TempPathFactory, layer: str, deterministic: bool) -> Path:
    """The state folder of a stopped sim with ``layer`` and everything below it installed
    from scratch, in deterministic mode or not (built on first use in this run)."""
    mode = "steady" if deterministic else "real"
    folder = _run_root(tmp_path_factory) / f"template-{layer}-{mode}"
    with portable.exclusive(folder.with_suffix(".lock"), timeout=900):
        if not (folder / "ready.json").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            with pytest.MonkeyPatch.context() as patch:  # what the sim process inherits
                patch.setenv("LABKIT_SIM_DETERMINISTIC", "1" if deterministic else "0")
                _build(folder, layer)
    return folder


def _build(folder: Path, layer: str) -> None:
    from labkit.sim import process
    from tests.conftest import free_port

    port = free_port()
    lab = Lab.from_env(SIM_ENV, state_root=folder, sim_port=port)
    try:
        lab.ensure(layer)
        done = _done_steps(lab, lab.installed_layers())
        health = lab.sim.health()
    finally:
        process.stop(lab.paths)
    assert health["internal_errors"] == 0, f"building {folder.name}: see {lab.paths.logs}"
    info = {"port": port, "root": str(lab.paths.root), "done": done}
    (folder / "ready.json").write_text(json.dumps(info))


def lab_from_template(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    layer: str,
    env: str | os.PathLike[str] = SIM_ENV,
    state_root: Path | None = None,
    port: int | None = None,
) -> Lab:
    """A running lab on a copy of the ``layer`` template, in ``state_root`` (default: a new
    temporary folder named after ``name``), on ``port`` (default: a free one). ``env`` may
    differ from sim.yaml in its ``sim:`` settings (pace, determinism: a template is kept per
    mode), not in hosts or networks (the check below would fail)."""
    from labkit.sim import process
    from tests.conftest import free_port

    port = port or free_port()
    state_root = state_root or tmp_path_factory.mktemp(name)
    lab = Lab.from_env(env, state_root=state_root, sim_port=port)
    assert isinstance(lab.env, SimEnv), f"{env} is not a sim env"
    # Ids and times go on from the template's: its mode must be the one this lab runs in.
    source = template(tmp_path_factory, layer, config.sim_deterministic(lab.env.sim.deterministic))
    info = json.loads((source / "ready.json").read_text())
    old_root = Path(info["root"])
    _copy(old_root, lab.paths.root)
    relocate(lab.paths, int(info["port"]), port, old_root)
    lab.up()
    try:
        _check_installed(lab, info["done"])
    except BaseException:
        process.stop(lab.paths)
        raise
    return lab


def _copy(source: Path, target: Path) -> None:
    def copy(src: str, dst: str) -> None:
        if SHARED_BYTES.search(Path(src).relative_to(source).as_posix()):
            os.link(src, dst)
        else:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=copy)


def relocate(paths: StatePaths, old_port: int, new_port: int, old_root: Path) -> None:
    """Make a copied state folder name its own port and folder, where the template's are
    written: small text files (outside logs/) and the text columns of every SQLite
    database. Fails if any file still names the old address afterwards."""
    old_url, new_url = f"127.0.0.1:{old_port}", f"127.0.0.1:{new_port}"
    # A port is a whole number: not part of a longer one, an id or a key.
    port = re.compile(rf"(?<![0-9A-Za-z]){old_port}(?![0-9A-Za-z])")
    for path in _files(paths.root):
        if _is_sqlite(path):
            _relocate_database(path, old_url, new_url)
            continue
        if path.stat().st_size > SMALL or SHARED_BYTES.search(_rel(paths.root, path)):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        new = port.sub(str(new_port), text.replace(str(old_root), str(paths.root)))
        if new != text:
            path.write_text(new, encoding="utf-8")
    left = [
        _rel(paths.root, p)
        for p in _files(paths.root)
        if not SHARED_BYTES.search(_rel(paths.root, p)) and old_url.encode() in p.read_bytes()
    ]
    assert not left, f"{left} still name {old_url} after relocating to {new_url}"


def _files(root: Path) -> list[Path]:
    """The files that could name the port: not logs (history), not SQLite's journals (a
    database is rewritten through SQLite, which folds its WAL in)."""
    logs = root / "logs"
    return [
        p
        for p in root.rglob("*")
        if p.is_file()
        and not p.is_symlink()
        and logs not in p.parents
        and not p.name.endswith(("-wal", "-shm", "-journal", ".lock"))
    ]


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _is_sqlite(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(16) == b"SQLite format 3\x00"


def _relocate_database(path: Path, old: str, new: str) -> None:
    """``replace(column, old, new)`` in every text value of every table."""
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA secure_delete = ON")  # no old copy of a value left in free space
        with db:  # one transaction
            tables = [
                r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            for table in tables:
                for column in [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]:
                    db.execute(
                        f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                        f'WHERE typeof("{column}") = \'text\' AND instr("{column}", ?) > 0',
                        (old, new, old),
                    )
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def _done_steps(lab: Lab, layers: list[str]) -> list[str]:
    """The install steps of ``layers`` whose check says "already done" on this lab (the
    installer's own checks, read-only; steps without a check, such as the guide's
    verification commands, never are)."""
    runner = lab.runner()
    return [
        f"{layer}: {step.title}"
        for layer in Lab.install_order(*layers)
        for step in lab.plan(layer)
        if runner.check(step, set())
    ]


def _check_installed(lab: Lab, expected: list[str]) -> None:
    """The installer finds on the copy every step it found done on the template: the copy
    is what installing those layers from scratch on its own port would have made."""
    missing = sorted(set(expected) - set(_done_steps(lab, lab.installed_layers())))
    assert not missing, f"{lab.paths.root} is not as installed; not done: {missing}"
