"""Take a Keystone token apart on the client side: the Fernet envelope, then the payload.

A Fernet token is ``base64url(0x80 | timestamp | IV | AES-CBC ciphertext | HMAC-SHA256)``
with the ``=`` padding stripped. Anyone can read the envelope (version and creation time);
only someone holding a key from ``/etc/keystone/fernet-keys`` can check the HMAC and decrypt
the payload -- a msgpack list whose layout Keystone picks by scope. Keystone stores no
tokens at all: validating one *is* decrypting it.

Everything here is pure (token and key bytes in, data out); the payload layouts come from
:mod:`labkit.sim.keystone.fernet`, which mirrors Keystone's ``token_formatters.py``.

Introduced in notebooks/02-keystone.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from labkit.sim.keystone import fernet as kf

VERSION_BYTE = 0x80
IV_BYTES = 16
HMAC_BYTES = 32


@dataclass(frozen=True)
class Envelope:
    """The readable outside of a Fernet token: this token's own bytes, split into parts."""

    chars: int  # length of the token as the client sees it
    size: int  # bytes after base64 decoding
    version: int
    issued_at: datetime
    ciphertext_bytes: int
    raw: bytes = b""  # the decoded token

    @property
    def timestamp(self) -> bytes:
        return self.raw[1:9]

    @property
    def iv(self) -> bytes:
        return self.raw[9 : 9 + IV_BYTES]

    @property
    def hmac(self) -> bytes:
        return self.raw[-HMAC_BYTES:]

    def parts(self, issued: str = "") -> list[tuple[str, str, str, str]]:
        """(bytes, part, this token's bytes, what they say) rows, in token order.

        ``issued`` is how the caller puts the creation time ("now", "2 s ago")."""
        c0 = 1 + 8 + IV_BYTES
        c1 = c0 + self.ciphertext_bytes
        seconds = int.from_bytes(self.timestamp, "big")
        when = self.issued_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        blocks = self.ciphertext_bytes // 16
        return [
            ("0", "version", f"{self.version:02x}", f"0x{self.version:02x}: Fernet version 1"),
            (
                "1-8",
                "timestamp",
                self.timestamp.hex(" "),
                f"{seconds} s after 1970 = {when}: when the token was made"
                + (f" ({issued})" if issued else ""),
            ),
            (f"9-{c0 - 1}", "IV", self.iv.hex(), f"{IV_BYTES} random bytes that start AES-CBC"),
            (
                f"{c0}-{c1 - 1}",
                "ciphertext",
                f"{self.ciphertext_bytes} bytes ({blocks} AES blocks)",
                "the msgpack payload, AES-128-CBC encrypted: only a key opens it",
            ),
            (
                f"{c1}-{c1 + HMAC_BYTES - 1}",
                "HMAC",
                self.hmac.hex(),
                f"SHA-256 over bytes 0-{c1 - 1}: change one bit and Keystone rejects the token",
            ),
        ]


def envelope(token: str) -> Envelope:
    """Read a token's envelope (no key needed). Raises ValueError for a non-Fernet token."""
    try:
        raw = base64.urlsafe_b64decode(kf.restore_padding(token.strip()))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not base64url: {exc}") from None
    if len(raw) < 1 + 8 + IV_BYTES + 16 + HMAC_BYTES or raw[0] != VERSION_BYTE:
        raise ValueError("not a Fernet token (it must start with byte 0x80, 'gAAAAA...')")
    (stamp,) = struct.unpack(">Q", raw[1:9])
    return Envelope(
        chars=len(token.strip()),
        size=len(raw),
        version=raw[0],
        issued_at=datetime.fromtimestamp(stamp, UTC),
        ciphertext_bytes=len(raw) - 1 - 8 - IV_BYTES - HMAC_BYTES,
        raw=raw,
    )


# ---- keys ---------------------------------------------------------------------------------------


def key_role(number: int, numbers: list[int]) -> str:
    """Keystone's names: 0 is *staged* (next primary), the highest is *primary* (encrypts new
    tokens), the rest are *secondary* (only decrypt)."""
    if number == 0:
        return "staged"
    return "primary" if number == max(numbers) else "secondary"


def which_key(token: str, keys: Mapping[int, bytes]) -> int | None:
    """The number of the key file that decrypts ``token`` (None: no key does)."""
    data = kf.restore_padding(token.strip())
    for number in sorted(keys, reverse=True):
        try:
            Fernet(keys[number].strip()).decrypt(data)
        except (InvalidToken, ValueError):
            continue
        return number
    return None


# ---- the payload --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PayloadField:
    index: int
    name: str
    raw: str  # how msgpack stores it
    value: str  # what it means


@dataclass
class Opened:
    """A token decrypted with one of the repository's keys."""

    key: int
    payload: kf.TokenPayload
    fields: list[PayloadField] = field(default_factory=list)
    size: int = 0  # bytes of msgpack inside the ciphertext (before AES's padding)

    @property
    def payload_name(self) -> str:
        return self.payload.payload_name


def _raw(value: Any) -> str:
    """msgpack values as a reader would describe them (bytes by size, not content)."""
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_raw(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


Namer = Callable[[str], str]
Timer = Callable[[datetime], str]


def open_token(
    token: str, keys: Mapping[int, bytes], name: Namer = str, when: Timer | None = None
) -> Opened | None:
    """Decrypt ``token`` with the key files ``{number: key}``; None if no key opens it.

    ``name`` turns ids into what a reader recognises (aliases); ``when`` renders times.
    """
    number = which_key(token, keys)
    if number is None:
        return None
    crypto = Fernet(keys[number].strip())
    multi = MultiFernet([crypto])
    payload = kf.decode(token.strip(), multi)
    raw = kf.raw_fields(token.strip(), multi)
    size = len(crypto.decrypt(kf.restore_padding(token.strip())))
    render_time = when or (lambda t: t.isoformat())
    return Opened(number, payload, _fields(raw, payload, name, render_time), size)


def _fields(raw: list[Any], p: kf.TokenPayload, name: Namer, when: Timer) -> list[PayloadField]:
    version = raw[0]
    out = [PayloadField(0, "version", _raw(version), f"{version} = {p.payload_name}")]
    out.append(PayloadField(1, "user_id", _raw(raw[1]), f"{p.user_id} ({name(p.user_id)})"))
    out.append(
        PayloadField(
            2,
            "methods",
            _raw(raw[2]),
            f"{', '.join(p.methods)} (one bit per keystone.conf [auth] method)",
        )
    )
    rest = raw[3:]
    if version == kf.PROJECT_SCOPED:
        assert p.project_id is not None
        out.append(
            PayloadField(3, "project_id", _raw(rest[0]), f"{p.project_id} ({name(p.project_id)})")
        )
        rest = rest[1:]
    elif version == kf.DOMAIN_SCOPED:
        assert p.domain_id is not None
        out.append(
            PayloadField(3, "domain_id", _raw(rest[0]), f"{p.domain_id} ({name(p.domain_id)})")
        )
        rest = rest[1:]
    elif version == kf.SYSTEM_SCOPED:
        out.append(PayloadField(3, "system", _raw(rest[0]), f"system scope: {p.system}"))
        rest = rest[1:]
    index = len(out)
    out.append(PayloadField(index, "expires_at", _raw(rest[0]), when(p.expires_at)))
    audits = ", ".join(f"'{a}'" for a in p.audit_ids)
    out.append(
        PayloadField(
            index + 1,
            "audit_ids",
            _raw(rest[1]),
            f"[{audits}] (revoking by audit id kills this token and its rescoped copies)",
        )
    )
    return out
