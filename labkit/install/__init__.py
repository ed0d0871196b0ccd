"""Installers, one module per layer: ``plan(ctx) -> steps``, applied by a runner.

Layers build on each other (``REQUIRES``). :func:`layers_up_to` gives the order in which
``lab.ensure("glance")`` installs everything below Glance first. Layer modules are
registered by import path and imported on first use: the sim process imports
``labkit.install.steps`` and should not pay for every plan (and pydantic) at start.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from labkit.errors import RegistryMiss

_REGISTRY: dict[str, str] = {}


def register(name: str, module_path: str) -> None:
    """Add a layer: ``register("glance", "labkit.install.glance")``."""
    _REGISTRY[name] = module_path


def get(name: str) -> ModuleType:
    if name not in _REGISTRY:
        raise RegistryMiss("install layer", name, list(_REGISTRY))
    return importlib.import_module(_REGISTRY[name])


def names() -> list[str]:
    return list(_REGISTRY)


def layers_up_to(name: str) -> list[str]:
    """``name`` and everything it requires, requirements first."""
    order: list[str] = []

    def visit(layer: str) -> None:
        for dep in get(layer).REQUIRES:
            visit(dep)
        if layer not in order:
            order.append(layer)

    visit(name)
    return order


def _register_layers() -> None:
    """The hosts' own layer, then each room's layers in the order the sim builds them."""
    from labkit.sim.rooms import ROOMS  # plain data: no server code is imported

    register("base", "labkit.install.base")
    for room in ROOMS:
        for layer in room.install_layers:
            register(layer, f"labkit.install.{layer.replace('-', '_')}")
    # Section 7: the dashboard, on top of every service it shows (not a room of the sim:
    # the real Horizon runs next to it).
    register("horizon", "labkit.install.horizon")


_register_layers()
