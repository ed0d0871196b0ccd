"""Diagrams: :mod:`.graphs` builds (pure), :mod:`.render` draws, :mod:`.style` colours.

:class:`Diagram` is what notebooks display: the picture in a notebook (``image/png``), the
graph's text description everywhere else -- papermill logs, nbval comparisons, terminals.
matplotlib is imported only when a picture is actually drawn.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit.diagrams.graphs import describe

if TYPE_CHECKING:
    import networkx as nx
    from matplotlib.figure import Figure


class Diagram:
    """A graph with its picture (drawn on first use) and its text fallback."""

    def __init__(self, graph: nx.Graph) -> None:
        self.graph = graph
        self._figure: Figure | None = None

    @property
    def figure(self) -> Figure:
        if self._figure is None:
            from labkit.diagrams.render import draw

            self._figure = draw(self.graph)
        return self._figure

    def png(self, dpi: int = 100) -> bytes:
        buffer = io.BytesIO()
        # No timestamps or software version in the file: the same diagram, the same bytes.
        self.figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
        return buffer.getvalue()

    def save(self, path: str | Path, dpi: int = 100) -> Path:
        target = Path(path)
        target.write_bytes(self.png(dpi))
        return target

    def __str__(self) -> str:
        return describe(self.graph)

    def __repr__(self) -> str:
        return describe(self.graph)

    def _repr_png_(self) -> bytes:
        return self.png()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"image/png": self.png(), "text/plain": describe(self.graph)}


__all__ = ["Diagram", "describe"]
