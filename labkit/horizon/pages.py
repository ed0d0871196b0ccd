"""Use the dashboard as a browser would, without one: log in with the form, open pages.

Horizon is a Django site with CSRF protection: a form is accepted only with the
``csrfmiddlewaretoken`` of the page that showed it and the ``csrftoken`` cookie that came
with that page. :class:`DashboardSession` does exactly what a browser does -- GET the form,
POST it back with the token -- and keeps the session cookie, so tests and ``python -m bench
horizon`` can open every page the learner uses and read what it shows.

The pages the lab uses are listed in :data:`PAGES` (path, the panel's title), in the order a
learner meets them.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

# (path, what the page's <title> starts with) -- the panels notebook 05's tour opens.
PAGES: tuple[tuple[str, str], ...] = (
    ("/project/", "Instance Overview"),
    ("/project/images/", "Images"),
    ("/project/instances/", "Instances"),
    ("/project/key_pairs/", "Key Pairs"),
    ("/project/security_groups/", "Security Groups"),
    ("/project/network_topology/", "Network Topology"),
    ("/project/networks/", "Networks"),
    ("/project/api_access/", "API Access"),
)
ADMIN_PAGES: tuple[tuple[str, str], ...] = (
    ("/admin/", "Usage Overview"),
    ("/admin/hypervisors/", "Hypervisors"),
    ("/admin/info/", "System Information"),
    ("/admin/flavors/", "Flavors"),
    ("/admin/instances/", "Instances"),
    ("/admin/images/", "Images"),
    ("/admin/networks/", "Networks"),
    ("/admin/defaults/", "Defaults"),
    ("/identity/", "Projects"),
    ("/identity/users/", "Users"),
)

_CSRF = re.compile(r'name=["\']csrfmiddlewaretoken["\'] value=["\']([^"\']+)')
_TITLE = re.compile(r"<title>\s*(.*?)\s*</title>", re.S)
_ALERT = re.compile(r'<div class="alert[^"]*alert-(?:danger|error)[^"]*"[^>]*>(.*?)</div>', re.S)


class DashboardError(AssertionError):
    """A page did not show what it should (status, title, an error message)."""


@dataclass(frozen=True)
class Page:
    path: str
    status: int
    title: str
    text: str
    seconds: float

    @property
    def errors(self) -> list[str]:
        """The red messages Horizon put on the page ("Error: Unable to retrieve ...")."""
        shown = re.sub(r"<noscript>.*?</noscript>", "", self.text, flags=re.S)
        found = [_strip(m) for m in _ALERT.findall(shown)]
        # Messages queued for the next page arrive as JavaScript in horizon.alert(...) calls.
        found += [
            html.unescape(m)
            for m in re.findall(r'horizon\.alert\("error",\s*"((?:[^"\\]|\\.)*)"', self.text)
        ]
        return found


def _strip(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def row_text(page: Page, table: str, object_id: str) -> str:
    """The text of one row of a Horizon table (``instances``, ``images`` ...) as a person
    reads it, without its action buttons and popover markup; "" when the row is absent."""
    start = page.text.find(f'id="{table}__row__{object_id}"')
    if start < 0:
        return ""
    row = re.sub(r"<script.*?</script>", " ", page.text[start:], flags=re.S)
    row = re.sub(r'data-content="[^"]*"', " ", row)  # a popover's own little table
    row = re.split(r'</tr>|<td[^>]*class="actions_column"', row, maxsplit=1)[0]
    return _strip(row.partition(">")[2])


class DashboardSession:
    """One logged-in user of the dashboard at ``url`` (``http://127.0.0.1:8080``)."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout, follow_redirects=True)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> DashboardSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _token(self, text: str) -> str:
        match = _CSRF.search(text)
        if not match:
            raise DashboardError("the page has no CSRF token: is this Horizon's form?")
        return match.group(1)

    def login(self, user: str, password: str, domain: str = "Default") -> Page:
        """Log in with the form; raises :class:`DashboardError` with Horizon's own message
        ("Invalid credentials.") when it refuses."""
        form = self.get("/auth/login/")
        data = {
            "csrfmiddlewaretoken": self._token(form.text),
            "region": "default",
            "domain": domain,
            "username": user,
            "password": password,
        }
        page = self.post("/auth/login/", data, referer="/auth/login/")
        if "/auth/login/" in page.path:
            shown = page.errors or ["(no message)"]
            raise DashboardError(f"login as {user} refused: {shown[0]}")
        return page

    def get(self, path: str) -> Page:
        started = time.perf_counter()
        response = self.http.get(path)
        return self._page(response, time.perf_counter() - started)

    def post(
        self, path: str, data: Mapping[str, str | list[str]], referer: str | None = None
    ) -> Page:
        started = time.perf_counter()
        headers = {"Referer": f"{self.url}{referer or path}"}
        response = self.http.post(path, data=data, headers=headers)
        return self._page(response, time.perf_counter() - started)

    def form(self, path: str, fields: dict[str, str]) -> Page:
        """GET a form page, then POST ``fields`` to it with its CSRF token (a modal form
        posts to its own URL)."""
        shown = self.get(path)
        data = {"csrfmiddlewaretoken": self._token(shown.text), **fields}
        return self.post(path, data)

    def ajax(self, path: str) -> httpx.Response:
        """What Horizon's JavaScript fetches (row updates, the console log tab)."""
        return self.http.get(path, headers={"X-Requested-With": "XMLHttpRequest"})

    def api(self, method: str, path: str, body: object = None) -> httpx.Response:
        """Horizon's own REST API (``/api/nova/servers/`` ...), which its AngularJS panels
        call: JSON, with the CSRF token in a header as their JavaScript sends it."""
        headers = {
            "X-Requested-With": "XMLHttpRequest",
            "X-CSRFToken": self.http.cookies.get("csrftoken") or "",
            "Referer": f"{self.url}/project/",
        }
        return self.http.request(method, path, json=body, headers=headers)

    def upload(
        self, path: str, fields: dict[str, object], filename: str, data: bytes
    ) -> httpx.Response:
        """A file and a form, as Horizon's JavaScript uploads them: the form's values as
        JSON under ``$$originalJSON`` (multipart would turn them all into strings)."""
        headers = {
            "X-Requested-With": "XMLHttpRequest",
            "X-CSRFToken": self.http.cookies.get("csrftoken") or "",
            "Referer": f"{self.url}/project/images/",
        }
        return self.http.post(
            path,
            data={"$$originalJSON": json.dumps(fields)},
            files={"data": (filename, data)},
            headers=headers,
        )

    def table_action(self, path: str, action: str) -> Page:
        """Press a row's action button in a table on ``path``: Horizon's tables post
        ``action=<table>__<action>__<row id>`` back to their own page."""
        shown = self.get(path)
        data = {"csrfmiddlewaretoken": self._token(shown.text), "action": action}
        return self.post(path, data)

    def switch_project(self, project_id: str) -> Page:
        return self.get(f"/auth/switch/{project_id}/?next=/project/")

    @staticmethod
    def _page(response: httpx.Response, seconds: float) -> Page:
        match = _TITLE.search(response.text)
        title = _strip(match.group(1)) if match else ""
        return Page(response.url.path, response.status_code, title, response.text, seconds)

    def open(self, path: str, title: str) -> Page:
        """GET ``path`` and check it is the page it should be: HTTP 200, the title, and no
        error message from Horizon (which it shows instead of failing the page)."""
        page = self.get(path)
        if page.status != 200:
            raise DashboardError(f"{path}: HTTP {page.status} ({page.title})")
        if not page.title.startswith(title):
            raise DashboardError(f"{path}: title {page.title!r}, expected {title!r}")
        if page.errors:
            raise DashboardError(f"{path}: Horizon shows errors: {page.errors}")
        return page
