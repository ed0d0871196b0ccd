"""Serve the real Horizon with waitress: run by the *horizon* virtual environment's Python.

    .venv-horizon/bin/python labkit/horizon/serve.py --settings-dir DIR --port 8080 \
        [--watch-pid PID]

``DIR`` holds ``local/local_settings.py``. Horizon's ``openstack_dashboard.settings`` ends
with ``from local.local_settings import *`` and only *appends* its own folder to
``sys.path``, so a ``local`` package found first on the path is the one it reads: the
controller's file, with labkit's few additions, without touching the installed Horizon.

Waitress is a production WSGI server from PyPI (pure Python, threads, no compiler), standing
in for the Apache + mod_wsgi of a real controller; Django's ``runserver`` is for development
only. Static files are answered by Django's ``StaticFilesHandler`` from the folder built with
the virtual environment, as Apache's ``Alias /static`` would.

With ``--watch-pid`` the server exits when that process (the sim) is gone, so a dashboard
never outlives its cloud. This file imports nothing from labkit: labkit is not installed in
Horizon's virtual environment.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time


def _watch(pid: int) -> None:
    while True:
        time.sleep(1.0)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settings-dir", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--watch-pid", type=int, default=0)
    args = parser.parse_args()

    sys.path.insert(0, args.settings_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openstack_dashboard.settings")
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.wsgi import get_wsgi_application
    from waitress import serve

    app = StaticFilesHandler(get_wsgi_application())
    if args.watch_pid:
        threading.Thread(target=_watch, args=(args.watch_pid,), daemon=True).start()
    print(f"horizon: serving on http://{args.host}:{args.port}/", flush=True)
    serve(app, host=args.host, port=args.port, threads=args.threads, ident="horizon")
    return 0


if __name__ == "__main__":
    sys.exit(main())
