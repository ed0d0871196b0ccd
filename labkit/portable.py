"""Platform choices in one place: what the sim and the notebooks do where an OS lacks a call.

Attendees bring Linux, macOS and Windows laptops. Where labkit uses a call that not every OS
has, this module picks it or its fallback (the real-host tools in ``labkit.hosts`` are not
covered: they need Linux and root anyway):

==============================  ===================  ==========  =============================
need                            Linux                macOS       Windows, or forced
==============================  ===================  ==========  =============================
image writes past the cache     O_DIRECT             F_NOCACHE   plain buffered writes
one ``sim up`` at a time        flock                flock       O_EXCL lock file (pid, start)
is the sim's pid alive          kill(pid, 0)         same        psutil
ask the sim to stop cleanly     SIGTERM              same        a request file it watches
stop it for good                SIGKILL              same        psutil ``kill()``
the sim's event loop            uvloop               uvloop      asyncio
malloc tuning for streaming     glibc variables      none        none
==============================  ===================  ==========  =============================

``LABKIT_PORTABLE=1`` forces the last column on any OS. It is read at each call, never at
import, so a test can switch it on for one sim: the sim process inherits it. Set it for every
labkit process of a state folder or for none -- the two kinds of lock do not see each other.
What it cannot force is how the sim is detached from the terminal (a new session on POSIX,
creation flags on Windows): neither exists on the other side.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Literal

import psutil

from labkit.errors import LabkitError

ENV_VAR = "LABKIT_PORTABLE"

# How a file opened by open_uncached() treats the page cache.
CacheMode = Literal["direct", "nocache", "buffered"]

_F_NOCACHE = 48  # macOS <sys/fcntl.h>; not every Python's fcntl module names it
_STALE_UNREADABLE_S = 5.0  # an owner writes its line right after creating the file
_SAME_START_S = 0.5  # psutil's start times of one process agree far closer than this


def forced() -> bool:
    """True when ``LABKIT_PORTABLE`` asks for the portable fallbacks everywhere."""
    return os.environ.get(ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


def _posix_calls() -> bool:
    """Signals, flock and kill(pid, 0) may be used: a POSIX OS, fallbacks not forced."""
    return sys.platform != "win32" and not forced()


# ---- files ---------------------------------------------------------------------------------


def open_uncached(path: Path, mode: int = 0o644) -> tuple[int, CacheMode]:
    """Create or truncate ``path`` for writing, past the page cache where the OS allows.

    ``direct`` (Linux O_DIRECT): every write must be page-aligned in address and size until
    :func:`end_direct`; filesystems that refuse O_DIRECT (tmpfs) get ``buffered``.
    ``nocache`` (macOS F_NOCACHE): any write works, aligned ones skip the cache.
    ``buffered``: an ordinary file (Windows, or forced).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    if forced():
        return os.open(path, flags, mode), "buffered"
    if sys.platform == "linux":
        try:
            return os.open(path, flags | os.O_DIRECT, mode), "direct"
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
        return os.open(path, flags, mode), "buffered"
    fd = os.open(path, flags, mode)
    if sys.platform == "darwin":
        import fcntl

        try:
            fcntl.fcntl(fd, getattr(fcntl, "F_NOCACHE", _F_NOCACHE), 1)
        except OSError:
            return fd, "buffered"
        return fd, "nocache"
    return fd, "buffered"


def end_direct(fd: int) -> None:
    """Let an O_DIRECT file take unaligned writes from now on (its last, partial page)."""
    if sys.platform == "linux":
        import fcntl

        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_DIRECT)


# ---- a lock between processes ----------------------------------------------------------------


class LockBusy(LabkitError):
    """Another process held the lock file for longer than we wait."""

    layer = "sim"

    def __init__(self, path: Path, owner: str, waited: float) -> None:
        self.path = path
        super().__init__(
            f"{path} has been held by another labkit process ({owner or 'unknown'}) "
            f"for {waited:.0f} s.",
            "Wait for the other `labkit sim up|down` to finish. If no labkit process is "
            f"running, delete {path} and try again.",
        )


@contextmanager
def exclusive(path: Path, timeout: float = 60.0) -> Iterator[None]:
    """Hold ``path`` as a lock between processes and threads for the ``with`` block.

    POSIX: flock on the file, released by the OS if the holder dies. Windows or forced: the
    file is created with O_EXCL and names its owner (pid and start time); a lock whose owner
    is gone is taken over, one held longer than ``timeout`` raises :class:`LockBusy`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if _posix_calls():
        with _flocked(path):
            yield
        return
    token = _acquire_lock_file(path, timeout)
    try:
        yield
    finally:
        _release_lock_file(path, token)


@contextmanager
def _flocked(path: Path) -> Iterator[None]:
    if sys.platform == "win32":  # not reached: _posix_calls() is False there
        raise NotImplementedError("flock on Windows")
    import fcntl

    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _acquire_lock_file(path: Path, timeout: float) -> str:
    pid = os.getpid()
    started = process_started(pid)
    token = f"{pid} {'-' if started is None else repr(started)} {uuid.uuid4().hex}\n"
    waited_since = time.monotonic()
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            owner = _read(path)
            if owner is not None and _lock_is_stale(path, owner):
                _take_over(path, owner)
                continue
            if time.monotonic() - waited_since > timeout:
                raise LockBusy(path, (owner or "").strip(), timeout) from None
            time.sleep(0.05)
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(token)
        return token


def _read(path: Path) -> str | None:
    """The lock file's line; None when it cannot be read now (released meanwhile, or on
    Windows a file being renamed), so the caller looks again."""
    try:
        return path.read_text()
    except OSError:
        return None


def _lock_is_stale(path: Path, owner: str) -> bool:
    fields = owner.split()
    try:
        pid = int(fields[0])
        started = None if fields[1] == "-" else float(fields[1])
    except (IndexError, ValueError):
        # Empty while its owner writes the line, or left by the flock kind: stale once old.
        try:
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            return False
        return age > _STALE_UNREADABLE_S
    return not pid_alive(pid, started)


def _take_over(path: Path, owner: str) -> None:
    """Remove a stale lock file -- only the one we judged stale, even if others race us."""
    aside = path.with_name(f"{path.name}.stale-{uuid.uuid4().hex}")
    try:
        os.rename(path, aside)
    except OSError:
        return  # another waiter took it over first (or holds it open): look again
    if _read(aside) == owner:
        aside.unlink(missing_ok=True)
        return
    # Between our look and the rename, another waiter took it over and then the lock itself:
    # that lock is live, put it back.
    with suppress(OSError):
        os.replace(aside, path)


def _release_lock_file(path: Path, token: str) -> None:
    if _read(path) == token:
        path.unlink(missing_ok=True)


# ---- processes -------------------------------------------------------------------------------


def process_started(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), None if it is gone. Recorded
    next to a pid so a later, unrelated process with the same pid is not taken for it."""
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def pid_alive(pid: int, started: float | None = None) -> bool:
    """Is ``pid`` a running process -- and, given ``started``, the one that started then?"""
    alive = _posix_alive(pid) if _posix_calls() else _psutil_alive(pid)
    if not alive or started is None:
        return alive
    now = process_started(pid)
    return now is not None and abs(now - started) < _SAME_START_S


def _posix_alive(pid: int) -> bool:
    if sys.platform == "win32":  # not reached: os.kill(pid, 0) would end the process there
        raise NotImplementedError("kill(pid, 0) on Windows")
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:  # a zombie child of ours is not alive
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True


def _psutil_alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # someone else's process: it exists


def ask_to_exit(pid: int, request_file: Path) -> None:
    """Ask ``pid`` to shut down cleanly: SIGTERM on POSIX; on Windows (where os.kill ends a
    process at once) or forced, create ``request_file``, which the sim's server watches."""
    if _posix_calls():
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    else:
        request_file.touch()


def kill(pid: int) -> None:
    """End ``pid`` now (SIGKILL on POSIX, TerminateProcess on Windows)."""
    if _posix_calls() and sys.platform != "win32":  # the second test is for mypy
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        return
    with suppress(psutil.NoSuchProcess):
        psutil.Process(pid).kill()


def detached() -> dict[str, Any]:
    """``subprocess.Popen`` options that keep a background process out of the terminal's (or
    the Jupyter kernel's) reach: an interrupt there must not stop the sim."""
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS}
    return {"start_new_session": True}


def is_root() -> bool:
    """Running as root (POSIX); never on Windows, which has no euid."""
    geteuid = getattr(os, "geteuid", None)
    return geteuid is not None and geteuid() == 0


# ---- the sim's server ------------------------------------------------------------------------


def event_loop() -> str:
    """uvicorn's ``loop``: uvloop where it is installed (it has no Windows build)."""
    if forced() or sys.platform == "win32" or importlib.util.find_spec("uvloop") is None:
        return "asyncio"
    return "uvloop"


def http_parser() -> str:
    """uvicorn's ``http``: httptools (built for all three OSes), h11 if it is missing."""
    return "httptools" if importlib.util.find_spec("httptools") is not None else "h11"


def malloc_tuning() -> dict[str, str]:
    """Environment for glibc's malloc in the sim process (see ``labkit.sim.process``); other C
    libraries ignore these variables, and forced mode leaves them out too."""
    if sys.platform != "linux" or forced():
        return {}
    return {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(64 << 20)}


def summary() -> str:
    """One line for the sim's log: which choices this process makes."""
    if sys.platform == "linux" and not forced():
        writes = "O_DIRECT"
    elif sys.platform == "darwin" and not forced():
        writes = "F_NOCACHE"
    else:
        writes = "buffered"
    return (
        f"platform {sys.platform}, {ENV_VAR}={'1' if forced() else '0'}: "
        f"lock {'flock' if _posix_calls() else 'O_EXCL file'}, "
        f"stop {'SIGTERM' if _posix_calls() else 'request file'}, image writes {writes}, "
        f"loop {event_loop()}, http {http_parser()}"
    )
