"""Write the README's pictures into the top-level ``diagrams/`` folder.

    python -m labkit.diagrams.build [--out diagrams]

The pictures come from the same builders the notebooks use, so the README cannot drift from
the lab: the notebook arc, the layer map and the sim env's topology.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from labkit.diagrams import Diagram, graphs

REPO = Path(__file__).resolve().parents[2]


def pictures() -> dict[str, Diagram]:
    from labkit.envs import load_env

    env = load_env(REPO / "envs" / "sim.yaml")
    return {
        "notebook-arc.png": Diagram(graphs.notebook_arc()),
        "layers.png": Diagram(graphs.layers()),
        "topology.png": Diagram(graphs.topology(graphs.state_from_env(env))),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m labkit.diagrams.build", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=REPO / "diagrams")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, diagram in pictures().items():
        path = diagram.save(args.out / name)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
