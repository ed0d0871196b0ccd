"""Where labkit is displaying: a live notebook with widgets, or plain text."""

from __future__ import annotations

import os


def in_notebook() -> bool:
    """True inside a Jupyter kernel (papermill and nbval run one too)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def widgets_enabled() -> bool:
    """Live widgets, unless LABKIT_WIDGETS=0 (set by the test harness) or not in a notebook."""
    if os.environ.get("LABKIT_WIDGETS", "1") == "0" or not in_notebook():
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True
