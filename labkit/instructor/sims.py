"""``labkit sims up --count N``: a workshop's sims on one machine, one per attendee.

Each attendee gets what ``--env sim:LABEL`` gives (:mod:`labkit.instructor.attendees`): a
state folder ``<state root>/attendees/LABEL/`` and a port of its own, kept between runs.
``up`` starts every sim (installing layers and booting a server in each when asked, a few
at a time) and writes into ``--out``:

* ``attendees.yaml`` -- the list, for ``labkit run --env @OUT/attendees.yaml``, ``labkit
  check @...``, ``labkit sims down @...``;
* ``LABEL.env`` -- the attendee's environment (``LABKIT_ENV``, ``LABKIT_STATE_DIR``,
  ``LABKIT_SIM_PORT``, ``OS_CLIENT_CONFIG_FILE``): source it, or hand it to the attendee's
  Jupyter server, and every notebook and ``openstack`` command reaches that sim;
* ``LABEL/clouds.yaml`` -- a copy of the sim's clouds.yaml (entries lab-admin, lab-demo).

It ends with each sim's resident memory (RSS, and USS -- what it alone holds), so an
instructor knows how many fit on the machine.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from labkit.display import Table
from labkit.instructor.attendees import Attendee, attendee

MIB = 1024 * 1024
Say = Callable[[str], None]


@dataclass(frozen=True)
class SimRow:
    """One attendee's sim as ``up`` or ``status`` found it."""

    label: str
    port: int | None
    running: bool
    layers: str
    servers: str
    rss_mib: float | None
    uss_mib: float | None
    state: str


def memory(pid: int) -> tuple[float | None, float | None]:
    """(RSS, USS) of a process in MiB; USS where the OS can tell it (Linux, macOS)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        rss = proc.memory_info().rss / MIB
        try:
            uss: float | None = proc.memory_full_info().uss / MIB
        except (psutil.AccessDenied, AttributeError):
            uss = None
        return rss, uss
    except psutil.NoSuchProcess:
        return None, None


def row(a: Attendee) -> SimRow:
    from labkit.sim import process

    lab = a.lab()
    handle = process.running(lab.paths)
    layers = ", ".join(lab.installed_layers()) or "-"
    servers = "-"
    rss = uss = None
    if handle is not None:
        rss, uss = memory(handle.pid)
        if "nova-compute" in layers:
            try:
                found = lab.connect("admin").compute.servers(all_projects=True)
                servers = ", ".join(f"{s.name} {s.status}" for s in found) or "-"
            except Exception as exc:  # the row says what the sim answered
                servers = f"({type(exc).__name__})"
    return SimRow(
        a.label, a.port, handle is not None, layers, servers, rss, uss, str(lab.paths.root)
    )


def table(rows: list[SimRow], title: str = "Workshop sims") -> Table:
    t = Table(["attendee", "port", "up", "layers", "servers", "RSS MiB", "USS MiB"], title=title)
    for r in rows:
        t.add(
            r.label,
            r.port,
            r.running,
            r.layers,
            r.servers,
            f"{r.rss_mib:.0f}" if r.rss_mib is not None else "-",
            f"{r.uss_mib:.0f}" if r.uss_mib is not None else "-",
            mark="ok" if r.running else "dim",
        )
    measured = [r.rss_mib for r in rows if r.rss_mib]
    if measured:
        mean, peak = sum(measured) / len(measured), max(measured)
        t.note = (
            f"RSS per sim: mean {mean:.0f} MiB, largest {peak:.0f} MiB; at the largest, "
            f"{int(24 * 1024 // peak)} such sims fit in 24 GiB -- the sims alone: each "
            "attendee's Jupyter kernel and the OS come on top"
        )
    return t


def _prepare(a: Attendee, layers: list[str], boot: bool, say: Say) -> None:
    lab = a.lab()
    lab.up()
    if layers:
        lab.ensure(*layers)
    if boot:
        conn = lab.connect("admin")
        if conn.compute.find_server("probe-server", all_projects=True) is None:
            lab.boot("probe-server", flavor="m1.tiny", image="cirros", user="demo")
    say(f"  {a.label}: up on port {lab.sim_port}" + (f", {layers[-1]} installed" if layers else ""))


def _write_files(attendees: list[Attendee], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    listing = {
        "attendees": [
            {
                "name": a.label,
                "env": str(a.env_file),
                "port": a.port,
                "state_dir": str(a.state_root),
            }
            for a in attendees
        ]
    }
    path = out / "attendees.yaml"
    path.write_text(
        "# written by `labkit sims up`; use with --env @"
        + str(path)
        + "\n"
        + yaml.safe_dump(listing, sort_keys=False)
    )
    for a in attendees:
        lab = a.lab()
        folder = out / a.label
        folder.mkdir(exist_ok=True)
        clouds = folder / "clouds.yaml"
        if lab.paths.clouds_yaml.is_file():
            shutil.copyfile(lab.paths.clouds_yaml, clouds)
        # The kernel's variables but live widgets: this is for a person, not papermill.
        variables = {k: v for k, v in a.kernel_environment().items() if k != "LABKIT_WIDGETS"}
        lines = [f"export {k}={shlex.quote(v)}" for k, v in sorted(variables.items())]
        lines.append(f"export OS_CLIENT_CONFIG_FILE={shlex.quote(str(clouds))}")
        lines.append("export OS_CLOUD=lab-demo")
        (out / f"{a.label}.env").write_text("\n".join(lines) + "\n")
    return path


def up(
    count: int,
    env: str = "sim",
    prefix: str = "attendee",
    root: Path | None = None,
    out: Path = Path("workshop"),
    layers: list[str] | None = None,
    boot: bool = False,
    parallel: int = 2,
    say: Say = print,
) -> tuple[list[Attendee], list[SimRow]]:
    """Start ``count`` sims (``PREFIX01`` ...), optionally with ``layers`` installed and one
    server booted in each; write the attendees' files into ``out``."""
    width = max(2, len(str(count)))
    taken: set[int] = set()
    labs = []
    for i in range(1, count + 1):
        one = attendee(env, f"{prefix}{i:0{width}d}", root=root, taken=taken)
        if one.port:
            taken.add(one.port)
        labs.append(one)
    wanted = list(layers or [])
    if boot and "nova-compute" not in wanted:
        wanted.append("nova-compute")
    say(f"starting {count} sims, {parallel} at a time ...")
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        for future in [pool.submit(_prepare, a, wanted, boot, say) for a in labs]:
            future.result()
    listing = _write_files(labs, out)
    say(f"attendees: {listing}; one LABEL.env and LABEL/clouds.yaml each in {out}")
    return labs, [row(a) for a in labs]


def down(attendees: list[Attendee]) -> list[str]:
    """Stop each attendee's sim (their state stays: ``up`` again brings it back)."""
    from labkit.sim import process

    return [
        f"{a.label}: {'stopped' if process.stop(a.lab().paths) else 'was not running'}"
        for a in attendees
        if a.is_sim
    ]
