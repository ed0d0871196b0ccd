"""The ``openstack`` CLI for tests, without paying for its imports on every command.

A run of ``openstack`` spends about 1.6 s of CPU before it sends its first request:
importing openstackclient, cliff, keystoneauth, openstacksdk and its plugins. The command
itself takes some 30 ms. The tests and the notebooks run several hundred commands, so on a
2-core CI machine those imports were most of the suite's time.

So the tests keep one *zygote* per test process: a Python process that has imported the CLI
(and loaded every command plugin) and then waits on a Unix socket. Each command is a
``fork()`` of it -- a new process, with the caller's argv, environment, working folder and
stdin/stdout/stderr (the caller's file descriptors are passed over the socket), that runs
``openstackclient.shell.main(argv)`` exactly as the ``openstack`` script does and exits with
its status. Nothing is shared between two commands but what the imports made, as with two
runs of the script; the client, its arguments and its requests are the real ones. Two
differences: the forks share the zygote's string-hash seed (a set of strings iterates in
the same order in every command of a test run, not across runs), and ``--wait`` polls
every 0.25 s instead of every 5 s (:func:`_shorten_polls`).

Two ways in:

* :func:`run` -- ``subprocess.run``'s answer (a ``CompletedProcess``) for ``[openstack,
  *argv]``; :func:`tests.conftest.openstack_cli` uses it.
* :func:`shim_dir` -- a folder holding an ``openstack`` executable that forwards its own
  argv, environment and file descriptors to the zygote: on PATH, a notebook kernel's
  ``!openstack ...`` (papermill, nbval) gets the same speed-up with its pty intact.

Off Linux (see :func:`enabled`), or with ``LABKIT_TEST_CLI=exec``, both fall back to
running the real script. Only the standard library is imported here at module level, so
the shim starts in milliseconds.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import locale
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "openstack")
SOCKET_VAR = "LABKIT_TEST_OSC_SOCKET"  # where the shim finds the zygote

_zygote: dict[str, Any] = {}


def enabled() -> bool:
    """Fork on Linux by default (macOS frameworks are not all fork-safe; Windows has no
    fork); ``LABKIT_TEST_CLI=exec`` or ``=fork`` decides instead."""
    choice = os.environ.get("LABKIT_TEST_CLI", "fork" if sys.platform == "linux" else "exec")
    return choice == "fork" and hasattr(os, "fork")


# ---- the client side ----------------------------------------------------------------------------


def _request(
    path: str, argv: list[str], env: dict[str, str], cwd: str, fds: list[int], timeout: float
) -> int:
    """Ask the zygote at ``path`` to run ``openstack argv`` on ``fds`` (stdin, stdout,
    stderr); wait for its exit status."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(path)
        body = json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode()
        socket.send_fds(conn, [len(body).to_bytes(8, "big")], fds)
        conn.sendall(body)
        reply = b""  # "<pid>\n" once it runs, "<status>\n" when it is done
        deadline = time.monotonic() + timeout
        try:
            while reply.count(b"\n") < 2:
                conn.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = conn.recv(64)
                if not chunk:
                    break
                reply += chunk
        except TimeoutError:
            if b"\n" in reply:
                os.kill(int(reply.split(b"\n", 1)[0]), signal.SIGKILL)
            raise subprocess.TimeoutExpired([CLI, *argv], timeout) from None
    lines = reply.split(b"\n")
    if len(lines) < 3:  # killed, or crashed before it could tell
        raise RuntimeError(f"the forked openstack {argv} ended without an exit status")
    return int(lines[1])


def run(
    argv: list[str],
    env: dict[str, str],
    stdin: str | None = None,
    timeout: float = 120,
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run([openstack, *argv], env=env, capture_output=True, text=True,
    input=stdin, timeout=timeout)``, the command forked from the zygote."""
    args = [CLI, *argv]
    if not enabled():
        return subprocess.run(
            args, env=env, capture_output=True, text=True, input=stdin, timeout=timeout, cwd=cwd
        )
    with (
        tempfile.TemporaryFile() as inp,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        if stdin is not None:
            inp.write(stdin.encode(locale.getpreferredencoding(False)))
            inp.seek(0)
        fds = [inp.fileno(), out.fileno(), err.fileno()]
        code = _request(_ensure_zygote(), argv, env, str(cwd or os.getcwd()), fds, timeout)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(args, code, _text(out.read()), _text(err.read()))


def _text(data: bytes) -> str:
    """Bytes as ``subprocess.run(text=True)`` decodes them (universal newlines)."""
    text = data.decode(locale.getpreferredencoding(False))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def shim_dir() -> Path | None:
    """A folder with an ``openstack`` that runs each command forked from this process's
    zygote (started now if needed); None when forking is not available. Put it first on
    PATH and set ``SOCKET_VAR`` to :func:`socket_path` in the environment of the processes
    that should use it."""
    if not enabled():
        return None
    _ensure_zygote()
    folder = Path(_zygote["dir"]) / "bin"
    shim = folder / "openstack"
    if not shim.exists():
        folder.mkdir(exist_ok=True)
        # -S: no site-packages; the shim needs the standard library and this file only.
        shim.write_text(
            f"#!{sys.executable} -S\n"
            "import sys\n"
            f"sys.path.insert(0, {str(REPO)!r})\n"
            "from tests.osc_fork import shim\n"
            f"sys.exit(shim({CLI!r}))\n"
        )
        shim.chmod(0o755)
    return folder


def socket_path() -> str:
    return str(_ensure_zygote())


def shim(real_cli: str) -> int:
    """The shim's body: this process's argv, environment, folder and descriptors 0-2 to the
    zygote named by ``SOCKET_VAR``; without one (or if it is gone), the real script."""
    path = os.environ.get(SOCKET_VAR)
    if path and os.path.exists(path):
        try:
            return _request(path, sys.argv[1:], dict(os.environ), os.getcwd(), [0, 1, 2], 3600)
        except (ConnectionRefusedError, FileNotFoundError):
            pass
    os.execv(real_cli, [real_cli, *sys.argv[1:]])
    return 127  # not reached


def _ensure_zygote() -> str:
    """The socket of this process's zygote, started on first use (about a second of
    imports, once) and stopped when this process exits."""
    proc = _zygote.get("proc")
    if proc is not None and proc.poll() is None:
        return str(_zygote["socket"])
    folder = tempfile.mkdtemp(prefix="labkit-osc-")
    path = os.path.join(folder, "zygote.sock")
    paths = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.osc_fork", path, str(os.getpid())],
        cwd=folder,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=None,
    )
    assert proc.stdout is not None
    ready = proc.stdout.readline()
    if ready.strip() != b"ready":
        proc.kill()
        raise RuntimeError(f"the openstack CLI zygote did not start: {ready!r}")
    _zygote.update(proc=proc, socket=path, dir=folder)
    atexit.register(_stop_zygote)
    return path


def _stop_zygote() -> None:
    proc = _zygote.pop("proc", None)
    if proc is not None and proc.poll() is None:
        proc.terminate()
        proc.wait(10)
    if "dir" in _zygote:
        shutil.rmtree(_zygote.pop("dir"), ignore_errors=True)


# ---- the zygote -----------------------------------------------------------------------------


def _shorten_polls(seconds: float) -> None:
    """``--wait`` (``server create --wait``, ``server resize --wait`` ...) polls the server
    every 5 s in osc-lib's ``wait_for_status``/``wait_for_delete``; a sim's boot is done in
    well under a second, so a test or notebook sat through 5 s per ``--wait``. The forks
    poll every ``seconds`` instead: the same GETs, more often (no state-changing request,
    so a sim's steady clock and ids are untouched; the progress callback prints nothing
    while Nova's progress is 0). LABKIT_TEST_CLI_POLL=5 polls as the CLI does."""
    from osc_lib import utils

    for function in (utils.wait_for_status, utils.wait_for_delete):
        code, defaults = function.__code__, list(function.__defaults__ or ())
        names = code.co_varnames[: code.co_argcount][-len(defaults) :]
        if "sleep_time" in names:
            defaults[names.index("sleep_time")] = seconds
            function.__defaults__ = tuple(defaults)


def _warm_up() -> None:
    """Import what every command needs, and every command plugin, as a run would."""
    import importlib
    from importlib.metadata import entry_points

    import openstackclient.shell  # noqa: F401

    groups = entry_points()
    for group in sorted(groups.groups):
        if group.startswith(("openstack.", "cliff.")) or group == "keystoneauth1.plugin":
            for ep in groups.select(group=group):
                with contextlib.suppress(Exception):  # a plugin missing an optional dependency
                    ep.load()
    for name in ("compute.v2", "image.v2", "network.v2", "identity.v3", "placement.v1"):
        importlib.import_module(f"openstack.{name}._proxy")
    # cliff maps every installed module to its distribution (for each command's help
    # epilog) once per process, and keeps the map: a few hundred ms, made here once.
    import cliff.command

    mapping = getattr(cliff.command, "_get_distributions_by_modules", None)
    if mapping is not None:
        mapping()


def _serve(path: str, parent: int) -> None:
    _warm_up()
    _shorten_polls(float(os.environ.get("LABKIT_TEST_CLI_POLL", "0.25")))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    listener.settimeout(1.0)
    # Reap each command when it ends: its CPU time then counts in this process's children's
    # (and, once this process is waited for, in the test run's), as a script run's would.
    signal.signal(signal.SIGCHLD, _reap)
    sys.stdout.buffer.write(b"ready\n")
    sys.stdout.flush()
    while os.getppid() == parent:  # gone with the test process that started it
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        conn.settimeout(None)
        if os.fork() == 0:
            listener.close()
            _command(conn)  # never returns
        conn.close()


def _reap(_signum: int, _frame: object) -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _command(conn: socket.socket) -> None:
    """In a fresh fork: become ``openstack argv`` on the caller's descriptors."""
    status = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        head, fds, _flags, _addr = socket.recv_fds(conn, 8, 3)
        if len(head) < 8:
            head += _recv_exact(conn, 8 - len(head))
        request = json.loads(_recv_exact(conn, int.from_bytes(head, "big")))
        for target, fd in enumerate(fds):
            if fd != target:
                os.dup2(fd, target)
                os.close(fd)
        _reopen_stdio()
        random.seed()  # as a new interpreter would; not the zygote's sequence in every fork
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        conn.sendall(f"{os.getpid()}\n".encode())
        sys.argv = [CLI, *request["argv"]]
        from openstackclient.shell import main

        try:
            status = _exit_status(main(request["argv"]))
        except SystemExit as exc:
            status = _exit_status(exc.code)
        # What the interpreter does on the way out: exit handlers (logging's flush of
        # --log-file ...), then the streams -- all before the caller reads the outputs.
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        conn.sendall(f"{status}\n".encode())
    except BaseException:  # report it on the caller's stderr, then exit
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
    finally:
        os._exit(status)


def _exit_status(code: object) -> int:
    """The status ``sys.exit(code)`` gives (a message goes to stderr, as Python prints it)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _reopen_stdio() -> None:
    """sys.stdin/stdout/stderr as a new interpreter would open them on descriptors 0-2:
    stdout line-buffered on a terminal (a notebook's ``!`` gives a pty), stderr always."""
    import io

    streams = []
    for fd, mode in ((0, "rb"), (1, "wb"), (2, "wb")):
        old = (sys.stdin, sys.stdout, sys.stderr)[fd]
        raw = open(fd, mode, closefd=False)  # noqa: SIM115
        streams.append(
            io.TextIOWrapper(
                raw,  # type: ignore[arg-type]
                encoding=old.encoding,
                errors=old.errors,
                line_buffering=fd == 2 or (fd == 1 and os.isatty(1)),
            )
        )
    sys.stdin, sys.stdout, sys.stderr = streams
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = streams


if __name__ == "__main__":
    path, parent = sys.argv[1], int(sys.argv[2])
    # Imports may read the program's name (cliff's App.NAME does, for every usage line):
    # make it the script's before anything of the CLI is imported.
    sys.argv = [CLI]
    _serve(path, parent)
