"""Who the instructor's commands run against: one :class:`Attendee` per lab.

An instructor names labs the way ``labkit`` names envs, with one addition -- a label, so one
env file can stand for many attendees' labs:

* ``ENV`` -- an env name (``sim``, ``lab-2node``) or an env file's path: that one lab, with
  the usual state folder (``--state-dir`` / ``$LABKIT_STATE_DIR``) and sim port. Its label
  in the report is the env's name.
* ``ENV:LABEL`` -- attendee ``LABEL`` on env ``ENV``. On a sim env each label is a lab of
  its own: state under ``<state root>/attendees/LABEL/`` and its own sim port, picked once
  and kept in ``attendee.json`` there (a sim's catalog names its port, so the port must not
  change between runs). On ssh and cloud envs the label only names the lab in the report:
  the hosts or the cloud are the lab, whatever it is called.
* ``@FILE`` -- an attendees file (YAML) listing many::

      attendees:
        - name: alice
          env: sim            # a name, or a path relative to this file
        - name: bob
          env: sim
          port: 8702          # optional; else picked once, as for ENV:LABEL
          state_dir: /srv/labs/bob   # optional; the state root of this lab

``attendee.kernel_environment()`` is what a notebook kernel running for that attendee must
inherit (the notebooks have one parameter, ``env``; the rest comes from ``LABKIT_*``), and
``attendee.lab()`` the same lab in this process.
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labkit import config
from labkit.envs import Env, SimEnv, find_env_file, load_env
from labkit.errors import EnvError, LabkitError
from labkit.lab import Lab

_LABEL = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"
ATTENDEE_FILE = "attendee.json"


@dataclass(frozen=True)
class Attendee:
    """One lab of a workshop: how to reach it and what to call it."""

    label: str  # unique in a run; the report's row and the output folder's name
    env_file: Path  # the env file, absolute (the notebooks' ``env`` parameter)
    env: Env
    state_root: Path | None = None  # LABKIT_STATE_DIR for this lab (None: the default)
    port: int | None = None  # LABKIT_SIM_PORT for this lab (None: the env file's)

    @property
    def is_sim(self) -> bool:
        return isinstance(self.env, SimEnv)

    def lab(self) -> Lab:
        """This attendee's lab, in this process (nothing started)."""
        return Lab(self.env, state_root=self.state_root, sim_port=self.port)

    def kernel_environment(self) -> dict[str, str]:
        """What a notebook kernel for this lab inherits: the env, its state folder and port,
        and text views (a widget has no face in a stored notebook)."""
        out = {"LABKIT_ENV": str(self.env_file), "LABKIT_WIDGETS": "0"}
        if self.state_root is not None:
            out["LABKIT_STATE_DIR"] = str(self.state_root)
        if self.port is not None:
            out["LABKIT_SIM_PORT"] = str(self.port)
        return out

    def where(self) -> str:
        """One line saying where this lab lives (for tables and the report)."""
        lab = self.lab()
        if self.is_sim:
            return f"sim on port {lab.sim_port}, state {lab.paths.root}"
        return f"{self.env.kind} env {self.env_file.name}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kept_port(state_root: Path, env: SimEnv, taken: set[int]) -> int:
    """The port of a labelled sim: the one recorded in its folder, else a free one,
    recorded now so the next run uses it again."""
    record = state_root / ATTENDEE_FILE
    try:
        port = int(json.loads(record.read_text())["port"])
    except (OSError, ValueError, KeyError, TypeError):
        port = 0
    if not port:
        port = _free_port()
        while port in taken:
            port = _free_port()
        state_root.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"env": env.name, "port": port}) + "\n")
    return port


def split_spec(spec: str) -> tuple[str, str | None]:
    """``ENV:LABEL`` -> (ENV, LABEL); a path with a colon in it (``C:\\...``) stays whole."""
    found = re.fullmatch(rf"(?P<env>.+):(?P<label>{_LABEL})", spec)
    if found is None or "/" in found["label"] or "\\" in found["label"]:
        return spec, None
    return found["env"], found["label"]


class _FileAttendee(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=rf"^{_LABEL}$")
    env: str = "sim"
    port: int | None = Field(default=None, ge=1024, le=65535)
    state_dir: str | None = None


class _AttendeesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    attendees: list[_FileAttendee] = Field(min_length=1)


def _env_path(name_or_path: str, relative_to: Path | None = None) -> Path:
    candidate = Path(name_or_path).expanduser()
    if relative_to is not None and not candidate.is_absolute():
        beside = relative_to / candidate
        if beside.is_file():
            return beside.resolve()
    return find_env_file(name_or_path).resolve()


def attendee(
    env_ref: str,
    label: str | None = None,
    state_root: Path | None = None,
    port: int | None = None,
    *,
    root: Path | None = None,
    taken: set[int] | None = None,
    relative_to: Path | None = None,
) -> Attendee:
    """One attendee from its env and (optional) label. ``root`` is the state root of the
    whole workshop (``--state-dir``); labelled sims get a folder below it."""
    path = _env_path(env_ref, relative_to)
    env = load_env(path)
    if label is None:
        return Attendee(env.name, path, env, state_root or root, port)
    if not isinstance(env, SimEnv):
        return Attendee(label, path, env, state_root or root, port)
    own = state_root or (root or config.default_state_root()) / "attendees" / label
    own = own.expanduser().resolve()
    chosen = port or _kept_port(own, env, taken if taken is not None else set())
    return Attendee(label, path, env, own, chosen)


def load_attendees_file(path: Path, root: Path | None = None) -> list[Attendee]:
    """The attendees an ``@FILE`` lists (see the module docstring)."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise EnvError(str(path), [f"cannot read: {exc}"], "Check the path after @.") from None
    except yaml.YAMLError as exc:
        raise EnvError(str(path), [f"not valid YAML: {exc}"]) from None
    try:
        parsed = _AttendeesFile.model_validate(data)
    except ValidationError as exc:
        problems = [f"field {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise EnvError(
            str(path), problems, "An attendees file is `attendees:` with a list of name/env."
        ) from None
    taken: set[int] = {a.port for a in parsed.attendees if a.port}
    out = []
    for item in parsed.attendees:
        state = Path(item.state_dir).expanduser() if item.state_dir else None
        if state is not None and not state.is_absolute():
            state = (path.parent / state).resolve()
        one = attendee(
            item.env,
            item.name,
            state,
            item.port,
            root=root,
            taken=taken,
            relative_to=path.parent,
        )
        if one.port:
            taken.add(one.port)
        out.append(one)
    return out


def parse(specs: list[str], root: Path | None = None) -> list[Attendee]:
    """Every ``--env`` given, in order; labels must be unique, and so must sims' state
    folders and ports (two labs on one sim would be one lab)."""
    out: list[Attendee] = []
    taken: set[int] = set()
    for spec in specs:
        if spec.startswith("@"):
            found = load_attendees_file(Path(spec[1:]).expanduser(), root)
        else:
            env_ref, label = split_spec(spec)
            found = [attendee(env_ref, label, root=root, taken=taken)]
        for one in found:
            if one.port:
                taken.add(one.port)
        out += found
    _check_unique(out)
    return out


def _check_unique(attendees: list[Attendee]) -> None:
    labels = [a.label for a in attendees]
    for dup in sorted({x for x in labels if labels.count(x) > 1}):
        raise LabkitError(
            f"Two labs are called {dup!r}.",
            "Give each its own label: --env sim:alice --env sim:bob.",
        )
    sims = [a for a in attendees if a.is_sim]
    folders = [str(a.lab().paths.root) for a in sims]
    for dup in sorted({x for x in folders if folders.count(x) > 1}):
        raise LabkitError(
            f"Two sim labs would share the state folder {dup}.",
            "Label them (--env sim:a --env sim:b): each label gets its own folder and port.",
        )


def environment_without_cloud_settings(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment for a child working on one lab: ``extra`` on top, and no
    ``OS_*`` variables (a learner's openrc would point the clients at another cloud)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    for key in ("LABKIT_STATE_DIR", "LABKIT_SIM_PORT", "LABKIT_ENV"):
        base.pop(key, None)  # the instructor's own lab's, not this one's
    return {**base, **extra}
