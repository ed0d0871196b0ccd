"""Errors of the lab itself: the sim process, env files, install steps, commands on hosts."""

from __future__ import annotations

import os
import re
from pathlib import Path

from labkit import layers
from labkit.explain import Context, Entry, Facts

_LOCAL_URL = r"(?P<url>https?://(?:127\.0\.0\.1|localhost):(?P<port>\d+)[^\s:'\"]*)"


def _refused(facts: Facts) -> bool:
    return bool(
        re.search(
            r"Connection refused|Failed to establish a new connection|"
            r"Unable to establish connection",
            facts.text,
        )
    )


def _sim_findings(ctx: Context) -> list[str]:
    from labkit.sim import process

    lab = ctx.lab
    if lab.kind != "sim":
        return [f"this lab ({lab.env.name}) is a {lab.kind} env, not the sim"]
    handle = process.running(lab.paths)
    if handle is None:
        return [f"no sim is running for this lab (state folder {lab.paths.root})"]
    asked = ctx.groups.get("port")
    if asked and int(asked) != handle.port:
        return [
            f"this lab's sim IS running, on port {handle.port}, but the request went to "
            f"port {asked}: the clouds.yaml or openrc in use is stale. Run "
            "lab.use_cli() again, or `labkit openrc admin` (or demo) and source it again."
        ]
    return [f"this lab's sim is running at {handle.url} now (it may have restarted since)"]


def _install_layer(ctx: Context) -> str:
    name = ctx.groups.get("install_layer", "")
    found = layers.find(name) if name else None
    return found.key if found else "lab"


def _host_services(ctx: Context) -> list[str]:
    lab, host = ctx.lab, ctx.groups.get("host", "")
    if lab.kind != "sim" or not host:
        return []
    for h in lab.sim.hosts()["hosts"]:
        if h["name"] == host:
            down = [s["name"] for s in h["services"] if s["state"] != "running"]
            up = [s["name"] for s in h["services"] if s["state"] == "running"]
            return [
                f"on {host}: running {', '.join(up) or 'nothing'}"
                + (f"; not running: {', '.join(down)}" if down else "")
            ]
    return []


# Where openstacksdk (os-client-config) looks for clouds.yaml, after OS_CLIENT_CONFIG_FILE.
_CLOUDS_YAML_PLACES = (
    "./clouds.yaml",
    "~/.config/openstack/clouds.yaml",
    "/etc/openstack/clouds.yaml",
)


def _cloud_entries(path: Path) -> list[str]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return []
    clouds = data.get("clouds") if isinstance(data, dict) else None
    return sorted(clouds) if isinstance(clouds, dict) else []


def _clouds_findings(ctx: Context) -> list[str]:
    lab, out = ctx.lab, []
    config = os.environ.get("OS_CLIENT_CONFIG_FILE")
    if config:
        names = _cloud_entries(Path(config).expanduser())
        out.append(
            f"OS_CLIENT_CONFIG_FILE in this kernel is {config}; its entries: "
            f"{', '.join(names) or 'none (or it cannot be read)'}"
        )
    else:
        out.append("OS_CLIENT_CONFIG_FILE is not set: the client reads only the usual places")
    if os.environ.get("OS_CLOUD"):
        out.append(f"OS_CLOUD in this kernel is {os.environ['OS_CLOUD']}")
    if lab.kind == "cloud":
        out.append(f"this lab's env names the clouds.yaml entry {lab.env.cloud!r}")
    else:
        path = lab.paths.clouds_yaml
        names = _cloud_entries(path)
        out.append(
            f"this lab's clouds.yaml is {path}, with entries {', '.join(names)}"
            if names
            else f"this lab has not written its clouds.yaml ({path}) yet"
        )
    return out


_EXIT_CODES = {
    127: "the command was not found: the package that provides it is not installed "
    "(an earlier Packages step, or a typo)",
    126: "the command is not executable (permissions)",
    100: "apt could not install a package: a wrong name, or no mirror/proxy reachable",
    255: "ssh itself failed: the host is unreachable or refused the key",
    1: "the command reported an error: its output above says which",
}


def _host_cause(ctx: Context) -> str:
    code = int(ctx.groups.get("code", "1"))
    return f"Exit {code}: {_EXIT_CODES.get(code, 'the command failed; its output says why')}."


def _labkit_layer(ctx: Context) -> str:
    found = layers.find(str(getattr(ctx.facts.error, "layer", "lab")))
    return found.key if found else "lab"


def _labkit_title(ctx: Context) -> str:
    message = str(getattr(ctx.facts.error, "message", "") or ctx.facts.first_line())
    return message.splitlines()[0] if message else "A labkit error"


def _labkit_hint(ctx: Context) -> str:
    return str(getattr(ctx.facts.error, "hint", "")) or "Read the message above."


ENTRIES = [
    Entry(
        name="lab.sim-not-running",
        layer="lab",
        priority=10,
        types=("SimNotRunning",),
        title="The sim is not running",
        cause="labkit asked the sim's control API and nothing answered: the sim process was "
        "never started, was stopped (`labkit sim down`), or the machine restarted.",
        fix="Start it: `lab.ensure()` in the notebook (it also reinstalls your layers), or "
        "`labkit sim up` in a terminal.",
        findings=_sim_findings,
    ),
    Entry(
        name="lab.sim-down",
        layer="lab",
        priority=12,
        pattern=_LOCAL_URL,
        when=_refused,
        title="Nothing answers on 127.0.0.1:{port} -- the sim is down",
        cause="The client tried the sim's address ({url}) and the connection was refused: no "
        "process listens on that port. The sim was stopped, or it runs on another port.",
        fix="Start it: `lab.ensure()` in the notebook, or `labkit sim up` in a terminal; "
        "then point the CLI at it again with lab.use_cli().",
        findings=_sim_findings,
    ),
    Entry(
        name="lab.cloud-not-found",
        layer="lab",
        priority=13,
        pattern=r"Cloud (?P<cloud>\S+) was not found",
        title="There is no clouds.yaml entry named {cloud}",
        cause="openstacksdk and the `openstack` CLI look the name up in clouds.yaml: the file "
        "named by OS_CLIENT_CONFIG_FILE, else " + ", ".join(_CLOUDS_YAML_PLACES) + ". None "
        "of the files it read has an entry {cloud}: a typo, or the variable points at "
        "another file (or is not set in this shell).",
        fix="In a notebook, lab.use_cli() points the CLI at the lab's own clouds.yaml "
        "(entries lab-admin and lab-demo). In a terminal, `labkit sim up` prints the "
        "`export OS_CLIENT_CONFIG_FILE=...` line to run; or use an openrc instead "
        "(`labkit openrc admin`). For an existing cloud, add the entry to clouds.yaml, or "
        "fix the `cloud:` name in the env file.",
        findings=_clouds_findings,
    ),
    Entry(
        name="install.database-unreachable",
        layer="base",
        priority=14,
        pattern=r"DBConnectionError|Can't connect to (?:MySQL|MariaDB)|database .* is not "
        r"running|Access denied for user '(?P<user>\w+)'",
        title="A service could not reach its database",
        cause="The step needed MariaDB (the base layer): it is not running, it listens on "
        "another address, or the user/password in the service's [database] connection "
        "does not match the GRANT made for it.",
        fix="Make sure base is installed and MariaDB runs: lab.ensure('base') (on a host: "
        "`systemctl status mariadb`); compare [database] connection with the Database "
        "step's password; then run the install again -- finished steps are skipped.",
        findings=_host_services,
    ),
    Entry(
        name="install.step-failed",
        layer=_install_layer,
        priority=15,
        types=("InstallError",),
        pattern=r"Step (?P<index>\d+)/(?P<total>\d+) failed \((?:layer (?P<install_layer>"
        r"[\w-]+), )?on (?P<host>[\w.-]+)\): (?P<step>[^\n]+)",
        title="Install step {index}/{total} failed on {host}: {step}",
        cause="The step's command failed; the indented lines under it in the error are its "
        "own output, which names the reason.",
        fix="Fix what the output names, then run the same install again "
        "(lab.install(...) or lab.ensure(...)): steps already done are skipped, so it "
        "continues at this step.",
        findings=_host_services,
    ),
    Entry(
        name="install.wait-timeout",
        layer=_install_layer,
        priority=16,
        types=("InstallError",),
        pattern=r"(?P<url>https?://\S+) did not answer within (?P<seconds>\d+) s",
        title="The service did not start answering at {url}",
        cause="The service was started but its API never answered within {seconds} s: it "
        "crashed at start (a config error), or it listens elsewhere.",
        fix="Read its log (`labkit sim logs SERVICE`, or /var/log/<service>/ on the host), "
        "fix the config, and run the install again.",
    ),
    Entry(
        name="hosts.command-failed",
        layer="hosts",
        priority=20,
        types=("HostError",),
        pattern=r"On (?P<host>[\w.-]+): `(?P<command>[^`]*)` exited with (?P<code>\d+)",
        title="`{command}` failed on {host}",
        cause=_host_cause,
        fix=_labkit_hint,
    ),
    Entry(
        name="lab.env-invalid",
        layer="hosts",
        priority=20,
        types=("EnvError",),
        title=_labkit_title,
        cause="labkit checks env files before touching anything; this one names a field it "
        "does not allow, or a value out of range. The lines under the message list each "
        "problem with its field.",
        fix=_labkit_hint,
    ),
    Entry(
        name="lab.error",
        layer=_labkit_layer,
        priority=90,
        types=("LabkitError",),
        title=_labkit_title,
        cause="labkit stopped with this message; it says what it found.",
        fix=_labkit_hint,
    ),
]
