"""An initramfs archive written in Python: the ``newc`` cpio format the kernel unpacks at boot.

Linux accepts its early userspace as a (compressed) cpio archive in the "new ASCII" format:
each member is a 110-byte header of hexadecimal fields (inode, mode, owner, size, device
numbers, name length), the name, then the data, both padded to 4 bytes; a member named
``TRAILER!!!`` ends the archive. Writing it here means the lab machine needs no ``cpio``
program, owners and modes are exactly what the guest must see (root-owned files, the default
user's home), and device nodes such as ``/dev/console`` are records in the archive -- nothing
is ever created in the machine's own /dev.
"""

from __future__ import annotations

import gzip
import stat
from dataclasses import dataclass, field

TRAILER = "TRAILER!!!"


@dataclass(frozen=True)
class Member:
    path: str  # relative, no leading slash
    mode: int  # file type bits | permission bits
    data: bytes = b""  # file contents, or the target of a symlink
    uid: int = 0
    gid: int = 0
    rdev: tuple[int, int] = (0, 0)  # major, minor of a device node


@dataclass
class Archive:
    """Members by path; parents are added as root-owned 0755 directories when missing."""

    members: dict[str, Member] = field(default_factory=dict)

    def _parents(self, path: str) -> None:
        parts = path.split("/")[:-1]
        for n in range(1, len(parts) + 1):
            parent = "/".join(parts[:n])
            if parent not in self.members:
                self.members[parent] = Member(parent, stat.S_IFDIR | 0o755)

    def directory(self, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
        self._parents(path)
        self.members[path] = Member(path, stat.S_IFDIR | mode, uid=uid, gid=gid)

    def file(self, path: str, data: bytes, mode: int = 0o644, uid: int = 0, gid: int = 0) -> None:
        self._parents(path)
        self.members[path] = Member(path, stat.S_IFREG | mode, data, uid, gid)

    def symlink(self, path: str, target: str) -> None:
        self._parents(path)
        self.members[path] = Member(path, stat.S_IFLNK | 0o777, target.encode())

    def char_device(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._parents(path)
        self.members[path] = Member(path, stat.S_IFCHR | mode, rdev=(major, minor))

    def to_bytes(self) -> bytes:
        """The archive; members in path order, so every directory precedes its contents."""
        out = bytearray()
        for ino, path in enumerate(sorted(self.members), start=1):
            _write(out, ino, self.members[path])
        _write(out, 0, Member(TRAILER, 0))
        return bytes(out)

    def gzipped(self, level: int = 6) -> bytes:
        # mtime=0: the same content makes the same bytes (the image's name is a content hash)
        return gzip.compress(self.to_bytes(), compresslevel=level, mtime=0)


def _pad(out: bytearray) -> None:
    out.extend(b"\0" * (-len(out) % 4))


def _write(out: bytearray, ino: int, member: Member) -> None:
    name = member.path.encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(member.mode) else 1
    fields = (
        ino,
        member.mode,
        member.uid,
        member.gid,
        nlink,
        0,  # mtime
        len(member.data),
        0,  # dev major
        0,  # dev minor
        member.rdev[0],
        member.rdev[1],
        len(name),
        0,  # checksum (only for the "070702" variant)
    )
    out.extend(b"070701" + b"".join(b"%08X" % value for value in fields))
    out.extend(name)
    _pad(out)
    out.extend(member.data)
    _pad(out)
