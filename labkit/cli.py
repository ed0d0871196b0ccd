"""``labkit``: the lab from a terminal. Same operations as the notebooks, for scripts and
instructors.

    labkit sim up|down|status|logs|reset     the embedded emulator
    labkit sim stop-service|start-service NAME [--host HOST]
    labkit horizon up|down|status [--port N]  the dashboard (the real Horizon) next to the sim
    labkit install ENV [LAYER ...]           run installers (sim or real hosts)
    labkit openrc admin|demo [--env ENV]     export lines for the openstack CLI
    labkit check ENV [ENV ...]                is the lab up and answering? (many: one table)
    labkit lab [--env ENV]                    JupyterLab on notebooks/
    labkit hosts up|down|status|trust ENV    local lab hosts (real-host tier)
    labkit ssh SERVER [-i KEY] [-l USER] [-- COMMAND ...]   log in to a server's guest
    labkit run NOTEBOOKS... --env ENV...      instructors: notebooks x labs, then a report
    labkit progress ENV                       which exercises a lab has really done
    labkit clean ENV [ENV ...] [--dry-run] [--reset]   delete what the notebooks made
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from labkit import config, install, portable
from labkit.envs import CloudEnv, SimEnv, SshEnv
from labkit.errors import LabkitError
from labkit.lab import Lab


def _state_root(args: argparse.Namespace) -> Path | None:
    raw = getattr(args, "state_dir", None)
    return Path(raw).expanduser() if raw else None


def _lab(args: argparse.Namespace) -> Lab:
    """The lab of ``--env`` with the flags given (``--state-dir``, ``sim up --port``)."""
    return Lab.from_env(
        getattr(args, "env", None) or config.default_env_name(),
        state_root=_state_root(args),
        sim_port=getattr(args, "port", None),
    )


def _sim_lab(args: argparse.Namespace) -> Lab:
    lab = _lab(args)
    if not isinstance(lab.env, SimEnv):
        raise LabkitError(
            f"{lab.env.name} is a {lab.env.kind} env; `labkit sim` needs a sim env.",
            "Use --env sim (or an env file of kind sim).",
        )
    return lab


# ---- sim ---------------------------------------------------------------------------------------


def cmd_sim_up(args: argparse.Namespace) -> int:
    lab = _sim_lab(args)
    started = time.perf_counter()
    handle = lab.up()
    layers = lab.installed_layers()
    print(
        f"sim '{handle.env_name}' is up at {handle.url} (pid {handle.pid}, "
        f"{time.perf_counter() - started:.1f} s)"
    )
    print(f"  state folder: {handle.state_dir}")
    print(f"  installed layers: {', '.join(layers) if layers else 'none yet'}")
    if "horizon" in layers:  # the dashboard runs next to the sim: bring it back too
        from labkit.install import horizon as dashboard_layer

        for line in dashboard_layer.after_install(lab.backend):
            print(f"  {line}")
    print(f"  clouds.yaml: {lab.paths.clouds_yaml}")
    if not layers:
        print(
            "  Next: open notebooks/00-welcome.ipynb (`make lab`), or install every layer "
            "now with `labkit install sim`."
        )
    print(
        f"  For the openstack CLI: export OS_CLIENT_CONFIG_FILE={lab.paths.clouds_yaml}; "
        "openstack --os-cloud lab-admin token issue"
    )
    config = lab.paths.ssh_config
    print(f"  ssh_config: {config}")
    print(
        f"  For SSH into guests: ssh -F {config} -i KEY ubuntu@ADDRESS (or `labkit ssh "
        f"SERVER`); to use plain `ssh`, add the line `Include {config}` at the top of "
        "~/.ssh/config yourself -- labkit never edits it."
    )
    return 0


def cmd_sim_down(args: argparse.Namespace) -> int:
    from labkit.horizon import server as dashboard
    from labkit.sim import process

    lab = _sim_lab(args)
    if dashboard.stop(lab.paths.root):
        print("dashboard stopped")
    print("sim stopped" if process.stop(lab.paths) else "no sim was running")
    return 0


def cmd_sim_status(args: argparse.Namespace) -> int:
    from labkit.sim import process

    lab = _sim_lab(args)
    handle = process.running(lab.paths)
    if handle is None:
        print(f"sim '{lab.env.name}' is not running (state folder {lab.paths.root})")
        return 3
    health = lab.sim.health()
    print(f"sim '{handle.env_name}' is up at {handle.url} (pid {handle.pid})")
    print(f"  state folder: {handle.state_dir}")
    print(f"  deterministic: {health['deterministic']}; sim clock: {health['sim_time']}")
    for name, state in sorted(health["services"].items()):
        print(f"  {name:<28} {state}")
    from labkit.horizon.cli import status_line

    if line := status_line(lab.paths.root):
        print(line)
    return 0


def cmd_sim_logs(args: argparse.Namespace) -> int:
    lab = _sim_lab(args)
    logs = lab.paths.logs
    if not args.service:
        names = sorted(p.stem for p in logs.glob("*.log")) if logs.is_dir() else []
        print("logs:", ", ".join(names) or "(none yet)")
        print("show one with: labkit sim logs SERVICE [-n LINES] [-f]")
        return 0
    path = logs / f"{args.service}.log"
    with contextlib.suppress(LabkitError):  # a running sim writes out what it buffered
        lab.sim.log(args.service, tail=1)
    if not path.is_file():
        raise LabkitError(f"No log {path}.", "Run `labkit sim logs` to list the logs there are.")
    if args.follow:
        os.execvp("tail", ["tail", "-n", str(args.lines), "-f", str(path)])
    lines = path.read_text(errors="replace").splitlines()
    if not lines and args.service == "sim-process":
        # The process's own stdout/stderr: empty unless it crashed. Its log is sim.log.
        own = logs / "sim.log"
        print(f"{path} is empty: the sim process printed nothing beyond its own log, so its")
        print(f"last run started and stopped cleanly. That run's log is {own}; its last lines:")
        lines = own.read_text(errors="replace").splitlines() if own.is_file() else []
    elif not lines:
        print(f"{path} is empty.")
    for line in lines[-args.lines :]:
        print(line)
    return 0


def cmd_sim_service(args: argparse.Namespace) -> int:
    lab = _sim_lab(args)
    if args.sim_command == "stop-service":
        change = lab.stop_service(args.name, args.host)
    else:
        change = lab.start_service(args.name, args.host)
    print(change)
    return 0


def cmd_sim_reset(args: argparse.Namespace) -> int:
    from labkit.sim import process

    lab = _sim_lab(args)
    was_running = process.running(lab.paths) is not None
    process.reset(lab.paths)
    print(f"sim state wiped ({lab.paths.root})")
    if was_running:
        handle = lab.up()
        print(f"sim restarted at {handle.url} with a fresh state")
    return 0


# ---- install, openrc, check ----------------------------------------------------------------


def cmd_install(args: argparse.Namespace) -> int:
    lab = _lab(args)
    if isinstance(lab.env, CloudEnv):
        print(f"{lab.env.name} is an existing cloud: nothing to install.")
        return 0
    order = lab.install_order(*(args.layers or install.names()))
    for layer in order:
        print(f"== {layer} ==")
        lab.install(layer)
    print(f"done: {', '.join(order)}")
    return 0


def cmd_openrc(args: argparse.Namespace) -> int:
    lab = _lab(args)
    print(lab.openrc(args.user), end="")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from labkit.instructor import commands

    if commands.is_many(args.envs):  # the instructors' form: one table for many labs
        return commands.cmd_check_many(args)
    lab = Lab.from_env(args.envs[0], state_root=_state_root(args))
    if isinstance(lab.env, SshEnv):
        from labkit.hosts.cli import check_ssh_env

        return check_ssh_env(lab.env, state_root=_state_root(args))
    if isinstance(lab.env, SimEnv):
        from labkit.sim import process

        handle = process.running(lab.paths)
        if handle is None:
            print(
                f"FAIL sim '{lab.env.name}' is not running "
                f"(start it with `labkit sim up --env {lab.env.name}`)"
            )
            return 1
        print(f"ok   sim answering at {handle.url}")
        failed = _check_sim_services(lab)
    else:
        failed = 0
    if "keystone" in lab.installed_layers() or isinstance(lab.env, CloudEnv):
        try:
            token = lab.token("admin")
        except Exception as exc:  # any failure here is the check's finding, explained
            print("FAIL no token from Keystone:\n" + str(lab.explain(exc)))
            return 1
        print(f"ok   token issued by Keystone ({len(token)} characters)")
    return 1 if failed else 0


def _check_sim_services(lab: Lab) -> int:
    """One line per service; a stopped service of an installed layer fails the check, naming
    the layer (its dependants fail with it, as in a real cloud)."""
    from labkit.sim.rooms import layer_of_service

    installed = set(lab.installed_layers())
    failed = 0
    for key, state in sorted(lab.sim.health()["services"].items()):
        host, _, name = key.partition("/")
        layer = layer_of_service(name)
        needed = layer is not None and (
            layer in installed
            or any(layer == "compute" and n.startswith("nova") for n in installed)
        )
        if state == "running":
            print(f"ok   {key}: running")
        elif needed:
            failed += 1
            print(
                f"FAIL {key}: {state} -- layer '{layer}' is installed but this service is down "
                f"(`labkit sim start-service {name} --host {host}`)"
            )
        else:
            print(f"warn {key}: {state}")
    return failed


# ---- ssh into a guest ------------------------------------------------------------------------


def cmd_ssh(args: argparse.Namespace) -> int:
    """Record the guest's host keys from its console log, then become the system ``ssh``."""
    lab = _lab(args)
    command = list(args.remote_command or [])
    argv = lab.access.ssh_command(args.server, key=args.identity, user=args.login, command=command)
    print(f"+ {shlex.join(argv)}", file=sys.stderr)
    sys.stderr.flush()
    sys.stdout.flush()
    try:
        os.execvp(argv[0], argv)
    except FileNotFoundError:
        raise LabkitError(
            "No `ssh` client on this machine.",
            "Install OpenSSH's client, or use lab.ssh(SERVER) in a notebook (paramiko).",
        ) from None
    return 0  # not reached: ssh replaced this process


# ---- clean up -------------------------------------------------------------------------------


def cmd_clean(args: argparse.Namespace) -> int:
    """Notebook 99 from a terminal, for each env: what the notebooks made, deleted in
    dependency order, then what is left. Installed services stay (``--reset`` also wipes a
    sim's state folder, as ``labkit sim reset``; ``labkit hosts down`` stops local lab
    hosts)."""
    from labkit.sim import process

    if args.reset and args.dry_run:
        raise LabkitError("--dry-run and --reset contradict each other.", "Choose one.")
    failed = 0
    for name in args.envs:
        lab = Lab.from_env(name, state_root=_state_root(args))
        if args.reset and not isinstance(lab.env, SimEnv):
            raise LabkitError(
                f"--reset wipes a sim's state; {lab.env.name} is a {lab.env.kind} env.",
                "Leave out --reset (real hosts: `labkit hosts down ENV` stops local ones).",
            )
        print(f"== {lab.env.name} ({lab.env.kind}) ==")
        sim_was_down = isinstance(lab.env, SimEnv) and process.running(lab.paths) is None
        cleanup = lab.cleanup
        before = cleanup.leftovers()
        print(before)
        if before.rows and not args.dry_run:
            done = cleanup.clean()
            print()
            print(done)
            after = cleanup.leftovers()
            print()
            print(after)
            failed += len(after.rows)
        if args.reset:
            process.reset(lab.paths)
            print(f"sim state wiped ({lab.paths.root})")
        elif sim_was_down and process.running(lab.paths) is not None:
            process.stop(lab.paths)  # started only to look: leave it as it was
        print()
    return 1 if failed else 0


# ---- JupyterLab ----------------------------------------------------------------------------


def find_notebooks() -> Path:
    here = Path.cwd().resolve()
    for folder in [here, *here.parents]:
        if (folder / "notebooks").is_dir() and (folder / "envs").is_dir():
            return folder / "notebooks"
    raise LabkitError(
        "No notebooks/ folder found here or above.", "Run `labkit lab` from the lab's repository."
    )


def cmd_lab(args: argparse.Namespace) -> int:
    notebooks = find_notebooks()
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or "jupyter"
    env = dict(os.environ, LABKIT_ENV=args.env or config.default_env_name())
    if _state_root(args):  # the kernels' labs read it: they have no flags
        env["LABKIT_STATE_DIR"] = str(_state_root(args))
    print(f"Starting JupyterLab on {notebooks} (env {env['LABKIT_ENV']}); its URL follows.")
    command = [
        jupyter,
        "lab",
        "--no-browser",
        f"--ServerApp.root_dir={notebooks}",
        f"--ServerApp.ip={args.ip}",
        f"--ServerApp.port={args.port}",
    ]
    if portable.is_root():  # containers and lab VMs often run as root; Jupyter refuses it
        command.append("--allow-root")
    return subprocess.call(command, env=env)


# ---- parser ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labkit", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--state-dir", help="root of lab state (LABKIT_STATE_DIR)")
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("sim", help="the embedded emulator").add_subparsers(
        dest="sim_command", required=True
    )
    up = sim.add_parser("up", help="start the sim (idempotent)")
    up.add_argument("--port", type=int, help="loopback port (LABKIT_SIM_PORT)")
    up.set_defaults(func=cmd_sim_up)
    for name, func, text in (
        ("down", cmd_sim_down, "stop the sim"),
        ("status", cmd_sim_status, "is it up, what runs"),
        ("reset", cmd_sim_reset, "wipe its state (restarts it if up)"),
    ):
        sim.add_parser(name, help=text).set_defaults(func=func)
    logs = sim.add_parser("logs", help="show a service's log")
    logs.add_argument("service", nargs="?")
    logs.add_argument("-n", "--lines", type=int, default=40)
    logs.add_argument("-f", "--follow", action="store_true")
    logs.set_defaults(func=cmd_sim_logs)
    for name, verb in (("stop-service", "stop"), ("start-service", "start")):
        service = sim.add_parser(name, help=f"{verb} a service on one of the sim's hosts")
        service.add_argument("name", help="service name, e.g. keystone or glance-api")
        service.add_argument("--host", default=None, help="host (default: the controller)")
        service.set_defaults(func=cmd_sim_service)
    for p in sim.choices.values():
        p.add_argument("--env", default=None, help="env name or file (default: sim)")

    inst = sub.add_parser("install", help="run installers for ENV")
    inst.add_argument("env")
    inst.add_argument("layers", nargs="*", help=f"layers (default all: {install.names()})")
    inst.set_defaults(func=cmd_install)

    rc = sub.add_parser("openrc", help="print admin-openrc or demo-openrc")
    rc.add_argument("user", choices=["admin", "demo"])
    rc.add_argument("--env", default=None)
    rc.set_defaults(func=cmd_openrc)

    check = sub.add_parser("check", help="preflight: is the lab up and answering?")
    check.add_argument(
        "envs",
        nargs="+",
        metavar="env",
        help="env name or file; several (or ENV:LABEL, @FILE) for one table of many labs",
    )
    check.set_defaults(func=cmd_check)

    lab = sub.add_parser("lab", help="JupyterLab on notebooks/")
    lab.add_argument("--env", default=None)
    lab.add_argument("--ip", default="127.0.0.1")
    lab.add_argument("--port", type=int, default=8888)
    lab.set_defaults(func=cmd_lab)

    ssh = sub.add_parser(
        "ssh",
        help="log in to a server's guest (host keys from its console log)",
        description="Record SERVER's SSH host keys from its console log in the lab's "
        "known_hosts, then run the system ssh (on the sim: -F <state>/ssh_config, whose "
        "ProxyCommand goes through the sim's gateway).",
    )
    ssh.add_argument("server", help="server name or id")
    ssh.add_argument("-i", dest="identity", default=None, help="private key file")
    ssh.add_argument("-l", dest="login", default=None, help="user (default: the image's)")
    ssh.add_argument("--env", default=None, help="env name or file (default: sim)")
    ssh.add_argument(
        "remote_command", nargs="*", metavar="command", help="what to run instead of a shell"
    )
    ssh.set_defaults(func=cmd_ssh)

    clean = sub.add_parser(
        "clean",
        help="delete what the notebooks made (servers ... domains); services stay",
        description="For each ENV: list what the lab's notebooks made that is still in the "
        "cloud, delete it in dependency order (servers and their ports, key pairs, rules, "
        "images, quotas, then notebook 06's users, projects and domains) and list what is "
        "left. Installed services stay. On an existing cloud only what the notebooks make "
        "under their own names and owners is touched; try --dry-run first.",
    )
    clean.add_argument("envs", nargs="+", metavar="env", help="env name or file")
    clean.add_argument("--dry-run", action="store_true", help="only list what would go")
    clean.add_argument(
        "--reset", action="store_true", help="sim only: then wipe its state (labkit sim reset)"
    )
    clean.set_defaults(func=cmd_clean)

    _register_hosts(sub)
    from labkit.horizon.cli import register as register_horizon

    register_horizon(sub)  # labkit horizon up|down|status
    from labkit.instructor.commands import register as register_instructor_commands

    register_instructor_commands(sub)  # run, progress
    return parser


def _register_hosts(subparsers: Any) -> None:
    """``labkit hosts ...``. It needs paramiko: a missing or broken install says how to
    repair it instead of leaving the command out."""
    try:
        from labkit.hosts.cli import register
    except ImportError as exc:
        missing = exc.name or "a module"
        hint = (
            "labkit's own code failed to import: this is a labkit bug, please report it."
            if missing.startswith("labkit")
            else f"Reinstall labkit's dependencies ({missing} is one): "
            f"`{sys.executable} -m pip install -e .` in the repository "
            "(or `make lab`)."
        )
        raise LabkitError(f"labkit's SSH support cannot be loaded: {exc}", hint) from exc
    register(subparsers)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line; what follows ``--`` is the remote command of ``labkit ssh``
    (argparse alone would not take it once the options come between)."""
    words = list(sys.argv[1:] if argv is None else argv)
    tail: list[str] = []
    if "--" in words:
        at = words.index("--")
        words, tail = words[:at], words[at + 1 :]
    parser = build_parser()
    args = parser.parse_args(words)
    if tail:
        if getattr(args, "func", None) is not cmd_ssh:
            parser.error(f"unrecognized arguments: -- {shlex.join(tail)}")
        args.remote_command = [*args.remote_command, *tail]
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parse(argv)
        return int(args.func(args))
    except LabkitError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
