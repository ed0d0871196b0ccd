"""A sim with every Linux-only path switched off (LABKIT_PORTABLE=1): what a Windows laptop
runs -- a lock file instead of flock, psutil instead of kill(pid, 0), a stop-request file
instead of SIGTERM, asyncio instead of uvloop, plain writes instead of O_DIRECT -- driven
through openstacksdk like any other sim."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit import portable
from labkit.lab import Lab
from labkit.sim import process
from tests.conftest import REPO, free_port


@pytest.fixture()
def portable_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    monkeypatch.setenv(portable.ENV_VAR, "1")  # inherited by the sim process
    lab = Lab.from_env(REPO / "envs" / "sim.yaml", state_root=tmp_path, sim_port=free_port())
    yield lab
    process.stop(lab.paths)


def _sim_log(lab: Lab) -> str:
    return (lab.paths.logs / "sim.log").read_text()


def test_token_image_upload_download_and_stop_with_every_fallback(portable_lab: Lab) -> None:
    lab = portable_lab
    lab.ensure("glance")
    assert "LABKIT_PORTABLE=1: lock O_EXCL file, stop request file" in _sim_log(lab)
    assert "image writes buffered, loop asyncio" in _sim_log(lab)

    conn: Any = lab.connect("admin")
    token = conn.session.get_token()
    url = lab.credentials().auth_url + "auth/tokens"
    assert conn.session.get(url, headers={"X-Subject-Token": token}).status_code == 200

    # Not a whole number of pages or ring blocks: the unaligned tail goes through too.
    data = hashlib.sha512(b"portable").digest() * ((5 << 20) // 64) + b"tail-bytes"
    image = conn.image.create_image(
        name="portable", disk_format="raw", container_format="bare", data=data
    )
    image = conn.image.get_image(image.id)
    assert (image.status, image.size) == ("active", len(data))
    assert image.checksum == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert (image.hash_algo, image.hash_value) == ("sha512", hashlib.sha512(data).hexdigest())
    assert conn.image.download_image(image).content == data

    health = lab.sim.health()
    assert health["internal_errors"] == 0
    started = time.monotonic()
    assert process.stop(lab.paths)
    # Stopped by the request file, cleanly, well before stop() would have killed it.
    assert time.monotonic() - started < 5
    assert not portable.pid_alive(int(health["pid"]))
    assert "stop requested (.sim.stop): shutting down" in _sim_log(lab)
    assert not (lab.paths.root / ".sim.stop").exists()
    assert process.running(lab.paths) is None


def test_two_starts_at_once_make_one_sim_and_leave_no_lock(portable_lab: Lab) -> None:
    lab = portable_lab
    port = free_port()
    handles: list[process.SimHandle] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            handles.append(process.start(lab.env, lab.paths, port=port))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert handles[0] == handles[1]
    assert not (lab.paths.root / ".sim.lock").exists()  # the O_EXCL kind, released
    assert process.running(lab.paths) == handles[0]
