"""Notebook 03's status timeline as a picture: nothing drawn off the canvas, titled by what
happened, and the staged-bytes chart measured against the size the text reports."""

from __future__ import annotations

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from labkit.diagrams import graphs, render
from labkit.images import Timeline, TimelinePoint
from labkit.widgets.image_import import summary

MiB = 1 << 20
SIZE = 268763136  # the trusty image of notebook 03: 256.3 MiB


def _point(
    t: float, status: str, stores: str = "", failed: str = "", task: str = "", staged: int = -1
) -> TimelinePoint:
    return TimelinePoint(t, status, stores, failed, task, "", None if staged < 0 else staged)


def pulled() -> Timeline:
    """Like notebook 03's pull: a long import, then active at the very end."""
    points = [_point(0.05, "queued"), _point(0.7, "queued")]
    points += [
        _point(0.9 + i * 0.2, "importing", "fs", task="processing", staged=i * 13 * MiB)
        for i in range(19)
    ]
    points += [_point(4.7, "active", "fs", task="success"), _point(4.8, "active", task="success")]
    return Timeline("id-1", points, name="trusty", size=SIZE)


def failed(seen_importing: bool) -> Timeline:
    middle = (
        [_point(0.3, "importing", "fs", task="processing", staged=0)]
        if seen_importing
        else [_point(0.3, "queued", "fs", task="pending")]
    )
    return Timeline(
        "id-2",
        [_point(0.05, "queued"), *middle, _point(0.9, "queued", failed="fs", task="failure")],
        name="broken",
    )


def _outside(fig: Figure) -> list[str]:
    """Every text or line (in display pixels) that reaches past the figure's edges."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    out = []
    for ax in fig.axes:
        for text in ax.texts:
            box = text.get_window_extent(renderer)
            if box.x0 < -1 or box.y0 < -1 or box.x1 > width + 1 or box.y1 > height + 1:
                out.append(f"text {text.get_text()!r} at {box}")
        for line in ax.lines:
            for x, y in ax.transData.transform(line.get_xydata()):
                if not (-1 <= x <= width + 1 and -1 <= y <= height + 1):
                    out.append(f"line through ({x:.0f}, {y:.0f})")
                    break
    return out


@pytest.mark.parametrize(
    "timeline", [pulled(), failed(True), failed(False)], ids=["pull", "fail-seen", "fail-quick"]
)
def test_nothing_is_drawn_off_the_canvas(timeline: Timeline) -> None:
    fig = render.draw(graphs.image_timeline(timeline))
    assert _outside(fig) == []


def test_the_last_status_is_labelled_in_full() -> None:
    fig = render.draw(graphs.image_timeline(pulled()))
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert {"queued", "importing", "active"} <= set(labels)


def test_the_chart_is_measured_against_the_size_the_text_reports() -> None:
    timeline = pulled()
    line = summary("trusty", timeline, timeline.size)
    assert "256.3 MiB pulled" in line
    fig = render.draw(graphs.image_timeline(timeline))
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "256.3 MiB: the whole image" in texts
    assert " MB" not in texts


def test_a_failed_import_is_titled_by_what_happened() -> None:
    for seen in (True, False):
        g = graphs.image_timeline(failed(seen))
        assert g.graph["title"] == "Image 'broken': the import failed, the image is queued again"
        assert str(graphs.describe(g)).splitlines()[0] == g.graph["title"]
    texts = [t.get_text() for t in render.draw(graphs.image_timeline(failed(False))).axes[0].texts]
    assert texts[0].startswith("Image 'broken': the import failed")
