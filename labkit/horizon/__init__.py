"""The dashboard: the real OpenStack Horizon 23.0.0 (Zed), run next to the sim.

- :mod:`labkit.horizon.settings` -- ``local_settings.py`` as Install Guide section 7 writes it
- :mod:`labkit.horizon.venv`     -- Horizon's own virtual environment ``.venv-horizon/``
- :mod:`labkit.horizon.server`   -- start, stop and find a sim's dashboard process
- :mod:`labkit.horizon.serve`    -- what that process runs (waitress + Django), in that venv
- :mod:`labkit.horizon.pages`    -- log in and open pages as a browser would (tests, bench)
- :mod:`labkit.horizon.cli`      -- ``labkit horizon up|down|status``

The install layer is :mod:`labkit.install.horizon`.
"""
