"""Small helpers the Keystone API modules share."""

from __future__ import annotations

from typing import Any

from labkit.sim.core.http import Call
from labkit.sim.keystone.service import KeystoneApp

_TRUE = {"true", "1", "yes", "on"}


def ks(call: Call) -> KeystoneApp:
    assert isinstance(call.service, KeystoneApp)
    return call.service


def filters(
    call: Call, names: tuple[str, ...], booleans: tuple[str, ...] = ("enabled",)
) -> dict[str, Any]:
    """Query-string filters Keystone honours for a collection (others are ignored)."""
    out: dict[str, Any] = {}
    for name in names:
        if name in call.query:
            value: Any = call.query[name]
            if name in booleans:
                value = value.lower() in _TRUE
            out[name] = value
    return out


def inherited_flag(call: Call) -> bool:
    return call.path.endswith("/inherited_to_projects")
