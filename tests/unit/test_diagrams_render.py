"""Drawing every kind of diagram works headless and leaves pyplot alone."""

from __future__ import annotations

import sys

from matplotlib.figure import Figure

from labkit.diagrams import Diagram, graphs, render
from tests.unit.test_diagrams_graphs import CATALOG, SIM_HOSTS


def test_every_kind_draws_to_a_figure_without_pyplot() -> None:
    events = [
        {
            "id": 1,
            "source": "client",
            "target": "keystone",
            "action": "POST /v3/auth/tokens",
            "status": "201",
        }
    ]
    for graph in (
        graphs.layers(highlight="keystone", note="a note"),
        graphs.notebook_arc(),
        graphs.topology(SIM_HOSTS),
        graphs.catalog(CATALOG),
        graphs.catalog([]),
        graphs.request_flow(events),
    ):
        fig = render.draw(graph)
        assert isinstance(fig, Figure)
    assert "matplotlib.pyplot" not in sys.modules


def test_draw_on_a_given_axes_returns_its_figure() -> None:
    fig = Figure()
    ax = fig.add_subplot()
    assert render.draw(graphs.layers(), ax=ax) is fig


def test_diagram_png_is_reproducible() -> None:
    a, b = Diagram(graphs.layers()).png(dpi=30), Diagram(graphs.layers()).png(dpi=30)
    assert a.startswith(b"\x89PNG") and a == b
