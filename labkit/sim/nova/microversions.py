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
# APIVersionRequest's pattern: no leading zeros ("02.5" is malformed), a minor of 0 allowed.
_VERSION = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


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


def requested(header: str | None, legacy: str | None) -> str | None:
    """What ``microversion_parse.get_version`` (1.0.1, Zed's) finds in the headers (each
    given as its values joined by ``,``, as WSGI folds a repeated header): in
    ``OpenStack-API-Version`` the *last* ``compute <version>`` item of the comma-separated
    list (other services' items and a bare ``compute`` are skipped); failing that, the last
    comma-separated value of ``X-OpenStack-Nova-API-Version`` (even an empty one)."""
    if header is not None:
        for item in reversed(header.split(",")):
            parts = item.strip().split(None, 1)
            if len(parts) == 2 and parts[0].lower() == "compute":
                return parts[1].strip()
    if legacy is not None:
        return legacy.split(",")[-1].strip()
    return None


def negotiate(header: str | None, legacy: str | None) -> Version:
    """The version a request asked for. Raises Unsupported / Malformed (whose text is the
    version string as asked). ``latest`` is case-sensitive, as in Nova."""
    text = requested(header, legacy)
    if text is None:
        return Version(*MIN)
    if text == "latest":
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
