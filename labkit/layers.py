"""The lab's layer map: the seed talk's "seven-layer dip" of a minimal OpenStack, as data.

Each layer rests on the ones below it and is taught by one notebook. Diagrams
(:mod:`labkit.diagrams`), ``lab.explain`` (which layer an error comes from) and the
notebooks all read this one table, so they cannot disagree.

The "beyond" layers are what notebook 08 adds to the picture: useful, but not part of a
minimal cloud ("you can layer them in later").

Introduced in notebooks/00-welcome.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit.errors import RegistryMiss
from labkit.sim.rooms import ROOMS


@dataclass(frozen=True)
class Port:
    number: int
    service: str
    protocol: str = "tcp"

    def __str__(self) -> str:
        suffix = "" if self.protocol == "tcp" else f"/{self.protocol}"
        return f"{self.number}{suffix} {self.service}"


@dataclass(frozen=True)
class Layer:
    key: str  # what errors, installers and diagrams call it
    number: int  # 1 = the bottom of the dip; 0 = the lab itself; 9 = beyond
    title: str
    summary: str  # one line a learner reads on the map
    notebook: str  # the notebook that teaches it
    services: tuple[str, ...] = ()
    ports: tuple[Port, ...] = ()
    install_layers: tuple[str, ...] = ()  # labkit.install registry names
    beyond: bool = False

    @property
    def sim_paths(self) -> tuple[str, ...]:
        """Where the sim serves this layer's APIs ("" when the sim does not emulate it yet)."""
        return tuple(room.prefix for room in ROOMS if room.layer == self.key)


def _room_install_layers(layer: str) -> tuple[str, ...]:
    """The installers of a layer the sim emulates, as its rooms list them."""
    return tuple(name for room in ROOMS if room.layer == layer for name in room.install_layers)


# The lab's own machinery sits under the map: the sim process, or SSH access to real hosts.
LAB = Layer(
    key="lab",
    number=0,
    title="The lab itself",
    summary="the sim process (or SSH to your hosts) that everything runs on",
    notebook="00-welcome",
    services=("labkit sim",),
)

LAYERS: tuple[Layer, ...] = (
    Layer(
        key="hosts",
        number=1,
        title="Hosts & network",
        summary="a controller and workers on one management network, 10.64.0.0/24",
        notebook="01-hosts",
        services=("Debian 12", "management network", "router .1"),
        ports=(Port(22, "ssh"),),
    ),
    Layer(
        key="base",
        number=2,
        title="Base services",
        summary="database, message queue, cache and time that every service relies on",
        notebook="01-hosts",
        services=("MariaDB", "RabbitMQ", "memcached", "chrony (NTP)"),
        ports=(
            Port(3306, "mariadb"),
            Port(5672, "rabbitmq"),
            Port(11211, "memcached"),
            Port(123, "ntp", "udp"),
        ),
        install_layers=("base",),
    ),
    Layer(
        key="keystone",
        number=3,
        title="Identity: Keystone",
        summary="who you are, what you may do where, and where every service lives",
        notebook="02-keystone",
        services=("keystone",),
        ports=(Port(5000, "keystone"),),
        install_layers=_room_install_layers("keystone"),
    ),
    Layer(
        key="glance",
        number=4,
        title="Images: Glance",
        summary="the disk images servers boot from, pulled over HTTP",
        notebook="03-glance",
        services=("glance-api",),
        ports=(Port(9292, "glance-api"),),
        install_layers=_room_install_layers("glance"),
    ),
    Layer(
        key="compute",
        number=5,
        title="Compute: Nova + Placement",
        summary="servers: API, conductor, scheduler, one compute per worker",
        notebook="04-nova",
        services=("nova-api", "nova-conductor", "nova-scheduler", "nova-compute", "placement-api"),
        ports=(Port(8774, "nova-api"), Port(8778, "placement"), Port(6080, "novncproxy")),
        install_layers=("placement", "nova-controller", "nova-compute"),
    ),
    Layer(
        key="networking",
        number=6,
        title="Networking & access",
        summary="a flat provider network, security groups, keypairs, metadata, ssh in",
        notebook="05-access",
        services=("neutron-server", "linuxbridge agent", "dhcp agent", "metadata agent"),
        ports=(
            Port(9696, "neutron-server"),
            Port(8775, "nova metadata"),
            Port(67, "dnsmasq dhcp", "udp"),
        ),
        install_layers=("networking",),
    ),
    Layer(
        key="projects",
        number=7,
        title="Projects & quotas",
        summary="many users sharing the cloud: domains, projects, roles, quotas",
        notebook="06-projects-quotas",
        services=("keystone", "nova quotas"),
    ),
)

BEYOND: tuple[Layer, ...] = tuple(
    Layer(
        key=key,
        number=9,
        title=title,
        summary=summary,
        notebook="08-beyond",
        services=(service,),
        beyond=True,
    )
    for key, title, service, summary in (
        (
            "neutron-selfservice",
            "Self-service networks",
            "neutron l3",
            "projects make their own networks and routers",
        ),
        ("cinder", "Block storage", "cinder", "volumes that outlive servers"),
        ("swift", "Object storage", "swift", "objects of any size over HTTP"),
        ("horizon", "Dashboard", "horizon", "a web UI over the same APIs"),
        ("heat", "Orchestration", "heat", "stacks of resources from a template"),
        ("designate", "DNS", "designate", "DNS records for servers"),
        ("ironic", "Bare metal", "ironic", "whole machines as servers"),
        ("magnum", "Containers", "magnum", "Kubernetes clusters on demand"),
    )
)

# The seed's "My First OpenStack" recipe, and the Install Guide's minimum per role. The same
# figures drive labkit.hosts.preflight for real hosts.
SEED_REQUIREMENTS: dict[str, float] = {"cpus": 1, "ram_gb": 8.0, "disk_gb": 250.0}
SEED_NETWORK = "1 Gbps"
GUIDE_MINIMUM = {
    "controller": {"cpus": 1, "ram_gb": 4.0, "disk_gb": 5.0},
    "worker": {"cpus": 1, "ram_gb": 2.0, "disk_gb": 10.0},
}


def all_layers(beyond: bool = False, lab: bool = False) -> tuple[Layer, ...]:
    """The seven layers bottom up (plus the lab under them and the beyond layers above)."""
    return ((LAB,) if lab else ()) + LAYERS + (BEYOND if beyond else ())


def get(key: str) -> Layer:
    for layer in all_layers(beyond=True, lab=True):
        if layer.key == key:
            return layer
    raise RegistryMiss("layer", key, [x.key for x in all_layers(beyond=True, lab=True)])


def for_install_layer(name: str) -> Layer | None:
    """The map layer an installer (``labkit.install`` name) belongs to."""
    for layer in LAYERS:
        if name in layer.install_layers:
            return layer
    return None


# Names other parts of labkit use for where an error comes from (LabkitError.layer).
_ALIASES = {
    "sim": "lab",
    "labkit": "lab",
    "identity": "keystone",
    "image": "glance",
    "nova": "compute",
    "placement": "compute",
    "neutron": "networking",
}


def find(name: str) -> Layer | None:
    """A layer by key, alias (``sim``, ``nova`` ...) or installer name; None if unknown."""
    key = _ALIASES.get(name, name)
    for layer in all_layers(beyond=True, lab=True):
        if layer.key == key:
            return layer
    return for_install_layer(name)


@dataclass(frozen=True)
class Notebook:
    name: str  # file stem, e.g. "02-keystone"
    title: str
    teaches: str
    shows: str
    layer: str  # the map layer it builds or is about


NOTEBOOKS: tuple[Notebook, ...] = (
    Notebook(
        "00-welcome",
        "Welcome",
        "the map: layers, what minimal means, using the lab",
        "the layer map, the env in use",
        "lab",
    ),
    Notebook(
        "01-hosts",
        "Hosts",
        "hosts, requirements, topology, base services",
        "live topology, requirements table",
        "base",
    ),
    Notebook(
        "02-keystone",
        "Keystone",
        "install, tokens taken apart, catalog, scoping, roles",
        "token anatomy, catalog map",
        "keystone",
    ),
    Notebook(
        "03-glance",
        "Glance",
        "an image pulled over HTTP; checksums; where bytes land",
        "image status timeline",
        "glance",
    ),
    Notebook(
        "04-nova",
        "Nova",
        "boot a server: API, conductor, scheduler, compute",
        "sequence diagram from the trace",
        "compute",
    ),
    Notebook(
        "05-access",
        "Access",
        "network, security groups, keypairs, metadata, ssh in",
        "topology with the guest",
        "networking",
    ),
    Notebook(
        "06-projects-quotas",
        "Projects & quotas",
        "domains, projects, roles, quotas",
        "quotas per project",
        "projects",
    ),
    Notebook(
        "07-scale-out",
        "Scale out",
        "add a worker; placement spreads servers",
        "topology growing",
        "compute",
    ),
    Notebook(
        "08-beyond",
        "Beyond",
        "the layers to add later and what each adds",
        "the layer map, grown",
        "neutron-selfservice",
    ),
    Notebook("99-cleanup", "Clean up", "delete what the lab made", "before / after", "lab"),
)
