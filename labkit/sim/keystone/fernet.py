"""Fernet tokens in Keystone's own format, and the key repository they are made with.

A token is ``Fernet(msgpack((version,) + payload))`` with the base64 ``=`` padding stripped.
The payload layouts, the methods bitmask and the key repository's rules (file ``0`` is the
staged key, the highest number the primary, ``rotate`` promotes the staged key) are
Keystone's (``keystone/token/token_formatters.py``, ``keystone/common/fernet_utils.py``), so
a token from this sim decrypts with Keystone's own code and the other way round.
Notebook 02 opens tokens with :func:`decode` and the key files on the "controller".
"""

from __future__ import annotations

import base64
import functools
import os
import struct
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgpack
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

# keystone.conf [auth] methods, in Keystone's default order; bit i stands for methods[i].
AUTH_METHODS = ("external", "password", "token", "oauth1", "mapped", "application_credential")

UNSCOPED, DOMAIN_SCOPED, PROJECT_SCOPED, TRUST_SCOPED, SYSTEM_SCOPED = 0, 1, 2, 3, 8
APP_CRED_SCOPED = 9
PAYLOAD_NAMES = {
    UNSCOPED: "UnscopedPayload",
    DOMAIN_SCOPED: "DomainScopedPayload",
    PROJECT_SCOPED: "ProjectScopedPayload",
    TRUST_SCOPED: "TrustScopedPayload",
    SYSTEM_SCOPED: "SystemScopedPayload",
    APP_CRED_SCOPED: "ApplicationCredentialScopedPayload",
}
DEFAULT_DOMAIN_ID = "default"
MAX_ACTIVE_KEYS = 3


class KeysNotFound(Exception):
    """The key repository is empty: ``keystone-manage fernet_setup`` has not run."""


class TokenNotRecognized(Exception):
    """No key decrypts it, or the payload is not one Keystone knows."""


# ---- the key repository ------------------------------------------------------------------------


class KeyRepository:
    """``/etc/keystone/fernet-keys``: files named 0..N, each one urlsafe-base64 Fernet key."""

    def __init__(self, path: Path, max_active_keys: int = MAX_ACTIVE_KEYS) -> None:
        self.path = path
        self.max_active_keys = max_active_keys
        self._cache: tuple[int, MultiFernet, list[int]] | None = None

    def key_numbers(self) -> list[int]:
        if not self.path.is_dir():
            return []
        return sorted((int(p.name) for p in self.path.iterdir() if p.name.isdigit()), reverse=True)

    def keys(self) -> dict[int, bytes]:
        return {n: (self.path / str(n)).read_bytes().strip() for n in self.key_numbers()}

    def _write_key(self, number: int, key: bytes) -> None:
        # Keystone writes "0.tmp" with umask 0o177 and renames it into place.
        tmp = self.path / f"{number}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
        tmp.replace(self.path / str(number))

    def setup(self) -> bool:
        """``keystone-manage fernet_setup``: create ``0``, then rotate once (keys 0 and 1).
        Returns False when the repository already has keys (nothing changed)."""
        self.path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path, 0o700)
        if self.key_numbers():
            return False
        self._write_key(0, Fernet.generate_key())
        self.rotate()
        return True

    def rotate(self) -> list[int]:
        """``keystone-manage fernet_rotate``: staged 0 becomes the new primary, a new 0 is
        staged, and the oldest secondaries go once more than ``max_active_keys`` exist."""
        numbers = self.key_numbers()
        if not numbers:
            raise KeysNotFound(str(self.path))
        new_primary = max(numbers) + 1
        (self.path / "0").replace(self.path / str(new_primary))
        self._write_key(0, Fernet.generate_key())
        numbers = self.key_numbers()
        while len(numbers) > self.max_active_keys:
            oldest = min(n for n in numbers if n != 0)
            (self.path / str(oldest)).unlink()
            numbers.remove(oldest)
        self._cache = None
        return self.key_numbers()

    def crypto(self) -> MultiFernet:
        """All keys, primary first; cached until the folder changes."""
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            raise KeysNotFound(str(self.path)) from None
        if self._cache is None or self._cache[0] != stamp:
            numbers = self.key_numbers()
            if not numbers:
                raise KeysNotFound(str(self.path))
            keys = [Fernet((self.path / str(n)).read_bytes().strip()) for n in numbers]
            self._cache = (stamp, MultiFernet(keys), numbers)
        return self._cache[1]


# ---- payloads ----------------------------------------------------------------------------------


def methods_to_int(methods: list[str]) -> int:
    return sum(1 << AUTH_METHODS.index(m) for m in set(methods))


def int_to_methods(value: int) -> list[str]:
    return [m for i, m in enumerate(AUTH_METHODS) if value & (1 << i)]


@functools.lru_cache(maxsize=4096)
def _id_pair(value: str) -> tuple[bool, bytes | str]:
    """How Keystone packs an id: a uuid's 16 bytes, else the text. Kept per id (a lab has a
    few users and projects, each token issue packs two)."""
    try:
        return True, uuid.UUID(value).bytes
    except ValueError:
        return False, value


def _from_pair(pair: Any) -> str:
    is_bytes, value = pair
    if is_bytes:
        return uuid.UUID(bytes=bytes(value)).hex
    return value.decode() if isinstance(value, bytes) else str(value)


def _audit_bytes(audit_id: str) -> bytes:
    return base64.urlsafe_b64decode(audit_id + "==")


def _audit_str(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class TokenPayload:
    """What a Fernet token carries. ``issued_at`` comes from the Fernet timestamp."""

    user_id: str
    methods: list[str]
    expires_at: datetime
    audit_ids: list[str]
    project_id: str | None = None
    domain_id: str | None = None
    system: str | None = None
    issued_at: datetime | None = None
    version: int = field(default=UNSCOPED)
    app_cred_id: str | None = None  # a token an application credential got (project-scoped)

    @property
    def payload_name(self) -> str:
        return PAYLOAD_NAMES.get(self.version, f"payload {self.version}")


def _payload_tuple(p: TokenPayload) -> tuple[Any, ...]:
    user = _id_pair(p.user_id)
    methods = methods_to_int(p.methods)
    expires = p.expires_at.replace(microsecond=0).timestamp()
    audits = [_audit_bytes(a) for a in p.audit_ids]
    if p.app_cred_id and p.project_id:
        project, app_cred = _id_pair(p.project_id), _id_pair(p.app_cred_id)
        return (APP_CRED_SCOPED, user, methods, project, expires, audits, app_cred)
    if p.project_id:
        return (PROJECT_SCOPED, user, methods, _id_pair(p.project_id), expires, audits)
    if p.domain_id:
        try:
            domain: bytes | str = uuid.UUID(p.domain_id).bytes
        except ValueError:
            if p.domain_id != DEFAULT_DOMAIN_ID:
                raise ValueError(
                    "a non-uuid domain id other than 'default' cannot be packed"
                ) from None
            domain = p.domain_id
        return (DOMAIN_SCOPED, user, methods, domain, expires, audits)
    if p.system:
        return (SYSTEM_SCOPED, user, methods, p.system, expires, audits)
    return (UNSCOPED, user, methods, expires, audits)


def encode(payload: TokenPayload, crypto: MultiFernet, issued_at: datetime) -> str:
    data = msgpack.packb(_payload_tuple(payload), use_bin_type=True)
    token = crypto.encrypt_at_time(data, int(issued_at.timestamp()))
    return token.rstrip(b"=").decode()


def restore_padding(token: str) -> bytes:
    raw = token.encode()
    return raw + b"=" * (-len(raw) % 4)


def fernet_timestamp(token: str) -> datetime:
    """Bytes 1..9 of the decoded token: the big-endian creation time (Keystone's issued_at)."""
    raw = base64.urlsafe_b64decode(restore_padding(token))
    return datetime.fromtimestamp(struct.unpack(">Q", raw[1:9])[0], UTC)


def decode(token: str, crypto: MultiFernet) -> TokenPayload:
    """Decrypt and unpack a token. Raises :class:`TokenNotRecognized`."""
    try:
        data = crypto.decrypt(restore_padding(token))
        issued = fernet_timestamp(token)
        fields = msgpack.unpackb(data, raw=False)
    except (InvalidToken, ValueError, TypeError, struct.error, msgpack.UnpackException) as exc:
        raise TokenNotRecognized(str(exc)) from None
    return _from_fields(fields, issued)


def _from_fields(fields: Any, issued: datetime) -> TokenPayload:
    try:
        version = fields[0]
        user = _from_pair(fields[1])
        methods = int_to_methods(fields[2])
        if version == UNSCOPED:
            expires, audits = fields[3], fields[4]
            scope: dict[str, str] = {}
        elif version == PROJECT_SCOPED:
            scope = {"project_id": _from_pair(fields[3])}
            expires, audits = fields[4], fields[5]
        elif version == DOMAIN_SCOPED:
            raw = fields[3]
            scope = {"domain_id": uuid.UUID(bytes=raw).hex if isinstance(raw, bytes) else raw}
            expires, audits = fields[4], fields[5]
        elif version == SYSTEM_SCOPED:
            scope = {"system": fields[3]}
            expires, audits = fields[4], fields[5]
        elif version == APP_CRED_SCOPED:
            scope = {"project_id": _from_pair(fields[3]), "app_cred_id": _from_pair(fields[6])}
            expires, audits = fields[4], fields[5]
        else:
            raise TokenNotRecognized(f"payload version {version} is not emulated")
        return TokenPayload(
            user_id=user,
            methods=methods,
            expires_at=datetime.fromtimestamp(expires, UTC),
            audit_ids=[_audit_str(bytes(a)) for a in audits],
            issued_at=issued,
            version=version,
            **scope,
        )
    except (IndexError, KeyError, TypeError, ValueError) as exc:
        raise TokenNotRecognized(str(exc)) from None


def raw_fields(token: str, crypto: MultiFernet) -> list[Any]:
    """The msgpack list inside a token, exactly as stored (for notebook 02's anatomy view)."""
    return list(msgpack.unpackb(crypto.decrypt(restore_padding(token)), raw=False))
