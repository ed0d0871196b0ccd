"""Compare the sim's answers with responses recorded from a real Zed cloud.

The recordings (``shared/reference/parity``, never edited) replace varying values with
placeholders. Both sides are normalised the same way -- ids, tokens, times, request ids, the
service's base URL -- and then compared: status, the headers clients read, the body's
structure, and error texts exactly. Each test lists its deliberate differences explicitly.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Copied verbatim from the project's shared reference (shared/reference/parity) so that a
# clean clone -- CI -- has them; never edited by hand: record again from a real cloud.
PARITY_DIR = Path(os.environ.get("LABKIT_PARITY_DIR", Path(__file__).parent / "recorded"))

_TOKEN = re.compile(r"gAAAAA[A-Za-z0-9_\-]+|<token len=\d+>")
_UUID = re.compile(
    r"<uuid:\d+>|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|"
    r"\b[0-9a-f]{32}\b"
)
_TIME = re.compile(
    r"<time>|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?|"
    r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT"
)


@dataclass
class Recording:
    name: str
    request: dict[str, Any]
    response: dict[str, Any]

    @property
    def status(self) -> int:
        return int(self.response["status"])

    @property
    def headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.response["headers"].items()}

    @property
    def body(self) -> Any:
        return self.response["body"]


def load(name: str) -> Recording:
    data = json.loads((PARITY_DIR / f"{name}.json").read_text())
    return Recording(name, data["request"], data["response"])


def names(prefix: str) -> list[str]:
    return sorted(p.stem for p in PARITY_DIR.glob(f"{prefix}*.json"))


def normalize_text(text: str, bases: dict[str, str]) -> str:
    for base, marker in bases.items():
        text = text.replace(base, marker)
    text = _TOKEN.sub("<token>", text)
    text = _UUID.sub("<uuid>", text)
    return _TIME.sub("<time>", text)


def normalize(value: Any, bases: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            k: ("<audit_id>" if k == "audit_ids" else normalize(v, bases)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [normalize(v, bases) for v in value]
    if isinstance(value, str):
        return normalize_text(value, bases)
    return value


def shape(value: Any) -> Any:
    """Structure without values: dict keys, the merged shape of list items, value types."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        merged: dict[str, Any] = {}
        kinds = set()
        for item in value:
            s = shape(item)
            if isinstance(s, dict):
                merged.update(s)
            else:
                kinds.add(json.dumps(s))
        return [merged] if merged else sorted(kinds)
    if value is None:
        return "null"
    return type(value).__name__


@dataclass
class Differences:
    """What a test expects to differ, and why."""

    ignore_keys: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def strip(value: Any, keys: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: strip(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [strip(v, keys) for v in value]
    return value
