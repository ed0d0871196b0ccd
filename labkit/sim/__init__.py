"""The embedded emulator ("sim") of a minimal OpenStack.

Layout: ``core/`` is what every service shares -- the HTTP pipeline, service processes,
the message bus, request context and causal trace, token middleware, storage, clock, ids;
``machines/`` the simulated hosts (packages, services, MariaDB, RabbitMQ, memcached) that
install steps act on; one folder per OpenStack service (``keystone/``, ``glance/`` ...), a
"room" each, listed in ``rooms.py`` and built the way ``ROOMS.md`` describes; ``control/`` the
sim's own ``/_sim`` API; ``sim.py`` builds them all in order, ``app.py`` routes requests and
``server.py`` runs them. ``process.py`` is the client side: it starts, stops and finds sims
from labkit.
"""
