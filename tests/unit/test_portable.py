"""labkit.portable: each fallback on its own, switched on with LABKIT_PORTABLE=1 (what a
Windows laptop runs), and the native choices it replaces on this machine."""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit import portable
from labkit.sim.glance import store

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="the native choice on Linux")


@pytest.fixture()
def forced(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(portable.ENV_VAR, "1")
    yield


@pytest.fixture()
def native(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(portable.ENV_VAR, raising=False)
    yield


def _finished_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# ---- the switch ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("yes", True), ("0", False)])
def test_the_switch_is_read_when_asked_not_at_import(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: bool
) -> None:
    monkeypatch.setenv(portable.ENV_VAR, value)
    assert portable.forced() is expected


def test_the_summary_names_every_fallback(forced: None) -> None:
    line = portable.summary()
    assert "LABKIT_PORTABLE=1" in line
    for choice in ("lock O_EXCL file", "stop request file", "image writes buffered", "asyncio"):
        assert choice in line


# ---- image writes ----------------------------------------------------------------------------


@linux_only
def test_linux_writes_images_with_o_direct(native: None, tmp_path: Path) -> None:
    import fcntl

    fd, mode = portable.open_uncached(tmp_path / "image")
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        # tmpfs refuses O_DIRECT and gets plain writes: both are right here.
        assert (mode, bool(flags & os.O_DIRECT)) in {("direct", True), ("buffered", False)}
    finally:
        os.close(fd)


def test_forced_writes_are_plain(forced: None, tmp_path: Path) -> None:
    fd, mode = portable.open_uncached(tmp_path / "image")
    try:
        assert mode == "buffered"
        if sys.platform == "linux":
            import fcntl

            assert not fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT
    finally:
        os.close(fd)


@linux_only
def test_macos_asks_for_f_nocache(
    native: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    calls: list[tuple[int, int]] = []

    def record(fd: int, cmd: int, arg: int = 0) -> int:
        calls.append((cmd, arg))
        return 0

    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(fcntl, "fcntl", record)
    fd, mode = portable.open_uncached(tmp_path / "image")
    os.close(fd)
    assert mode == "nocache" and calls == [(48, 1)]  # F_NOCACHE on, in macOS's numbering


@linux_only
def test_macos_without_f_nocache_writes_plain(
    native: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    def refuse(fd: int, cmd: int, arg: int = 0) -> int:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(fcntl, "fcntl", refuse)
    fd, mode = portable.open_uncached(tmp_path / "image")
    os.close(fd)
    assert mode == "buffered"


@pytest.mark.parametrize("total", [0, 4095, store.BLOCK + 1, store.BLOCK * 2 + 12345])
def test_the_store_writes_exact_bytes_with_the_fallback(
    forced: None, tmp_path: Path, total: int
) -> None:
    data = (hashlib.sha512(b"seed").digest() * (total // 64 + 1))[:total]
    sink = store.HashingSink(tmp_path / "image", "sha512", None, cap=1 << 40)
    ring = store.AlignedRing()
    for start in range(0, total, 100_003):  # odd chunks, like a socket's
        ring.feed(data[start : start + 100_003], sink.submit)
    sink.submit(ring.take())
    written = sink.finish()
    assert (tmp_path / "image").read_bytes() == data
    assert written.os_hash_value == hashlib.sha512(data).hexdigest()


# ---- the lock file ---------------------------------------------------------------------------


def test_the_lock_file_is_removed_on_release(forced: None, tmp_path: Path) -> None:
    lock = tmp_path / ".sim.lock"
    with portable.exclusive(lock):
        owner = lock.read_text().split()
        assert int(owner[0]) == os.getpid()
        assert float(owner[1]) == portable.process_started(os.getpid())
    assert not lock.exists()


def test_a_held_lock_makes_others_wait_then_give_up(forced: None, tmp_path: Path) -> None:
    lock = tmp_path / ".sim.lock"
    with portable.exclusive(lock):
        errors: list[BaseException] = []

        def other() -> None:
            try:
                with portable.exclusive(lock, timeout=0.3):
                    pass
            except portable.LockBusy as exc:
                errors.append(exc)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert len(errors) == 1
    assert f"{lock} has been held by another labkit process ({os.getpid()} " in str(errors[0])
    assert f"delete {lock}" in errors[0].hint


def test_a_waiter_gets_the_lock_when_it_is_released(forced: None, tmp_path: Path) -> None:
    lock = tmp_path / ".sim.lock"
    order: list[str] = []
    held = threading.Event()

    def first() -> None:
        with portable.exclusive(lock):
            held.set()
            time.sleep(0.2)
            order.append("first")

    thread = threading.Thread(target=first)
    thread.start()
    held.wait()
    with portable.exclusive(lock, timeout=5):
        order.append("second")
    thread.join()
    assert order == ["first", "second"]


def test_a_lock_whose_owner_died_is_taken_over(forced: None, tmp_path: Path) -> None:
    lock = tmp_path / ".sim.lock"
    lock.write_text(f"{_finished_pid()} 1.0 deadbeef\n")
    started = time.monotonic()
    with portable.exclusive(lock, timeout=5):
        assert int(lock.read_text().split()[0]) == os.getpid()
    assert time.monotonic() - started < 1
    assert list(tmp_path.iterdir()) == []  # nothing left aside


def test_a_live_pid_that_started_at_another_time_is_not_the_owner(
    forced: None, tmp_path: Path
) -> None:
    lock = tmp_path / ".sim.lock"
    lock.write_text(f"{os.getpid()} 1.0 deadbeef\n")  # our pid, recycled from 1970
    with portable.exclusive(lock, timeout=5):
        pass


def test_an_empty_lock_file_is_stale_only_once_old(forced: None, tmp_path: Path) -> None:
    lock = tmp_path / ".sim.lock"
    lock.touch()  # an owner between O_EXCL and writing its line
    with pytest.raises(portable.LockBusy), portable.exclusive(lock, timeout=0.2):
        pass
    old = time.time() - 60  # left behind, e.g. by the flock kind of lock
    os.utime(lock, (old, old))
    with portable.exclusive(lock, timeout=5):
        pass


@pytest.mark.skipif(sys.platform == "win32", reason="flock is the POSIX choice")
def test_posix_locks_with_flock(native: None, tmp_path: Path) -> None:
    lock = tmp_path / ".sim.lock"
    with portable.exclusive(lock):
        assert lock.read_text() == ""  # flock's file names no owner
    assert lock.exists()  # and stays: the OS releases the lock, not the file


# ---- processes -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["native", "forced"])
def test_pid_alive(mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if mode == "forced":
        monkeypatch.setenv(portable.ENV_VAR, "1")
    else:
        monkeypatch.delenv(portable.ENV_VAR, raising=False)
    me = os.getpid()
    assert portable.pid_alive(me)
    assert portable.pid_alive(me, portable.process_started(me))
    assert not portable.pid_alive(me, 1.0)
    assert not portable.pid_alive(_finished_pid())


def test_a_zombie_child_is_not_alive(forced: None) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while portable.pid_alive(child.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not portable.pid_alive(child.pid)  # exited, not yet reaped on POSIX
    finally:
        child.wait()


def test_forced_stop_asks_with_a_file_not_a_signal(forced: None, tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        request = tmp_path / ".sim.stop"
        portable.ask_to_exit(child.pid, request)
        assert request.exists()
        time.sleep(0.2)
        assert child.poll() is None  # no SIGTERM was sent
        portable.kill(child.pid)
        assert child.wait(timeout=10) != 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="signals are the POSIX choice")
def test_posix_stop_sends_sigterm(native: None, tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    request = tmp_path / ".sim.stop"
    portable.ask_to_exit(child.pid, request)
    assert child.wait(timeout=10) == -signal.SIGTERM and not request.exists()


def test_detaching_starts_a_new_session_or_process_group() -> None:
    options = portable.detached()
    if sys.platform == "win32":
        assert options["creationflags"] & subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
    else:
        assert options == {"start_new_session": True}


def test_is_root_without_an_euid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "geteuid", raising=False)
    assert portable.is_root() is False


# ---- the sim's server ------------------------------------------------------------------------


def test_forced_sims_use_asyncio_and_no_malloc_tuning(forced: None) -> None:
    assert portable.event_loop() == "asyncio"
    assert portable.malloc_tuning() == {}
    assert portable.http_parser() in {"httptools", "h11"}


@linux_only
def test_linux_sims_use_uvloop_and_tune_glibc(native: None) -> None:
    pytest.importorskip("uvloop")
    assert portable.event_loop() == "uvloop"
    assert set(portable.malloc_tuning()) == {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"}


def test_windows_has_no_uvloop(native: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    assert portable.event_loop() == "asyncio"
