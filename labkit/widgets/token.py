"""A token taken apart: the Fernet envelope anyone can read, the payload only a key opens,
and the key repository it was opened with.

Introduced in notebooks/02-keystone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from labkit.display import Table
from labkit.tokens import Envelope, Opened, key_role


@dataclass
class TokenView:
    token: str
    envelope: Envelope
    issued: str  # relative, e.g. "2 s ago"
    opened: Opened | None
    keys_note: str  # where the keys came from, or why the payload stays closed

    def tables(self) -> list[Table]:
        env = Table(
            ["bytes", "part", "this token (hex)", "what it says"],
            title=f"The envelope: {self.envelope.chars} characters of base64url = "
            f"{self.envelope.size} bytes, readable without a key",
            note="The 0x80 byte and the timestamp's leading zero bytes are why every token "
            "starts with 'gAAAAA'.",
        )
        for row in self.envelope.parts(issued=self.issued):
            env.add(*row)
        out = [env]
        if self.opened is None:
            return out
        size = (
            f": {self.opened.size} bytes of msgpack, padded to "
            f"{self.envelope.ciphertext_bytes} for AES"
            if self.opened.size
            else ""
        )
        payload = Table(
            ["#", "field", "msgpack holds", "meaning"],
            title=f"The payload: {self.opened.payload_name}, decrypted with key "
            f"file {self.opened.key}{size}",
            note=self.keys_note,
        )
        for f in self.opened.fields:
            payload.add(f.index, f.name, f.raw, f.value)
        out.append(payload)
        return out

    def __str__(self) -> str:
        parts = [str(t) for t in self.tables()]
        if self.opened is None:
            parts.append(f"payload: not opened -- {self.keys_note}")
        return "\n\n".join(parts)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        html = "<br>".join(t._repr_html_() for t in self.tables())
        if self.opened is None:
            html += f"<div><i>payload: not opened -- {self.keys_note}</i></div>"
        return html


def fingerprint(key: bytes) -> str:
    return hashlib.sha256(key.strip()).hexdigest()[:8]


def keys_table(
    keys: Mapping[int, bytes],
    before: Mapping[int, bytes] | None = None,
    path: str = "/etc/keystone/fernet-keys",
) -> Table:
    """The key repository: each file's role, and (after a rotation) where it came from.

    Key contents never appear: a key file is as good as every token it signed."""
    numbers = sorted(keys)
    old = {fingerprint(v): n for n, v in (before or {}).items()}
    columns = ["file", "role"] + (["was"] if before is not None else [])
    table = Table(columns, title=f"{path}: {len(keys)} keys")
    for n in numbers:
        row: list[str] = [f"{path}/{n}", key_role(n, numbers)]
        if before is not None:
            was = old.get(fingerprint(keys[n]))
            row.append("new key" if was is None else ("unchanged" if was == n else f"file {was}"))
        table.add(*row, mark="ok" if key_role(n, numbers) == "primary" else "")
    if before is not None:
        gone = sorted(
            set(old.values())
            - {old[fingerprint(k)] for k in keys.values() if fingerprint(k) in old}
        )
        if gone:
            table.note = f"deleted: file {', '.join(map(str, gone))} (over max_active_keys)"
    return table
