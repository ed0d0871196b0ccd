"""Notebook 03's pieces that need no cloud: the timeline graph and its text, the closing line
of an import watch, and the image mirror that local lab hosts pull from."""

from __future__ import annotations

import hashlib
import threading
import urllib.request
from http.server import ThreadingHTTPServer

import pytest

from labkit.diagrams import Diagram, graphs
from labkit.hosts import image_mirror
from labkit.images import Timeline, TimelinePoint
from labkit.widgets.image_import import summary


def _point(
    t: float,
    status: str,
    stores: str = "",
    failed: str = "",
    task: str = "",
    staged: int | None = None,
) -> TimelinePoint:
    return TimelinePoint(t, status, stores, failed, task, "", staged)


def _pulled() -> Timeline:
    return Timeline(
        "id-1",
        [
            _point(0.0, "queued"),
            _point(1.0, "importing", "fs", task="processing", staged=8 << 20),
            _point(3.0, "importing", "fs", task="processing", staged=64 << 20),
            _point(4.0, "active", "fs", task="success"),  # still listed for one poll: not shown
            _point(4.2, "active", task="success"),
        ],
        name="trusty",
        size=64 << 20,
    )


def test_timeline_text_names_the_phases_and_properties() -> None:
    text = str(Diagram(graphs.image_timeline(_pulled())))
    assert text.splitlines()[0] == "Image 'trusty': queued -> importing -> active"
    assert "  queued     (1.0 s)  no data yet" in text
    assert "os_glance_importing_to_stores=fs while the task ran" in text
    assert "at the end: os_glance_importing_to_stores='', os_glance_failed_import=''" in text
    assert text.count("while the task ran") == 1


def test_a_failed_import_reads_as_failed() -> None:
    timeline = Timeline(
        "id-2",
        [
            _point(0.0, "queued"),
            _point(0.5, "queued", "fs", task="failure"),
            _point(0.7, "queued", failed="fs", task="failure"),
        ],
        name="broken",
    )
    text = str(Diagram(graphs.image_timeline(timeline)))
    assert "os_glance_failed_import='fs'" in text and "the import failed" in text
    assert "os_glance_failed_import=fs" in timeline.failure()
    assert summary("broken", timeline) == (
        "broken: the import failed, the image is queued again (os_glance_failed_import=fs)"
    )


def test_summary_and_picture_of_a_pull() -> None:
    timeline = _pulled()
    assert timeline.started and timeline.import_seconds() == pytest.approx(3.2)
    assert summary("trusty", timeline, timeline.size) == (
        "trusty: queued -> importing -> active, 64.0 MiB pulled over HTTP by Glance in 3.2 s"
    )
    assert Diagram(graphs.image_timeline(timeline)).png()[:4] == b"\x89PNG"


def test_rates() -> None:
    assert image_mirror.parse_rate("64M") == 64 << 20
    assert image_mirror.parse_rate("0") is None
    with pytest.raises(ValueError):
        image_mirror.parse_rate("fast")


def test_the_mirror_serves_images_and_their_checksums() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), image_mirror._Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/mirror/cirros/0.6.2/"
    try:
        with urllib.request.urlopen(base + "cirros-0.6.2-x86_64-disk.img") as r:
            data = r.read()
        with urllib.request.urlopen(base + "MD5SUMS") as r:
            sums = r.read().decode()
        assert data[:4] == b"QFI\xfb"
        assert f"{hashlib.md5(data).hexdigest()}  cirros-0.6.2-x86_64-disk.img" in sums
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(base + "nope.img")
        assert missing.value.code == 404
    finally:
        server.shutdown()
        server.server_close()
