"""JupyterHub for a workshop on one machine: every attendee logs in to the Hub, gets a Jupyter
server of their own running this repository's labkit and notebooks, and a sim of their own
(own port, own state folder) that the notebooks' first cell starts with ``lab.ensure``.

    .venv/bin/jupyterhub -f envs/jupyterhub/jupyterhub_config.py

Run it from the repository's venv (the users' servers run ``jupyterhub-singleuser`` from the
same venv). The proxy, ``configurable-http-proxy``, comes from npm:
``npm install --prefix .venv/hub-proxy configurable-http-proxy`` (``make test-hub`` does it).

Settings (environment variables):

* ``LABKIT_HUB_SPAWNER`` -- ``local`` (default): LocalProcessSpawner, one system user per
  attendee, logged in with their system password (PAM); run the Hub as root. ``simple``:
  SimpleLocalProcessSpawner, no system users, homes in ``/tmp/<user>`` and every server runs
  as the Hub's own user -- no isolation between users: for trials and the tests only.
* ``LABKIT_HUB_PASSWORD`` -- with ``simple``: the one password every name logs in with
  (DummyAuthenticator); no password: any name logs in (never on a reachable machine).
* ``LABKIT_HUB_STATE`` -- the Hub's own folder (its database, cookie secret, and
  ``labkit-users.json``: each user's sim port); default ``.lab/hub``.
* ``LABKIT_HUB_IP`` / ``LABKIT_HUB_PORT`` -- where the Hub listens (127.0.0.1:8000).
* ``LABKIT_HUB_ENV`` -- the env each user's lab uses (default ``sim``).

What makes each user's lab their own is in :mod:`labkit.instructor.hub` (the spawner's
pre-spawn hook); this file only wires JupyterHub to it.
"""

import os
import sys
from pathlib import Path

from labkit.instructor import hub

c = get_config()  # noqa: F821 -- JupyterHub defines it when it reads this file

repo = hub.REPO
state = Path(os.environ.get("LABKIT_HUB_STATE", repo / ".lab" / "hub")).resolve()
state.mkdir(parents=True, exist_ok=True)
venv_bin = Path(sys.executable).parent

# ---- the Hub and its proxy ----------------------------------------------------------------------
c.JupyterHub.ip = os.environ.get("LABKIT_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("LABKIT_HUB_PORT", "8000"))
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
proxy = repo / ".venv" / "hub-proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
if proxy.is_file():
    c.ConfigurableHTTPProxy.command = [str(proxy)]

# ---- who logs in, and how their servers start ---------------------------------------------------
if os.environ.get("LABKIT_HUB_SPAWNER", "local") == "simple":
    c.JupyterHub.authenticator_class = "dummy"
    if os.environ.get("LABKIT_HUB_PASSWORD"):
        c.DummyAuthenticator.password = os.environ["LABKIT_HUB_PASSWORD"]
    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = str(state / "homes" / "{username}")
    if os.geteuid() == 0:  # the servers run as the Hub's user: Jupyter refuses root unless told
        c.Spawner.args = ["--allow-root"]
else:
    c.JupyterHub.authenticator_class = "pam"
    c.JupyterHub.spawner_class = "localprocess"
    c.Authenticator.allow_all = True  # any system user who logs in; or set allowed_users
c.Spawner.cmd = [str(venv_bin / "jupyterhub-singleuser")]
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = "/lab/tree/notebooks/00-welcome.ipynb"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
# Each user's lab: LABKIT_STATE_DIR in their home, LABKIT_SIM_PORT of their own (kept in
# <state>/labkit-users.json), the env, and a copy of the notebooks in their home.
c.Spawner.pre_spawn_hook = hub.pre_spawn_hook(state, os.environ.get("LABKIT_HUB_ENV", "sim"))
c.Spawner.environment = {"PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
