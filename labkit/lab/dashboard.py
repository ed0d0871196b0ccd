"""The dashboard facade: where Horizon is, a live picture of one of its pages, and the API
requests one page load makes.

Horizon (Install Guide section 7) is a Django web site and nothing more: it keeps no
database of its own. Every panel is filled by calls to the APIs installed before it --
Keystone, Nova, Glance, Neutron -- made with the token of the user who logged in. On the sim
each of those calls is recorded in the trace with its request id, so
:meth:`Dashboard.requests` can show which service answered what for one page.

* :meth:`Dashboard.url` -- the dashboard's address (starts it on the sim when it is installed
  but not running);
* :meth:`Dashboard.screenshot` -- log in as a lab user in headless Chromium (the
  distribution's ``/usr/bin/chromium``, driven by Playwright) and picture a page;
* :meth:`Dashboard.requests` -- log in as a browser would, load one page, and list the API
  requests Horizon made for it, from the sim's trace.

Introduced in notebooks/05-access.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit.display import Table
from labkit.errors import LabkitError
from labkit.lab.backends import Backend, SimBackend

if TYPE_CHECKING:
    from IPython.display import Image

    from labkit.horizon.server import DashboardHandle
    from labkit.lab.installs import Installs

LAYER = "horizon"
CHROMIUM_INSTALL = "sudo apt-get install -y --no-install-recommends chromium"
# Chromium on a lab machine: no background fetches, sync or GPU; as root it needs --no-sandbox.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

# What a request is for on a dashboard page: (service, path pattern, meaning). The first
# match names the row's purpose; the learner reads the panel from the calls.
PURPOSES: tuple[tuple[str, str, str], ...] = (
    ("keystone", r"/v3/auth/tokens$", "Horizon's clients trade your session's token for one"),
    ("keystone", r"/v3/users/[^/]+/projects$", "the project switcher: your projects"),
    ("keystone", r"/v3/?$", "Keystone's version document (which API it speaks)"),
    ("keystone", r"/v3/projects", "projects"),
    ("keystone", r"/v3/", "identity data"),
    ("nova-api", r"/servers/detail$", "the instance rows: name, status, flavor, addresses"),
    ("nova-api", r"/servers/[^/]+/action$", "an instance action (console log, reboot ...)"),
    ("nova-api", r"/servers", "an instance"),
    ("nova-api", r"/flavors", "flavor names and sizes for the rows"),
    ("nova-api", r"/limits$", "quota use: may the Launch Instance button be pressed?"),
    ("nova-api", r"/os-hypervisors", "hypervisors and their usage"),
    ("nova-api", r"/os-services", "compute services"),
    ("nova-api", r"/os-keypairs", "key pairs"),
    ("nova-api", r"/v2\.1/?$", "Nova's version document (which microversions it speaks)"),
    ("nova-api", r"", "compute data"),
    ("glance-api", r"/v2/images", "image names for the rows"),
    ("glance-api", r"/v2/schemas", "the image schema (which fields an image has)"),
    ("glance-api", r"", "image data"),
    ("neutron", r"/extensions", "which Neutron extensions exist (what the page may offer)"),
    ("neutron", r"/ports", "ports: the instances' addresses"),
    ("neutron", r"/floatingips", "floating IPs"),
    ("neutron", r"/networks", "networks"),
    ("neutron", r"/subnets", "subnets: which network each address is on"),
    ("neutron", r"/security-groups", "security groups"),
    ("neutron", r"/quotas", "network quotas"),
    ("neutron", r"", "network data"),
    ("placement", r"", "resource providers and usage"),
)


def purpose(service: str, path: str) -> str:
    """What a dashboard page asked ``service`` for with ``path`` (the table's last column)."""
    for who, pattern, meaning in PURPOSES:
        if service.startswith(who) and re.search(pattern, path.split("?")[0]):
            return meaning
    return ""


@dataclass(frozen=True)
class ApiRequest:
    """One API request a page load made: to which service, what, its answer and id."""

    service: str
    method: str
    path: str
    status: str
    ms: float
    request_id: str
    behind: tuple[str, ...]  # what the service itself asked on the way (its own hops)


def page_requests(events: list[dict[str, Any]]) -> list[ApiRequest]:
    """The requests a client (here: Horizon) sent, from trace events, with each request's
    own hops (a service asking Keystone to check the token, Glance asking for its own
    token ...) gathered under it by request id; the sim's control API is left out."""
    hops: dict[str, list[str]] = {}
    for event in events:
        if event.get("kind") == "http" and event.get("source") != "client":
            root = str(event.get("global_request_id") or "")
            hops.setdefault(root, []).append(f"{event['target']}: {event['action']}")
    out = []
    for event in events:
        if event.get("kind") != "http" or event.get("source") != "client":
            continue
        if event.get("target") == "sim" or "/_sim/" in str(event.get("action", "")):
            continue
        method, _, path = str(event["action"]).partition(" ")
        rid = str(event["request_id"])
        out.append(
            ApiRequest(
                service=str(event["target"]),
                method=method,
                path=path,
                status=str(event.get("status", "")),
                ms=float(event.get("duration_ms") or 0.0),
                request_id=rid,
                behind=tuple(hops.get(rid, ())),
            )
        )
    return out


def chromium() -> Path:
    """The distribution's Chromium (``$LABKIT_CHROMIUM`` or ``/usr/bin/chromium``)."""
    path = Path(os.environ.get("LABKIT_CHROMIUM", "/usr/bin/chromium"))
    if not (path.is_file() and os.access(path, os.X_OK)):
        found = shutil.which("chromium") or shutil.which("chromium-browser")
        also = f" (there is one at {found}: set LABKIT_CHROMIUM={found})" if found else ""
        raise LabkitError(
            f"A screenshot of the dashboard needs Chromium at {path}{also}.",
            f"Install the distribution's package: {CHROMIUM_INSTALL}",
        )
    try:
        import playwright  # noqa: F401
    except ImportError:
        raise LabkitError(
            "A screenshot of the dashboard needs Playwright for Python.",
            "Install labkit with its dev extras: .venv/bin/pip install -e '.[dev]' (make lab "
            "does).",
        ) from None
    return path


def _normal_page(page: str) -> str:
    """``project/instances`` -> ``/project/instances/`` (Horizon's URLs end with a slash)."""
    cleaned = page.strip().strip("/")
    return f"/{cleaned}/" if cleaned else "/"


class Dashboard:
    def __init__(self, backend: Backend, installs: Installs) -> None:
        self.backend = backend
        self.installs = installs

    # ---- where ---------------------------------------------------------------------------
    def url(self) -> str:
        """The dashboard's base URL (``http://127.0.0.1:8080/`` on the sim).

        On the sim Horizon runs on this machine, on loopback only, next to the sim; when the
        ``horizon`` layer is installed but Horizon is not running (the sim was restarted),
        it is started again. On real hosts it is Apache's ``/horizon`` on the controller."""
        if LAYER not in self.installs.installed():
            raise LabkitError(
                "The dashboard is not installed in this lab.",
                "Install it: lab.ensure('horizon') in a notebook, or `labkit install sim "
                "horizon` (`labkit horizon up`) in a terminal.",
            )
        if not isinstance(self.backend, SimBackend):
            controller = getattr(self.backend.env, "controller", None)
            if controller is None:
                raise LabkitError(
                    "This env is an existing cloud: its dashboard is wherever its operators "
                    "put it.",
                    "Ask them for its URL; labkit installs Horizon only on its own labs.",
                )
            return f"http://{controller.address}/horizon/"
        from labkit.horizon import server, venv

        state_dir = self.backend.paths.root
        handle = server.running(state_dir)
        if handle is not None:
            return handle.url
        if not venv.is_ready():
            raise LabkitError(
                f"Horizon's virtual environment ({venv.venv_dir()}) is missing or out of date.",
                "Build it: `make horizon` (about 1.5 min from PyPI), then run this again; "
                "lab.ensure('horizon') builds it too.",
            )
        return self._restart(state_dir).url

    def _restart(self, state_dir: Path) -> DashboardHandle:
        """Start Horizon again as the layer's install did, on the port it ran on before
        (its ``horizon.json`` outlives the process when the sim stopped under it)."""
        import json

        from labkit.horizon import server
        from labkit.install.horizon import LOCAL_SETTINGS

        assert isinstance(self.backend, SimBackend)
        sim = self.backend.start()  # the sim first: Horizon follows its process
        controller = self.backend.env.controller.name
        settings_file = self.backend.client.file(controller, LOCAL_SETTINGS)["content"]
        try:
            before = int(json.loads((state_dir / server.INFO_NAME).read_text())["port"])
        except (OSError, ValueError, KeyError):
            before = None
        return server.start(state_dir, settings_file, server.port(None, before), watch_pid=sim.pid)

    def _login(self, user: str) -> tuple[str, str, str]:
        """(user, password, domain) of a lab user, for Horizon's login form."""
        credentials: Any = self.backend.credentials(user)
        return (
            credentials.username,
            credentials.password,
            getattr(credentials, "user_domain", "Default"),
        )

    # ---- a picture -----------------------------------------------------------------------
    def screenshot_png(self, page: str = "project/instances", user: str = "demo") -> bytes:
        """A PNG of ``page`` as ``user`` sees it, taken live in headless Chromium."""
        url = self.url().rstrip("/")
        executable = chromium()
        name, password, domain = self._login(user)
        path = _normal_page(page)
        # Playwright's sync API refuses to run inside an asyncio loop (a Jupyter kernel has
        # one), so the browser runs in a thread of its own.
        with ThreadPoolExecutor(max_workers=1) as pool:
            job = pool.submit(_take_screenshot, executable, url, path, name, password, domain)
            return job.result()

    def screenshot(self, page: str = "project/instances", user: str = "demo") -> Image:
        """The picture of :meth:`screenshot_png`, shown inline by Jupyter."""
        from IPython.display import Image

        return Image(data=self.screenshot_png(page, user), format="png")  # type: ignore[no-untyped-call]

    # ---- what a page asks ----------------------------------------------------------------
    def page_load(
        self, page: str = "project/instances", user: str = "demo"
    ) -> tuple[list[ApiRequest], float]:
        """Log in as ``user`` (with the form, as a browser does), load ``page`` once, and
        return the API requests Horizon made for it and the load's seconds (sim only)."""
        if not isinstance(self.backend, SimBackend):
            if not self.backend.has_hosts:
                raise LabkitError(
                    "Only labs whose hosts labkit reaches show a page load's requests.",
                    "On an existing cloud ask its operators for the API logs.",
                )
            return self._real_page_load(page, user)
        from labkit.horizon.pages import DashboardError, DashboardSession

        url = self.url()
        name, password, domain = self._login(user)
        path = _normal_page(page)
        client = self.backend.client
        with DashboardSession(url) as session:
            try:
                session.login(name, password, domain)
            except DashboardError as exc:
                raise LabkitError(str(exc), "Check the password: lab.show_openrc(user).") from None
            mark = _trace_mark(client)
            started = time.perf_counter()
            shown = session.get(path)
            seconds = time.perf_counter() - started
            if shown.status != 200 or "/auth/login/" in shown.path:
                raise LabkitError(
                    f"The dashboard answered {path} with HTTP {shown.status} ({shown.title}).",
                    "Pages are paths as in the browser's address bar: project/instances, "
                    "project/images, admin/hypervisors ...",
                )
        events: list[dict[str, Any]] = []
        after = mark
        while True:  # the control API answers 500 events at a time
            batch = client.trace(after=after)
            events += batch
            if len(batch) < 500:
                break
            after = int(batch[-1]["id"])
        return page_requests(events), seconds

    def _real_page_load(self, page: str, user: str) -> tuple[list[ApiRequest], float]:
        """On real hosts: the same page load, then the API requests it made read from the
        controller's API logs (:func:`labkit.lab.realtrace.page_requests`): those from the
        dashboard's address in the load's time window, made with ``user``'s token."""
        from labkit.horizon.pages import DashboardError, DashboardSession
        from labkit.lab import realtrace

        url = self.url()
        name, password, domain = self._login(user)
        path = _normal_page(page)
        credentials: Any = self.backend.credentials(user)
        user_id = str(credentials.connect().current_user_id)
        with DashboardSession(url) as session:
            try:
                session.login(name, password, domain)
            except DashboardError as exc:
                raise LabkitError(str(exc), "Check the password: lab.show_openrc(user).") from None
            started_at = time.time()
            started = time.perf_counter()
            shown = session.get(path)
            seconds = time.perf_counter() - started
            finished_at = time.time()
            if shown.status != 200 or "/auth/login/" in shown.path:
                raise LabkitError(
                    f"The dashboard answered {path} with HTTP {shown.status} ({shown.title}).",
                    "Pages are paths as in the browser's address bar: project/instances, "
                    "project/images, admin/hypervisors ...",
                )
        controller = self.backend.plan_context().controller
        files: Any = self.backend.host_files()  # SshHostFiles: commands run as root there
        logs = files.run(controller.name, realtrace.tail_command())
        found = realtrace.page_requests(
            str(logs.stdout), started_at, finished_at, controller.address, user_id
        )
        return [
            ApiRequest(r.service, r.method, r.path, r.status, r.ms, r.request_id or "-", ())
            for r in found
        ], seconds

    def requests(self, page: str = "project/instances", user: str = "demo") -> Table:
        """The API requests of one load of ``page``: which service answered each, with the
        request id that service logged it under.

        Horizon asks for some things in parallel threads, so the order of its requests
        varies from load to load: the table groups them by service (Keystone first, then
        the order a page needs them) and path, with how many times each was made."""
        found, seconds = self.page_load(page, user)
        groups: dict[tuple[str, str, str], list[ApiRequest]] = {}
        for req in found:
            groups.setdefault((req.service, req.method, req.path), []).append(req)
        table = Table(
            ["service", "request", "times", "status", "request id (first)", "what for"],
            title=f"One load of {_normal_page(page)} as {user}: {len(found)} API requests",
        )
        for (service, method, path), reqs in sorted(groups.items(), key=_service_order):
            statuses = sorted({r.status for r in reqs})
            ok = all(s.startswith(("2", "3")) for s in statuses)
            table.add(
                service,
                f"{method} {path}",
                len(reqs),
                ", ".join(statuses),
                reqs[0].request_id,
                purpose(service, path),
                mark="" if ok else "fail",
            )
        services = [s for s in SERVICE_ORDER if any(r.service == s for r in found)]
        services += sorted({r.service for r in found} - set(services))
        table.note = (
            f"The page took {seconds:.2f} s and asked {len(services)} services: "
            f"{', '.join(services) or 'none'}. Each service checked Horizon's token with "
            "Keystone on the way (keystonemiddleware): lab.request_logs(request_id) shows "
            "what one request did."
        )
        return table


SERVICE_ORDER = ("keystone", "nova-api", "glance-api", "neutron-api", "placement-api")


def _service_order(item: tuple[tuple[str, str, str], list[ApiRequest]]) -> tuple[int, str, str]:
    (service, method, path), _ = item
    rank = SERVICE_ORDER.index(service) if service in SERVICE_ORDER else len(SERVICE_ORDER)
    return rank, path, method


def _trace_mark(client: Any) -> int:
    """The id of the sim's latest trace event (the control API pages 500 at a time)."""
    mark = 0
    while True:
        events = client.trace(after=mark)
        if events:
            mark = int(events[-1]["id"])
        if len(events) < 500:
            return mark


def _take_screenshot(
    executable: Path, url: str, path: str, user: str, password: str, domain: str
) -> bytes:
    """Log in with Horizon's form in headless Chromium, open ``path``, picture it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(executable), headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            page.goto(f"{url}/auth/login/")
            page.fill("#id_domain", domain)
            page.fill("#id_username", user)
            page.fill("#id_password", password)
            with page.expect_navigation():
                page.click("#loginBtn")
            if "/auth/login" in page.url:
                raise LabkitError(
                    f"The dashboard refused {user}'s login.",
                    "Check the lab's passwords: lab.show_openrc(user).",
                )
            page.goto(f"{url}{path}")
            page.wait_for_load_state("networkidle")
            return page.screenshot(full_page=False)
        finally:
            browser.close()
