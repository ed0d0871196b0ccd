"""How an explanation shows: text anywhere, HTML plus the layer map in a notebook."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from labkit import layers
from labkit.diagrams import Diagram, graphs


def inline_html(text: str) -> str:
    """``text`` escaped for HTML, with its `backtick` spans (commands, file names) shown
    as code, the way the plain-text face marks them."""
    return re.sub(r"`([^`\n]+)`", r"<code>\1</code>", html.escape(text))


@dataclass
class Explanation:
    entry: str  # the registry entry that matched ("keystone.missing-role")
    layer: str  # a layer key of labkit.layers ("" when unknown)
    title: str
    cause: str
    fix: str
    evidence: str  # the part of the error that matched
    findings: list[str] = field(default_factory=list)  # what the lab itself showed
    error_type: str = ""
    status: int | None = None
    request_id: str = ""

    @property
    def layer_title(self) -> str:
        found = layers.find(self.layer) if self.layer else None
        if found is None:
            return "unknown layer"
        return f"layer {found.number}: {found.title}" if found.number else found.title

    def diagram(self) -> Diagram:
        """The layer map with this error's layer highlighted."""
        return Diagram(
            graphs.layers(
                highlight=self.layer or None, note=self.title, beyond=False, lab=self.layer == "lab"
            )
        )

    def __str__(self) -> str:
        lines = [
            f"{self.title}  [{self.layer_title}]",
            f"  error:    {self.evidence}",
            f"  cause:    {self.cause}",
            f"  fix:      {self.fix}",
        ]
        lines += [f"  found:    {f}" for f in self.findings]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        e, md = html.escape, inline_html
        findings = "".join(f"<li>{md(f)}</li>" for f in self.findings)
        found = f"<tr><th>found</th><td><ul>{findings}</ul></td></tr>" if findings else ""
        return (
            "<div style='border-left:4px solid #c62828;padding-left:8px'>"
            f"<b>{md(self.title)}</b> <small>[{e(self.layer_title)}]</small>"
            "<table>"
            f"<tr><th style='text-align:left'>error</th><td style='text-align:left'>"
            f"<code>{e(self.evidence)}</code></td></tr>"
            f"<tr><th style='text-align:left'>cause</th><td style='text-align:left'>"
            f"{md(self.cause)}</td></tr>"
            f"<tr><th style='text-align:left'>fix</th><td style='text-align:left'>"
            f"{md(self.fix)}</td></tr>{found}</table></div>"
        )

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display({"text/plain": str(self), "text/html": self._repr_html_()}, raw=True)  # type: ignore[no-untyped-call]
        display(self.diagram())  # type: ignore[no-untyped-call]
