"""known_hosts handling: fingerprints like ssh-keygen, strict verdicts, atomic recording."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.hosts import known_hosts as kh
from labkit.hosts.keys import new_ed25519, public_key_from_line

# Made with `ssh-keygen -t ed25519`; the fingerprint is what `ssh-keygen -lf` printed.
VECTOR = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA5JTslpToim15wK2vXgGe9KSZADrOX2OkzIWGrhz6zv vector"
VECTOR_FP = "SHA256:DxJGYllbxwCkpEYTJo78ZGoEl2jKpGTLrTZUZYv/VlY"
# The same key filed by `ssh-keygen -H` under the hashed name of 10.64.0.2.
HASHED = (
    "|1|LqOclKeeFtGTAHVt0GG5dVJLlog=|qzKKC591VpJWbKdNZDHU7B2+N7g= ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIA5JTslpToim15wK2vXgGe9KSZADrOX2OkzIWGrhz6zv"
)


def test_fingerprint_matches_ssh_keygen() -> None:
    assert kh.fingerprint(public_key_from_line(VECTOR)) == VECTOR_FP


def test_describe_names_type_and_fingerprint() -> None:
    assert kh.describe(public_key_from_line(VECTOR)) == f"ssh-ed25519 {VECTOR_FP}"


@pytest.mark.parametrize(("port", "pattern"), [(22, "10.64.0.2"), (2222, "[10.64.0.2]:2222")])
def test_host_pattern_follows_openssh(port: int, pattern: str) -> None:
    assert kh.host_pattern("10.64.0.2", port) == pattern


def test_unknown_when_file_missing(tmp_path: Path) -> None:
    verdict, known = kh.verdict(tmp_path / "none", "10.64.0.2", public_key_from_line(VECTOR))
    assert (verdict, known) == ("unknown", [])


def test_record_then_match(tmp_path: Path) -> None:
    path = tmp_path / "kh"
    key = public_key_from_line(VECTOR)
    assert kh.record(path, "10.64.0.2", key) == "added"
    assert kh.verdict(path, "10.64.0.2", key)[0] == "match"
    assert kh.record(path, "10.64.0.2", key) == "same"
    assert path.stat().st_mode & 0o777 == 0o600


def test_other_key_of_same_type_is_changed(tmp_path: Path) -> None:
    path = tmp_path / "kh"
    kh.record(path, "10.64.0.2", public_key_from_line(VECTOR))
    other = new_ed25519("x").pkey()
    verdict, known = kh.verdict(path, "10.64.0.2", other)
    assert verdict == "changed"
    assert [kh.fingerprint(k) for k in known] == [VECTOR_FP]


def test_record_replaces_only_that_host(tmp_path: Path) -> None:
    path = tmp_path / "kh"
    path.write_text("# a comment kept as is\n10.64.0.3 " + " ".join(VECTOR.split()[:2]) + "\n")
    kh.record(path, "10.64.0.2", public_key_from_line(VECTOR))
    assert kh.record(path, "10.64.0.2", new_ed25519("x").pkey()) == "replaced"
    text = path.read_text()
    assert text.startswith("# a comment kept as is\n10.64.0.3 ssh-ed25519 ")
    assert len(kh.known_keys(path, "10.64.0.2")) == 1


def test_hashed_entries_are_matched(tmp_path: Path) -> None:
    path = tmp_path / "kh"
    path.write_text(HASHED + "\n")
    assert kh.verdict(path, "10.64.0.2", public_key_from_line(VECTOR))[0] == "match"
    assert kh.verdict(path, "10.64.0.3", public_key_from_line(VECTOR))[0] == "unknown"


def test_names_match_lists_and_wildcards() -> None:
    assert kh.names_match("controller,10.64.0.2", "10.64.0.2")
    assert kh.names_match("10.64.0.*", "10.64.0.9")
    assert not kh.names_match("!10.64.0.2", "10.64.0.2")


def test_forget_removes_only_that_host(tmp_path: Path) -> None:
    path = tmp_path / "kh"
    kh.record(path, "10.64.0.2", public_key_from_line(VECTOR))
    kh.record(path, "10.64.0.3", public_key_from_line(VECTOR))
    assert kh.forget(path, "10.64.0.2") == 1
    assert kh.known_keys(path, "10.64.0.2") == []
    assert len(kh.known_keys(path, "10.64.0.3")) == 1
