"""Upstream tempest against the sim, opt in with ``make tempest`` (never part of ``make test``).

``run.py`` builds ``.venv-tempest`` (tempest from PyPI, pinned), starts a sim of its own,
writes a ``tempest.conf`` for it (``conf.py``), runs ``tempest run`` and prints a summary
(``summary.py``)."""
