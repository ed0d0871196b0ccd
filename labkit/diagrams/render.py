"""Drawing: a graph from :mod:`labkit.diagrams.graphs` in, a matplotlib Figure out.

Figures are made with :class:`matplotlib.figure.Figure` directly, never through ``pyplot``:
no global figure state, nothing left open between notebook cells, and the Agg canvas works
without a display. Layout is decided here from the graph's attributes; colours come from
:mod:`labkit.diagrams.style` only.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

import networkx as nx
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

from labkit.diagrams import graphs, style
from labkit.diagrams.graphs import FAILED_NOTE, messages

Drawer = Callable[[nx.Graph, Axes], None]


def draw(graph: nx.Graph, ax: Axes | None = None) -> Figure:
    """Draw ``graph`` (on ``ax`` if given, else on a new Figure sized for it)."""
    kind = str(graph.graph.get("kind"))
    drawer, size = _DRAWERS.get(kind, (_draw_generic, lambda g: (8.0, 6.0)))
    if ax is None:
        fig = Figure(figsize=size(graph), dpi=100, facecolor=style.PAPER)
        ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    drawer(graph, ax)
    figure = ax.get_figure()
    assert isinstance(figure, Figure)
    return figure


def _box(
    ax: Axes,
    x: float,
    y: float,
    w: float,
    h: float,
    colour: str,
    *,
    alpha: float = 1.0,
    edge: str = style.INK,
    lw: float = 1.0,
    ls: str = "-",
    radius: float = 0.08,
) -> None:
    ax.add_patch(
        FancyBboxPatch(
            (x, y),
            w,
            h,
            boxstyle=f"round,pad=0,rounding_size={radius}",
            facecolor=colour,
            edgecolor=edge,
            linewidth=lw,
            linestyle=ls,
            alpha=alpha,
        )
    )


def _text(
    ax: Axes,
    x: float,
    y: float,
    s: str,
    *,
    size: float = style.TEXT_SIZE,
    colour: str = style.INK,
    alpha: float = 1.0,
    **kw: Any,
) -> None:
    ax.text(x, y, s, fontsize=size, color=colour, alpha=alpha, family=style.FONT, **kw)


def _arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    *,
    colour: str = style.INK,
    lw: float = 1.2,
    style_: str = "-|>",
) -> None:
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle=style_,
            mutation_scale=12,
            color=colour,
            linewidth=lw,
            shrinkA=0,
            shrinkB=0,
        )
    )


# ---- the layer map ---------------------------------------------------------------------------


def _layers_size(g: nx.Graph) -> tuple[float, float]:
    rows = sum(1 for _, d in g.nodes(data=True) if not d["beyond"])
    extra = 1.3 if any(d["beyond"] for _, d in g.nodes(data=True)) else 0.0
    return 12.0, 0.85 * rows + extra + 1.3


def _draw_layers(g: nx.Graph, ax: Axes) -> None:
    stack = sorted(
        ((n, d) for n, d in g.nodes(data=True) if not d["beyond"]), key=lambda nd: nd[1]["number"]
    )
    beyond = [(n, d) for n, d in g.nodes(data=True) if d["beyond"]]
    row_h, gap, left, width = 0.78, 0.1, 0.2, 8.6
    top = len(stack) * (row_h + gap)
    for index, (key, d) in enumerate(stack):
        y = index * (row_h + gap)
        colour = style.layer_colour(key)
        dim = d["state"] == "dim"
        hot = d["state"] == "highlight"
        alpha = style.DIM_ALPHA if dim else 1.0
        _box(
            ax,
            left,
            y,
            width,
            row_h,
            colour,
            alpha=alpha,
            edge=style.HIGHLIGHT if hot else style.INK,
            lw=3.0 if hot else 0.8,
        )
        # A faded box is light whatever its colour: white text on it would vanish.
        ink = style.text_on(colour) if not dim else style.INK
        label = f"{d['number']}  {d['title']}" if d["number"] else d["title"]
        _text(
            ax,
            left + 0.15,
            y + row_h * 0.58,
            label,
            size=11.5,
            colour=ink,
            alpha=alpha,
            weight="bold",
            va="center",
        )
        _text(
            ax,
            left + 0.15,
            y + row_h * 0.22,
            d["summary"],
            size=style.SMALL_SIZE,
            colour=ink,
            alpha=alpha,
            va="center",
        )
        _text(
            ax,
            left + width - 0.15,
            y + row_h * 0.58,
            ", ".join(d["services"]),
            size=style.SMALL_SIZE,
            colour=ink,
            alpha=alpha,
            va="center",
            ha="right",
        )
        if d["ports"]:
            _text(
                ax,
                left + width - 0.15,
                y + row_h * 0.22,
                "ports " + ", ".join(d["ports"]),
                size=7.5,
                colour=ink,
                alpha=alpha,
                va="center",
                ha="right",
            )
        side = f"{d['notebook']}" + ("  \u2713 installed" if d["installed"] else "")
        _text(
            ax,
            left + width + 0.2,
            y + row_h / 2,
            side,
            size=style.TEXT_SIZE,
            colour=style.HIGHLIGHT if hot else style.INK,
            alpha=1.0 if not dim else 0.5,
            va="center",
            weight="bold" if hot else "normal",
        )
        if hot and g.graph.get("note"):
            note = "\n".join(textwrap.wrap(g.graph["note"], 34))
            _text(
                ax,
                left + width + 0.2,
                y + row_h / 2 - 0.28,
                note,
                size=7.5,
                colour=style.HIGHLIGHT,
                va="top",
            )
    if beyond:
        y = top + 0.35
        n = len(beyond)
        w = (width - (n - 1) * 0.08) / n
        for i, (_, d) in enumerate(sorted(beyond, key=lambda nd: nd[0])):
            hot = d["state"] == "highlight"
            _box(
                ax,
                left + i * (w + 0.08),
                y,
                w,
                0.62,
                style.BEYOND_COLOUR,
                ls="--",
                edge=style.HIGHLIGHT if hot else style.MUTED,
                lw=2.0 if hot else 0.8,
            )
            _text(
                ax,
                left + i * (w + 0.08) + w / 2,
                y + 0.31,
                "\n".join(textwrap.wrap(d["title"], 13)),
                size=7.5,
                colour=style.MUTED,
                ha="center",
                va="center",
            )
        _text(
            ax,
            left + width + 0.2,
            y + 0.31,
            "08-beyond\nlayer these in later",
            size=style.SMALL_SIZE,
            colour=style.MUTED,
            va="center",
        )
        top = y + 0.62
    _text(ax, left, top + 0.3, g.graph["title"], size=style.TITLE_SIZE, weight="bold")
    ax.set_xlim(0, 12)
    ax.set_ylim(-0.2, top + 0.9)


# ---- the notebook arc ------------------------------------------------------------------------


def _draw_arc(g: nx.Graph, ax: Axes) -> None:
    nodes = sorted(g.nodes(data=True), key=lambda n: n[1]["order"])
    per_row, w, h, gx, gy = 5, 2.1, 1.45, 0.35, 0.75
    positions: dict[str, tuple[float, float]] = {}
    rows = (len(nodes) + per_row - 1) // per_row
    for index, (name, d) in enumerate(nodes):
        row, col = divmod(index, per_row)
        if row % 2:  # snake back so each arrow stays short
            col = per_row - 1 - col
        x = 0.2 + col * (w + gx)
        y = (rows - 1 - row) * (h + gy)
        positions[name] = (x, y)
        colour = style.layer_colour(d["layer"])
        _box(ax, x, y, w, h, colour, radius=0.12)
        ink = style.text_on(colour)
        _text(ax, x + 0.1, y + h - 0.25, name, size=10.5, colour=ink, weight="bold")
        _text(
            ax,
            x + 0.1,
            y + h - 0.48,
            "\n".join(textwrap.wrap(d["teaches"], 27)),
            size=7.5,
            colour=ink,
            va="top",
        )
        _text(ax, x + 0.1, y + 0.12, "sees: " + d["shows"], size=6.8, colour=ink, style="italic")
    for u, v in g.edges():
        (x1, y1), (x2, y2) = positions[u], positions[v]
        if abs(y1 - y2) < 1e-6:
            start = (x1 + w, y1 + h / 2) if x2 > x1 else (x1, y1 + h / 2)
            end = (x2, y2 + h / 2) if x2 > x1 else (x2 + w, y2 + h / 2)
        else:
            start, end = (x1 + w / 2, y1), (x2 + w / 2, y2 + h)
        _arrow(ax, start, end)
    top = rows * (h + gy) - gy
    _text(ax, 0.2, top + 0.25, g.graph["title"], size=style.TITLE_SIZE, weight="bold")
    ax.set_xlim(0, 0.4 + per_row * (w + gx) - gx)
    ax.set_ylim(-0.2, top + 0.8)


def _arc_size(g: nx.Graph) -> tuple[float, float]:
    rows = (g.number_of_nodes() + 4) // 5
    return 12.5, 1.2 + 2.2 * rows


# ---- topology --------------------------------------------------------------------------------


def _host_lines(g: nx.Graph, d: dict[str, Any]) -> int:
    """Lines in a host's box: its services, its bridge and dnsmasq, its guests."""
    network = int(bool(d.get("bridge"))) + int(bool(d.get("dnsmasq")))
    guests = sum(len(graphs.guest_lines(x)) for x in graphs.host_guests(g, d["label"]))
    return max(len(d["services"]), 1) + network + guests + (1 if guests else 0)


def _topology_net_y(g: nx.Graph) -> float:
    """Height of the network line: the tallest host box fits under it."""
    hosts = [d for _, d in g.nodes(data=True) if d["kind"] == "host"]
    most = max((_host_lines(g, d) for d in hosts), default=1)
    return 0.3 + 0.8 + 1.1 + 0.22 * most


def _topology_size(g: nx.Graph) -> tuple[float, float]:
    hosts = sum(1 for _, d in g.nodes(data=True) if d["kind"] == "host")
    return max(9.0, 3.6 * hosts + 1.5), _topology_net_y(g) + 2.1


def _draw_topology(g: nx.Graph, ax: Axes) -> None:
    hosts = sorted(
        (d for _, d in g.nodes(data=True) if d["kind"] == "host"), key=lambda d: d["order"]
    )
    width = max(9.0, 3.6 * len(hosts) + 1.5)
    net_y = _topology_net_y(g)
    ax.plot(
        [0.4, width - 0.4], [net_y, net_y], color=style.INK, linewidth=4, solid_capstyle="round"
    )
    _text(ax, 0.4, net_y + 0.15, f"management network {g.graph['cidr']}", weight="bold")
    if g.graph.get("guest_pool"):
        low, high = g.graph["guest_pool"]
        _text(
            ax,
            width - 0.4,
            net_y + 0.15,
            f"guests {low} - {high} (dnsmasq)",
            size=style.SMALL_SIZE,
            colour=style.MUTED,
            ha="right",
        )
    if "router" in g:
        r = g.nodes["router"]
        rx = width / 2
        _box(ax, rx - 0.8, net_y + 0.7, 1.6, 0.6, "#eceff1")
        _text(ax, rx, net_y + 1.0, f"Router {r['short']}", ha="center", va="center", weight="bold")
        ax.plot([rx, rx], [net_y, net_y + 0.7], color=style.INK, linewidth=1.5)
    box_w = 3.0
    step = (width - 0.8) / max(len(hosts), 1)
    for index, d in enumerate(hosts):
        cx = 0.4 + step * (index + 0.5)
        box_h = 1.1 + 0.22 * _host_lines(g, d)
        y = net_y - 0.8 - box_h
        colour = style.layer_colour("hosts")
        _box(ax, cx - box_w / 2, y, box_w, box_h, "#fafafa", edge=colour, lw=2)
        ax.plot([cx, cx], [y + box_h, net_y], color=style.INK, linewidth=1.5)
        _text(ax, cx + 0.08, net_y - 0.4, d["short"], size=style.TEXT_SIZE, weight="bold")
        _text(ax, cx - box_w / 2 + 0.12, y + box_h - 0.28, d["label"], size=11.5, weight="bold")
        _text(
            ax,
            cx - box_w / 2 + 0.12,
            y + box_h - 0.55,
            f"{d['address']}  {' + '.join(d['roles'])}",
            size=style.SMALL_SIZE,
            colour=style.MUTED,
        )
        if d["size"]:
            _text(
                ax, cx - box_w / 2 + 0.12, y + box_h - 0.78, d["size"], size=7.5, colour=style.MUTED
            )
        if not d["services"]:
            _text(
                ax,
                cx - box_w / 2 + 0.12,
                y + 0.12,
                "nothing installed yet",
                size=7.5,
                colour=style.MUTED,
                style="italic",
            )
        for i, (name, state) in enumerate(d["services"]):
            sy = y + box_h - 1.05 - 0.22 * i
            ax.plot(
                [cx - box_w / 2 + 0.2],
                [sy + 0.05],
                marker="o",
                markersize=6,
                color=style.SERVICE_STATE_COLOURS.get(state, style.MUTED),
            )
            _text(
                ax,
                cx - box_w / 2 + 0.35,
                sy,
                name + ("" if state == "running" else f" ({state})"),
                size=style.SMALL_SIZE,
            )
        _draw_host_network(g, ax, d, cx - box_w / 2 + 0.12, y + box_h - 1.05)
    _text(ax, 0.4, net_y + 1.75, g.graph["title"], size=style.TITLE_SIZE, weight="bold")
    ax.set_xlim(0, width)
    ax.set_ylim(0, net_y + 2.1)


def _draw_host_network(g: nx.Graph, ax: Axes, d: dict[str, Any], x: float, top: float) -> None:
    """Under a host's services: its Linux bridge, dnsmasq, and the guests plugged into it."""
    row = max(len(d["services"]), 1)
    network = (["Linux bridge (brq…) on eth0"] if d.get("bridge") else []) + (
        [f"dnsmasq {d['dnsmasq']}: DHCP + metadata proxy"] if d.get("dnsmasq") else []
    )
    for line in network:
        _text(ax, x + 0.23, top - 0.22 * row, line, size=style.SMALL_SIZE, colour=style.MUTED)
        row += 1
    guests = graphs.host_guests(g, d["label"])
    if guests:
        row += 1
    for guest in guests:
        for i, line in enumerate(graphs.guest_lines(guest)):
            _text(
                ax,
                x + (0.23 if i == 0 else 0.35),
                top - 0.22 * row,
                line.strip(),
                size=style.SMALL_SIZE if i == 0 else 7.5,
                weight="bold" if i == 0 else "normal",
                colour=style.INK,
            )
            row += 1


# ---- the catalog -----------------------------------------------------------------------------


def _catalog_size(g: nx.Graph) -> tuple[float, float]:
    endpoints = sum(1 for _, d in g.nodes(data=True) if d["kind"] == "endpoint")
    return 11.0, 1.4 + 0.45 * max(endpoints, 2)


def _draw_catalog(g: nx.DiGraph, ax: Axes) -> None:
    services = list(g.successors("token"))
    endpoints = [(sid, eid) for sid in services for eid in g.successors(sid)]
    rows = max(len(endpoints), 2)
    height = 0.45 * rows
    ty = height / 2
    _box(ax, 0.2, ty - 0.35, 1.8, 0.7, style.layer_colour("keystone"))
    _text(ax, 1.1, ty, g.nodes["token"]["label"], ha="center", va="center", weight="bold", size=9)
    row = 0
    for sid in services:
        eps = list(g.successors(sid))
        span = max(len(eps), 1)
        top_y = height - 0.45 * row - 0.225
        sy = top_y - 0.45 * (span - 1) / 2
        _box(ax, 3.0, sy - 0.28, 2.2, 0.56, "#eceff1")
        d = g.nodes[sid]
        _text(ax, 4.1, sy, f"{d['label']}\n({d['type']})", ha="center", va="center", size=9)
        _arrow(ax, (2.0, ty), (3.0, sy), colour=style.MUTED, lw=0.9)
        for i, eid in enumerate(eps):
            e = g.nodes[eid]
            ey = top_y - 0.45 * i
            colour = style.INTERFACE_COLOURS.get(e["interface"], style.MUTED)
            _arrow(ax, (5.2, sy), (6.0, ey), colour=colour, lw=1.2)
            _text(
                ax, 6.1, ey, f"{e['interface']}", colour=colour, weight="bold", va="center", size=9
            )
            _text(ax, 6.95, ey, f"{e['url']}  ({e['region']})", va="center", size=8.5)
        row += span
    if not services:
        _text(
            ax,
            3.0,
            ty,
            "empty catalog: this token is unscoped",
            colour=style.MUTED,
            va="center",
            style="italic",
        )
    _text(ax, 0.2, height + 0.35, g.graph["title"], size=style.TITLE_SIZE, weight="bold")
    ax.set_xlim(0, 11)
    ax.set_ylim(-0.3, height + 0.8)


# ---- request flow ----------------------------------------------------------------------------


def _flow_size(g: nx.Graph) -> tuple[float, float]:
    return max(7.0, 2.6 * g.number_of_nodes() + 1), 1.4 + 0.5 * g.number_of_edges()


def _draw_flow(g: nx.MultiDiGraph, ax: Axes) -> None:
    names = sorted(g.nodes, key=lambda n: g.nodes[n]["order"])
    xs = {n: 1.2 + 2.6 * i for i, n in enumerate(names)}
    msgs = messages(g)
    bottom = -0.5 * len(msgs) - 0.3
    for n in names:
        x = xs[n]
        _box(ax, x - 0.9, 0.1, 1.8, 0.5, style.layer_colour(_participant_layer(n)))
        # A long name (neutron-linuxbridge-agent) is set smaller to stay inside its box.
        size = min(9.0, 9.0 * 1.7 / _text_width(n, 9.0, bold=True))
        _text(
            ax,
            x,
            0.35,
            n,
            ha="center",
            va="center",
            weight="bold",
            size=size,
            colour=style.text_on(style.layer_colour(_participant_layer(n))),
        )
        ax.plot([x, x], [0.1, bottom], color=style.MUTED, linestyle="--", linewidth=0.8)
    for i, m in enumerate(msgs):
        y = -0.5 * (i + 1)
        x1, x2 = xs[m["source"]], xs[m["target"]]
        failed = m["status"][:1] in ("4", "5")
        colour = style.FAIL if failed else style.INK
        _arrow(ax, (x1, y), (x2, y), colour=colour)
        label = f"{m['seq']}. {m['action']}" + (f"  [{m['status']}]" if m["status"] else "")
        _text(ax, min(x1, x2) + 0.1, y + 0.07, label, size=7.5, colour=colour)
    _text(ax, 0.2, 1.0, g.graph["title"], size=style.TITLE_SIZE, weight="bold")
    ax.set_xlim(0, 2.6 * len(names) + 0.2)
    ax.set_ylim(bottom - 0.2, 1.4)


def _participant_layer(name: str) -> str:
    from labkit import layers

    found = layers.find(name.split("-")[0])
    return found.key if found else "lab"


# ---- an image's status over time ---------------------------------------------------------


# Everything in inches: the axes span the figure 1:1, so a text's width can be estimated from
# its length and kept inside the canvas.
_TL_WIDTH = 11.0
_TL_LEFT, _TL_RIGHT = 0.35, 10.65
_TL_BAR_H = 0.55
_TL_LINE = 0.24  # one line of the notes under the bar
_TL_CHART = 1.9  # the staged-bytes chart, with its caption
_TL_NOTE_SIZE = 8.0


def _text_width(s: str, size: float, bold: bool = False) -> float:
    """Inches ``s`` takes in DejaVu Sans at ``size`` points (an over-estimate on purpose)."""
    return len(s) * size / 72 * (0.68 if bold else 0.6)


def _seconds(g: nx.Graph, t: float) -> str:
    """``4.8 s``; hundredths when the whole watch took under two seconds."""
    quick = g.graph["total"] - g.graph["start"] < 2.0
    return f"{t:.2f} s" if quick else f"{t:.1f} s"


def _timeline_notes(g: nx.Graph) -> list[tuple[dict[str, Any], list[str]]]:
    """Per phase, the lines printed under the bar: its times and meaning, then its notes."""
    phases = [d for _, d in sorted(g.nodes(data=True), key=lambda n: n[1]["order"])]
    out = []
    for index, d in enumerate(phases):
        last = index == len(phases) - 1
        when = (
            f"from {_seconds(g, d['start'])}"
            if last
            else f"{_seconds(g, d['start'])[:-2]}-{_seconds(g, d['end'])}"
        )
        lines = [f"{when}: {d['meaning']}", *d["properties"]]
        if d["tasks"]:
            lines.append(f"import task: {' -> '.join(d['tasks'])}")
        out.append((d, lines))
    return out


def _timeline_size(g: nx.Graph) -> tuple[float, float]:
    notes = sum(len(lines) for _, lines in _timeline_notes(g))
    failed = 1 if g.graph["failed"] else 0
    chart = _TL_CHART if g.graph["staged"] else 0.0
    return _TL_WIDTH, 2.2 + _TL_LINE * (notes + failed) + 0.25 + chart


def _time_to_x(phases: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
    """Knots mapping seconds to inches. Every phase gets at least a sliver, so a status
    that lasted one poll is still seen; the rest of the bar is proportional to time."""
    sliver = 0.14
    lasted = [max(d["end"] - d["start"], 0.0) for d in phases]
    scale = (_TL_RIGHT - _TL_LEFT - sliver * len(phases)) / max(sum(lasted), 1e-9)
    times, xs = [phases[0]["start"]], [_TL_LEFT]
    for d, seconds in zip(phases, lasted, strict=True):
        times.append(d["start"] + seconds)
        xs.append(xs[-1] + sliver + seconds * scale)
    return times, xs


def _interp(t: float, times: list[float], xs: list[float]) -> float:
    if t <= times[0]:
        return xs[0]
    for i in range(1, len(times)):
        if t <= times[i]:
            t0, t1, x0, x1 = times[i - 1], times[i], xs[i - 1], xs[i]
            return x1 if t1 == t0 else x0 + (x1 - x0) * (t - t0) / (t1 - t0)
    return xs[-1]


def _draw_timeline(g: nx.DiGraph, ax: Axes) -> None:
    _, height = _timeline_size(g)
    notes = _timeline_notes(g)
    phases = [d for d, _ in notes]
    failed = bool(g.graph["failed"])
    _text(ax, _TL_LEFT - 0.05, height - 0.5, g.graph["title"], size=style.TITLE_SIZE, weight="bold")
    bar_y = height - 1.45
    times, xs = _time_to_x(phases) if phases else ([0.0], [_TL_LEFT])
    above = 0  # labels that do not fit in their box go above the bar, one row each
    for index, d in enumerate(phases):
        x0, x1 = xs[index], xs[index + 1]
        colour = style.IMAGE_STATUS_COLOURS.get(d["status"], style.MUTED)
        last = index == len(phases) - 1
        edge, lw = (style.FAIL, 2.0) if failed and last else (style.INK, 0.6)
        _box(ax, x0, bar_y, x1 - x0, _TL_BAR_H, colour, radius=0.04, lw=lw, edge=edge)
        label = d["status"]
        if _text_width(label, 9.5, bold=True) + 0.12 <= x1 - x0:
            _text(
                ax,
                x0 + 0.06,
                bar_y + _TL_BAR_H / 2,
                label,
                size=9.5,
                weight="bold",
                va="center",
                colour=style.text_on(colour),
            )
        else:
            # Anchored on the side that keeps it on the canvas.
            right = x1 > (_TL_LEFT + _TL_RIGHT) / 2
            _text(
                ax,
                x1 if right else x0,
                bar_y + _TL_BAR_H + 0.06 + 0.2 * (above % 2),
                label,
                size=9.5,
                weight="bold",
                va="bottom",
                ha="right" if right else "left",
                colour=style.FAIL if failed and last else style.INK,
            )
            above += 1
    # Seconds under the bar at each change, without letting two labels collide.
    ticks = [(x, _seconds(g, t)) for t, x in zip(times, xs, strict=True)]
    shown: list[float] = []
    for i, (x, label) in enumerate(ticks):
        end = i == len(ticks) - 1
        if not end and ((shown and x - shown[-1] < 0.55) or ticks[-1][0] - x < 0.55):
            continue
        ax.plot([x, x], [bar_y - 0.06, bar_y], color=style.MUTED, linewidth=0.8)
        _text(
            ax,
            x,
            bar_y - 0.1,
            label,
            size=style.SMALL_SIZE,
            colour=style.MUTED,
            va="top",
            ha="right" if end else ("left" if i == 0 else "center"),
        )
        shown.append(x)
    # What each phase meant, one block per phase.
    y = bar_y - 0.55
    for d, lines in notes:
        colour = style.IMAGE_STATUS_COLOURS.get(d["status"], style.MUTED)
        _box(ax, _TL_LEFT, y - 0.13, 0.16, 0.16, colour, radius=0.02, lw=0.5)
        _text(
            ax,
            _TL_LEFT + 0.25,
            y,
            d["status"],
            size=_TL_NOTE_SIZE + 0.5,
            weight="bold",
            va="center",
        )
        for line in lines:
            _text(ax, _TL_LEFT + 1.25, y, line, size=_TL_NOTE_SIZE, va="center")
            y -= _TL_LINE
    if failed:
        _text(
            ax,
            _TL_LEFT + 1.25,
            y,
            f"the import failed: {FAILED_NOTE}",
            size=_TL_NOTE_SIZE,
            va="center",
            colour=style.FAIL,
            weight="bold",
        )
        y -= _TL_LINE
    if g.graph["staged"]:
        _draw_staged(g, ax, y - 0.3, times, xs)
    ax.set_xlim(0, _TL_WIDTH)
    ax.set_ylim(0, height)


def _draw_staged(g: nx.Graph, ax: Axes, top_y: float, times: list[float], xs: list[float]) -> None:
    """Bytes in Glance's staging area over time, under the bar and on the same time axis,
    scaled to the whole image so the line's height reads as "how much of it"."""
    staged = g.graph["staged"]
    size = g.graph.get("size")
    peak = max(mib for _, mib in staged)
    full = max(size or 0.0, peak) or 1.0
    base, span = top_y - _TL_CHART + 0.35, _TL_CHART - 0.75
    # The line stops short of the top: the data leaves staging for the store between polls.
    _text(
        ax,
        _TL_LEFT,
        top_y,
        "bytes in Glance's staging area, as the watch saw them; they "
        "move on to the store between two looks",
        size=style.SMALL_SIZE,
        colour=style.MUTED,
        va="top",
    )
    ax.plot([_TL_LEFT, _TL_RIGHT], [base, base], color=style.MUTED, linewidth=0.8)
    _text(
        ax,
        _TL_LEFT - 0.05,
        base,
        "0",
        size=style.SMALL_SIZE,
        colour=style.MUTED,
        ha="right",
        va="center",
    )
    if size:
        ax.plot(
            [_TL_LEFT, _TL_RIGHT],
            [base + span] * 2,
            color=style.MUTED,
            linewidth=0.8,
            linestyle="--",
        )
        _text(
            ax,
            _TL_LEFT + 0.05,
            base + span + 0.05,
            f"{size:.1f} MiB: the whole image",
            size=style.SMALL_SIZE,
            colour=style.MUTED,
            va="bottom",
        )
    line_x = [_interp(t, times, xs) for t, _ in staged]
    line_y = [base + span * mib / full for _, mib in staged]
    # Dots too: an import can be so quick that the watch saw it staged only once.
    ax.plot(
        line_x, line_y, color=style.layer_colour("glance"), linewidth=2, marker="o", markersize=3
    )


# ---- the map grown: what to layer in later (notebooks/08-beyond) -----------------------------

# Everything in inches: the axes span the figure 1:1.
_BY_WIDTH = 14.0
_BY_STACK_X, _BY_STACK_W, _BY_ROW_H, _BY_ROW_GAP = 0.3, 3.8, 0.62, 0.1
_BY_AREA_X, _BY_AREA_W = 4.5, 9.2
_BY_PER_ROW, _BY_BOX_H, _BY_BOX_GAP = 3, 1.1, 0.1
_BY_BAND_LABEL, _BY_BAND_GAP, _BY_BOTTOM = 0.32, 0.16, 0.3
# Each notebook section takes a colour of the dip, so a group reads as one on the map.
_BY_GROUP_LAYER = {
    "networking": "networking",
    "storage": "glance",
    "faces": "projects",
    "compute": "compute",
    "operations": "hosts",
}


def _beyond_bands(g: nx.Graph) -> list[tuple[int, list[dict[str, Any]]]]:
    """The seed's layers 2-4, bottom up, each with its later layers in order."""
    later = [d for _, d in g.nodes(data=True) if d["kind"] == "later"]
    numbers = sorted({d["seed_layer"] for d in later})
    return [
        (n, sorted((d for d in later if d["seed_layer"] == n), key=lambda d: d["order"]))
        for n in numbers
    ]


def _band_height(count: int) -> float:
    rows = -(-count // _BY_PER_ROW)
    return _BY_BAND_LABEL + rows * (_BY_BOX_H + _BY_BOX_GAP) - _BY_BOX_GAP + 0.1


def _beyond_top(g: nx.Graph) -> float:
    bands = _beyond_bands(g)
    area = sum(_band_height(len(items)) for _, items in bands) + _BY_BAND_GAP * (len(bands) - 1)
    minimal = sum(1 for _, d in g.nodes(data=True) if d["kind"] == "minimal")
    stack = minimal * (_BY_ROW_H + _BY_ROW_GAP) - _BY_ROW_GAP + _BY_BAND_LABEL
    return _BY_BOTTOM + max(area, stack)


def _beyond_size(g: nx.Graph) -> tuple[float, float]:
    return _BY_WIDTH, _beyond_top(g) + 1.0


def _draw_beyond(g: nx.DiGraph, ax: Axes) -> None:
    top = _beyond_top(g)
    _draw_beyond_stack(g, ax)
    y = _BY_BOTTOM
    box_w = (_BY_AREA_W - (_BY_PER_ROW - 1) * _BY_BOX_GAP) / _BY_PER_ROW
    for number, items in _beyond_bands(g):
        height = _band_height(len(items))
        _box(
            ax,
            _BY_AREA_X - 0.1,
            y - 0.05,
            _BY_AREA_W + 0.2,
            height,
            "#fafafa",
            edge=style.MUTED,
            lw=0.6,
            ls="--",
        )
        _text(
            ax,
            _BY_AREA_X,
            y + height - 0.2,
            f"the seed's layer {number} \u00b7 {g.graph['seed_layers'][number]}",
            size=style.TEXT_SIZE,
            weight="bold",
            colour=style.MUTED,
            va="center",
        )
        rows = -(-len(items) // _BY_PER_ROW)
        for index, d in enumerate(items):
            row, col = divmod(index, _BY_PER_ROW)
            bx = _BY_AREA_X + col * (box_w + _BY_BOX_GAP)
            by = y + (rows - 1 - row) * (_BY_BOX_H + _BY_BOX_GAP)
            _draw_later_box(ax, d, bx, by, box_w)
        y += height + _BY_BAND_GAP
    _draw_beyond_legend(g, ax)
    _text(ax, _BY_STACK_X, top + 0.6, g.graph["title"], size=style.TITLE_SIZE, weight="bold")
    _text(
        ax,
        _BY_STACK_X,
        top + 0.28,
        "left: this lab, \u2713 where installed; right: the later layers on the seed's "
        "picture, each with the processes it brings and what it builds on",
        size=style.SMALL_SIZE,
        colour=style.MUTED,
    )
    if g.graph.get("note"):
        _text(ax, _BY_STACK_X, top + 0.04, g.graph["note"], size=7.5, colour=style.HIGHLIGHT)
    ax.set_xlim(0, _BY_WIDTH)
    ax.set_ylim(0, top + 1.0)


def _draw_beyond_stack(g: nx.Graph, ax: Axes) -> None:
    """The lab's seven layers, bottom up, installed ones full colour and ticked."""
    stack = sorted(
        ((key, d) for key, d in g.nodes(data=True) if d["kind"] == "minimal"),
        key=lambda kd: kd[1]["number"],
    )
    y = _BY_BOTTOM
    for key, d in stack:
        colour = style.layer_colour(key)
        dim = d["state"] == "not installed"
        alpha = style.DIM_ALPHA if dim else 1.0
        _box(ax, _BY_STACK_X, y, _BY_STACK_W, _BY_ROW_H, colour, alpha=alpha, lw=0.8)
        ink = style.text_on(colour) if not dim else style.INK
        _text(
            ax,
            _BY_STACK_X + 0.12,
            y + _BY_ROW_H * 0.62,
            f"{d['number']}  {d['title']}",
            size=9.5,
            weight="bold",
            colour=ink,
            va="center",
        )
        side = {
            "installed": "\u2713 installed",
            "not installed": "not installed yet",
        }.get(d["state"], d["notebook"])
        _text(
            ax,
            _BY_STACK_X + 0.12,
            y + _BY_ROW_H * 0.24,
            side,
            size=7.5,
            colour=ink,
            va="center",
            weight="bold" if d["state"] == "installed" else "normal",
        )
        y += _BY_ROW_H + _BY_ROW_GAP
    _text(
        ax,
        _BY_STACK_X,
        y + 0.1,
        "the seed's layer 1 \u00b7 this lab",
        size=style.TEXT_SIZE,
        weight="bold",
        colour=style.MUTED,
        va="center",
    )


def _draw_later_box(ax: Axes, d: dict[str, Any], x: float, y: float, w: float) -> None:
    hot = bool(d["highlight"])
    _box(
        ax,
        x,
        y,
        w,
        _BY_BOX_H,
        style.PAPER,
        edge=style.HIGHLIGHT if hot else style.MUTED,
        lw=2.2 if hot else 0.7,
        radius=0.05,
    )
    stripe = style.layer_colour(_BY_GROUP_LAYER.get(d["group"], ""))
    _box(ax, x, y, 0.09, _BY_BOX_H, stripe, edge=stripe, lw=0.0, radius=0.02)
    left, top = x + 0.17, y + _BY_BOX_H
    _text(
        ax,
        left,
        top - 0.17,
        f"{d['name']} \u00b7 {d['title']}",
        size=8.8,
        weight="bold",
        colour=style.HIGHLIGHT if hot else style.INK,
        va="center",
    )
    lines = textwrap.wrap(", ".join(d["processes"]), 52, break_on_hyphens=False)
    if len(lines) > 3:
        lines = lines[:3]
        lines[-1] = lines[-1] + " \u2026"
    for i, line in enumerate(lines):
        _text(ax, left, top - 0.37 - 0.14 * i, line, size=6.8, va="center")
    catalog = ", ".join(d["catalog"]) or "none"
    _text(ax, left, y + 0.27, f"catalog: {catalog}", size=6.5, colour=style.MUTED, va="center")
    _text(
        ax,
        left,
        y + 0.12,
        f"builds on {', '.join(d['needs'])}",
        size=6.5,
        colour=style.MUTED,
        va="center",
    )


def _draw_beyond_legend(g: nx.Graph, ax: Axes) -> None:
    """The notebook's sections, each with its colour, in the corner above the lab's stack."""
    minimal = sum(1 for _, d in g.nodes(data=True) if d["kind"] == "minimal")
    y = _BY_BOTTOM + minimal * (_BY_ROW_H + _BY_ROW_GAP) + 0.45
    groups = list(g.graph["groups"].items())
    for index, (key, title) in enumerate(reversed(groups)):
        colour = style.layer_colour(_BY_GROUP_LAYER.get(key, ""))
        row_y = y + 0.24 * index
        _box(ax, _BY_STACK_X, row_y - 0.08, 0.16, 0.16, colour, edge=colour, lw=0.0, radius=0.02)
        _text(ax, _BY_STACK_X + 0.25, row_y, title, size=7.5, colour=style.INK, va="center")
    _text(
        ax,
        _BY_STACK_X,
        y + 0.24 * len(groups),
        "the notebook's sections",
        size=style.SMALL_SIZE,
        weight="bold",
        colour=style.MUTED,
        va="center",
    )


# ---- domains, projects, users (notebooks/06-projects-quotas) --------------------------------

_PJ_BOX_W, _PJ_BOX_H, _PJ_GAP = 2.3, 0.95, 0.35
_PJ_USER_W, _PJ_USER_H = 1.5, 0.5
_ROLE_COLOURS = {"admin": style.FAIL, "member": style.OK, "reader": "#1e88e5"}


def _pj_domains(g: nx.Graph) -> list[tuple[str, list[str], list[str]]]:
    """Each domain with its projects and users, in order."""
    out = []
    for did, _ in sorted(
        ((n, d) for n, d in g.nodes(data=True) if d["kind"] == "domain"),
        key=lambda nd: nd[1]["order"],
    ):
        kids = sorted(g.successors(did), key=lambda n: g.nodes[n]["order"])
        projects = [n for n in kids if g.nodes[n]["kind"] == "project"]
        rank = {p: i for i, p in enumerate(projects)}
        # Users sit under the project they have a role on, so arrows rarely cross.
        placed = {
            u: (
                min([rank[p] for p in g.successors(u) if p in rank] or [len(rank)]),
                g.nodes[u]["label"],
            )
            for u in kids
            if g.nodes[u]["kind"] == "user"
        }
        users = sorted(placed, key=lambda u: placed[u])
        out.append((did, projects, users))
    return out


def _pj_width(projects: list[str], users: list[str]) -> float:
    wide = max(len(projects) * (_PJ_BOX_W + _PJ_GAP), len(users) * (_PJ_USER_W + _PJ_GAP))
    return max(wide, _PJ_BOX_W + _PJ_GAP) + _PJ_GAP


def _projects_size(g: nx.Graph) -> tuple[float, float]:
    width = sum(_pj_width(p, u) + 0.4 for _, p, u in _pj_domains(g)) + 0.4
    return max(6.0, width), 4.6


def _draw_projects(g: nx.DiGraph, ax: Axes) -> None:
    x = 0.4
    centres: dict[str, tuple[float, float, float, float]] = {}  # node -> x, y, w, h
    for did, projects, users in _pj_domains(g):
        width = _pj_width(projects, users)
        _box(ax, x, 0.25, width, 3.65, "#f5f5f5", edge=style.MUTED, lw=1.0, ls="--")
        _text(ax, x + 0.15, 3.65, f"domain {g.nodes[did]['label']}", weight="bold", va="center")
        px = x + (width - len(projects) * (_PJ_BOX_W + _PJ_GAP) + _PJ_GAP) / 2
        for pid in projects:
            d = g.nodes[pid]
            colour = style.layer_colour("projects")
            _box(ax, px, 2.2, _PJ_BOX_W, _PJ_BOX_H, colour, lw=1.0)
            _text(
                ax,
                px + _PJ_BOX_W / 2,
                2.2 + _PJ_BOX_H * 0.66,
                d["label"],
                weight="bold",
                ha="center",
                va="center",
            )
            quota = d["quota"]
            words = []
            if "cores" in quota:
                words.append(f"{quota['cores']} vCPU" if quota["cores"] >= 0 else "any vCPU")
            if "ram" in quota:
                words.append(
                    graphs.quota_text("ram", quota["ram"]) if quota["ram"] >= 0 else "any RAM"
                )
            _text(
                ax,
                px + _PJ_BOX_W / 2,
                2.2 + _PJ_BOX_H * 0.28,
                " \u00b7 ".join(words),
                size=style.SMALL_SIZE,
                ha="center",
                va="center",
            )
            centres[pid] = (px, 2.2, _PJ_BOX_W, _PJ_BOX_H)
            px += _PJ_BOX_W + _PJ_GAP
        ux = x + (width - len(users) * (_PJ_USER_W + _PJ_GAP) + _PJ_GAP) / 2
        for uid in users:
            _box(ax, ux, 0.55, _PJ_USER_W, _PJ_USER_H, style.PAPER, lw=0.9)
            _text(
                ax,
                ux + _PJ_USER_W / 2,
                0.55 + _PJ_USER_H / 2,
                g.nodes[uid]["label"],
                ha="center",
                va="center",
            )
            centres[uid] = (ux, 0.55, _PJ_USER_W, _PJ_USER_H)
            ux += _PJ_USER_W + _PJ_GAP
        x += width + 0.4
    for u, v, data in g.edges(data=True):
        if g.nodes[u]["kind"] != "user" or v not in centres or u not in centres:
            continue
        ux_, uy, uw, uh = centres[u]
        vx, vy, vw, _ = centres[v]
        start, end = (ux_ + uw / 2, uy + uh), (vx + vw / 2, vy)
        colour = _ROLE_COLOURS.get(data["relation"], style.INK)
        _arrow(ax, start, end, colour=colour, lw=1.4)
        mid = (start[0] + (end[0] - start[0]) * 0.3, start[1] + (end[1] - start[1]) * 0.3)
        _text(
            ax,
            mid[0],
            mid[1],
            data["relation"],
            size=style.SMALL_SIZE,
            colour=colour,
            ha="center",
            va="center",
            backgroundcolor=style.PAPER,
        )
    width, _ = _projects_size(g)
    _text(ax, 0.4, 4.25, g.graph["title"], size=style.TITLE_SIZE, weight="bold", va="center")
    ax.set_xlim(0, width)
    ax.set_ylim(0, 4.6)


# ---- quotas as bars (notebooks/06-projects-quotas) -----------------------------------------

_QB_ROW, _QB_HEAD, _QB_GAP = 0.36, 0.6, 0.5  # a bar's row, a panel's title, between services
_QB_LABEL, _QB_BAR_W, _QB_PANEL_W = 1.75, 2.2, 4.9  # within a panel: label | bar | figures
_QB_COLS = 3
_QUOTA_COLOURS = {"in_use": "#1e88e5", "reserved": style.WARN, "free": "#e0e0e0"}


def _panel_height(bars: list[dict[str, Any]]) -> float:
    services = len({b["service"] for b in bars})
    return _QB_HEAD + len(bars) * _QB_ROW + max(0, services - 1) * _QB_GAP * 0.5 + 0.25


def _quota_rows(g: nx.Graph) -> list[list[tuple[dict[str, Any], list[dict[str, Any]]]]]:
    groups = graphs.quota_groups(g)
    return [groups[i : i + _QB_COLS] for i in range(0, len(groups), _QB_COLS)]


def _quotas_size(g: nx.Graph) -> tuple[float, float]:
    rows = _quota_rows(g)
    cols = max((len(r) for r in rows), default=1)
    height = sum(max(_panel_height(bars) for _, bars in row) for row in rows)
    return max(cols * _QB_PANEL_W + 0.4, 7.5), height + 1.2


def _draw_quotas(g: nx.DiGraph, ax: Axes) -> None:
    width, height = _quotas_size(g)
    top = height - 0.45
    _text(ax, 0.2, top, g.graph["title"], size=style.TITLE_SIZE, weight="bold", va="center")
    lx = width - 3.9
    for key, label in (("in_use", "in use"), ("reserved", "reserved"), ("free", "free")):
        _box(ax, lx, top - 0.08, 0.25, 0.16, _QUOTA_COLOURS[key], lw=0.0, radius=0.02)
        _text(ax, lx + 0.32, top, label, size=style.SMALL_SIZE, va="center")
        lx += 1.25
    y = top - 0.45
    for row in _quota_rows(g):
        row_h = max(_panel_height(bars) for _, bars in row)
        for col, (group, bars) in enumerate(row):
            _draw_quota_panel(g, ax, group, bars, 0.2 + col * _QB_PANEL_W, y)
        y -= row_h
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)


def _draw_quota_panel(
    g: nx.Graph, ax: Axes, group: dict[str, Any], bars: list[dict[str, Any]], x: float, y: float
) -> None:
    """One project's (or domain's) bars, from ``y`` down."""
    where = (
        f"domain {group['domain']}" if g.graph["by"] == "project" else ", ".join(group["projects"])
    )
    _text(ax, x, y - 0.22, group["label"], weight="bold", va="center")
    _text(ax, x, y - 0.45, where, size=7.5, colour=style.MUTED, va="center")
    y -= _QB_HEAD
    service = ""
    for bar in bars:
        if bar["service"] != service:
            y -= _QB_GAP * 0.5 if service else 0.0
            service = bar["service"]
            label = {"compute": "Nova", "network": "Neutron"}.get(service, service)
            _text(ax, x, y - _QB_ROW * 0.69, label, size=7.0, colour=style.MUTED, va="center")
        y -= _QB_ROW
        _draw_quota_bar(ax, bar, x, y)


def _draw_quota_bar(ax: Axes, bar: dict[str, Any], x: float, y: float) -> None:
    h = _QB_ROW * 0.62
    unit = " MB" if bar["resource"] == "ram" else ""
    name = bar["resource"].replace("security_group", "sec. group").replace("_", " ")
    _text(ax, x + _QB_LABEL - 0.08, y + h / 2, name, ha="right", va="center", size=style.SMALL_SIZE)
    left = x + _QB_LABEL
    if bar["limit"] < 0:
        _box(ax, left, y, _QB_BAR_W, h, "#f5f5f5", edge=style.MUTED, lw=0.6, ls=":", radius=0.02)
        _text(
            ax,
            left + 0.08,
            y + h / 2,
            f"unlimited \u00b7 {bar['in_use']}{unit} in use",
            size=7.5,
            colour=style.MUTED,
            va="center",
        )
        return
    limit = max(bar["limit"], 1)
    scale = _QB_BAR_W / max(limit, bar["in_use"] + bar["reserved"])
    at = left
    for key in ("in_use", "reserved", "free"):
        amount = bar[key] or 0
        if amount > 0:
            ax.add_patch(
                Rectangle(
                    (at, y), amount * scale, h, facecolor=_QUOTA_COLOURS[key], edgecolor=style.PAPER
                )
            )
            at += amount * scale
    ax.add_patch(
        Rectangle((left, y), limit * scale, h, fill=False, edgecolor=style.INK, linewidth=0.7)
    )
    figures = f"{bar['in_use']}/{bar['limit']}{unit}"
    if bar["reserved"]:
        figures += f" +{bar['reserved']} res."
    _text(
        ax,
        left + _QB_BAR_W + 0.08,
        y + h / 2,
        figures,
        size=7.5,
        colour=style.FAIL if bar["over"] else style.INK,
        va="center",
        weight="bold" if bar["over"] else "normal",
    )


# ---- scale out: usage per host, the scheduler's scores (notebooks/07-scale-out) --------------

_HU_LABEL, _HU_BAR_W, _HU_PANEL_W, _HU_ROW = 1.05, 1.9, 4.5, 0.36
_HU_COLS = 3
_USAGE_COLOURS = {"used": "#1e88e5", "free": "#e0e0e0"}
_WEIGHER_COLOURS = {"RAMWeigher": "#1e88e5", "CPUWeigher": "#fb8c00", "DiskWeigher": "#43a047"}


def _usage_server_lines(host: dict[str, Any]) -> list[str]:
    names = host["servers"]
    head = f"{len(names)} server" + ("" if len(names) == 1 else "s")
    return textwrap.wrap(f"{head}: {', '.join(names)}" if names else head, 52)


def _usage_panel_height(host: dict[str, Any], bars: list[dict[str, Any]]) -> float:
    return 0.5 + 0.2 * len(_usage_server_lines(host)) + _HU_ROW * len(bars) + 0.3


def _usage_rows(g: nx.Graph) -> list[list[tuple[dict[str, Any], list[dict[str, Any]]]]]:
    hosts = graphs.usage_hosts(g)
    return [hosts[i : i + _HU_COLS] for i in range(0, len(hosts), _HU_COLS)]


def _host_usage_size(g: nx.Graph) -> tuple[float, float]:
    rows = _usage_rows(g)
    cols = max((len(r) for r in rows), default=1)
    height = sum(max(_usage_panel_height(h, b) for h, b in row) for row in rows)
    return max(cols * _HU_PANEL_W + 0.4, 7.5), height + 1.1


def _draw_host_usage(g: nx.DiGraph, ax: Axes) -> None:
    width, height = _host_usage_size(g)
    top = height - 0.45
    _text(ax, 0.2, top, g.graph["title"], size=style.TITLE_SIZE, weight="bold", va="center")
    lx = width - 2.6
    for key, label in (("used", "used"), ("free", "free")):
        _box(ax, lx, top - 0.08, 0.25, 0.16, _USAGE_COLOURS[key], lw=0.0, radius=0.02)
        _text(ax, lx + 0.32, top, label, size=style.SMALL_SIZE, va="center")
        lx += 1.1
    y = top - 0.4
    for row in _usage_rows(g):
        for col, (host, bars) in enumerate(row):
            _draw_usage_panel(ax, host, bars, 0.2 + col * _HU_PANEL_W, y)
        y -= max(_usage_panel_height(h, b) for h, b in row)
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)


def _draw_usage_panel(
    ax: Axes, host: dict[str, Any], bars: list[dict[str, Any]], x: float, y: float
) -> None:
    """One host: its name, its servers, a bar per resource class, from ``y`` down."""
    _text(ax, x, y - 0.2, host["label"], weight="bold", va="center", size=11)
    y -= 0.42
    for line in _usage_server_lines(host):
        _text(ax, x, y, line, size=7.5, colour=style.MUTED, va="center")
        y -= 0.2
    y -= 0.1
    for bar in bars:
        y -= _HU_ROW
        h = _HU_ROW * 0.62
        _text(
            ax,
            x + _HU_LABEL - 0.08,
            y + h / 2,
            bar["resource_class"],
            ha="right",
            va="center",
            size=style.SMALL_SIZE,
        )
        left = x + _HU_LABEL
        ax.add_patch(
            Rectangle(
                (left, y),
                _HU_BAR_W,
                h,
                facecolor=_USAGE_COLOURS["free"],
                edgecolor=style.INK,
                linewidth=0.7,
            )
        )
        share = min(max(bar["share"], 0.0), 1.0)
        if share > 0:
            ax.add_patch(
                Rectangle(
                    (left, y),
                    _HU_BAR_W * share,
                    h,
                    facecolor=_USAGE_COLOURS["used"],
                    edgecolor=style.INK,
                    linewidth=0.7,
                )
            )
        _text(ax, left + _HU_BAR_W + 0.08, y + h / 2, graphs.usage_text(bar), size=7.5, va="center")


_SC_LABEL, _SC_BAR_W, _SC_ROW = 1.5, 4.2, 0.5


def _scores_size(g: nx.Graph) -> tuple[float, float]:
    return 10.5, 1.3 + _SC_ROW * len(graphs.score_hosts(g)) + 0.45


def _draw_scores(g: nx.DiGraph, ax: Axes) -> None:
    width, height = _scores_size(g)
    top = height - 0.4
    _text(ax, 0.2, top, g.graph["title"], size=style.TITLE_SIZE, weight="bold", va="center")
    need = graphs.resources_text(g.graph["resources"])
    if need:
        _text(
            ax,
            0.2,
            top - 0.35,
            f"each server: {need}",
            size=style.SMALL_SIZE,
            colour=style.MUTED,
            va="center",
        )
    lx = 0.2 + _SC_LABEL
    for name, colour in _WEIGHER_COLOURS.items():
        _box(ax, lx, top - 0.8, 0.25, 0.16, colour, lw=0.0, radius=0.02)
        _text(ax, lx + 0.32, top - 0.72, name, size=style.SMALL_SIZE, va="center")
        lx += 1.55
    hosts = graphs.score_hosts(g)
    weighed = [d for d in hosts if d["fate"] == "weighed"]
    scale = _SC_BAR_W / max([1.0, *(d["total"] for d in weighed)])
    y = top - 0.95
    left = 0.2 + _SC_LABEL
    for d in hosts:
        y -= _SC_ROW
        h = _SC_ROW * 0.6
        _text(
            ax,
            left - 0.12,
            y + h / 2,
            d["label"],
            ha="right",
            va="center",
            weight="bold" if d["chosen"] else "normal",
        )
        if d["fate"] != "weighed":
            # The reason runs longer than a bar ("... group members are on controller,
            # worker1, worker2"): its box takes the row up to the right margin.
            _box(
                ax,
                left,
                y,
                width - left - 0.2,
                h,
                "#f5f5f5",
                edge=style.MUTED,
                lw=0.6,
                ls=":",
                radius=0.02,
            )
            reason = graphs.score_line(d)
            _text(
                ax,
                left + 0.08,
                y + h / 2,
                textwrap.shorten(reason, 110),
                size=7.5,
                colour=style.FAIL if d["fate"] == "dropped" else style.MUTED,
                va="center",
            )
            continue
        at = left
        for name, value in d["scores"].items():
            if value > 0:
                ax.add_patch(
                    Rectangle(
                        (at, y),
                        value * scale,
                        h,
                        facecolor=_WEIGHER_COLOURS.get(name, style.MUTED),
                        edgecolor=style.PAPER,
                    )
                )
                at += value * scale
        ax.plot([left, left], [y - 0.05, y + h + 0.05], color=style.INK, linewidth=0.8)
        label = f"{d['total']:g}" + ("   \u25c0 chosen" if d["chosen"] else "")
        _text(
            ax,
            at + 0.1,
            y + h / 2,
            label,
            size=style.SMALL_SIZE,
            va="center",
            weight="bold" if d["chosen"] else "normal",
            colour=style.OK if d["chosen"] else style.INK,
        )
    if not weighed:
        _text(
            ax,
            left,
            y - 0.3,
            "No host left: NoValidHost",
            colour=style.FAIL,
            weight="bold",
            va="center",
        )
    elif len({d["total"] for d in weighed}) < len(weighed):
        _text(
            ax,
            left,
            y - 0.3,
            "Equal totals: the first host by name wins.",
            size=style.SMALL_SIZE,
            colour=style.MUTED,
            va="center",
        )
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)


def _draw_generic(g: nx.Graph, ax: Axes) -> None:
    pos = nx.spring_layout(g, seed=2015)
    nx.draw_networkx(
        g, pos=pos, ax=ax, node_color=style.layer_colour("keystone"), font_size=style.SMALL_SIZE
    )


_DRAWERS: dict[str, tuple[Drawer, Callable[[nx.Graph], tuple[float, float]]]] = {
    "layers": (_draw_layers, _layers_size),
    "arc": (_draw_arc, _arc_size),
    "topology": (_draw_topology, _topology_size),
    "catalog": (_draw_catalog, _catalog_size),
    "flow": (_draw_flow, _flow_size),
    "timeline": (_draw_timeline, _timeline_size),
    "beyond": (_draw_beyond, _beyond_size),
    "projects": (_draw_projects, _projects_size),
    "quotas": (_draw_quotas, _quotas_size),
    "host_usage": (_draw_host_usage, _host_usage_size),
    "scores": (_draw_scores, _scores_size),
}
