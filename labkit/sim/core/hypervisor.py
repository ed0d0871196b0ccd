"""What a compute service asks of its host's hypervisor: run this guest, power it, read its
console -- the part of libvirt that Nova's libvirt driver uses.

Nova's compute manager never runs a guest itself: its virt driver defines a libvirt domain
(the flavor's CPUs and memory, a disk from the image, a tap device per port, the config
drive if asked for), starts it, and later reads ``console.log`` from the instance folder.
:class:`Hypervisors` is that boundary in the sim. The rooms hold it through
:class:`~labkit.sim.core.service.RoomContext`; :mod:`labkit.sim.guests` implements it with
guests that boot, run cloud-init against the metadata service and answer SSH.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class GuestNic:
    """One NIC of a guest: a Neutron port plugged on the compute host."""

    port_id: str
    network_id: str
    mac: str
    address: str
    cidr: str  # the subnet's, for ``ip addr`` inside the guest
    gateway: str | None = None
    mtu: int = 1500


@dataclass(frozen=True)
class GuestSpec:
    """A libvirt domain as Nova's driver defines it, plus what the image tells the guest OS."""

    uuid: str
    name: str  # the server's display name
    hostname: str  # the instance's hostname (the name, sanitised as Nova does)
    host: str  # the compute host it runs on
    project_id: str
    image_name: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    nics: tuple[GuestNic, ...] = ()
    image_properties: dict[str, str] = field(default_factory=dict)  # os_distro, os_admin_user
    # The config drive's files (path -> content) when the server asked for one, else None:
    # the guest's cloud-init then reads it instead of the metadata service.
    config_drive: dict[str, bytes] | None = None


class GuestNotFound(LookupError):
    """The hypervisor has no domain for that instance (libvirt's VIR_ERR_NO_DOMAIN)."""


class Hypervisors(Protocol):
    """Every compute host's hypervisor (``qemu:///system`` on that host)."""

    def spawn(self, spec: GuestSpec) -> None:
        """Define and start the domain; the guest boots in the background from here."""

    def power_off(self, uuid: str) -> None: ...

    def power_on(self, uuid: str) -> None:
        """Start a stopped guest again (a boot: cloud-init runs, keys already in place)."""

    def reboot(self, uuid: str, hard: bool = False) -> None: ...

    def destroy(self, uuid: str) -> None:
        """Stop the guest and undefine its domain (``terminate_instance``)."""

    def console(self, uuid: str) -> list[str]:
        """The serial console log so far (``console.log`` in the instance folder)."""
        ...
