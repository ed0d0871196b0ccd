"""Glance in the sim: upload and web-download throughput of a 512 MiB image, and peak RSS.

    python -m bench glance_throughput

A fresh sim with Glance installed; then

* upload: ``PUT /v2/images/{id}/file`` of a 512 MiB qcow2 streamed from a file with 1 MiB
  writes (the raw API, as the real-Zed reference figure was taken), timed from the first
  byte sent to the 204 -- the image is ``active`` with md5 and sha512 computed by then;
* web-download: ``POST /v2/images/{id}/import`` of the mirror's 512 MiB image, timed until
  the image is ``active`` (polled every 50 ms);

and prints MiB/s, the ratio to the target (300 MiB/s) and to a real Zed Glance on this kind
of machine (~208 MiB/s: 256 MiB in ~1.2 s), and the sim process's peak RSS (VmHWM, target
under 150 MiB). Figures, not a test: nothing fails on a number.

It runs twice: with this machine's platform choices (O_DIRECT and uvloop on Linux), then
with ``LABKIT_PORTABLE=1`` -- plain buffered writes and asyncio, what a Windows laptop gets
(see ``labkit.portable``) -- and prints what the fallbacks cost.
"""

from __future__ import annotations

import http.client
import json
import os
import tempfile
import time
from pathlib import Path

import psutil

from bench.common import free_port, repo_env

TARGET_MIB_S = 300.0
REAL_ZED_MIB_S = 208.0
RSS_LIMIT_MIB = 150.0
MIRROR_PATH = "lab/bench-512m.qcow2"


def _peak_rss_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # no /proc (macOS, Windows): no peak figure
        return float("nan")
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _request(
    port: int,
    method: str,
    path: str,
    token: str,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600, blocksize=1 << 20)
    all_headers = {"X-Auth-Token": token, "Accept": "application/json", **(headers or {})}
    if isinstance(body, dict):
        all_headers["Content-Type"] = "application/json"
        body = json.dumps(body).encode()
    conn.request(method, path, body=body, headers=all_headers)  # type: ignore[arg-type]
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def _download(port: int, token: str, image_id: str) -> int:
    """GET the image data, counting bytes without keeping them."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("GET", f"/image/v2/images/{image_id}/file", headers={"X-Auth-Token": token})
    response = conn.getresponse()
    buffer = bytearray(1 << 20)
    total = 0
    while count := response.readinto(buffer):
        total += count
    conn.close()
    return total


def _new_image(port: int, token: str, name: str) -> str:
    status, data = _request(
        port,
        "POST",
        "/image/v2/images",
        token,
        {"name": name, "disk_format": "qcow2", "container_format": "bare"},
    )
    assert status == 201, data
    return str(json.loads(data)["id"])


def _wait_active(port: int, token: str, image_id: str, timeout: float = 300) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, data = _request(port, "GET", f"/image/v2/images/{image_id}", token)
        image: dict[str, object] = json.loads(data)
        if image["status"] in ("active", "queued") and not image.get("os_glance_import_task"):
            return image
        time.sleep(0.05)
    raise TimeoutError(image_id)


class _SimCpu:
    """The sim process's CPU seconds (user, system) since the last call: unlike MiB/s, what
    a phase costs the sim hardly changes when other work shares the cores."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self._last = self._process.cpu_times()

    def since_last(self) -> str:
        now = self._process.cpu_times()
        user, system = now.user - self._last.user, now.system - self._last.system
        self._last = now
        return f"sim CPU user {user:5.2f} s sys {system:5.2f} s"


def _report(label: str, size: int, seconds: float, cpu: _SimCpu) -> float:
    rate = size / (1 << 20) / seconds
    print(
        f"{label:13s} {size / (1 << 20):6.0f} MiB in {seconds:6.2f} s = {rate:7.1f} MiB/s  "
        f"(x{rate / TARGET_MIB_S:.2f} of target {TARGET_MIB_S:.0f}, "
        f"x{rate / REAL_ZED_MIB_S:.2f} of real Zed ~{REAL_ZED_MIB_S:.0f}); {cpu.since_last()}",
        flush=True,
    )
    return rate


def run() -> dict[str, float]:
    from labkit import portable

    figures: dict[str, float] = {}
    previous = os.environ.get(portable.ENV_VAR)
    try:
        for label, value in (("native", "0"), ("portable", "1")):
            os.environ[portable.ENV_VAR] = value  # read by the sim process it starts
            print(f"-- {label}: {portable.summary()}", flush=True)
            for key, figure in _measure().items():
                figures[f"{label}_{key}"] = figure
    finally:
        if previous is None:
            os.environ.pop(portable.ENV_VAR, None)
        else:
            os.environ[portable.ENV_VAR] = previous
    for key in ("upload_mib_s", "web_download_mib_s", "download_mib_s"):
        ratio = figures[f"portable_{key}"] / figures[f"native_{key}"]
        print(f"portable / native {key.removesuffix('_mib_s'):13s} x{ratio:.2f}")
    return figures


def _measure() -> dict[str, float]:
    from labkit.lab import Lab
    from labkit.sim import process
    from labkit.sim.mirror.catalog import BY_PATH

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        os.environ["LABKIT_SIM_PORT"] = str(port)
        lab = Lab.from_env(repo_env("sim"), state_root=Path(tmp))
        try:
            lab.ensure("glance")
            pid = int(lab.sim.health()["pid"])
            token = lab.connect("admin").session.get_token()
            print(f"sim pid {pid}, RSS after install {_peak_rss_mib(pid):.0f} MiB (peak so far)")

            source = BY_PATH[MIRROR_PATH].image
            local = Path(tmp) / "bench.qcow2"
            with open(local, "wb") as out:
                for block in source.blocks(block=4 << 20):
                    out.write(block)
            size = local.stat().st_size

            image_id = _new_image(port, token, "bench-upload")
            cpu = _SimCpu(pid)
            with open(local, "rb") as body:
                started = time.perf_counter()
                status, data = _request(
                    port,
                    "PUT",
                    f"/image/v2/images/{image_id}/file",
                    token,
                    body,
                    {"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                )
                upload_s = time.perf_counter() - started
            assert status == 204, data
            upload = _report("upload", size, upload_s, cpu)

            image_id = _new_image(port, token, "bench-web-download")
            cpu.since_last()
            uri = f"http://127.0.0.1:{port}/mirror/{MIRROR_PATH}"
            started = time.perf_counter()
            status, data = _request(
                port,
                "POST",
                f"/image/v2/images/{image_id}/import",
                token,
                {"method": {"name": "web-download", "uri": uri}},
            )
            assert status == 202, data
            image = _wait_active(port, token, image_id)
            download_s = time.perf_counter() - started
            assert image["status"] == "active", image
            web = _report("web-download", int(str(image["size"])), download_s, cpu)

            started = time.perf_counter()
            fetched = _download(port, token, image_id)
            fetch_s = time.perf_counter() - started
            assert fetched == size, fetched
            download = _report("download", size, fetch_s, cpu)

            rss = _peak_rss_mib(pid)
            print(
                f"sim peak RSS (VmHWM) {rss:.0f} MiB (limit {RSS_LIMIT_MIB:.0f} MiB: "
                f"{'ok' if rss < RSS_LIMIT_MIB else 'OVER'})"
            )
            return {
                "upload_mib_s": upload,
                "web_download_mib_s": web,
                "download_mib_s": download,
                "peak_rss_mib": rss,
            }
        finally:
            process.stop(lab.paths)


if __name__ == "__main__":
    run()
