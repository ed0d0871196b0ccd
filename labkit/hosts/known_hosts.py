"""known_hosts files: fingerprints like ssh-keygen's, lookups and strict recording.

labkit never trusts a host key on first use. A key is trusted because it is in the env's
known_hosts file, and it gets there only by an explicit ``labkit hosts trust ENV`` (which
shows the fingerprint) or because labkit generated the key itself (local lab hosts). The file
is OpenSSH's format, so ``ssh -o UserKnownHostsFile=FILE`` works with it too.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import paramiko
from paramiko.hostkeys import HostKeyEntry

Verdict = Literal["match", "unknown", "changed"]


def fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:<base64, no padding>`` -- the form ``ssh-keygen -lf`` prints."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def describe(key: paramiko.PKey) -> str:
    """Key type and fingerprint, e.g. ``ssh-ed25519 SHA256:abc...``."""
    return f"{key.get_name()} {fingerprint(key)}"


def host_pattern(address: str, port: int = 22) -> str:
    """The name OpenSSH files a host under: ``addr`` on port 22, else ``[addr]:port``."""
    return address if port == 22 else f"[{address}]:{port}"


def _hashed_matches(pattern: str, hashed: str) -> bool:
    try:
        _, magic, salt_b64, hash_b64 = hashed.split("|")
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(hash_b64)
    except ValueError:
        return False
    if magic != "1":
        return False
    actual = hmac.new(salt, pattern.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(actual, expected)


def names_match(names: str, pattern: str) -> bool:
    """Whether a known_hosts names field (``a,b,|1|salt|hash,*.lab``) covers ``pattern``."""
    for name in names.split(","):
        if name.startswith("!"):
            continue
        if name.startswith("|1|"):
            if _hashed_matches(pattern, name):
                return True
        elif name == pattern or fnmatch.fnmatchcase(pattern, name):
            return True
    return False


@dataclass(frozen=True)
class _Line:
    text: str
    key: paramiko.PKey | None  # None: comment, marker line, or a key type paramiko lacks
    names: str


def _read(path: Path) -> list[_Line]:
    if not path.exists():
        return []
    lines = []
    for raw in path.read_text().splitlines():
        text = raw.strip()
        if not text or text.startswith("#") or text.startswith("@"):
            lines.append(_Line(raw, None, ""))
            continue
        try:
            entry = HostKeyEntry.from_line(text)
        except Exception:  # a corrupt line is kept as it is, never trusted
            entry = None
        lines.append(_Line(raw, entry.key if entry else None, text.split()[0]))
    return lines


def known_keys(path: Path, pattern: str) -> list[paramiko.PKey]:
    """Every key recorded for ``pattern`` (see :func:`host_pattern`) in ``path``."""
    return [ln.key for ln in _read(path) if ln.key is not None and names_match(ln.names, pattern)]


def verdict(path: Path, pattern: str, key: paramiko.PKey) -> tuple[Verdict, list[paramiko.PKey]]:
    """Compare the key a host offered with the recorded ones.

    ``match`` if a recorded key equals it; ``changed`` if keys of the same type are recorded
    but none equals it; ``unknown`` otherwise. Also returns the recorded keys.
    """
    known = known_keys(path, pattern)
    if any(k.asbytes() == key.asbytes() for k in known):
        return "match", known
    if any(k.get_name() == key.get_name() for k in known):
        return "changed", known
    return "unknown", known


def record(path: Path, pattern: str, key: paramiko.PKey) -> Literal["added", "same", "replaced"]:
    """Make ``key`` the only key recorded for ``pattern``; other hosts' lines are kept.

    Writes atomically (a half-written known_hosts would lock the learner out).
    """
    lines = _read(path)
    mine = [ln for ln in lines if ln.key is not None and names_match(ln.names, pattern)]
    if len(mine) == 1 and mine[0].key is not None and mine[0].key.asbytes() == key.asbytes():
        return "same"
    mine_ids = {id(ln) for ln in mine}
    kept = [ln.text for ln in lines if id(ln) not in mine_ids]
    kept.append(f"{pattern} {key.get_name()} {key.get_base64()}")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("\n".join(kept) + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)
    return "replaced" if mine else "added"


def forget(path: Path, pattern: str) -> int:
    """Remove the lines recorded for ``pattern``; returns how many went."""
    lines = _read(path)
    kept = [ln.text for ln in lines if ln.key is None or not names_match(ln.names, pattern)]
    removed = len(lines) - len(kept)
    if removed:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text("\n".join(kept) + ("\n" if kept else ""))
        tmp.chmod(0o600)
        tmp.replace(path)
    return removed
