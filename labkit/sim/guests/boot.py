"""A guest's boot as its serial console shows it: the kernel, systemd, the login prompt.

The console is what ``openstack console log show`` prints: libvirt sends the guest's first
serial port (``console=ttyS0`` on the kernel command line) to ``console.log`` in the
instance's folder, and keeps appending across reboots. Lines carry the guest's *uptime*
(``[    2.345678]``, seconds since power-on); services started by systemd log as
``name[pid]: ...``; cloud-init's ``logger`` calls show syslog's ``<14>May 10 10:00:00 tag:``.

:class:`BootClock` is the guest's sense of time. Its uptime moves in simulated steps (a
kernel takes about two seconds, a metadata request that times out ten), whatever the sim's
pace: the pace decides how long the learner waits, not what the guest prints. Wall-clock
dates are the sim's time at power-on plus the uptime, so a deterministic sim prints the same
dates on every run.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta

from labkit.sim.guests.profiles import Profile

MAX_CONSOLE_BYTES = 100 * 1024  # Nova's libvirt driver returns the last 100 KiB


class BootClock:
    """Uptime since power-on (simulated seconds) and the wall clock it maps to."""

    def __init__(self, powered_on_at: datetime, jitter_seed: str) -> None:
        self.powered_on_at = powered_on_at
        self.uptime = 0.0
        digest = hashlib.sha256(jitter_seed.encode()).digest()
        self._jitter = [b / 255 for b in digest]
        self._next = 0

    def jitter(self, scale: float) -> float:
        """A small, reproducible irregularity: real boots never take round times."""
        value = self._jitter[self._next % len(self._jitter)] * scale
        self._next += 1
        return value

    def advance(self, seconds: float) -> None:
        self.uptime += seconds + self.jitter(seconds * 0.1)

    def now(self) -> datetime:
        return self.powered_on_at + timedelta(seconds=self.uptime)

    def stamp(self) -> str:
        """The kernel's ``[    2.345678]``."""
        return f"[{self.uptime:12.6f}]"

    def date(self) -> str:
        """cloud-init's ``Wed, 10 May 2023 10:00:00 +0000``."""
        return self.now().strftime("%a, %d %b %Y %H:%M:%S +0000")

    def syslog(self) -> str:
        """syslog's ``May 10 10:00:00`` (day padded with a space, as syslog does)."""
        moment = self.now()
        return f"{moment.strftime('%b')} {moment.day:2d} {moment.strftime('%H:%M:%S')}"


class ConsoleLog:
    """``console.log``: appended by the guest, read by Nova; the oldest lines go past
    100 KiB."""

    def __init__(self, lines: list[str] | None = None) -> None:
        self._lines: list[str] = list(lines or [])
        self._size = sum(len(line) + 1 for line in self._lines)
        self._lock = threading.Lock()

    def write(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)
            self._size += len(line) + 1
            while self._size > MAX_CONSOLE_BYTES and self._lines:
                self._size -= len(self._lines.pop(0)) + 1

    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)


def kernel_lines(
    profile: Profile, vcpus: int, memory_mb: int, disk_gb: int
) -> list[tuple[float, str]]:
    """(uptime, text) of a cloud image's kernel boot, trimmed to the lines worth reading:
    the version, the command line, Nova's SMBIOS strings, the flavor's memory and CPUs,
    and the root disk."""
    total_kb = memory_mb * 1024
    available_kb = total_kb - (64 + memory_mb * 2 // 100) * 1024
    lines: list[tuple[float, str]] = [
        (0.0, f"Linux version {profile.kernel} {profile.compiler} {profile.kernel_build}"),
        (
            0.0,
            f"Command line: BOOT_IMAGE=/boot/vmlinuz-{profile.kernel} "
            "root=LABEL=cloudimg-rootfs ro console=tty1 console=ttyS0",
        ),
        (0.0, "DMI: OpenStack Foundation OpenStack Nova, BIOS 1.16.0-debian-1.16.0-5 04/01/2014"),
        (0.0, "Hypervisor detected: KVM"),
        (0.0, f"Memory: {available_kb}K/{total_kb}K available"),
        (0.012, f"smpboot: Allowing {vcpus} CPUs, 0 hotplug CPUs"),
        (0.151, f"smp: Brought up 1 node, {vcpus} CPU{'s' if vcpus > 1 else ''}"),
        (
            0.602,
            "virtio_blk virtio2: [vda] "
            f"{max(disk_gb, 1) * 2097152} 512-byte logical blocks "
            f"({max(disk_gb, 1) * 1.07:.1f} GB/{max(disk_gb, 1)}.00 GiB)",
        ),
    ]
    lines += [
        (1.204, "EXT4-fs (vda1): mounted filesystem with ordered data mode. Opts: (null)"),
        (1.498, f"Welcome to {profile.pretty_name}!"),
    ]
    return lines


def login_banner(profile: Profile, hostname: str) -> list[str]:
    """getty on ttyS0, the last thing a finished boot prints."""
    return ["", f"{profile.pretty_name.split(' (')[0]} {hostname} ttyS0", "", f"{hostname} login: "]
