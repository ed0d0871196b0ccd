"""SSH host keys: made at a guest's first boot, printed on its console, kept until rebuild.

At first boot cloud-init's ``ssh`` module deletes the image's host keys and makes new ones
(``ssh-keygen -A``: one per type, the comment ``root@<hostname>``), and ``keys_to_console``
prints their fingerprints and public keys between ``-----BEGIN SSH HOST KEY ...-----``
markers. A careful user trusts the host key they read there (through Nova's console API)
before the first ``ssh``: that is how labkit fills its ``known_hosts``.

Keys come from 32 seed bytes per type: random normally, and in the sim's deterministic mode
derived from the env's seed and the instance (its uuid and when it was first booted), so a
replayed notebook shows the same fingerprints. The guests make ECDSA (nistp256) and Ed25519
keys; RSA is left out because making one costs tens of milliseconds per boot.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

_P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)

# ssh-keygen -A's order on disk (/etc/ssh/ssh_host_*_key.pub, sorted by name)
KEY_TYPES = ("ecdsa", "ed25519")


@dataclass(frozen=True)
class HostKey:
    kind: str  # "ecdsa" | "ed25519"
    seed: bytes  # 32 bytes: the private key is derived from them
    comment: str  # "root@server1"

    def private(self) -> ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey:
        if self.kind == "ed25519":
            return ed25519.Ed25519PrivateKey.from_private_bytes(self.seed)
        scalar = int.from_bytes(self.seed, "big") % (_P256_ORDER - 1) + 1
        return ec.derive_private_key(scalar, ec.SECP256R1())

    def private_openssh(self) -> bytes:
        """The private key in OpenSSH's format (``/etc/ssh/ssh_host_*_key``)."""
        return self.private().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )

    def public_line(self) -> str:
        """``ssh-ed25519 AAAA... root@server1`` (``/etc/ssh/ssh_host_*_key.pub``)."""
        blob = (
            self.private()
            .public_key()
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            .decode()
        )
        return f"{blob} {self.comment}"

    def fingerprint(self) -> str:
        """``SHA256:...``: base64 of the SHA-256 of the key blob, padding stripped."""
        blob = base64.b64decode(self.public_line().split()[1])
        return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")

    def keygen_line(self) -> str:
        """What ``ssh-keygen -l -f`` prints: ``256 SHA256:... root@server1 (ED25519)``."""
        return f"256 {self.fingerprint()} {self.comment} ({self.kind.upper()})"

    @property
    def path(self) -> str:
        return f"/etc/ssh/ssh_host_{self.kind}_key"


def make_host_keys(hostname: str, seed: str | None) -> list[HostKey]:
    """One key per type; ``seed`` (deterministic mode) makes them reproducible."""
    keys = []
    for kind in KEY_TYPES:
        raw = (
            hashlib.sha256(f"{seed}/ssh-host-key/{kind}".encode()).digest()
            if seed is not None
            else os.urandom(32)
        )
        keys.append(HostKey(kind, raw, f"root@{hostname}"))
    return keys


def fingerprints_block(keys: list[HostKey]) -> list[str]:
    """cloud-init's ``write-ssh-key-fingerprints``: the fingerprints through ``logger -t
    ec2`` (hence the ``<14>`` priority and tag on the console), then the public keys."""
    return [
        "#############################################################",
        "-----BEGIN SSH HOST KEY FINGERPRINTS-----",
        *(key.keygen_line() for key in keys),
        "-----END SSH HOST KEY FINGERPRINTS-----",
        "#############################################################",
    ]


def keys_block(keys: list[HostKey]) -> list[str]:
    return [
        "-----BEGIN SSH HOST KEY KEYS-----",
        *(key.public_line() for key in keys),
        "-----END SSH HOST KEY KEYS-----",
    ]
