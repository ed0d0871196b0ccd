"""SSH key pairs labkit makes itself: the lab's login key and local lab hosts' host keys.

Made with ``cryptography`` (already a dependency) rather than by running ``ssh-keygen``, so
nothing here depends on the machine's OpenSSH tools.
"""

from __future__ import annotations

import base64
import io
import os
from dataclasses import dataclass
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


@dataclass(frozen=True)
class KeyPair:
    private_openssh: bytes
    public_line: str  # "ssh-ed25519 AAAA... comment"

    def pkey(self) -> paramiko.PKey:
        return paramiko.Ed25519Key.from_private_key(io.StringIO(self.private_openssh.decode()))


def new_ed25519(comment: str) -> KeyPair:
    private = Ed25519PrivateKey.generate()
    private_openssh = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return KeyPair(private_openssh, f"{public.decode()} {comment}".strip())


def write_pair(pair: KeyPair, private_path: Path) -> None:
    """Write ``private_path`` (0600) and ``private_path.pub`` (0644), like ssh-keygen."""
    private_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pair.private_openssh)
    os.chmod(private_path, 0o600)
    Path(f"{private_path}.pub").write_text(pair.public_line + "\n")


def ensure_pair(private_path: Path, comment: str) -> tuple[str, bool]:
    """The public line of the key at ``private_path``, making the pair if missing.

    Returns ``(public_line, created)``.
    """
    pub = Path(f"{private_path}.pub")
    if private_path.exists():
        if pub.exists():
            return pub.read_text().strip(), False
        key = load_private_key(private_path)
        line = f"{key.get_name()} {key.get_base64()} {comment}"
        pub.write_text(line + "\n")
        return line, False
    pair = new_ed25519(comment)
    write_pair(pair, private_path)
    return pair.public_line, True


def load_private_key(path: Path) -> paramiko.PKey:
    """Load an unencrypted private key of any type paramiko knows."""
    return paramiko.PKey.from_path(path)


def public_key_from_line(line: str) -> paramiko.PKey:
    """A paramiko key from ``type base64 [comment]``."""
    key_type, b64 = line.split()[:2]
    return paramiko.PKey.from_type_string(key_type, base64.b64decode(b64))
