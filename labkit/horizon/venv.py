"""Horizon's own virtual environment: ``.venv-horizon/`` next to labkit's ``.venv/``.

Why a second environment: Horizon 23.0.0 (Zed, the release the sim's APIs follow) runs on
Django 3.2 and Zed's python-*client libraries, and those pins clash with labkit's newer
openstacksdk and keystoneauth1. Two environments keep both exact.

Why Zed's 23.0.0 runs here although Zed was tested on Python 3.8-3.10: on this machine's
Python 3.11 it does, with one substitution -- pyScss 1.4.0's pure-Python scanner (used when
its C speedups were not compiled, as from PyPI without libpcre headers) has a regular
expression Python 3.11 refuses; ``requirements.txt`` installs ``mrowrpurr-pyscss``, the same
``scss`` module with that expression fixed. Nothing in Horizon is patched.

:func:`ensure` builds it once and is idempotent: a stamp file records the hash of
``requirements.txt``; a different hash rebuilds. Building means ``pip install`` of the exact
pins (about 75 s from PyPI on 2 cores) and compressing Horizon's CSS/JavaScript once
(``manage.py compress``, ~10 s) into ``.venv-horizon/static``, so no page compiles SCSS
while a learner waits. ``make horizon`` (and ``make test``) call it; so does the ``horizon``
install layer when the environment is missing.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

from labkit import portable
from labkit.errors import LabkitError
from labkit.horizon import settings

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"
SERVE = HERE / "serve.py"
REPO = HERE.parent.parent
STAMP_NAME = ".labkit-horizon-stamp"
BUILD_VERSION = "1"  # bump when what :func:`ensure` does changes


def venv_dir() -> Path:
    """``$LABKIT_HORIZON_VENV`` or ``.venv-horizon`` at the top of the repository."""
    configured = os.environ.get("LABKIT_HORIZON_VENV")
    return Path(configured).expanduser() if configured else REPO / ".venv-horizon"


def python(venv: Path | None = None) -> Path:
    venv = venv or venv_dir()
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def static_root(venv: Path | None = None) -> Path:
    return (venv or venv_dir()) / "static"


def _wanted_stamp() -> str:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]
    return f"{BUILD_VERSION}-{digest}"


def is_ready(venv: Path | None = None) -> bool:
    stamp = (venv or venv_dir()) / STAMP_NAME
    return stamp.is_file() and stamp.read_text().strip() == _wanted_stamp()


class HorizonVenvError(LabkitError):
    pass


def _run(command: list[str], what: str, cwd: Path | None = None, **env: str) -> None:
    done = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **env},
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise HorizonVenvError(
            f"Building Horizon's virtual environment failed while {what}:\n{tail}",
            "It needs PyPI (or a mirror pip is configured for). Run `make horizon` to retry; "
            f"to start over, delete {venv_dir()}.",
        )


def ensure(venv: Path | None = None, log: bool = True) -> Path:
    """Create or update the environment if its stamp is not current; return its folder."""
    venv = venv or venv_dir()
    if is_ready(venv):
        return venv
    with portable.exclusive(venv.with_name(venv.name + ".lock"), timeout=900):
        if is_ready(venv):  # another process built it while we waited
            return venv
        started = time.perf_counter()
        say = print if log else (lambda *_: None)
        say(f"Building Horizon 23.0.0 (Zed) in {venv}: pip install, then compress (~1.5 min)")
        if not python(venv).exists():
            _run([sys.executable, "-m", "venv", str(venv)], "creating the venv")
        pip = [str(python(venv)), "-m", "pip", "install", "--quiet"]
        _run([*pip, "setuptools==65.5.0", "wheel"], "installing setuptools")
        _run(
            [*pip, "--no-deps", "--no-build-isolation", "-r", str(REQUIREMENTS)],
            "installing requirements.txt",
        )
        _compress(venv)
        (venv / STAMP_NAME).write_text(_wanted_stamp() + "\n")
        say(f"Horizon's environment is ready ({time.perf_counter() - started:.0f} s)")
    return venv


COMPRESS_ATTEMPTS = 3


def _compress(venv: Path) -> None:
    """Horizon's offline compression, once: the CSS compiled from SCSS and the bundled
    JavaScript land in ``static/`` with a manifest the pages name them by."""
    build = venv / "labkit-build"
    (build / "local").mkdir(parents=True, exist_ok=True)
    (build / "local" / "__init__.py").write_text("")
    values = settings.DashboardValues(
        "127.0.0.1", "http://127.0.0.1:5000/v3", "127.0.0.1:11211", ("127.0.0.1",)
    )
    text = settings.local_settings(values) + settings.live_overrides(
        str(build / "secret_key"), str(static_root(venv))
    )
    (build / "local" / "local_settings.py").write_text(text)
    # pyScss (Horizon's SCSS compiler) now and then misreads a stylesheet -- seen once in a
    # clean-clone CI run: "Syntax error: Found 'inline-blo' but expected ...", and the same
    # command passing at once when run again on the same files. So a failed compression is
    # tried again before it counts.
    for attempt in range(1, COMPRESS_ATTEMPTS + 1):
        try:
            _run(
                [str(python(venv)), "-W", "ignore", "-m", "django", "compress", "--force"],
                "compressing Horizon's static files",
                cwd=build,
                PYTHONPATH=str(build),
                DJANGO_SETTINGS_MODULE="openstack_dashboard.settings",
            )
            return
        except HorizonVenvError:
            if attempt == COMPRESS_ATTEMPTS:
                raise


def main() -> int:
    """``python -m labkit.horizon.venv``: what ``make horizon`` runs."""
    try:
        path = ensure()
    except LabkitError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 1
    (path / STAMP_NAME).touch()  # newer than requirements.txt: make's rule is satisfied
    print(f"Horizon's environment: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
