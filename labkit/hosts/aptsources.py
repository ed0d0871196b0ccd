"""The Debian mirrors this machine uses, read from its apt sources.

Local lab hosts get their packages from the same mirrors as the machine (through labkit's
apt proxy, see :mod:`labkit.hosts.proxy`), so a lab works wherever the machine's own
``apt-get`` works -- behind a local mirror or a snapshot, without guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

MACHINE_SOURCE_FILES = (
    Path("/etc/apt/sources.list.d/debian.sources"),
    Path("/etc/apt/sources.list"),
)
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY = "http://deb.debian.org/debian-security"


@dataclass(frozen=True)
class AptSource:
    uri: str  # as written on the machine (http or https)
    suites: tuple[str, ...]
    components: tuple[str, ...] = ("main",)
    signed_by: str | None = None

    @property
    def host(self) -> str:
        return (urlsplit(self.uri).hostname or "").lower()

    @property
    def scheme(self) -> str:
        return urlsplit(self.uri).scheme.lower()

    @property
    def http_uri(self) -> str:
        """The URI apt inside a lab host asks for: plain http, which the proxy may upgrade."""
        parts = urlsplit(self.uri)
        return parts._replace(scheme="http").geturl().rstrip("/")


def parse_deb822(text: str) -> list[AptSource]:
    """Parse a ``.sources`` file (deb822 stanzas); binary (``deb``) entries only."""
    out: list[AptSource] = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0] in " \t" and key:  # continuation line
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            out.append(
                AptSource(
                    uri=uri,
                    suites=tuple(fields.get("suites", "").split()),
                    components=tuple(fields.get("components", "main").split()),
                    signed_by=fields.get("signed-by") or None,
                )
            )
    return out


def parse_one_line(text: str) -> list[AptSource]:
    """Parse the classic ``deb [options] URI SUITE COMPONENT...`` format."""
    out: list[AptSource] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        words = line.split()[1:]
        if words and words[0].startswith("["):
            while words and not words[0].endswith("]"):
                words.pop(0)
            words = words[1:]
        if len(words) >= 2:
            out.append(AptSource(words[0], (words[1],), tuple(words[2:]) or ("main",)))
    return out


def for_suite(sources: list[AptSource], suite: str) -> list[AptSource]:
    """The machine's entries for ``suite`` (and its -updates/-security), merged per URI.

    Falls back to deb.debian.org when the machine has none (e.g. it runs another distro).
    """
    merged: dict[str, AptSource] = {}
    for src in sources:
        suites = tuple(s for s in src.suites if s == suite or s.startswith(f"{suite}-"))
        if not suites:
            continue
        known = merged.get(src.uri)
        if known:
            suites = tuple(dict.fromkeys(known.suites + suites))
        merged[src.uri] = AptSource(src.uri, suites, src.components, src.signed_by)
    if not any(suite in s.suites for s in merged.values()):
        return [
            AptSource(DEFAULT_MIRROR, (suite, f"{suite}-updates")),
            AptSource(DEFAULT_SECURITY, (f"{suite}-security",)),
        ]
    return list(merged.values())


def main_mirror(sources: list[AptSource], suite: str) -> str:
    """The URI debootstrap fetches ``suite`` from."""
    return next(s.uri for s in sources if suite in s.suites)


def upstreams(sources: list[AptSource]) -> dict[str, str]:
    """Mirror host -> scheme: the only hosts the apt proxy will fetch from."""
    return {s.host: s.scheme for s in sources}


def machine_sources(files: tuple[Path, ...] = MACHINE_SOURCE_FILES) -> list[AptSource]:
    out: list[AptSource] = []
    for path in files:
        if path.is_file():
            text = path.read_text()
            out += parse_deb822(text) if path.suffix == ".sources" else parse_one_line(text)
    extra = Path("/etc/apt/sources.list.d")
    if extra.is_dir():
        for path in sorted(extra.iterdir()):
            if path in files or not path.is_file():
                continue
            if path.suffix == ".sources":
                out += parse_deb822(path.read_text())
            elif path.suffix == ".list":
                out += parse_one_line(path.read_text())
    return out
