"""One palette for every labkit diagram.

The layers take the colours of the seed talk's seven-layer dip (beans at the bottom, green
onions on top), muted enough to read black or white text on. Everything else -- interfaces,
service states, highlights -- is named here so two diagrams never disagree.
"""

from __future__ import annotations

LAYER_COLOURS: dict[str, str] = {
    "lab": "#cfd8dc",  # the plate
    "hosts": "#7b5e57",  # refried beans
    "base": "#9ccc65",  # guacamole
    "keystone": "#f3ecd9",  # sour cream
    "glance": "#e57373",  # salsa
    "compute": "#ffca28",  # cheese
    "networking": "#546e7a",  # olives
    "projects": "#aed581",  # green onions
}
BEYOND_COLOUR = "#eeeeee"
DIM_ALPHA = 0.28

INK = "#263238"  # text and lines
MUTED = "#78909c"  # secondary text, dimmed things
PAPER = "#ffffff"
HIGHLIGHT = "#c62828"  # what explain points at
OK = "#2e7d32"
WARN = "#f9a825"
FAIL = "#c62828"

INTERFACE_COLOURS: dict[str, str] = {
    "public": "#1e88e5",
    "internal": "#43a047",
    "admin": "#e53935",
}

SERVICE_STATE_COLOURS: dict[str, str] = {
    "running": OK,
    "stopped": MUTED,
    "failed": FAIL,
    "not installed": "#cfd8dc",
}

IMAGE_STATUS_COLOURS: dict[str, str] = {
    "queued": "#cfd8dc",
    "saving": "#ffe082",
    "uploading": "#ffe082",
    "importing": "#ffb74d",
    "active": "#81c784",
    "killed": FAIL,
    "deactivated": MUTED,
}

FONT = "DejaVu Sans"
TITLE_SIZE = 14
TEXT_SIZE = 10
SMALL_SIZE = 8.5


def layer_colour(key: str) -> str:
    return LAYER_COLOURS.get(key, BEYOND_COLOUR)


def text_on(background: str) -> str:
    """Black or white text, whichever reads better on ``background`` (#rrggbb)."""
    r, g, b = (int(background[i : i + 2], 16) / 255 for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return PAPER if luminance < 0.45 else INK
