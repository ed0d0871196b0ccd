"""Beyond minimal: the layers to add after the lab's cloud, and what a production cloud does
differently -- as data, with the tables notebook 08 shows.

The seed talk ends its recipe with "but, you can layer them in later": block and object
storage, a dashboard, orchestration, DNS, bare metal ... Its picture (Sean Dague's "OpenStack
as Layers", after Dean Troyer's "seven-layer dip") stacks them in four layers. Layer 1, *base
compute infrastructure*, is what this lab builds (Keystone, Glance, Nova -- and today Placement
and Neutron, which the Zed Install Guide counts as minimal too). Every later layer here sits
in the seed's layer 2, 3 or 4 and says:

* what it adds to the cloud, and what the seed said of it;
* the processes it brings, by the Debian 12 (Zed) package that starts each, and on which host;
* its catalog service type (what ``openstack service list`` would show);
* the Zed Install Guide pages that install it (``https://docs.openstack.org/<project>/zed/
  install/``; checked against each project's ``zed-eom`` tag);
* what would change in *this* lab: hosts, disks, config files, other services.

This package lives beside :mod:`labkit.layers` (the map of the minimal lab), not under
:mod:`labkit.explain` (which maps *errors* to layers): it is the map's second half --
:mod:`.model` (the shapes), :mod:`.later` (the layers), :mod:`.production` (HA, TLS, the
deployment tools), and here the lookups and tables the notebook shows. Its keys
include every later layer :data:`labkit.layers.BEYOND` draws on the small map of notebook 00.
The sim emulates none of these layers yet (:func:`in_sim` reads :mod:`labkit.sim.rooms`).

Introduced in notebooks/08-beyond.
"""

from __future__ import annotations

from collections.abc import Iterable

from labkit.beyond.later import LATER
from labkit.beyond.model import (
    DOCS,
    GROUPS,
    MINIMAL_NAMES,
    RELEASE,
    SEED_LAYERS,
    LaterLayer,
    Link,
    Process,
    install_guide,
)
from labkit.beyond.production import (
    DEPLOYMENT_TOOLS,
    MINIMAL_GUIDE,
    PRODUCTION,
    DeploymentTool,
    ProductionPoint,
)
from labkit.display import Table
from labkit.errors import RegistryMiss
from labkit.layers import Port
from labkit.sim.rooms import ROOMS

__all__ = [
    "DEPLOYMENT_TOOLS",
    "DOCS",
    "GROUPS",
    "LATER",
    "MINIMAL_GUIDE",
    "MINIMAL_NAMES",
    "PRODUCTION",
    "RELEASE",
    "SEED_LAYERS",
    "DeploymentTool",
    "LaterLayer",
    "Link",
    "Process",
    "ProductionPoint",
    "catalog_types",
    "changes",
    "deployment_tools_table",
    "get",
    "in_sim",
    "install_guide",
    "name_of",
    "production_table",
    "select",
    "table",
]


# ---- lookups ------------------------------------------------------------------------------


def get(key: str) -> LaterLayer:
    for layer in LATER:
        if layer.key == key:
            return layer
    raise RegistryMiss("later layer", key, [x.key for x in LATER])


def select(which: str | None = None) -> tuple[LaterLayer, ...]:
    """All later layers, one group's (``"storage"``) or one layer (``"cinder"``)."""
    if which is None:
        return LATER
    if which in GROUPS:
        return tuple(layer for layer in LATER if layer.group == which)
    if any(layer.key == which for layer in LATER):
        return (get(which),)
    raise RegistryMiss("later layer or group", which, [*GROUPS, *(x.key for x in LATER)])


def name_of(key: str) -> str:
    """How the map names a layer something builds on: ``Nova``, ``Cinder``."""
    if key in MINIMAL_NAMES:
        return MINIMAL_NAMES[key]
    return get(key).name


def in_sim(key: str) -> bool:
    """Whether the sim has a room for this layer (none yet: the later layers are a map)."""
    return any(room.layer == key for room in ROOMS)


def catalog_types(layers: Iterable[LaterLayer] = LATER) -> dict[str, str]:
    """``{catalog type: layer key}`` for every type the later layers register."""
    return {kind: layer.key for layer in layers for kind in layer.catalog_types}


# ---- views --------------------------------------------------------------------------------


def table(which: str | None = None) -> Table:
    """The later layers: what each adds, the processes it brings and where, the ports they
    listen on, its catalog type and its Zed Install Guide. Introduced in notebooks/08-beyond."""
    title = GROUPS.get(which or "", "") or "Beyond minimal: the layers to add later"
    t = Table(
        [
            "layer",
            "adds",
            "brings (Debian packages)",
            "ports",
            "catalog type",
            "Install Guide (Zed)",
        ],
        title=title,
    )
    for layer in select(which):
        t.add(
            layer.label,
            layer.summary,
            layer.brings(),
            ", ".join(_port(port) for port in layer.ports),
            layer.catalog(),
            layer.guide.url,
        )
    return t


def changes(which: str) -> Table:
    """For one layer or one section's: what it adds, what the seed said of it, the processes it
    runs, and what would change in this lab, a row each. Introduced in notebooks/08-beyond."""
    title = GROUPS[which] if which in GROUPS else _title(which)
    t = Table(["layer", "", "what it is, and what would change in this lab"], title=title)
    for layer in select(which):
        t.add(layer.name, "adds", layer.adds)
        t.add("", "the seed", layer.seed_says)
        for index, process in enumerate(layer.processes):
            t.add(
                "",
                "runs" if index == 0 else "",
                f"{process.name} ({process.where}): {process.does}",
            )
        for index, change in enumerate(layer.changes):
            t.add("", "would change" if index == 0 else "", change)
    return t


def _port(port: Port) -> str:
    return f"{port.number}" if port.protocol == "tcp" else f"{port.number}/{port.protocol}"


def _title(key: str) -> str:
    layer = get(key)
    return f"{layer.name}: {layer.title}"


def production_table() -> Table:
    """The lab next to a production cloud, point by point. Introduced in notebooks/08-beyond."""
    t = Table(["", "this lab", "in production", "read"], title="A lab is not a production cloud")
    for point in PRODUCTION:
        t.add(point.topic, point.lab, point.production, point.read.url)
    return t


def deployment_tools_table() -> Table:
    """The tools that deploy OpenStack at scale. Introduced in notebooks/08-beyond."""
    t = Table(["tool", "how", "status", "docs"], title="What people deploy OpenStack with")
    for tool in DEPLOYMENT_TOOLS:
        t.add(tool.name, tool.how, tool.status, tool.docs.url)
    return t
