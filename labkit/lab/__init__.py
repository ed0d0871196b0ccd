"""``Lab``: the one object a notebook holds -- the env, its cloud, installs, diagrams, help.

    lab = Lab.from_env("sim")      # reads envs/sim.yaml; no process started yet
    lab.ensure("keystone")         # start the sim if needed, install base + keystone
    conn = lab.connect("demo")     # an openstacksdk connection as the demo user

Every notebook starts this way, so any notebook can run on a fresh kernel: ``ensure`` brings
up what the earlier notebooks would have made (quickly in the sim; idempotently on real
hosts, where a second run changes nothing).

Inside, the env's kind picks a backend once (:mod:`labkit.lab.backends`: the sim, real hosts
over SSH, an existing cloud), and one facade per layer does the work:

* :mod:`labkit.lab.identity` -- connections, credentials (openrc, clouds.yaml, the CLI),
  tokens, Fernet keys, the catalog, scopes;
* :mod:`labkit.lab.hosts` -- topology, files and services on the hosts;
* :mod:`labkit.lab.installs` -- plans, installs, which layers are in place;
* :mod:`labkit.lab.images` -- image sources, imports, checksums, where bytes land,
  visibility.

:class:`Lab` (:mod:`labkit.lab.core`) keeps every name the notebooks call and hands each
call to its facade.
"""

from __future__ import annotations

from labkit.lab.core import Lab

__all__ = ["Lab"]
