"""Compute API microversions: 2.1 to 2.93 (Zed), negotiated per request as Nova does.

The client asks with ``OpenStack-API-Version: compute 2.x`` (or the legacy
``X-OpenStack-Nova-API-Version: 2.x``); no header means 2.1, ``latest`` the maximum. Nova
answers an unsupported version with 406 and echoes the version in both headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN = (2, 1)
MAX = (2, 93)
_VERSION = re.compile(r"^(\d+)\.(\d+)$")


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def at_least(self, text: str) -> bool:
        major, minor = (int(p) for p in text.split("."))
        return (self.major, self.minor) >= (major, minor)


class Unsupported(Exception):
    def __init__(self, requested: str) -> None:
        super().__init__(requested)
        self.requested = requested


class Malformed(Exception):
    pass


def negotiate(header: str | None, legacy: str | None) -> Version:
    """The version a request asked for. Raises Unsupported / Malformed."""
    text = ""
    if header:
        service, _, value = header.strip().partition(" ")
        if service.lower() == "compute":
            text = value.strip()
    if not text and legacy:
        text = legacy.strip()
    if not text:
        return Version(*MIN)
    if text.lower() == "latest":
        return Version(*MAX)
    found = _VERSION.match(text)
    if not found:
        raise Malformed(text)
    version = Version(int(found.group(1)), int(found.group(2)))
    if not (Version(*MIN) <= version <= Version(*MAX)):
        raise Unsupported(text)
    return version


def max_version() -> str:
    return f"{MAX[0]}.{MAX[1]}"
