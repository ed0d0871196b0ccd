"""``labkit horizon up|down|status``: the sim's dashboard from a terminal.

``up`` installs the ``horizon`` layer (and what it needs) and starts the real Horizon on
loopback; ``down`` stops it (``labkit sim down`` does too); ``status`` prints its URL.
"""

from __future__ import annotations

import argparse
import os
from typing import Any


def _lab(args: argparse.Namespace) -> Any:
    from labkit.cli import _sim_lab

    return _sim_lab(args)


def cmd_up(args: argparse.Namespace) -> int:
    if args.horizon_port:
        os.environ["LABKIT_HORIZON_PORT"] = str(args.horizon_port)
    lab = _lab(args)
    lab.ensure("horizon")
    return cmd_status(args)


def cmd_down(args: argparse.Namespace) -> int:
    from labkit.horizon import server

    lab = _lab(args)
    print("dashboard stopped" if server.stop(lab.paths.root) else "no dashboard was running")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from labkit.horizon import server

    lab = _lab(args)
    handle = server.running(lab.paths.root)
    if handle is None:
        print("no dashboard is running (start it with `labkit horizon up`)")
        return 3
    print(f"dashboard: {handle.url} (pid {handle.pid}; log {server.log_path(lab.paths.root)})")
    return 0


def status_line(state_dir: Any) -> str | None:
    """The line ``labkit sim status`` adds when the dashboard runs."""
    from labkit.horizon import server

    handle = server.running(state_dir)
    return f"  dashboard: {handle.url}" if handle else None


def register(subparsers: Any) -> None:
    horizon = subparsers.add_parser(
        "horizon", help="the dashboard (the real Horizon) next to the sim"
    ).add_subparsers(dest="horizon_command", required=True)
    up = horizon.add_parser("up", help="install the horizon layer and start the dashboard")
    up.add_argument(
        "--port", dest="horizon_port", type=int, help="loopback port (LABKIT_HORIZON_PORT, 8080)"
    )
    up.set_defaults(func=cmd_up)
    horizon.add_parser("down", help="stop the dashboard").set_defaults(func=cmd_down)
    horizon.add_parser("status", help="is it up, where").set_defaults(func=cmd_status)
    for p in horizon.choices.values():
        p.add_argument("--env", default=None, help="env name or file (default: sim)")
