"""``labkit hosts up|down|status|trust ENV`` and the ssh-env part of ``labkit check ENV``.

Self-contained: :func:`register` adds the ``hosts`` sub-command to any argparse
sub-parsers object; each leaf sets ``func(args) -> exit code``. ``labkit check ENV`` calls
:func:`check_ssh_env` for ssh envs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from labkit.envs import SshEnv, load_env
from labkit.errors import LabkitError
from labkit.hosts import local, preflight
from labkit.hosts.errors import HostsError
from labkit.hosts.progress import Say
from labkit.hosts.ssh import TrustRow, trust

Handler = Callable[[argparse.Namespace], int]


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``hosts`` with its sub-commands to ``subparsers`` (from ``add_subparsers()``)."""
    hosts: argparse.ArgumentParser = subparsers.add_parser(
        "hosts",
        help="lab hosts: make local ones, trust host keys",
        description="Local lab hosts on this machine (up/down/status, root needed for up "
        "and down) and host keys of any ssh env (trust).",
    )
    sub = hosts.add_subparsers(dest="hosts_command", metavar="COMMAND", required=True)

    def leaf(name: str, help_text: str, handler: Handler) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(
            name, help=help_text, description=help_text
        )
        parser.add_argument("env", metavar="ENV", help="env name (envs/NAME.yaml) or path")
        # SUPPRESS: when absent, a --state-dir given to `labkit` itself stays in force.
        parser.add_argument(
            "--state-dir",
            default=argparse.SUPPRESS,
            help="state root (default: $LABKIT_STATE_DIR or ~/.local/state/labkit)",
        )
        parser.set_defaults(func=handler)
        return parser

    for name, help_text, handler in (
        ("up", "make the env's hosts on this machine (idempotent)", _up),
        ("down", "remove the env's local hosts completely (the cache stays)", _down),
    ):
        parser = leaf(name, help_text, handler)
        parser.add_argument(
            "--cache-dir",
            type=Path,
            default=None,
            help="rootfs and apt cache (default: $LABKIT_CACHE_DIR or STATE_ROOT/cache)",
        )
    leaf("status", "show what runs of the env's local hosts", _status)
    trust_parser = leaf(
        "trust", "show each host's key fingerprint and record it in the env's known_hosts", _trust
    )
    trust_parser.add_argument(
        "--replace",
        action="store_true",
        help="record a key that differs from the recorded one (after you rebuilt the host)",
    )
    trust_parser.add_argument("--yes", action="store_true", help="record without asking (scripts)")
    return hosts


def _ssh_env(name: str) -> SshEnv:
    env = load_env(name)
    if not isinstance(env, SshEnv):
        raise HostsError(
            f"Env {env.name} is of kind {env.kind!r}; `labkit hosts` works on ssh envs.",
            "Pick an env with `kind: ssh` (e.g. lab-local).",
        )
    return env


def _state_root(args: argparse.Namespace) -> Path | None:
    raw = getattr(args, "state_dir", None)
    return Path(raw) if raw else None


def _guarded(run: Callable[[], int]) -> int:
    try:
        return run()
    except LabkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _up(args: argparse.Namespace) -> int:
    def run() -> int:
        env = _ssh_env(args.env)
        report = local.up(env, state_root=_state_root(args), cache_dir=args.cache_dir)
        total = sum(t for _, t in report.timings)
        print(f"(steps took {total:.1f} s)")
        return 0

    return _guarded(run)


def _down(args: argparse.Namespace) -> int:
    def run() -> int:
        env = _ssh_env(args.env)
        timings = local.down(env, state_root=_state_root(args), cache_dir=args.cache_dir)
        print(f"(steps took {sum(t for _, t in timings):.1f} s)")
        return 0

    return _guarded(run)


def _status(args: argparse.Namespace) -> int:
    def run() -> int:
        env = _ssh_env(args.env)
        st = local.status(env, state_root=_state_root(args))
        print(
            f"env {st.env}: bridge {st.bridge} {'up' if st.bridge_up else 'absent'}; "
            f"apt proxy {st.proxy}"
        )
        print(
            format_table(
                ["host", "address", "netns", "state", "detail"],
                [[h.name, h.address, h.netns, h.state, h.detail] for h in st.hosts],
            )
        )
        if any(h.state == "running" for h in st.hosts):
            print(f"log in: {st.ssh_hint}")
        return 0

    return _guarded(run)


def _trust(args: argparse.Namespace) -> int:
    def run() -> int:
        env = _ssh_env(args.env)
        ask = sys.stdin.isatty() and not args.yes
        confirm = _prompt if ask else None
        rows = trust(env, state_root=_state_root(args), replace=args.replace, confirm=confirm)
        print(
            format_table(
                ["host", "endpoint", "key (type and SHA256 fingerprint)", "status"],
                [[r.host, r.endpoint, r.key, _trust_status(r)] for r in rows],
            )
        )
        if any(r.status == "changed" for r in rows):
            print(
                f"error: a host key CHANGED and was not recorded. If you rebuilt the host, "
                f"run `labkit hosts trust {args.env} --replace`; otherwise find out why.",
                file=sys.stderr,
            )
            return 1
        return 0

    return _guarded(run)


def _trust_status(row: TrustRow) -> str:
    return {
        "added": "recorded (new)",
        "same": "already known",
        "replaced": "recorded (replaced)",
        "changed": "CHANGED - not recorded",
        "skipped": "not recorded (declined)",
    }[row.status]


def _prompt(row: TrustRow) -> bool:
    answer = input(
        f"{row.host} ({row.endpoint}) offers {row.key}\n"
        "  Compare with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the "
        "host. Record it? [y/N] "
    )
    return answer.strip().lower() in {"y", "yes"}


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines)


def check_ssh_env(env: SshEnv, *, state_root: Path | None = None, say: Say = print) -> int:
    """Print the preflight table of an ssh env; 1 when any check failed, else 0."""
    try:
        rows = preflight.check(env, state_root=state_root)
    except LabkitError as exc:
        say(f"error: {exc}")
        return 1
    say(
        format_table(
            ["host", "check", "status", "detail"],
            [[r.host, r.check, r.status, r.detail] for r in rows],
        )
    )
    bad = preflight.failed(rows)
    warned = sum(r.status == "warn" for r in rows)
    say(
        f"{'FAILED' if bad else 'ok'}: {sum(r.status == 'fail' for r in rows)} failed, "
        f"{warned} warning(s), {len(rows)} checks on {len(env.hosts)} host(s)"
    )
    return 1 if bad else 0
