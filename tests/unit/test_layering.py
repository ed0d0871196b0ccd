"""The sim's layering, checked on the source: the core imports nothing above it, rooms never
import each other, and no two modules of labkit.sim import each other (not even under
TYPE_CHECKING) -- the cycles the core reshape removed stay removed."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

from labkit.sim.rooms import ROOMS

SIM = Path(__file__).resolve().parents[2] / "labkit" / "sim"


def _module(path: Path) -> str:
    parts = path.relative_to(SIM.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every labkit module a file imports, at any level (TYPE_CHECKING blocks included)."""
    found: set[str] = set()
    package = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("labkit")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            if base.startswith("labkit"):
                found.add(base)
                # "from labkit.sim.core import context" imports the module core.context
                found |= {f"{base}.{a.name}" for a in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    return {_module(p): _imports(p) for p in SIM.rglob("*.py")}


def test_the_core_imports_nothing_above_it() -> None:
    for module, imports in _graph().items():
        if module.startswith("labkit.sim.core"):
            above = {i for i in imports if not i.startswith("labkit.sim.core")}
            above -= {"labkit.sim"}  # "from labkit.sim.core import x" names the parent too
            assert not above, f"{module} imports {sorted(above)}"


def test_rooms_never_import_each_other() -> None:
    rooms = {f"labkit.sim.{r.name}" for r in ROOMS}
    for module, imports in _graph().items():
        mine = next((r for r in rooms if module == r or module.startswith(r + ".")), None)
        if mine is None:
            continue
        others = {i for i in imports for r in rooms - {mine} if i == r or i.startswith(r + ".")}
        assert not others, f"{module} imports {sorted(others)}"


def test_no_import_cycles_in_the_sim() -> None:
    graph = nx.DiGraph()
    modules = _graph()
    for module, imports in modules.items():
        for target in imports:
            # "from labkit.sim.keystone import models" imports the module, not the package's
            # own code: count the edge to the package only when nothing below it was named.
            named_below = any(i.startswith(target + ".") and i in modules for i in imports)
            if target in modules and target != module and not named_below:
                graph.add_edge(module, target)
    cycles = [c for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert not cycles, f"import cycles: {[sorted(c) for c in cycles]}"
