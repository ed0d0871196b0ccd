"""One machine, many attendees, through JupyterHub: what each user's server needs to get a lab
of its own. Used by ``envs/jupyterhub/jupyterhub_config.py`` (the recipe; see the README).

JupyterHub starts one Jupyter server per user (the *spawner*); every server runs this same
labkit, and the notebooks' first cell, ``Lab.from_env(env).ensure(...)``, starts the user's
sim on first use. Two things must differ per user, or two attendees would share one lab:

* the **state folder** -- ``LABKIT_STATE_DIR``: ``<home>/.local/state/labkit`` in the user's
  own home (where labkit looks anyway; set explicitly so the notebooks and a terminal in the
  same server agree whatever ``XDG_STATE_HOME`` says);
* the **sim's port** -- ``LABKIT_SIM_PORT``: every sim listens on 127.0.0.1, and the env
  file's port (8642) can serve one user only. The Hub picks a free port for each user the
  first time their server starts and keeps it in ``<hub state>/labkit-users.json``: a sim's
  catalog names its port, so the port must not change between starts.

:func:`user_environment` computes both; :func:`pre_spawn_hook` puts them (and the env, the
env files' folder and a copy of the notebooks) into the spawner before the server starts.
The Hub itself never runs a lab: labkit writes no scheduler of its own. Past one machine,
the same hook runs under KubeSpawner, each user's pod with its own sim (README).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
USERS_FILE = "labkit-users.json"
FIRST_PORT = 20000  # users' sims get ports from here up (skipping any in use)
LAST_PORT = 29999


def _in_use(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def user_port(hub_state: Path, username: str) -> int:
    """``username``'s sim port: the one recorded for them, else the lowest free port from
    :data:`FIRST_PORT` that no other user holds, recorded now. A lock on the file keeps two
    servers starting at once from taking the same port."""
    hub_state.mkdir(parents=True, exist_ok=True)
    path = hub_state / USERS_FILE
    with open(hub_state / f"{USERS_FILE}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            users: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            users = {}
        known = users.get(username)
        if isinstance(known, dict) and isinstance(known.get("port"), int):
            return int(known["port"])
        taken = {int(u["port"]) for u in users.values() if isinstance(u, dict) and "port" in u}
        port = next(
            (p for p in range(FIRST_PORT, LAST_PORT + 1) if p not in taken and not _in_use(p)),
            None,
        )
        if port is None:
            span = f"{FIRST_PORT}-{LAST_PORT}"
            raise RuntimeError(f"no free port left for {username}'s sim in {span}")
        users[username] = {"port": port}
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(users, indent=1, sort_keys=True) + "\n")
        temporary.replace(path)
        return port


def user_environment(
    username: str, home: Path, hub_state: Path, env: str = "sim"
) -> dict[str, str]:
    """What ``username``'s server (and every kernel and terminal in it) inherits."""
    return {
        "LABKIT_ENV": env,
        "LABKIT_ENVS_DIR": str(REPO / "envs"),
        "LABKIT_STATE_DIR": str(home / ".local" / "state" / "labkit"),
        "LABKIT_SIM_PORT": str(user_port(hub_state, username)),
    }


def _home(spawner: Any) -> Path:
    """The user's home as the spawner will set it: SimpleLocalProcessSpawner's ``home_dir``
    (``/tmp/<user>``), else the system user's home (LocalProcessSpawner)."""
    home = getattr(spawner, "home_dir", "")
    if home:
        return Path(home)
    import pwd

    return Path(pwd.getpwnam(spawner.user.name).pw_dir)


def _give_notebooks(home: Path, username: str) -> None:
    """A copy of the lab's notebooks in the user's home, once (theirs to change after)."""
    target = home / "notebooks"
    if target.exists():
        return
    home.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "notebooks", target, ignore=shutil.ignore_patterns(".ipynb_*"))
    if os.geteuid() == 0:  # the Hub runs as root: the files must be the user's
        import pwd

        try:
            entry = pwd.getpwnam(username)
        except KeyError:
            return  # no such system user (SimpleLocalProcessSpawner): leave them as they are
        for folder, _, files in os.walk(target):
            os.chown(folder, entry.pw_uid, entry.pw_gid)
            for name in files:
                os.chown(os.path.join(folder, name), entry.pw_uid, entry.pw_gid)


def pre_spawn_hook(hub_state: Path, env: str = "sim") -> Callable[[Any], None]:
    """A ``c.Spawner.pre_spawn_hook`` giving each user their own lab (see the module)."""

    def hook(spawner: Any) -> None:
        name = spawner.user.name
        home = _home(spawner)
        _give_notebooks(home, name)
        spawner.environment.update(user_environment(name, home, hub_state, env))

    return hook
