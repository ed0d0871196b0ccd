"""The sim's process: ``python -m labkit.sim serve --state-dir DIR``.

Started in the background by ``labkit sim up`` (and ``lab.ensure()``), which writes
``sim-config.json`` into the state folder first. Runs until SIGTERM or Ctrl-C, or until the
file :func:`stop_request` names appears -- the way to ask for a clean stop where there are no
signals to send (Windows, or ``LABKIT_PORTABLE=1``; see :mod:`labkit.portable`).

Besides the HTTP port it opens the lab's gateway into the guests (:mod:`labkit.sim.gateway`,
recorded in ``gateway.json``) -- here, not when a :class:`~labkit.sim.sim.Sim` is built, so a
sim made inside a test opens no socket.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from labkit import portable
from labkit.sim.core.config import SimConfig
from labkit.sim.gateway import Gateway
from labkit.sim.nc import GATEWAY_FILE

if TYPE_CHECKING:
    import uvicorn

    from labkit.sim.sim import Sim

STOP_POLL_S = 0.2
STARTUP_FAILURE = 3  # uvicorn's own exit status when the server never started


def stop_request(state_dir: Path) -> Path:
    """The file whose appearance asks the sim of ``state_dir`` to shut down cleanly."""
    return state_dir / ".sim.stop"


def _skip_slow_optional_imports() -> None:
    """jsonschema imports rfc3987_syntax when it is installed (Jupyter pulls it in), and that
    builds a parser grammar for over a second. The sim checks no URI formats, so it blocks
    the import in its own process: jsonschema then simply leaves that format unchecked."""
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def _exit_when_asked(server: uvicorn.Server, request: Path, log: logging.Logger) -> None:
    """Poll for the stop request; uvicorn's main loop notices ``should_exit`` and shuts down
    as it does on SIGTERM (lifespan shutdown included)."""
    while not server.should_exit:
        if request.exists():
            log.info("stop requested (%s): shutting down", request.name)
            request.unlink(missing_ok=True)
            server.should_exit = True
            return
        time.sleep(STOP_POLL_S)


def serve(state_dir: Path) -> int:
    _skip_slow_optional_imports()
    import uvicorn

    from labkit.sim.sim import Sim

    config = SimConfig.load(state_dir)
    request = stop_request(state_dir)
    request.unlink(missing_ok=True)  # left by a sim that was killed before it saw it
    sim = Sim(config)
    log = sim.runtime.logger("sim")
    log.info("sim %s listening on %s", config.env_name, config.base_url)
    gateway = _open_gateway(sim, log)
    log.info("%s", portable.summary())
    server = uvicorn.Server(
        uvicorn.Config(
            sim.app,
            host=config.bind,
            port=config.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            http=portable.http_parser(),
            loop=portable.event_loop(),
            timeout_keep_alive=30,
            proxy_headers=False,
            server_header=False,
        )
    )
    threading.Thread(
        target=_exit_when_asked, args=(server, request, log), name="stop-request", daemon=True
    ).start()
    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C in a foreground `serve`
            server.run()
    finally:
        gateway.stop()
        (state_dir / GATEWAY_FILE).unlink(missing_ok=True)
    return 0 if server.started else STARTUP_FAILURE


def _open_gateway(sim: Sim, log: logging.Logger) -> Gateway:
    """Listen for the learner's connections into the guests (as the router at the env's
    management gateway), record the port in ``gateway.json`` and show it in ``/_sim/wire``."""
    from labkit.sim.control.api import ControlApp

    config = sim.config
    gateway = Gateway(sim.wire, config.network_gateway, config.network_cidr, log, config.bind)
    gateway.start()
    gateway.record(config.state_dir)
    found = sim.app.route(ControlApp.prefix)
    if found is not None and isinstance(found[0], ControlApp):
        found[0].attach_gateway(gateway)
    return gateway


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.sim")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="run the sim in the foreground")
    run.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.command == "serve":
        return serve(args.state_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
