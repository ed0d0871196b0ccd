"""The embedded emulator ("sim") of a minimal OpenStack.

Layout: ``core/`` is the HTTP framework, storage, clock, ids and trace every service shares;
``machines/`` the simulated hosts (packages, services, MariaDB, RabbitMQ) that install steps
act on; one folder per OpenStack service (``keystone/``, ``glance/`` ...), each with its
models, rules and API; ``control/`` the sim's own ``/_sim`` API; ``app.py`` puts them
together and ``server.py`` runs them. ``process.py`` is the client side: it starts, stops
and finds sims from labkit.
"""
