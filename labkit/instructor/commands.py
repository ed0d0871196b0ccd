"""The instructors' subcommands of ``labkit`` (:mod:`labkit.cli` registers them here):

    labkit run NOTEBOOKS... --env ENV... [--parallel N] [--out DIR] [--cell-timeout S]
               [--env-timeout S] [--resume] [--fail-fast] [--keep-sims]
    labkit progress ENV                     how far along the arc a lab really is
    labkit sims up --count N [--install LAYER] [--boot]   a sim per attendee on this machine
    labkit sims status|down LAB...
    labkit check ENV ENV ...                (many labs: one table; see labkit.instructor.preflight)

``ENV`` is an env name or file, ``ENV:LABEL`` (one attendee's lab on that env: a sim of its
own) or ``@FILE`` (an attendees file); see :mod:`labkit.instructor.attendees`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

ENV_HELP = (
    "a lab: env name or file; ENV:LABEL for one attendee's lab on ENV (a sim of its own: "
    "state folder <state root>/attendees/LABEL, its own port); @FILE for an attendees file"
)


def _state_root(args: argparse.Namespace) -> Path | None:
    raw = getattr(args, "state_dir", None)
    return Path(raw).expanduser() if raw else None


def is_many(specs: list[str]) -> bool:
    """Whether ``labkit check`` was given the instructors' form (several labs, a label or an
    attendees file) rather than one env."""
    from labkit.instructor.attendees import split_spec

    return len(specs) > 1 or specs[0].startswith("@") or split_spec(specs[0])[1] is not None


def cmd_check_many(args: argparse.Namespace) -> int:
    from labkit.instructor import attendees, preflight

    labs = attendees.parse(list(args.envs), _state_root(args))
    rows = preflight.check_many(labs)
    print(preflight.table(rows))
    return 0 if all(r.ok for r in rows) else 1


def cmd_run(args: argparse.Namespace) -> int:
    from labkit.instructor import attendees
    from labkit.instructor.run import RunOptions, run

    options = RunOptions(
        notebooks=[Path(p) for p in args.notebooks],
        attendees=attendees.parse(list(args.env), _state_root(args)),
        out=Path(args.out).expanduser().resolve(),
        parallel=args.parallel,
        cell_timeout=args.cell_timeout or None,
        env_timeout=args.env_timeout or None,
        resume=args.resume,
        kernel=args.kernel,
        fail_fast=args.fail_fast,
        keep_sims=args.keep_sims,
    )
    report = run(options)
    return 0 if report.ok else 1


def cmd_progress(args: argparse.Namespace) -> int:
    """Each lab's progress. A sim that is not running is started to look and stopped
    again (its state is on disk; what it shows is what the learner left)."""
    from labkit.instructor import attendees
    from labkit.instructor.progress import check_progress
    from labkit.sim import process

    status = 0
    for one in attendees.parse(list(args.envs), _state_root(args)):
        lab = one.lab()
        started = one.is_sim and process.running(lab.paths) is None and lab.installed_layers()
        if started:
            lab.up()
        try:
            progress = check_progress(lab, one.label)
        finally:
            if started:
                process.stop(lab.paths)
        print(progress)
        if started:
            print("(the sim was not running: started to look, stopped again)")
        print()
        status |= any(f.status == "fail" for f in progress.findings)
    return status


def cmd_sims(args: argparse.Namespace) -> int:
    from labkit.instructor import attendees, sims

    if args.sims_command == "up":
        layers = [args.install] if args.install else []
        _, rows = sims.up(
            args.count,
            env=args.env,
            prefix=args.prefix,
            root=_state_root(args),
            out=Path(args.out).expanduser().resolve(),
            layers=layers,
            boot=args.boot,
            parallel=args.parallel,
        )
        print(sims.table(rows))
        return 0 if all(r.running for r in rows) else 1
    labs = attendees.parse(list(args.labs), _state_root(args))
    if args.sims_command == "down":
        for line in sims.down(labs):
            print(line)
        return 0
    rows = [sims.row(a) for a in labs if a.is_sim]
    print(sims.table(rows))
    return 0 if all(r.running for r in rows) else 3


def register(sub: Any) -> None:
    """Add ``run``, ``progress`` and ``sims`` to ``labkit``'s subcommands."""
    from labkit.instructor.run import default_parallel

    run = sub.add_parser(
        "run",
        help="instructors: run notebooks against many labs, then a report",
        description="papermill over every lab x notebook: notebooks in the order given per "
        "lab, labs in parallel; each output notebook kept in OUT/<lab>/; then each lab "
        "probed through its APIs and OUT/report.html written.",
    )
    run.add_argument("notebooks", nargs="+", help="notebooks, in order (notebooks/0*.ipynb)")
    run.add_argument("--env", action="append", required=True, help=ENV_HELP)
    run.add_argument(
        "--parallel", type=int, default=default_parallel(), help="labs at once (default: cores)"
    )
    run.add_argument("--out", default="labkit-run", help="folder for outputs and the report")
    run.add_argument(
        "--cell-timeout", type=float, default=600.0, help="seconds per cell (0: no limit)"
    )
    run.add_argument(
        "--env-timeout", type=float, default=3600.0, help="seconds per lab (0: no limit)"
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="skip lab x notebook pairs whose output in OUT finished without an error",
    )
    run.add_argument("--fail-fast", action="store_true", help="stop a lab at its first failure")
    run.add_argument("--keep-sims", action="store_true", help="leave sims the run started up")
    run.add_argument("--kernel", default="python3", help="Jupyter kernel (default python3)")
    run.set_defaults(func=cmd_run)

    progress = sub.add_parser(
        "progress",
        help="which layers and exercises a lab has really completed, and the next step",
    )
    progress.add_argument("envs", nargs="+", metavar="env", help=ENV_HELP)
    progress.set_defaults(func=cmd_progress)

    from labkit import install

    sims = sub.add_parser(
        "sims", help="instructors: many sims on this machine, one per attendee"
    ).add_subparsers(dest="sims_command", required=True)
    up = sims.add_parser(
        "up",
        help="start N sims with their own state folders and ports",
        description="Start N sims (PREFIX01 ...), each as --env sim:LABEL would; write "
        "OUT/attendees.yaml, OUT/LABEL.env and OUT/LABEL/clouds.yaml; print each sim's memory.",
    )
    up.add_argument("--count", type=int, required=True, help="how many attendees")
    up.add_argument("--env", default="sim", help="the sim env file each one uses")
    up.add_argument("--prefix", default="attendee", help="labels: PREFIX01, PREFIX02 ...")
    up.add_argument("--out", default="workshop", help="where the attendees' files go")
    up.add_argument(
        "--install", choices=install.names(), help="install this layer and those below it"
    )
    up.add_argument("--boot", action="store_true", help="boot one server in each (m1.tiny)")
    up.add_argument("--parallel", type=int, default=default_parallel(), help="sims at once")
    for name, text in (("status", "each attendee's sim and its memory"), ("down", "stop them")):
        one = sims.add_parser(name, help=text)
        one.add_argument("labs", nargs="+", metavar="lab", help=ENV_HELP)
    for parser in sims.choices.values():
        parser.set_defaults(func=cmd_sims)
