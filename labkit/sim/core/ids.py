"""Where every id and random value in the sim comes from.

Normally these are real random values. In deterministic mode they are derived from the
env's seed and a counter, so a fresh sim that receives the same requests hands out the same
ids (and notebook outputs stay stable). The counter is persisted by the runtime.

Only ids of things that are *stored* come from here. Values that vary with how often a client
polls (request ids, token audit ids, Fernet IVs) stay random so that a retry or an extra GET
cannot shift the ids of everything created afterwards; notebook sanitizers cover those.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid


class IdSource:
    def __init__(self, seed: int | None = None, counter: int = 0) -> None:
        self._seed = seed
        self._counter = counter
        self._lock = threading.Lock()

    @property
    def deterministic(self) -> bool:
        return self._seed is not None

    @property
    def counter(self) -> int:
        return self._counter

    def bytes(self, n: int) -> bytes:
        if self._seed is None:
            return os.urandom(n)
        with self._lock:
            self._counter += 1
            counter = self._counter
        out = b""
        block = 0
        while len(out) < n:
            out += hashlib.sha256(f"{self._seed}/{counter}/{block}".encode()).digest()
            block += 1
        return out[:n]

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(bytes=self.bytes(16), version=4)

    def hex_id(self) -> str:
        """Keystone-style id: a uuid4 as 32 lowercase hex digits."""
        return self.uuid().hex

    def dashed_id(self) -> str:
        """Glance/Nova-style id: a dashed uuid4."""
        return str(self.uuid())


def random_uuid4() -> str:
    """A random dashed uuid4, as ``str(uuid.uuid4())`` writes it, made in a quarter of the
    time (no UUID object): every request gets one as its request id."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
