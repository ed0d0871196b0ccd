"""Strict SSH: refused unknown/changed keys, streamed commands, files, trust.

A paramiko SSH server on loopback (started per test, in threads) plays the host; the commands
it is sent run locally with ``sh``, so nothing here needs root or a real lab.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest

from labkit.envs import SshEnv, parse_env
from labkit.errors import HostError
from labkit.hosts import known_hosts
from labkit.hosts.errors import CommandTimeout, HostKeyChanged, HostKeyUnknown, SshAuthFailed
from labkit.hosts.keys import new_ed25519, write_pair
from labkit.hosts.ssh import HostConnection, trust, wrap_command

# -- a tiny SSH server ---------------------------------------------------------------------------

SERVER_LOG = "tests.fake-sshd"


class _Server(paramiko.ServerInterface):
    def __init__(self, allowed: paramiko.PKey) -> None:
        self.allowed = allowed

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if key.asbytes() == self.allowed.asbytes():
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        threading.Thread(target=_execute, args=(channel, command.decode()), daemon=True).start()
        return True


def _execute(chan: paramiko.Channel, command: str) -> None:
    proc = subprocess.Popen(
        ["sh", "-c", command], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdin and proc.stdout and proc.stderr

    def feed_stdin() -> None:
        assert proc.stdin
        try:
            while data := chan.recv(65536):
                proc.stdin.write(data)
            proc.stdin.close()
        except (OSError, EOFError):
            pass

    def pump(stream: object, send: object) -> None:
        try:
            while data := stream.read1(65536):  # type: ignore[attr-defined]
                send(data)  # type: ignore[operator]
        except (OSError, EOFError):
            pass

    threads = [
        threading.Thread(target=feed_stdin, daemon=True),
        threading.Thread(target=pump, args=(proc.stdout, chan.sendall), daemon=True),
        threading.Thread(target=pump, args=(proc.stderr, chan.sendall_stderr), daemon=True),
    ]
    for t in threads:
        t.start()
    code = proc.wait()
    threads[1].join(5)
    threads[2].join(5)
    try:
        chan.send_exit_status(code)
        chan.shutdown_write()
        chan.close()
    except (OSError, EOFError):
        pass


@dataclass
class Sshd:
    port: int
    host_key: paramiko.PKey
    client_key: Path
    stop: threading.Event


def _serve(
    listener: socket.socket, host_key: paramiko.PKey, allowed: paramiko.PKey, stop: threading.Event
) -> None:
    transports = []
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except OSError:
            break
        t = paramiko.Transport(conn)
        t.set_log_channel(SERVER_LOG)
        t.add_server_key(host_key)
        # Not waiting for the handshake: clients that only fetch the key (trust) hang up early.
        t.start_server(event=threading.Event(), server=_Server(allowed))
        transports.append(t)
    for t in transports:
        t.close()


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    # The server side logs clients that hang up right after the key exchange (as trust does).
    logging.getLogger(SERVER_LOG).setLevel(logging.CRITICAL)
    client = new_ed25519("client")
    write_pair(client, tmp_path / "client_key")
    host_key = new_ed25519("host").pkey()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()
    thread = threading.Thread(
        target=_serve, args=(listener, host_key, client.pkey(), stop), daemon=True
    )
    thread.start()
    yield Sshd(listener.getsockname()[1], host_key, tmp_path / "client_key", stop)
    stop.set()
    listener.close()


def _env(sshd: Sshd, tmp_path: Path, key: Path | None = None) -> SshEnv:
    env = parse_env(
        {
            "kind": "ssh",
            "management_network": {
                "cidr": "127.0.0.0/8",
                "gateway": "127.0.0.1",
                "guest_pool": ["127.0.0.100", "127.0.0.199"],
            },
            "ssh": {"user": "root", "key": str(key or sshd.client_key), "port": sshd.port},
            "known_hosts": str(tmp_path / "known_hosts"),
            "hosts": [{"name": "controller", "address": "127.0.0.1", "roles": ["controller"]}],
        },
        str(tmp_path / "lab.yaml"),
    )
    assert isinstance(env, SshEnv)
    return env


def _trusted(sshd: Sshd, tmp_path: Path) -> SshEnv:
    known_hosts.record(tmp_path / "known_hosts", f"[127.0.0.1]:{sshd.port}", sshd.host_key)
    return _env(sshd, tmp_path)


# -- the pure part ---------------------------------------------------------------------------------


def test_wrap_root_login_runs_command_as_is() -> None:
    assert wrap_command("id -u", login_user="root") == "id -u"


def test_wrap_root_switches_to_service_users_with_su() -> None:
    assert wrap_command("keystone-manage db_sync", login_user="root", run_as="keystone") == (
        "su -s /bin/sh -c 'keystone-manage db_sync' keystone"
    )


def test_wrap_other_login_uses_sudo_without_prompt() -> None:
    assert wrap_command("id -u", login_user="debian") == "sudo -n -- sh -c 'id -u'"
    assert wrap_command("id", login_user="debian", run_as="glance") == (
        "sudo -n -u glance -- sh -c id"
    )


def test_wrap_exports_environment() -> None:
    line = wrap_command("env", login_user="root", env={"OS_CLOUD": "a b"})
    assert line == "export OS_CLOUD='a b'; env"
    with pytest.raises(ValueError):
        wrap_command("env", login_user="root", env={"BAD-NAME": "x"})


# -- strict host keys -----------------------------------------------------------------------------


def test_unknown_host_key_is_refused(sshd: Sshd, tmp_path: Path) -> None:
    env = _env(sshd, tmp_path)
    with pytest.raises(HostKeyUnknown) as caught:
        HostConnection.for_host(env, "controller").connect()
    message = str(caught.value)
    assert "controller" in message
    assert known_hosts.fingerprint(sshd.host_key) in message
    assert f"labkit hosts trust {env.name}" in message


def test_changed_host_key_is_refused_naming_both(sshd: Sshd, tmp_path: Path) -> None:
    old = new_ed25519("old").pkey()
    known_hosts.record(tmp_path / "known_hosts", f"[127.0.0.1]:{sshd.port}", old)
    with pytest.raises(HostKeyChanged) as caught:
        HostConnection.for_host(_env(sshd, tmp_path), "controller").connect()
    message = str(caught.value)
    assert known_hosts.fingerprint(sshd.host_key) in message
    assert known_hosts.fingerprint(old) in message
    assert "--replace" in message


def test_wrong_client_key_is_an_auth_error(sshd: Sshd, tmp_path: Path) -> None:
    other = new_ed25519("other")
    write_pair(other, tmp_path / "other_key")
    known_hosts.record(tmp_path / "known_hosts", f"[127.0.0.1]:{sshd.port}", sshd.host_key)
    env = _env(sshd, tmp_path, key=tmp_path / "other_key")
    with pytest.raises(SshAuthFailed, match="authorized_keys"):
        HostConnection.for_host(env, "controller").connect()


# -- commands and files ----------------------------------------------------------------------------


def test_run_streams_lines_and_returns_the_result(sshd: Sshd, tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []
    with HostConnection.for_host(_trusted(sshd, tmp_path), "controller") as conn:
        result = conn.run(
            "echo one; echo two; echo oops >&2; exit 3",
            check=False,
            on_output=lambda stream, line: seen.append((stream, line)),
        )
    assert result.exit_code == 3 and not result.ok
    assert result.stdout == "one\ntwo\n" and result.stderr == "oops\n"
    assert [s for s in seen if s[0] == "stdout"] == [("stdout", "one"), ("stdout", "two")]
    assert ("stderr", "oops") in seen
    assert result.duration > 0


def test_failure_raises_host_error_with_context(sshd: Sshd, tmp_path: Path) -> None:
    conn = HostConnection.for_host(_trusted(sshd, tmp_path), "controller")
    with conn, pytest.raises(HostError) as caught:
        conn.run("echo first >&2; echo last >&2; exit 7")
    error = caught.value
    assert (error.host, error.exit_code) == ("controller", 7)
    assert error.command.startswith("echo first")
    assert error.stderr_tail == "first\nlast"


def test_timeout_stops_waiting(sshd: Sshd, tmp_path: Path) -> None:
    conn = HostConnection.for_host(_trusted(sshd, tmp_path), "controller")
    with conn, pytest.raises(CommandTimeout, match="did not finish within"):
        conn.run("sleep 3", timeout=0.3)


def test_write_then_read_file(sshd: Sshd, tmp_path: Path) -> None:
    target = tmp_path / "etc" / "lab.conf"
    target.parent.mkdir()
    with HostConnection.for_host(_trusted(sshd, tmp_path), "controller") as conn:
        conn.write_file(str(target), "[DEFAULT]\nx = 1\n", 0o640)
        assert conn.read_file(str(target)) == "[DEFAULT]\nx = 1\n"
        assert conn.run("cat", stdin="piped").stdout == "piped"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in target.parent.iterdir()] == ["lab.conf"]  # no temp file left


# -- trust ---------------------------------------------------------------------------------------


def test_trust_records_then_knows(sshd: Sshd, tmp_path: Path) -> None:
    env = _env(sshd, tmp_path)
    (first,) = trust(env)
    assert first.status == "added"
    assert first.key == known_hosts.describe(sshd.host_key)
    (second,) = trust(env)
    assert second.status == "same"
    with HostConnection.for_host(env, "controller") as conn:
        assert conn.run("echo ok").stdout == "ok\n"


def test_trust_does_not_record_a_changed_key_without_replace(sshd: Sshd, tmp_path: Path) -> None:
    old = new_ed25519("old").pkey()
    path = tmp_path / "known_hosts"
    known_hosts.record(path, f"[127.0.0.1]:{sshd.port}", old)
    env = _env(sshd, tmp_path)
    assert trust(env)[0].status == "changed"
    assert known_hosts.known_keys(path, f"[127.0.0.1]:{sshd.port}")[0].asbytes() == old.asbytes()
    assert trust(env, replace=True)[0].status == "replaced"


def test_trust_can_be_declined(sshd: Sshd, tmp_path: Path) -> None:
    (row,) = trust(_env(sshd, tmp_path), confirm=lambda row: False)
    assert row.status == "skipped"
    assert not (tmp_path / "known_hosts").exists()
