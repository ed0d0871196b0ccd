"""labkit: install and explain a minimal OpenStack, on the sim or on real lab hosts.

Notebooks start with ``lab = Lab.from_env("sim")``; nothing here does I/O at import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labkit.errors import LabkitError

__version__ = "0.1.0"
__all__ = ["Lab", "LabkitError", "__version__"]

if TYPE_CHECKING:
    from labkit.lab import Lab


def __getattr__(name: str) -> Any:
    # Lab pulls in openstacksdk-adjacent modules; import it only when asked for.
    if name == "Lab":
        from labkit.lab import Lab

        return Lab
    raise AttributeError(name)
