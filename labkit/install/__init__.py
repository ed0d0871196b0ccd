"""Installers, one module per layer: ``plan(ctx) -> steps``, applied by a runner.

Layers build on each other (``REQUIRES``). :func:`layers_up_to` gives the order in which
``lab.ensure("glance")`` installs everything below Glance first.
"""

from __future__ import annotations

from types import ModuleType

from labkit.errors import RegistryMiss
from labkit.install import base, keystone

_REGISTRY: dict[str, ModuleType] = {}


def register(name: str, module: ModuleType) -> None:
    _REGISTRY[name] = module


def get(name: str) -> ModuleType:
    if name not in _REGISTRY:
        raise RegistryMiss("install layer", name, list(_REGISTRY))
    return _REGISTRY[name]


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


register("base", base)
register("keystone", keystone)
