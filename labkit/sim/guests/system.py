"""The guest's system as data: its users, its files, its packages -- what is on its disk.

Everything a guest shows comes from here: the shell reads files, checks who may read them
and who may ``sudo``; cloud-init writes the hostname, the users' ``authorized_keys`` and
``write_files``; the SSH server asks which keys each user accepts. It lives as long as the
guest's disk: a reboot or a stop keeps it, a rebuild (a new disk from the image) and a
delete do not.

Figures are the flavor's, as a real VM's are: ``vcpus`` CPUs, the flavor's RAM less what the
kernel keeps for itself (a 4 GiB guest's ``free -m`` shows a little under 4096), the
flavor's disk less the file system's own overhead.
"""

from __future__ import annotations

import math
import posixpath
from dataclasses import dataclass, field, fields
from typing import Any

from labkit.sim.guests.profiles import Profile

# Debian's fixed group ids (base-passwd); other groups get ids from 1001 up.
GROUP_IDS = {
    "root": 0,
    "adm": 4,
    "dialout": 20,
    "cdrom": 24,
    "floppy": 25,
    "sudo": 27,
    "audio": 29,
    "dip": 30,
    "video": 44,
    "plugdev": 46,
    "users": 100,
    "netdev": 102,
}
BASE_DIRS = (
    "/", "/bin", "/boot", "/dev", "/etc", "/etc/ssh", "/home", "/mnt", "/opt", "/proc",
    "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/bin", "/usr/local",
    "/usr/local/bin", "/usr/sbin", "/usr/share", "/var", "/var/lib", "/var/log", "/var/tmp",
)  # fmt: skip


@dataclass
class File:
    content: str
    owner: str = "root"
    group: str = "root"
    mode: int = 0o644


@dataclass
class User:
    name: str
    uid: int
    gid: int
    home: str
    shell: str = "/bin/bash"
    groups: list[str] = field(default_factory=list)
    sudo: bool = False  # "ALL=(ALL) NOPASSWD:ALL" in /etc/sudoers.d/90-cloud-init-users
    gecos: str = ""


class AccessDenied(Exception):
    """EACCES: the user may not read or write that path."""


@dataclass
class GuestSystem:
    """One guest's disk (users, files, packages) and the flavor it runs with."""

    profile: Profile
    default_user: str
    hostname: str = ""
    fqdn: str = ""
    users: dict[str, User] = field(default_factory=dict)
    files: dict[str, File] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)
    packages: list[str] = field(default_factory=list)
    # cloud-init's cache (/var/lib/cloud/instance): which instance the per-instance modules
    # ran for, and from which datasource
    instance_id: str = ""
    datasource: str = ""
    vcpus: int = 1
    memory_mb: int = 512
    disk_gb: int = 1

    @classmethod
    def fresh(cls, profile: Profile, default_user: str) -> GuestSystem:
        """The image as it boots the first time: root, the release files, no cloud-init
        cache yet (the default user is made by cloud-init, not by the image)."""
        system = cls(profile=profile, default_user=default_user, hostname=profile.distro)
        system.dirs.update(BASE_DIRS)
        system.users["root"] = User(
            "root", 0, 0, "/root", "/bin/bash" if profile.shell == "-bash" else "/bin/sh"
        )
        system.write("/etc/os-release", profile.os_release)
        system.write("/etc/hostname", f"{system.hostname}\n")
        system.write("/var/log/cloud-init-output.log", "", group="adm", mode=0o640)
        return system

    # ---- users -----------------------------------------------------------------------------
    def add_user(
        self,
        name: str,
        groups: list[str] | None = None,
        sudo: bool = False,
        shell: str | None = None,
        gecos: str = "",
    ) -> User:
        """``useradd -m`` (a user that exists keeps its id; groups and sudo are added)."""
        found = self.users.get(name)
        if found is None:
            uid = max([999, *(u.uid for u in self.users.values())]) + 1
            found = User(
                name, uid, uid, f"/home/{name}", shell or self._login_shell(), [], gecos=gecos
            )
            self.users[name] = found
            self.dirs.update({found.home, f"{found.home}/.ssh"})
        for group in groups or []:
            if group not in found.groups and group != name:
                found.groups.append(group)
        found.sudo = found.sudo or sudo
        return found

    def _login_shell(self) -> str:
        return "/bin/bash" if self.profile.shell == "-bash" else "/bin/sh"

    def group_id(self, group: str) -> int:
        if group in GROUP_IDS:
            return GROUP_IDS[group]
        user = self.users.get(group)
        if user is not None:
            return user.gid
        names = sorted({g for u in self.users.values() for g in u.groups} - set(GROUP_IDS))
        return 1001 + len(self.users) + (names.index(group) if group in names else len(names))

    def authorized_keys_path(self, user: str) -> str:
        found = self.users.get(user)
        home = found.home if found is not None else f"/home/{user}"
        return f"{home}/.ssh/authorized_keys"

    def authorized_keys(self, user: str) -> list[str]:
        """The key lines ``sshd`` reads for ``user`` (comments and blanks skipped)."""
        found = self.files.get(self.authorized_keys_path(user))
        if user not in self.users or found is None:
            return []
        lines = [line.strip() for line in found.content.splitlines()]
        return [line for line in lines if line and not line.startswith("#")]

    def add_authorized_keys(self, user: str, keys: list[str], prefix: str = "") -> None:
        """cloud-init's ``setup_user_keys``: append the keys not there yet (0600, owned by
        the user)."""
        path = self.authorized_keys_path(user)
        present = self.files.get(path)
        lines = present.content.splitlines() if present is not None else []
        for key in keys:
            line = f"{prefix}{key.strip()}"
            if key.strip() and line not in lines:
                lines.append(line)
        self.write(path, "".join(f"{line}\n" for line in lines), owner=user, group=user, mode=0o600)

    # ---- files -----------------------------------------------------------------------------
    def write(
        self,
        path: str,
        content: str,
        owner: str = "root",
        group: str = "root",
        mode: int = 0o644,
        append: bool = False,
    ) -> None:
        """Write a file as root does (cloud-init, the hypervisor's image)."""
        path = posixpath.normpath(path)
        old = self.files.get(path)
        if append and old is not None:
            old.content += content
            return
        self.files[path] = File(content, owner, group, mode)
        self._make_parents(path)

    def _make_parents(self, path: str) -> None:
        parent = posixpath.dirname(path)
        while parent and parent not in self.dirs:
            self.dirs.add(parent)
            parent = posixpath.dirname(parent)

    def may(self, user: str, path: str, want: int) -> bool:
        """May ``user`` read (4) or write (2) ``path``? root may do anything."""
        if user == "root":
            return True
        found = self.files.get(path)
        who = self.users.get(user)
        if found is None or who is None:
            return False
        if found.owner == user:
            return bool(found.mode >> 6 & want)
        if found.group in who.groups or found.group == user:
            return bool(found.mode >> 3 & want)
        return bool(found.mode & want)

    def may_write_in(self, user: str, directory: str) -> bool:
        if user == "root":
            return True
        who = self.users.get(user)
        if directory == "/tmp" or directory.startswith("/tmp/"):
            return True
        return who is not None and (directory == who.home or directory.startswith(who.home + "/"))

    def read_as(self, user: str, path: str) -> str:
        """The content ``cat`` shows: FileNotFoundError, IsADirectoryError, AccessDenied."""
        path = posixpath.normpath(path)
        dynamic = self._dynamic(path)
        if dynamic is not None:
            return dynamic
        if path in self.dirs:
            raise IsADirectoryError(path)
        if path not in self.files:
            raise FileNotFoundError(path)
        if not self.may(user, path, 4):
            raise AccessDenied(path)
        return self.files[path].content

    def write_as(self, user: str, path: str, content: str, append: bool = False) -> None:
        """A shell redirection (``> file``, ``>> file``) by ``user``."""
        path = posixpath.normpath(path)
        if path in self.dirs:
            raise IsADirectoryError(path)
        if posixpath.dirname(path) not in self.dirs:
            raise FileNotFoundError(path)
        if path in self.files:
            if not self.may(user, path, 2):
                raise AccessDenied(path)
            if append:
                self.files[path].content += content
            else:
                self.files[path].content = content
            return
        if not self.may_write_in(user, posixpath.dirname(path)):
            raise AccessDenied(path)
        self.files[path] = File(
            content, user, user if user != "root" else "root", 0o664 if user != "root" else 0o644
        )

    def listing(self, directory: str) -> list[str]:
        directory = posixpath.normpath(directory)
        names = {
            p[len(directory.rstrip("/")) + 1 :].split("/")[0]
            for p in [*self.files, *self.dirs]
            if p != directory and p.startswith(directory.rstrip("/") + "/")
        }
        return sorted(n for n in names if n)

    def _dynamic(self, path: str) -> str | None:
        """Files the kernel or the system makes up when read."""
        if path == "/etc/passwd":
            return "".join(
                f"{u.name}:x:{u.uid}:{u.gid}:{u.gecos or (u.name if u.uid else 'root')}"
                f":{u.home}:{u.shell}\n"
                for u in sorted(self.users.values(), key=lambda u: u.uid)
            )
        if path == "/proc/cpuinfo":
            return "".join(
                f"processor\t: {n}\nvendor_id\t: GenuineIntel\nmodel name\t: "
                "Intel Xeon Processor (Skylake, IBRS)\ncpu MHz\t\t: 2294.608\n"
                f"cpu cores\t: {self.vcpus}\n\n"
                for n in range(self.vcpus)
            )
        if path == "/proc/meminfo":
            total, _, free, _, cache, available = self.memory()
            return (
                f"MemTotal:       {total * 1024:>8} kB\nMemFree:        {free * 1024:>8} kB\n"
                f"MemAvailable:   {available * 1024:>8} kB\nCached:         "
                f"{cache * 1024:>8} kB\n"
            )
        return None

    # ---- figures ---------------------------------------------------------------------------
    def memory(self) -> tuple[int, int, int, int, int, int]:
        """``free -m``'s Mem: line: total, used, free, shared, buff/cache, available (MiB).
        The kernel keeps about 64 MiB plus 2% of RAM for itself (its code, page tables,
        the crash kernel), so the total is a little under the flavor's RAM."""
        total = self.memory_mb - (64 + self.memory_mb * 2 // 100)
        used = min(total // 2, self.profile.boot_overhead_mb + 6 * self.vcpus)
        cache = min(total // 4, 40 + self.memory_mb * 5 // 100)
        shared = 1
        free = total - used - cache
        available = free + cache * 9 // 10
        return total, used, free, shared, cache, available

    def root_disk(self) -> tuple[float, float]:
        """(size, used) of ``/`` in GiB: the flavor's disk less ext4's own ~3% (a flavor
        with disk 0 boots on a disk the image's size)."""
        size = (
            self.disk_gb * 0.97
            if self.disk_gb
            else (2.2 if self.profile.distro == "ubuntu" else 0.11)
        )
        return size, min(size, self.profile.root_used_gb)

    # ---- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """What ``asdict`` gives (the keys in field order), with the profile by its name and
        the directories sorted -- made field by field: ``asdict`` deep-copies each value of
        every file and user, and cost more than writing the JSON (a guest is saved twice
        per boot)."""
        data = {name: getattr(self, name) for name in _SYSTEM_FIELDS}
        data["profile"] = self.profile.distro
        data["users"] = {name: _record(user, _USER_FIELDS) for name, user in self.users.items()}
        data["files"] = {path: _record(file, _FILE_FIELDS) for path, file in self.files.items()}
        data["dirs"] = sorted(self.dirs)
        data["packages"] = list(self.packages)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], profile: Profile) -> GuestSystem:
        system = cls(profile=profile, default_user=data["default_user"])
        system.hostname, system.fqdn = data.get("hostname", ""), data.get("fqdn", "")
        system.users = {k: User(**v) for k, v in data.get("users", {}).items()}
        system.files = {k: File(**v) for k, v in data.get("files", {}).items()}
        system.dirs = set(data.get("dirs", BASE_DIRS))
        system.packages = list(data.get("packages", []))
        system.instance_id = data.get("instance_id", "")
        system.datasource = data.get("datasource", "")
        system.vcpus = int(data.get("vcpus", 1))
        system.memory_mb = int(data.get("memory_mb", 512))
        system.disk_gb = int(data.get("disk_gb", 1))
        return system


_SYSTEM_FIELDS = tuple(f.name for f in fields(GuestSystem))
_USER_FIELDS = tuple(f.name for f in fields(User))
_FILE_FIELDS = tuple(f.name for f in fields(File))


def _record(item: User | File, names: tuple[str, ...]) -> dict[str, Any]:
    """A user or a file as ``asdict`` gives it: its lists copied, its other values (text,
    numbers, flags) as they are."""
    record = {name: getattr(item, name) for name in names}
    for name, value in record.items():
        if isinstance(value, list):
            record[name] = list(value)
    return record


def human_size(gib: float) -> str:
    """``df -h``'s rounding: up, one decimal below 10, whole units above."""
    for unit, scale in (("T", 1024.0), ("G", 1.0), ("M", 1 / 1024), ("K", 1 / 1024 / 1024)):
        value = gib / scale
        if value >= 1 or unit == "K":
            if value < 10:
                return f"{math.ceil(value * 10) / 10:.1f}{unit}"
            return f"{math.ceil(value)}{unit}"
    return "0"
