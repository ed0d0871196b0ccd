"""Guests: what runs inside a server once Nova has booted it.

Nova stops at the hypervisor: its libvirt driver defines a domain and starts it, and from
then on the server is a machine of its own. This package is that machine, small but real
where it matters to someone learning OpenStack:

- :mod:`.hypervisor` -- :class:`Guests`, every compute host's hypervisor (the sim's
  ``ctx.hypervisors``): spawn, power off/on, reboot, destroy, the serial console; each
  running guest puts its addresses on the wire, so security groups decide what reaches it;
- :mod:`.boot` -- the boot as the console shows it: kernel lines with the flavor's CPUs
  and memory, the guest's uptime clock, the login prompt;
- :mod:`.cloudinit` -- cloud-init: the metadata service (through the wire, so egress rules
  and the metadata proxy matter) or the config drive, the hostname, users and keys,
  ``#cloud-config`` (``users``, ``write_files``, ``runcmd``, ``packages``...), and the SSH
  host key fingerprints printed on the console -- where a careful user reads them;
- :mod:`.sshd` -- a real SSH server (asyncssh) per guest: public keys only, the keys
  cloud-init installed; a shell or one command per session;
- :mod:`.shell` -- the guest's shell: ``hostname``, ``free -m``, ``ip addr``, ``curl`` of
  the metadata service, ``ping``... with the flavor's figures;
- :mod:`.system` -- the guest's disk as data (users, files, packages); :mod:`.keys` -- the
  SSH host keys; :mod:`.profiles` -- what the image is (Ubuntu-like or CirrOS).

Everything here sits on :mod:`labkit.sim.core` only (the wire, the hypervisor protocol);
no room imports it -- Nova reaches the guests through ``ctx.hypervisors``.

LIMITATIONS: no real kernel, init system or package manager (``packages`` are recorded as
installed); the shell knows a few dozen commands and no job control, loops or functions;
SSH offers sessions only (no SFTP/scp, forwarding or agent); host keys are ECDSA and
Ed25519 (no RSA: too slow to make at every boot); DHCP is not emulated (a NIC has its
Neutron address as soon as its port is plugged); the console keeps the last 100 KiB.
"""

from labkit.sim.guests.hypervisor import Guest, Guests

__all__ = ["Guest", "Guests"]
