"""The shapes of notebook 08's data: a later layer, the processes it brings, a guide page.

Introduced in notebooks/08-beyond.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit.layers import Port

DOCS = "https://docs.openstack.org"
RELEASE = "zed"  # what Debian 12 packages, and what the sim imitates


def install_guide(project: str, page: str = "") -> str:
    """``https://docs.openstack.org/<project>/zed/install/<page>``: a Zed Install Guide page."""
    return f"{DOCS}/{project}/{RELEASE}/install/{page}"


@dataclass(frozen=True)
class Link:
    title: str
    url: str

    def __str__(self) -> str:
        return f"{self.title}: {self.url}"


@dataclass(frozen=True)
class Process:
    """One process a layer brings, named by the Debian package (and init script) that runs it."""

    name: str
    where: str  # "controller", "every worker", "storage node", "in each guest" ...
    does: str


@dataclass(frozen=True)
class LaterLayer:
    key: str  # labkit.layers.BEYOND's key where the small map has one
    name: str  # the project(s): "Cinder"
    title: str  # what it is, in lower case but for acronyms: "block storage", "DNS"
    group: str  # the notebook section (GROUPS)
    seed_layer: int  # 2, 3 or 4 on the seed's picture (SEED_LAYERS)
    summary: str  # one line for tables
    adds: str  # what the cloud can do with it
    seed_says: str  # the seed talk's line about it
    processes: tuple[Process, ...]
    catalog_types: tuple[str, ...]  # as the Zed guide registers them; () when none
    guide: Link  # the Zed Install Guide's entry page
    changes: tuple[str, ...]  # what would change in this lab
    needs: tuple[str, ...]  # layers it builds on: minimal keys (labkit.layers) or later keys
    ports: tuple[Port, ...] = ()
    pages: tuple[Link, ...] = ()  # further pages of the guide
    catalog_note: str = ""  # why there is no type, or what the types mean

    @property
    def label(self) -> str:
        return f"{self.name}: {self.title}"

    def where(self) -> dict[str, list[str]]:
        """Process names by host, in the order they are listed."""
        hosts: dict[str, list[str]] = {}
        for process in self.processes:
            hosts.setdefault(process.where, []).append(process.name)
        return hosts

    def catalog(self) -> str:
        """``volumev3 (official type: block-storage)``; ``(none: a client of the catalog ...)``."""
        types = ", ".join(self.catalog_types) or "none"
        if not self.catalog_note:
            return types
        return (
            f"{types} ({self.catalog_note})" if self.catalog_types else f"none: {self.catalog_note}"
        )

    def brings(self) -> str:
        """``cinder-api, cinder-scheduler (controller); cinder-volume, tgt (storage node)``."""
        return "; ".join(f"{', '.join(names)} ({host})" for host, names in self.where().items())


SEED_LAYERS: dict[int, str] = {
    1: "Base compute infrastructure",
    2: "Extended infrastructure",
    3: "Optional enhancements",
    4: "Consumption services",
}

GROUPS: dict[str, str] = {
    "networking": "Networking beyond one flat network",
    "storage": "Storage that outlives a server",
    "faces": "Ways in: a dashboard and templates",
    "compute": "More to run: bare metal, Kubernetes, databases",
    "operations": "Secrets and measurements",
}

# How the map names the minimal layers a later layer builds on.
MINIMAL_NAMES = {
    "hosts": "hosts",
    "base": "base services",
    "keystone": "Keystone",
    "glance": "Glance",
    "compute": "Nova",
    "networking": "Neutron",
    "projects": "projects",
}
