"""Trusting a guest's SSH host key the careful way: from its console log.

The first time you SSH to a new server, ``ssh`` shows a key fingerprint and asks whether to
trust it. Answering "yes" without checking trusts whoever answered -- maybe not your server.
A cloud offers a second channel the network cannot tamper with: the guest's serial console,
which Nova hands you through its API (``openstack console log show SERVER``, the SDK's
``get_server_console_output``). At first boot cloud-init generates the host keys and prints
them there between two pairs of markers::

    ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----
    ec2: 256 SHA256:pXh...  root@server1 (ED25519)
    ec2: -----END SSH HOST KEY FINGERPRINTS-----
    -----BEGIN SSH HOST KEY KEYS-----
    ssh-ed25519 AAAAC3Nz... root@server1
    -----END SSH HOST KEY KEYS-----

:func:`parse_console` reads both blocks (the last of each: a rebuilt server prints new ones),
keeps only the keys the fingerprint block vouches for, and :func:`record_known_hosts` writes
them as ``known_hosts`` lines for the server's address -- so ``ssh`` with
``StrictHostKeyChecking yes`` and paramiko with a reject policy accept exactly those keys. The
same blocks appear on real clouds (cloud-init's ``write-ssh-key-fingerprints``), so this
works on the sim, on real lab hosts and on an existing cloud alike.

The console tells two more things :func:`labkit.lab.access.why_no_ssh` reads: which public
keys cloud-init installed for which user (its ``Authorized keys from ... for user ...``
table, :func:`authorized_keys`), and whether it could reach the metadata service at all
(``url_helper`` warnings, :func:`metadata_failures`). Pure text in, data out: no network,
no paramiko.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

FINGERPRINTS_BEGIN = "-----BEGIN SSH HOST KEY FINGERPRINTS-----"
FINGERPRINTS_END = "-----END SSH HOST KEY FINGERPRINTS-----"
KEYS_BEGIN = "-----BEGIN SSH HOST KEY KEYS-----"
KEYS_END = "-----END SSH HOST KEY KEYS-----"

# ssh-keygen -l's label for each key type, in the parentheses that end a fingerprint line.
_LABELS = {
    "ssh-ed25519": "ED25519",
    "ssh-rsa": "RSA",
    "ssh-dss": "DSA",
    "ecdsa-sha2-nistp256": "ECDSA",
    "ecdsa-sha2-nistp384": "ECDSA",
    "ecdsa-sha2-nistp521": "ECDSA",
    "sk-ssh-ed25519@openssh.com": "ED25519-SK",
    "sk-ecdsa-sha2-nistp256@openssh.com": "ECDSA-SK",
}
_KEY_LINE = re.compile(
    r"(?:^|\s)(?P<type>[a-z0-9@.-]+)\s+(?P<blob>AAAA[0-9A-Za-z+/]+={0,2})(?:\s+(?P<comment>.*))?$"
)
_FINGERPRINT_LINE = re.compile(
    r"(?:^|\s)(?P<bits>\d+)\s+(?P<digest>SHA256:[0-9A-Za-z+/]+=*|MD5:[0-9a-f]{2}(?::[0-9a-f]{2}){15}"
    r"|[0-9a-f]{2}(?::[0-9a-f]{2}){15})\s+(?P<comment>.*?)\s*\((?P<label>[A-Z0-9-]+)\)\s*$"
)
_AUTHKEYS_HEADER = re.compile(r"Authorized keys from (?P<path>\S+) for user (?P<user>[\w-]+)")
_NO_AUTHKEYS = re.compile(r"no authorized SSH keys fingerprints found for user (?P<user>[\w-]+)")
_TABLE_ROW = re.compile(r"\|\s*(?P<type>[\w@.-]+)\s*\|\s*(?P<fp>[0-9a-fA-F:]+)\s*\|(?P<rest>.*)\|")
_METADATA_FAILURE = re.compile(
    r"url_helper\.py\[WARNING\]: Calling '(?P<url>[^']+)' failed.*|"
    r".*(?:No active metadata service found|Giving up on (?:OpenStack )?md from).*"
)


# ---- keys and fingerprints -------------------------------------------------------------------
def _blob(b64: str) -> bytes:
    return base64.b64decode(b64.encode(), validate=True)


def sha256_fingerprint(blob_b64: str) -> str:
    """``SHA256:<base64, no padding>``, as ``ssh-keygen -l`` prints it today."""
    digest = hashlib.sha256(_blob(blob_b64)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def colon_hex(data: bytes) -> str:
    return ":".join(f"{b:02x}" for b in data)


def md5_fingerprint(blob_b64: str) -> str:
    """``aa:bb:...`` (16 pairs): the MD5 fingerprint older ``ssh-keygen`` printed and Nova
    still shows for a keypair (``openstack keypair show``)."""
    return colon_hex(hashlib.md5(_blob(blob_b64), usedforsecurity=False).digest())


def public_key_parts(line: str) -> tuple[str, str]:
    """``"ssh-ed25519 AAAA... me@laptop"`` -> ``("ssh-ed25519", "AAAA...")``, checking that
    the base64 blob decodes and names the same type (the first field inside every OpenSSH
    public key). Raises ValueError for anything else."""
    match = _KEY_LINE.search(line.strip())
    if match is None:
        raise ValueError("not an OpenSSH public key line")
    key_type, blob = match["type"], match["blob"]
    try:
        raw = _blob(blob)
        (length,) = struct.unpack(">I", raw[:4])
        inner = raw[4 : 4 + length].decode("ascii")
    except (binascii.Error, struct.error, UnicodeDecodeError):
        raise ValueError("the key's base64 does not decode") from None
    if inner != key_type:
        raise ValueError(f"the key says {inner!r} inside but {key_type!r} outside")
    return key_type, blob


@dataclass(frozen=True)
class HostKey:
    """One public host key from the console's KEYS block."""

    type: str
    blob: str  # base64, as in a known_hosts or .pub line
    comment: str = ""

    @property
    def label(self) -> str:
        return _LABELS.get(self.type, self.type.upper())

    @property
    def sha256(self) -> str:
        return sha256_fingerprint(self.blob)

    @property
    def md5(self) -> str:
        return md5_fingerprint(self.blob)

    def known_hosts_line(self, address: str, port: int = 22) -> str:
        return f"{host_pattern(address, port)} {self.type} {self.blob}"


@dataclass(frozen=True)
class Fingerprint:
    """One line of the FINGERPRINTS block: ``256 SHA256:... root@server1 (ED25519)``."""

    bits: int
    digest: str  # "SHA256:...", "MD5:aa:..." or the bare "aa:bb:..." of older ssh-keygen
    comment: str
    label: str  # ED25519, RSA, ECDSA, DSA

    def matches(self, key: HostKey) -> bool:
        if self.label != key.label:
            return False
        if self.digest.startswith("SHA256:"):
            return self.digest.rstrip("=") == key.sha256
        return self.digest.removeprefix("MD5:").lower() == key.md5


@dataclass(frozen=True)
class ConsoleHostKeys:
    """What one console log says about the guest's host keys."""

    keys: tuple[HostKey, ...] = ()
    fingerprints: tuple[Fingerprint, ...] = ()

    @property
    def found(self) -> bool:
        return bool(self.keys or self.fingerprints)

    @property
    def trusted(self) -> tuple[HostKey, ...]:
        """The keys to trust: those the FINGERPRINTS block vouches for (both blocks come
        from the same script, so a key missing from it is suspect); every key when the
        console shows no fingerprints at all."""
        if not self.fingerprints:
            return self.keys
        return tuple(k for k in self.keys if any(f.matches(k) for f in self.fingerprints))

    @property
    def unvouched(self) -> tuple[HostKey, ...]:
        """Keys in the KEYS block that no fingerprint line confirms (not trusted)."""
        trusted = set(self.trusted)
        return tuple(k for k in self.keys if k not in trusted)

    def vouches_for(self, key_type: str, blob_b64: str) -> bool:
        """Does the console vouch for this key (a trusted key, or -- when the console shows
        fingerprints but no keys -- a matching fingerprint)?"""
        key = HostKey(key_type, blob_b64)
        if any(k.type == key_type and k.blob == blob_b64 for k in self.trusted):
            return True
        return not self.keys and any(f.matches(key) for f in self.fingerprints)


def _clean(line: str) -> str:
    return line.replace("\r", "").rstrip()


def _blocks(lines: list[str], begin: str, end: str) -> list[str] | None:
    """The lines of the last complete ``begin`` ... ``end`` block (markers may follow a
    prefix such as ``ec2: `` or a syslog header on the same line), or None."""
    last: list[str] | None = None
    current: list[str] | None = None
    for line in lines:
        if begin in line:
            current = []
        elif end in line:
            if current is not None:
                last = current
            current = None
        elif current is not None:
            current.append(line)
    return last


def parse_console(text: str) -> ConsoleHostKeys:
    """The host keys and fingerprints of the last boot that printed them."""
    lines = [_clean(line) for line in text.splitlines()]
    keys: list[HostKey] = []
    for line in _blocks(lines, KEYS_BEGIN, KEYS_END) or []:
        match = _KEY_LINE.search(line)
        if match is None:
            continue
        try:
            key_type, blob = public_key_parts(f"{match['type']} {match['blob']}")
        except ValueError:
            continue  # garbled on the console: never trusted
        keys.append(HostKey(key_type, blob, (match["comment"] or "").strip()))
    fingerprints: list[Fingerprint] = []
    for line in _blocks(lines, FINGERPRINTS_BEGIN, FINGERPRINTS_END) or []:
        found = _FINGERPRINT_LINE.search(line)
        if found is not None:
            fingerprints.append(
                Fingerprint(int(found["bits"]), found["digest"], found["comment"], found["label"])
            )
    return ConsoleHostKeys(tuple(keys), tuple(fingerprints))


# ---- what cloud-init says about authorized keys and metadata ---------------------------------
@dataclass(frozen=True)
class AuthorizedKey:
    """One row of cloud-init's ``Authorized keys from FILE for user USER`` table."""

    user: str
    type: str
    fingerprint: str  # colon hex of cloud-init's authkey_hash (md5 on old images, sha256)
    comment: str

    def matches(self, key_type: str, blob_b64: str) -> bool:
        if key_type != self.type:
            return False
        raw = _blob(blob_b64)
        wanted = self.fingerprint.lower()
        return any(
            colon_hex(hashlib.new(name, raw, usedforsecurity=False).digest()) == wanted
            for name in ("md5", "sha256", "sha1", "sha512")
        )


@dataclass(frozen=True)
class AuthorizedKeys:
    """Per user: the keys cloud-init reported installed (an empty tuple: it said none)."""

    by_user: dict[str, tuple[AuthorizedKey, ...]]

    def of(self, user: str) -> tuple[AuthorizedKey, ...] | None:
        """The user's keys; None when the console says nothing about that user."""
        return self.by_user.get(user)


def authorized_keys(text: str) -> AuthorizedKeys:
    """cloud-init's report of the public keys it installed (``cc_ssh_authkey_fingerprints``),
    from the last boot that printed one per user."""
    out: dict[str, tuple[AuthorizedKey, ...]] = {}
    user: str | None = None
    rows: list[AuthorizedKey] = []
    for raw in text.splitlines():
        line = _clean(raw)
        if (none := _NO_AUTHKEYS.search(line)) is not None:
            out[none["user"]] = ()
            user = None
            continue
        if (header := _AUTHKEYS_HEADER.search(line)) is not None:
            user, rows = header["user"], []
            out[user] = ()
            continue
        if user is None:
            continue
        row = _TABLE_ROW.search(line)
        if row is not None and row["type"] != "Keytype":
            cells = [c.strip() for c in row["rest"].split("|")]
            comment = cells[1] if len(cells) > 1 else ""
            rows.append(AuthorizedKey(user, row["type"], row["fp"].lower(), comment))
            out[user] = tuple(rows)
        elif "+--" not in line and "Keytype" not in line:
            user = None  # the table ended
    return AuthorizedKeys(out)


def metadata_failures(text: str) -> list[str]:
    """Lines where cloud-init could not reach the metadata service (the URL it tried, or
    its giving up), in order."""
    out = []
    for raw in text.splitlines():
        line = _clean(raw)
        if _METADATA_FAILURE.search(line):
            out.append(line.strip())
    return out


# ---- known_hosts --------------------------------------------------------------------------------
def host_pattern(address: str, port: int = 22) -> str:
    """How OpenSSH files a host: ``addr`` on port 22, else ``[addr]:port``."""
    return address if port == 22 else f"[{address}]:{port}"


def record_known_hosts(path: Path, address: str, keys: tuple[HostKey, ...], port: int = 22) -> int:
    """Make ``keys`` the keys recorded for ``address`` in ``path`` (lines for other hosts
    are kept; earlier lines for this address go -- a new server may have the address of a
    deleted one). Written atomically, mode 0600, and only when something changes. Returns
    how many lines were replaced."""
    pattern = host_pattern(address, port)
    wanted = [key.known_hosts_line(address, port) for key in keys]
    kept: list[str] = []
    mine: list[str] = []
    if path.exists():
        for line in path.read_text().splitlines():
            names = line.split(None, 1)[0] if line.strip() else ""
            if not line.startswith("#") and pattern in names.split(","):
                mine.append(line)
                continue
            kept.append(line)
    if mine == wanted:
        return 0
    lines = kept + wanted
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    tmp.write_text("\n".join(lines) + ("\n" if lines else ""))
    tmp.chmod(0o600)
    tmp.replace(path)
    return len(mine)
