"""Distro profiles: what differs between distributions, as data.

Plans name packages and services the way the reference distribution does (Debian 12 with
its Zed packages, the only one tested). A profile maps those names to another
distribution's and says how to see that a service really runs: init scripts return at once
and some leave the old daemon running (``real-install-notes.md`` pitfall 17), so labkit
checks the process, not the script's exit code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labkit.errors import RegistryMiss


@dataclass(frozen=True)
class Profile:
    name: str
    os_id: str
    version_id: str
    # package renames (plan name -> this distro's names); absent = same name
    packages: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # service -> `pgrep -f` pattern of its main process
    processes: dict[str, str] = field(default_factory=dict)
    apt_options: tuple[str, ...] = ("--no-install-recommends",)
    # Extra packages a host WITHOUT an init system needs next to a plan's package (init
    # scripts its systemd units would otherwise replace), plan name -> extras.
    sysv_packages: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def package_names(self, names: tuple[str, ...]) -> list[str]:
        out: list[str] = []
        for name in names:
            out += list(self.packages.get(name, (name,)))
        return out

    def sysv_extras(self, names: tuple[str, ...]) -> list[str]:
        return [extra for name in names for extra in self.sysv_packages.get(name, ())]


DEBIAN_12_ZED = Profile(
    name="debian-12-zed",
    os_id="debian",
    version_id="12",
    processes={
        "chrony": "chronyd",
        "mariadb": "mariadbd",
        "rabbitmq-server": "beam.smp.*rabbit",
        "memcached": "memcached",
        "keystone": "keystone-uwsgi.ini",
        "glance-api": "bin/glance-api",
        "placement-api": "placement-api-uwsgi.ini",
        "nova-api": "nova-api-uwsgi.ini",
        "nova-api-metadata": "nova-api-metadata-uwsgi.ini",
        "nova-scheduler": "bin/nova-scheduler",
        "nova-conductor": "bin/nova-conductor",
        "nova-compute": "bin/nova-compute",
        "dbus": "dbus-daemon --system",
        "virtlogd": "/usr/sbin/virtlogd",
        "libvirtd": "/usr/sbin/libvirtd",
        "neutron-api": "neutron-api-uwsgi.ini",
        "neutron-rpc-server": "bin/neutron-rpc-server",
        "neutron-linuxbridge-agent": "bin/neutron-linuxbridge-agent",
        "neutron-dhcp-agent": "bin/neutron-dhcp-agent",
        "neutron-metadata-agent": "bin/neutron-metadata-agent",
        "apache2": "/usr/sbin/apache2",  # the dashboard (horizon layer)
    },
    # Debian's neutron-linuxbridge-agent does not depend on iptables (only the DHCP agent
    # does): on a worker installed without recommends the agent dies at start with
    # FileNotFoundError (its firewall driver runs iptables-save).
    packages={"neutron-linuxbridge-agent": ("neutron-linuxbridge-agent", "iptables")},
    # bookworm's libvirt-daemon-system pulls its systemd units; without systemd (local lab
    # hosts) the init scripts of libvirtd and virtlogd come in this package.
    sysv_packages={"libvirt-daemon-system": ("libvirt-daemon-system-sysv",)},
)

PROFILES = {p.name: p for p in (DEBIAN_12_ZED,)}


def get(name: str) -> Profile:
    if name not in PROFILES:
        raise RegistryMiss("distro profile", name, list(PROFILES))
    return PROFILES[name]
