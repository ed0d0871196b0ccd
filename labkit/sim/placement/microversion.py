"""Placement's microversions, 1.0 to 1.39 (Zed), read the way microversion_parse reads them.

A client asks for one with ``OpenStack-API-Version: placement 1.28``; no header means 1.0,
``latest`` means 1.39. A version that parses but is not one Placement has is refused with 406;
one that does not parse (``placement 1.x``) with 400. Answers carry the version they were
made at, and ``Vary: OpenStack-API-Version``.
"""

from __future__ import annotations

from dataclasses import dataclass

SERVICE_TYPE = "placement"
HEADER = "openstack-api-version"
MIN = (1, 0)
MAX = (1, 39)
VERSIONS = tuple(f"1.{minor}" for minor in range(MAX[1] + 1))


class BadVersion(Exception):
    """The header's value is not a version at all (400)."""


class UnacceptableVersion(Exception):
    """A version Placement does not have (406)."""


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def at_least(self, minor: int) -> bool:
        return (self.major, self.minor) >= (1, minor)

    def between(self, low: int, high: int) -> bool:
        return (1, low) <= (self.major, self.minor) <= (1, high)


def requested(header: str | None) -> str | None:
    """The placement part of ``OpenStack-API-Version`` (the last one, if several services
    are named), or None."""
    if not header:
        return None
    for part in reversed(header.split(",")):
        words = part.strip().split(None, 1)
        if len(words) == 2 and words[0].lower() == SERVICE_TYPE:
            return words[1].strip()
    return None


def parse(header: str | None) -> Version:
    """The version a request asks for. Raises BadVersion or UnacceptableVersion with
    microversion_parse's texts."""
    wanted = requested(header) or f"{MIN[0]}.{MIN[1]}"
    text = f"{MAX[0]}.{MAX[1]}" if wanted == "latest" else wanted
    major, dot, minor = text.partition(".")
    try:
        number = int(major)
        if not dot:  # microversion_parse builds its namedtuple from one value: TypeError
            raise BadVersion(
                f"invalid version string: {text}; Version.__new__() missing 1 required "
                "positional argument: 'minor'"
            )
        version = Version(number, int(minor))
    except ValueError as exc:
        raise BadVersion(f"invalid version string: {text}; {exc}") from None
    if str(version) not in VERSIONS:
        raise UnacceptableVersion(f"Unacceptable version header: {text}")
    return version
