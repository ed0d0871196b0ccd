"""The sim's process: ``python -m labkit.sim serve --state-dir DIR``.

Started in the background by ``labkit sim up`` (and ``lab.ensure()``), which writes
``sim-config.json`` into the state folder first. Runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from labkit.sim.core.config import SimConfig


def _skip_slow_optional_imports() -> None:
    """jsonschema imports rfc3987_syntax when it is installed (Jupyter pulls it in), and that
    builds a parser grammar for over a second. The sim checks no URI formats, so it blocks
    the import in its own process: jsonschema then simply leaves that format unchecked."""
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def serve(state_dir: Path) -> None:
    _skip_slow_optional_imports()
    import uvicorn

    from labkit.sim.sim import Sim

    config = SimConfig.load(state_dir)
    sim = Sim(config)
    sim.runtime.logger("sim").info("sim %s listening on %s", config.env_name, config.base_url)
    uvicorn.run(
        sim.app,
        host=config.bind,
        port=config.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        http="httptools",
        loop="uvloop",
        timeout_keep_alive=30,
        proxy_headers=False,
        server_header=False,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.sim")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="run the sim in the foreground")
    run.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.command == "serve":
        serve(args.state_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
