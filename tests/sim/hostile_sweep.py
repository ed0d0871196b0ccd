"""The machinery of the hostile-input sweep (tests/sim/test_hostile_input.py).

The sweep sends, to every route of every room (read from the rooms' own route tables, the
ones COVERAGE.md is generated from), requests no well-behaved client sends: bodies that are
not JSON or not objects, wrong-typed and oversized fields, bogus path ids, odd query
strings and headers, methods the path does not serve. What it checks of each answer:

- never a 5xx (a sim bug, or an upstream bug we do not copy);
- the error body is in the service's own envelope (Keystone ``{"error": {...}}``, Nova
  ``{"badRequest": {"message", "code"}}``, Neutron ``{"NeutronError": {...}}``, Placement
  ``{"errors": [...]}``, WebOb's pages for Glance and the middlewares);
- a request that failed changed nothing: a fingerprint of every database of the sim (each
  table's rows, read-only from the sim's state folder) is the same before and after.

Requests go out raw with ``httpx`` (the real clients never send such input) with tokens
openstacksdk got from Keystone.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from labkit.sim.rooms import ROOMS
from tests.conftest import private_sim

# A UUID of nothing (random, fixed so failures repeat).
NOTHING = "5f8d3c2e-9b1a-4c7d-8e6f-0a1b2c3d4e5f"
LONG = "x" * 70_000


@dataclass(frozen=True)
class RouteRef:
    """One route of one room: what the parametrized test is named after."""

    room: str
    method: str
    template: str
    public: bool

    @property
    def id(self) -> str:
        return f"{self.room}:{self.method}:{self.template}"

    @property
    def params(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.template)


def every_route() -> list[RouteRef]:
    """Every (room, method, path) the sim serves, from the rooms' route tables."""
    found: list[RouteRef] = []
    for room in ROOMS:
        for route in importlib.import_module(room.api).all_routes():
            public = bool(getattr(route.handler, "public", False))
            found.append(RouteRef(room.name, route.method, route.template, public))
    return found


def prefix(room: str) -> str:
    return next(r.prefix for r in ROOMS if r.name == room)


# Nova's 410 routes (labkit/sim/nova/api/network_proxies.py) whose last segment is an {id}
GONE_WITH_ID = (
    "os-agents",
    "os-cells",
    "os-certificates",
    "os-cloudpipe",
    "os-fixed-ips",
    "os-floating-ip-dns",
    "entries",
    "os-floating-ips-bulk",
    "os-fping",
    "os-security-group-default-rules",
    "consoles",
)

# ... and those under a server: gone before Nova looks the server up (another project's too)
GONE_FOR_ANY_SERVER = {
    "/v2.1/servers/{server_id}/consoles",
    "/v2.1/servers/{server_id}/consoles/{id}",
    "/v2.1/servers/{server_id}/os-virtual-interfaces",
}


def slot(template: str, param: str) -> str:
    """The name of a path parameter with the segment before it: ``servers/{server_id}``."""
    segments = template.split("/")
    index = segments.index("{" + param + "}")
    return f"{segments[index - 1]}/{{{param}}}"


# ---- the sim's state, fingerprinted --------------------------------------------------------

# Columns rewritten by the sim's own clocks (heartbeats, periodic tasks), not by requests.
VOLATILE_COLUMNS = re.compile(
    r"(updated_at|heartbeat_timestamp|last_seen_up|report_count|started_at|"
    r"free_ram_mb|free_disk_gb|memory_mb_used|local_gb_used|vcpus_used|running_vms|"
    r"disk_available_least|current_workload|last_used)$"
)
# Tables the sim writes by itself while it runs (agents' and services' reports, the
# resource tracker's compute node rows); a request's changes show in the other tables.
VOLATILE_TABLES = frozenset({"agents", "services", "compute_nodes"})


class Fingerprint:
    """Each table's rows of every SQLite database under a lab's state folder, hashed.

    ``PRAGMA data_version`` (kept per open connection) says cheaply whether another
    connection committed since the last look; only then is a database read again."""

    def __init__(self, root: Path) -> None:
        # The services' databases: MariaDB's (mysql/<host>/) and SQLite files on the
        # hosts; not the sim's own bookkeeping (sim.db: counters, trace; machines.db).
        files = sorted(
            p
            for where in ("mysql", "hosts")
            if (root / where).is_dir()
            for pattern in ("*.db", "*.sqlite", "*db")
            for p in (root / where).rglob(pattern)
            if p.is_file() and "/logs/" not in str(p)
        )
        self.conns: dict[str, sqlite3.Connection] = {}
        for path in files:
            try:
                conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
                conn.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
            except sqlite3.DatabaseError:
                continue
            self.conns[str(path.relative_to(root))] = conn
        self.versions: dict[str, int] = {}
        self.hashes: dict[str, dict[str, str]] = {}

    def _read(self, conn: sqlite3.Connection) -> dict[str, str]:
        tables: dict[str, str] = {}
        names = [
            row[0]
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            if row[0] not in VOLATILE_TABLES and not row[0].startswith("sqlite_")
        ]
        for name in names:
            columns = [
                row[1]
                for row in conn.execute(f'PRAGMA table_info("{name}")')
                if not VOLATILE_COLUMNS.search(row[1])
            ]
            if not columns:
                continue
            listed = ", ".join(f'"{c}"' for c in columns)
            digest = hashlib.sha1()
            for row in sorted(repr(r) for r in conn.execute(f'SELECT {listed} FROM "{name}"')):
                digest.update(row.encode())
            tables[name] = digest.hexdigest()
        return tables

    def take(self) -> dict[str, dict[str, str]]:
        for name, conn in self.conns.items():
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if self.versions.get(name) != version or name not in self.hashes:
                try:
                    self.hashes[name] = self._read(conn)
                except sqlite3.OperationalError:  # locked mid-write: look again
                    self.hashes[name] = self._read(conn)
                self.versions[name] = version
        return {k: dict(v) for k, v in self.hashes.items()}

    @staticmethod
    def diff(before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]) -> list[str]:
        changed = []
        for db in sorted(set(before) | set(after)):
            a, b = before.get(db, {}), after.get(db, {})
            changed += [f"{db}:{t}" for t in sorted(set(a) | set(b)) if a.get(t) != b.get(t)]
        return changed

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()


# ---- the error envelopes ----------------------------------------------------------------------


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _keystone_401(body: Any, status: int) -> bool:
    """keystonemiddleware's (and Keystone's) ``{"error": {"code", "title", "message"}}``."""
    if not isinstance(body, dict) or set(body) != {"error"}:
        return False
    inner = body["error"]
    return (
        isinstance(inner, dict)
        and inner.get("code") == status
        and isinstance(inner.get("title"), str)
        and isinstance(inner.get("message"), str)
    )


def _webob(response: httpx.Response) -> bool:
    """A WebOb error page: HTML, plain text, or JSON ``{"message", "code", "title"}``."""
    kind = response.headers.get("content-type", "")
    status = response.status_code
    if kind.startswith("application/json"):
        body = _json(response)
        return (
            isinstance(body, dict)
            and set(body) == {"message", "code", "title"}
            and str(body["code"]).startswith(str(status))
        )
    text = response.text
    if kind.startswith("text/html"):
        return f"<title>{status} " in text
    if kind.startswith("text/plain"):
        return text.startswith(f"{status} ")
    return False


def envelope_problem(room: str, response: httpx.Response) -> str | None:
    """Why this error answer is not in its service's shape (None: it is)."""
    status = response.status_code
    body = _json(response)
    if room == "keystone":
        if status == 413:
            return None if _webob(response) else "not a WebOb 413 page"
        if status == 405:  # Werkzeug's router, rendered by Flask-RESTful
            ok = body == {"message": "The method is not allowed for the requested URL."}
            return None if ok else "not Flask-RESTful's 405 {'message': ...}"
        return None if _keystone_401(body, status) else "not Keystone's {'error': {...}}"
    if status == 401 and room != "glance":
        if room == "placement" and isinstance(body, dict) and "error" in body:
            return None if _keystone_401(body, 401) else "not keystonemiddleware's 401"
        return None if _keystone_401(body, 401) else "not keystonemiddleware's 401"
    if room == "nova":
        if status == 404 and _webob(response):
            return None  # the API router found no route: WebOb's page, outside the faults
        if status == 404 and isinstance(body, dict) and isinstance(body.get("events"), list):
            return None  # os-server-external-events: every event failed, Nova's own body
        if not isinstance(body, dict) or len(body) != 1:
            return "not Nova's {'<fault>': {...}}"
        (inner,) = body.values()
        if not (
            isinstance(inner, dict)
            and inner.get("code") == status
            and isinstance(inner.get("message"), str)
        ):
            return "Nova fault without message/code"
        return None
    if room == "neutron":
        if isinstance(body, dict) and set(body) == {"NeutronError"}:
            inner = body["NeutronError"]
            if isinstance(inner, dict) and {"type", "message", "detail"} <= set(inner):
                return None
            return "NeutronError without type/message/detail"
        return None if _webob(response) else "not a NeutronError"
    if room == "placement":
        kind = response.headers.get("content-type", "")
        if kind.startswith("application/json") and isinstance(body, dict) and "errors" in body:
            errors = body["errors"]
            if (
                isinstance(errors, list)
                and errors
                and all(
                    isinstance(e, dict)
                    and e.get("status") == status
                    and {"title", "detail", "request_id"} <= set(e)
                    for e in errors
                )
            ):
                return None
            return "Placement errors[] without status/title/detail/request_id"
        return None if _webob(response) else "not Placement's errors[] nor a WebOb page"
    if room == "glance":
        if status == 401 and _keystone_401(body, 401):
            return None
        return None if _webob(response) else "not a WebOb page"
    return None


# ---- cases -----------------------------------------------------------------------------------


@dataclass
class Case:
    """One hostile request."""

    name: str
    path: str
    method: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    user: str = "demo"  # demo (a member), admin, or "" (no token)
    # What the status must be (None: any 4xx) and whether a 2xx is acceptable.
    expect: int | tuple[int, ...] | None = None
    may_succeed: bool = False


def json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()


def body_cases(key: str | None) -> Iterator[tuple[str, bytes, bool]]:
    """(name, body, may_succeed) of the hostile bodies for a route whose body wraps its
    resource in ``key`` (Nova, Neutron, Keystone: ``{"server": {...}}``) or not (None)."""
    yield "not-json", b"{not json", False
    yield "truncated-json", b'{"a": ', False
    yield "json-list", b"[]", False
    yield "json-list-of-object", b"[{}]", False
    yield "json-string", b'"hello"', False
    yield "json-number", b"42", False
    yield "json-null", b"null", False
    yield "json-true", b"true", False
    yield "invalid-utf8", b'{"name": "\xff\xfe\xfa"}', False
    yield "nul-byte", b'{"name": "a\\u0000b"}', True
    yield "huge-body-string", json_bytes({"name": LONG}), True
    yield "deep-nesting", b'{"a":' * 200 + b"1" + b"}" * 200, True
    # deeper than Python's parser goes (RecursionError), and under every body size limit
    yield "deep-nesting-past-the-parser", b"[" * 100_000, False
    yield "empty-object", b"{}", True
    if key is None:
        # Bodies that are not wrapped (Placement, Glance PATCH, Nova actions): fields at
        # the top level.
        inner: dict[str, Any] = {}
        for name, value in field_values():
            yield f"field-{name}", json_bytes({"name": value, "uuid": value}), True
        del inner
        return
    yield f"{key}-list", json_bytes({key: []}), key == "tags"  # [] = no tags
    yield f"{key}-string", json_bytes({key: "x"}), False
    yield f"{key}-number", json_bytes({key: 7}), False
    yield f"{key}-null", json_bytes({key: None}), False
    for name, value in field_values():
        yield f"{key}-name-{name}", json_bytes({key: {"name": value}}), True
    yield f"{key}-unknown-key", json_bytes({key: {"zz_not_a_field": 1}}), True
    yield "wrong-wrapper", json_bytes({"zz_not_a_resource": {}}), True


def field_values() -> Iterator[tuple[str, Any]]:
    """Values of the wrong type or out of range, for a field that wants a short string or a
    small integer."""
    yield "int", 12
    yield "negative", -1
    yield "huge-int", 2**63
    yield "float", 1.5
    yield "bool", True
    yield "null", None
    yield "list", ["a"]
    yield "object", {"nested": {"deeper": 1}}
    yield "empty-string", ""
    yield "long-string", "n" * 300
    yield "very-long-string", LONG
    yield "nul", "a\x00b"
    yield "unicode", "ünïcødé-名前-🙂"
    yield "whitespace", "   "


def wrapper_key(template: str) -> str | None:
    """The key a create/update body wraps its resource in, from the collection's name."""
    segments = [s for s in template.split("/") if s and not s.startswith("{")]
    if not segments:
        return None
    last = segments[-1]
    special = {
        "os-keypairs": "keypair",
        "os-server-groups": "server_group",
        "os-quota-sets": "quota_set",
        "os-services": None,
        "security-groups": "security_group",
        "security-group-rules": "security_group_rule",
        "quotas": "quota",
        "os-extra_specs": "extra_specs",
        "metadata": "metadata",
        "tags": "tags",
        "password": "user",
        "tokens": "auth",
        "implies": None,
        "inherited_to_projects": None,
        "roles": "role",
        "action": None,
        "os-server-external-events": "events",
        "agents": "agent",
    }
    if last in special:
        return special[last]
    if last.endswith("ies"):
        return last[:-3] + "y"
    if last.endswith("sses"):
        return last[:-2]
    if last.endswith("s"):
        return last[:-1]
    return None


# ---- the world the sweep runs in ---------------------------------------------------------------


class World:
    """The resources the sweep aims at, made through the API on a lab with Nova: the demo
    user's server, network, port ... (its requests run as a member) and throwaway
    Keystone/Placement/flavor objects (the admin's targets), so that a hostile body that a
    room wrongly accepted damages nothing the lab needs."""

    def __init__(self, lab: Any) -> None:
        self.lab = lab
        self.base = lab.sim.base_url
        self.http = httpx.Client(base_url=self.base, timeout=60)
        self.admin = lab.connect("admin")
        self.demo = lab.connect("demo")
        self.tokens = {"": ""}
        self.refresh_tokens()
        self.fingerprint = Fingerprint(Path(lab.paths.root))
        self.ids: dict[str, dict[str, str]] = {}
        self.other: dict[str, str] = {}  # the admin project's resources, for 404-not-403
        self.bodies: dict[tuple[str, str, str], list[Base]] = {}
        self.sent = 0  # requests the sweep sent (the report counts them)

    def refresh_tokens(self) -> None:
        """Fresh tokens (password auth, raw). The lab's steady clock moves a second per
        state-changing request, so the sweep's thousands of them outlive an hour's token;
        keystoneauth would not notice (it compares with the real clock)."""
        for user in ("admin", "demo"):
            creds = self.lab.credentials(user)
            answer = self.http.post(
                "/identity/v3/auth/tokens",
                json={
                    "auth": {
                        "identity": {
                            "methods": ["password"],
                            "password": {
                                "user": {
                                    "name": creds.username,
                                    "domain": {"name": creds.user_domain},
                                    "password": creds.password,
                                }
                            },
                        },
                        "scope": {
                            "project": {
                                "name": creds.project,
                                "domain": {"name": creds.project_domain},
                            }
                        },
                    }
                },
            )
            assert answer.status_code == 201, answer.text
            self.tokens[user] = answer.headers["X-Subject-Token"]

    # raw requests with a user's token ------------------------------------------------------
    def send(
        self,
        user: str,
        method: str,
        url: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = {"X-Auth-Token": self.tokens[user]} if user else {}
        sent.update(headers or {})
        content = None
        if body is not None:
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        return self.http.request(method, url, content=content, headers=sent)

    def ok(self, user: str, method: str, url: str, body: Any = None, **headers: str) -> Any:
        answer = self.send(user, method, url, body, headers)
        assert answer.status_code < 300, f"{method} {url}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None

    def build(self) -> World:
        admin, demo = self.admin, self.demo
        tag = os.urandom(3).hex()  # two modules may each build a world on one lab
        demo_project = demo.current_project_id
        demo_user = demo.current_user_id
        admin_project = admin.current_project_id

        # Keystone: throwaway objects for the admin's hostile writes.
        ks = "/identity/v3"
        domain = self.ok("admin", "POST", f"{ks}/domains", {"domain": {"name": f"hd-{tag}"}})
        project = self.ok(
            "admin", "POST", f"{ks}/projects", {"project": {"name": f"hp-{tag}", "tags": ["t1"]}}
        )["project"]
        user = self.ok(
            "admin", "POST", f"{ks}/users", {"user": {"name": f"hu-{tag}", "password": "pw"}}
        )["user"]
        group = self.ok("admin", "POST", f"{ks}/groups", {"group": {"name": f"hg-{tag}"}})["group"]
        role = self.ok("admin", "POST", f"{ks}/roles", {"role": {"name": f"hr-{tag}"}})["role"]
        role2 = self.ok("admin", "POST", f"{ks}/roles", {"role": {"name": f"hr2-{tag}"}})["role"]
        self.ok("admin", "PUT", f"{ks}/roles/{role['id']}/implies/{role2['id']}")
        region = self.ok("admin", "POST", f"{ks}/regions", {"region": {"id": f"hreg-{tag}"}})
        service = self.ok(
            "admin", "POST", f"{ks}/services", {"service": {"type": f"ht-{tag}", "name": "h"}}
        )["service"]
        endpoint = self.ok(
            "admin",
            "POST",
            f"{ks}/endpoints",
            {
                "endpoint": {
                    "service_id": service["id"],
                    "interface": "internal",
                    "url": "http://hostile.example:1",
                }
            },
        )["endpoint"]
        self.ok("admin", "PUT", f"{ks}/groups/{group['id']}/users/{user['id']}")
        self.ok(
            "admin", "PUT", f"{ks}/projects/{project['id']}/users/{user['id']}/roles/{role['id']}"
        )
        credential = self.ok(
            "admin",
            "POST",
            f"{ks}/credentials",
            {"credential": {"type": "cert", "user_id": user["id"], "blob": "x"}},
        )["credential"]
        ec2 = self.ok(
            "admin",
            "POST",
            f"{ks}/users/{user['id']}/credentials/OS-EC2",
            {"tenant_id": project["id"]},
        )["credential"]
        policy = self.ok("admin", "POST", f"{ks}/policies", {"policy": {"type": "t", "blob": "x"}})
        app_cred = self.ok(
            "admin",
            "POST",
            f"{ks}/users/{admin.current_user_id}/application_credentials",
            {"application_credential": {"name": f"hac-{tag}"}},
        )["application_credential"]
        endpoint_group = self.ok(
            "admin",
            "POST",
            f"{ks}/OS-EP-FILTER/endpoint_groups",
            {"endpoint_group": {"name": f"heg-{tag}", "filters": {"interface": "public"}}},
        )["endpoint_group"]
        consumer = self.ok("admin", "POST", f"{ks}/OS-OAUTH1/consumers", {"consumer": {}})
        self.ok(
            "admin",
            "PUT",
            f"{ks}/domains/{domain['domain']['id']}/config",
            {"config": {"identity": {"driver": "ldap"}, "ldap": {"url": "ldap://h"}}},
        )
        self.ids["keystone"] = {
            "config/{group}": "ldap",
            "{group}/{option}": "url",
            "endpoint_groups/{item_id}": endpoint_group["id"],
            "consumers/{item_id}": consumer["consumer"]["id"],
            "application_credentials/{application_credential_id}": app_cred["id"],
            "credentials/{credential_id}": credential["id"],
            "OS-EC2/{access}": ec2["access"],
            "policies/{item_id}": policy["policy"]["id"],
            "domains/{domain_id}": domain["domain"]["id"],
            "domains/{target_id}": domain["domain"]["id"],
            "projects/{target_id}": project["id"],
            "projects/{project_id}": project["id"],
            "users/{actor_id}": user["id"],
            "groups/{actor_id}": group["id"],
            "roles/{role_id}": role["id"],
            "roles/{item_id}": role["id"],
            "roles/{prior_id}": role["id"],
            "implies/{implied_id}": role2["id"],
            "endpoints/{item_id}": endpoint["id"],
            "services/{item_id}": service["id"],
            "groups/{group_id}": group["id"],
            "users/{user_id}": user["id"],
            "tags/{tag}": "t1",
            "regions/{region_id}": region["region"]["id"],
        }

        # Glance: the demo's private image with a tag and a member (the admin's project).
        image = demo.image.create_image(
            name=f"hostile-{tag}", disk_format="raw", container_format="bare"
        )
        demo.image.add_tag(image, "t1")
        self.ok("demo", "POST", f"/image/v2/images/{image.id}/members", {"member": admin_project})
        self.ids["glance"] = {
            "images/{image_id}": image.id,
            "members/{member_id}": admin_project,
            "tags/{tag}": "t1",
        }
        admin_image = admin.image.create_image(
            name=f"hostile-admin-{tag}", disk_format="raw", container_format="bare"
        )
        self.other["images/{image_id}"] = admin_image.id

        # Neutron: the demo's network, subnet, port, security group and rule.
        # (No self-service networks in this lab: the shared provider network is the target,
        # written to by the demo user only, whom Neutron refuses after validating.)
        net = next(n for n in demo.network.networks() if n.is_shared)
        subnet = next(iter(demo.network.subnets(network_id=net.id)))
        port = demo.network.create_port(network_id=net.id, name=f"hpt-{tag}")
        group_ = demo.network.create_security_group(name=f"hsg-{tag}")
        rule = demo.network.create_security_group_rule(
            security_group_id=group_.id,
            direction="ingress",
            protocol="tcp",
            port_range_min=2222,
            port_range_max=2222,
        )
        agent = next(iter(admin.network.agents()))
        pool = demo.network.create_subnet_pool(
            name=f"hsp-{tag}", prefixes=["10.250.0.0/16"], default_prefix_length=24
        )
        entry = demo.network.create_rbac_policy(
            object_type="subnetpool",
            object_id=pool.id,
            target_project_id=admin_project,
            action="access_as_shared",
        )
        scope = demo.network.create_address_scope(name=f"has-{tag}", ip_version=4)
        address_group = demo.network.create_address_group(
            name=f"hag-{tag}", addresses=["192.0.2.0/24"]
        )
        flavor = admin.network.create_flavor(name=f"hfl-{tag}", service_type="FLAVORS")
        profile = admin.network.create_service_profile(metainfo="{}")
        admin.network.associate_flavor_with_service_profile(flavor, profile)
        self.ids["neutron"] = {
            "flavors/{flavor_id}": flavor.id,
            "service_profiles/{profile_id}": profile.id,
            "address-groups/{group_id}": address_group.id,
            "address-scopes/{scope_id}": scope.id,
            "network-ip-availabilities/{network_id}": net.id,
            "rbac-policies/{rbac_policy_id}": entry.id,
            "agents/{agent_id}": agent.id,
            "extensions/{alias}": "security-group",
            "networks/{network_id}": net.id,
            "ports/{port_id}": port.id,
            "quotas/{project_id}": demo_project,
            "security-group-rules/{rule_id}": rule.id,
            "security-groups/{group_id}": group_.id,
            "subnets/{subnet_id}": subnet.id,
            "subnetpools/{subnetpool_id}": pool.id,
            "tags/{tag}": f"htag-{tag}",
        }
        admin_port = admin.network.create_port(network_id=net.id, name=f"hpt-admin-{tag}")
        self.other["ports/{port_id}"] = admin_port.id

        # Nova: the demo's server (booted, ACTIVE), keypair, server group; a throwaway
        # private flavor with an extra spec for the admin.
        flavor = admin.compute.create_flavor(
            name=f"hf-{tag}", ram=64, vcpus=1, disk=1, is_public=False
        )
        self.ok(
            "admin",
            "POST",
            f"/compute/v2.1/flavors/{flavor.id}/os-extra_specs",
            {"extra_specs": {"hostile:key": "v"}},
        )
        keypair = demo.compute.create_keypair(name=f"hk-{tag}")
        sgroup = demo.compute.create_server_group(name=f"hsg-{tag}", policy="anti-affinity")
        image_ = admin.image.find_image("cirros", ignore_missing=False)
        tiny = admin.compute.find_flavor("m1.tiny", ignore_missing=False)
        server = demo.compute.create_server(
            name=f"hv-{tag}", flavor_id=tiny.id, image_id=image_.id, networks=[{"uuid": net.id}]
        )
        other = admin.compute.create_server(
            name=f"hv-admin-{tag}", flavor_id=tiny.id, image_id=image_.id, networks="none"
        )
        server = demo.compute.wait_for_server(
            server, status="ACTIVE", failures=["ERROR"], interval=0.2, wait=120
        )
        admin.compute.wait_for_server(
            other, status="ACTIVE", failures=["ERROR"], interval=0.2, wait=120
        )
        self.other["servers/{server_id}"] = other.id
        self.ok(
            "demo", "PUT", f"/compute/v2.1/servers/{server.id}/metadata/k1", {"meta": {"k1": "v"}}
        )
        self.ok(
            "demo",
            "PUT",
            f"/compute/v2.1/servers/{server.id}/tags/t1",
            **{"OpenStack-API-Version": "compute 2.26"},
        )
        actions = self.ok("demo", "GET", f"/compute/v2.1/servers/{server.id}/os-instance-actions")
        hypervisor = next(iter(admin.compute.hypervisors()))
        service_ = next(s for s in admin.compute.services() if s.binary == "nova-compute")
        nova_group = demo.network.create_security_group(name=f"hnsg-{tag}")
        aggregate = admin.compute.create_aggregate(name=f"hagg-{tag}")
        nova_image = demo.image.create_image(
            name=f"himg-{tag}", disk_format="raw", container_format="bare", data=b"x"
        )
        nova_rule = demo.network.create_security_group_rule(
            security_group_id=nova_group.id, direction="ingress", protocol="tcp"
        )
        self.ids["nova"] = {
            "flavors/{flavor_id}": flavor.id,
            "os-extra_specs/{key}": "hostile:key",
            "os-hypervisors/{hypervisor_id}": str(hypervisor.id),
            "os-hypervisors/{pattern}": hypervisor.name,
            "os-keypairs/{name}": keypair.name,
            "os-quota-sets/{project_id}": demo_project,
            "os-server-groups/{group_id}": sgroup.id,
            "os-services/{service_id}": str(service_.id),
            "os-simple-tenant-usage/{project_id}": demo_project,
            "servers/{server_id}": server.id,
            "metadata/{key}": "k1",
            "ips/{network}": net.name,
            "os-instance-actions/{request_id}": actions["instanceActions"][0]["request_id"],
            "tags/{tag}": "t1",
            "os-hosts/{host}": service_.host,
            "os-networks/{network_id}": net.id,
            "os-tenant-networks/{network_id}": net.id,
            "os-security-groups/{group_id}": nova_group.id,
            "os-security-group-rules/{rule_id}": nova_rule.id,
            # the 410s of nova-network and cells v1: any id
            **{f"{name}/{{id}}": "1" for name in GONE_WITH_ID},
            "os-floating-ip-dns/{domain_id}": "example.org",
            "os-instance_usage_audit_log/{before}": "2026-03-15 10:00:00",
            "extensions/{alias}": "os-keypairs",
            "os-aggregates/{aggregate_id}": str(aggregate.id),
            "images/{image_id}": nova_image.id,
            "os-quota-class-sets/{class_name}": "hostile-class",  # not 'default'
        }
        self.server_id = server.id

        # Placement: a throwaway provider with inventory, a trait, a class, a consumer.
        pl = "/placement"
        mv = {"OpenStack-API-Version": "placement 1.36"}
        rp = self.ok("admin", "POST", f"{pl}/resource_providers", {"name": f"hrp-{tag}"}, **mv)
        self.ok(
            "admin",
            "PUT",
            f"{pl}/resource_providers/{rp['uuid']}/inventories",
            {
                "resource_provider_generation": rp["generation"],
                "inventories": {"VCPU": {"total": 8}},
            },
            **mv,
        )
        self.ok("admin", "PUT", f"{pl}/traits/CUSTOM_HOSTILE_{tag.upper()}", **mv)
        self.ok("admin", "PUT", f"{pl}/resource_classes/CUSTOM_HOSTILE_{tag.upper()}", **mv)
        consumer = str(uuid.uuid4())  # a world of its own per module
        self.ok(
            "admin",
            "PUT",
            f"{pl}/allocations/{consumer}",
            {
                "allocations": {rp["uuid"]: {"resources": {"VCPU": 1}}},
                "project_id": demo_project,
                "user_id": demo_user,
                "consumer_generation": None,
            },
            **mv,
        )
        self.ids["placement"] = {
            "allocations/{consumer_uuid}": consumer,
            "resource_classes/{name}": f"CUSTOM_HOSTILE_{tag.upper()}",
            "resource_providers/{uuid}": rp["uuid"],
            "inventories/{resource_class}": "VCPU",
            "traits/{name}": f"CUSTOM_HOSTILE_{tag.upper()}",
        }
        self.demo_project = demo_project
        self.cirros = image_.id
        # Quotas are aimed at the throwaway project: a wrong value accepted would bite
        # nobody.
        self.ids["nova"]["os-quota-sets/{project_id}"] = project["id"]
        self.ids["neutron"]["quotas/{project_id}"] = project["id"]
        self.bodies = base_bodies(self)
        return self

    def real_path(self, ref: RouteRef) -> str:
        path = ref.template
        for param in ref.params:
            path = path.replace("{" + param + "}", self.ids[ref.room][slot(ref.template, param)])
        return prefix(ref.room) + path

    def close(self) -> None:
        self.fingerprint.close()
        self.http.close()


# ---- the cases of one route ---------------------------------------------------------------------

BOGUS_IDS = {
    "nothing": NOTHING,
    "not-a-uuid": "not-a-uuid",
    "long": "i" * 5000,
    "dotdot": "..",
    "pct-slash": "a%2Fb",
    "pct-nul": "a%00b",
    "unicode": "%C3%A9t%C3%A9-%F0%9F%99%82",
    "int": "-1",
}
QUERIES = {
    "limit-negative": "limit=-1",
    "limit-abc": "limit=abc",
    "limit-zero": "limit=0",
    "limit-huge": f"limit={2**63}",
    "limit-float": "limit=1.5",
    "marker-nothing": f"marker={NOTHING}",
    "marker-garbage": "marker=%00%FF",
    "sort-key-bogus": "sort_key=zz_bogus",
    "sort-dir-bogus": "sort_dir=sideways&sort_key=name",
    "repeated": "limit=1&limit=2&name=a&name=b",
    "unknown-filter": "zz_unknown_filter=1",
    "nul-value": "name=a%00b",
    "long-value": "name=" + "q" * 5000,
    "all-tenants-bool": "all_tenants=maybe&all_projects=maybe",
}
# Targets the lab's other tests need as they are (the provider network): the admin's
# hostile writes are not aimed at them, only the demo user's (validated, then refused).
SHARED_TARGETS = frozenset({"networks/{network_id}", "subnets/{subnet_id}"})
# 5xx answers the real service gives for the sim's situation, not for bad input: Neutron's
# NoNetworkAvailable (a 503) when a project asks for a network and the lab has no
# self-service network types.
# And Neutron's quotas controller, which answers POST with 501 (HTTPNotImplemented) by design.
EXPECTED_5XX = (
    ("neutron", "POST", "/v2.0/networks", "No tenant network is available"),
    ("neutron", "POST", "/v2.0/quotas", "POST requests are not supported on this resource."),
)
LATEST = {
    "nova": {"OpenStack-API-Version": "compute latest"},
    "placement": {"OpenStack-API-Version": "placement latest"},
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Whether a room's router's 405 (a method the path does not serve) carries an Allow header:
# Glance's reject controller and Placement's handle_405 name the path's methods; Neutron's
# pecan controllers answer with a bare pecan.abort(405); Keystone's Werkzeug router names them
# too. (Nova's Routes mapper finds no route at all. A handler's own 405 -- Placement's route
# below its microversion raises the bare webob.exc class -- has none.)
ALLOW_ON_405 = {"glance": True, "placement": True, "neutron": False, "keystone": True}
# Keystone, Glance and Neutron ignore both headers; Nova and Placement parse them.
VERSION_HEADERS: dict[str, list[tuple[str, dict[str, str], int]]] = {
    "nova": [
        ("mv-garbage", {"X-OpenStack-Nova-API-Version": "garbage"}, 400),
        ("mv-too-new", {"X-OpenStack-Nova-API-Version": "2.999"}, 406),
        ("mv-new-header-garbage", {"OpenStack-API-Version": "compute 2.x"}, 400),
        ("mv-new-header-too-new", {"OpenStack-API-Version": "compute 3.0"}, 406),
    ],
    "placement": [
        ("mv-garbage", {"OpenStack-API-Version": "placement garbage"}, 400),
        ("mv-too-new", {"OpenStack-API-Version": "placement 1.999"}, 406),
    ],
}


def allowed_methods(ref: RouteRef, routes: list[RouteRef]) -> set[str]:
    return {r.method for r in routes if r.room == ref.room and r.template == ref.template}


def cases_for(world: World, ref: RouteRef, routes: list[RouteRef]) -> Iterator[Case]:
    """The hostile requests for one route."""
    real = world.real_path(ref)
    method = ref.method
    writes = method in ("POST", "PUT", "PATCH")
    destroys = method == "DELETE"
    body = b"{}" if writes else None

    # Who may call it at all.
    if not ref.public:
        yield Case("no-token", real, method, body=body, user="", expect=401)
        yield Case(
            "bad-token",
            real,
            method,
            body=body,
            user="",
            expect=401,
            headers={"X-Auth-Token": "gAAAAAB-garbage"},
        )
        yield Case(
            "empty-token",
            real,
            method,
            body=body,
            user="",
            expect=401,
            headers={"X-Auth-Token": ""},
        )
        for name, headers, status in VERSION_HEADERS.get(ref.room, []):
            yield Case(name, real, method, body=body, headers=headers, expect=status)

    # Bogus ids in the path, one parameter at a time (the others real).
    for param in ref.params:
        for name, bogus in BOGUS_IDS.items():
            if name == "dotdot" and method != "GET":
                # Clients remove dot segments: DELETE .../metadata/.. is DELETE the server.
                continue
            path = _path_with(world, ref, param, bogus)
            for user in ("demo", "admin"):
                yield Case(
                    f"{param}={name}-as-{user}",
                    path,
                    method,
                    body=body,
                    user=user,
                    may_succeed=True,
                )
        other = world.other.get(slot(ref.template, param))
        if other is not None:
            # Hidden, not forbidden: a read is a 404; a write may fail validation first
            # (Glance's deserializers run before the lookup), but never succeeds.
            yield Case(
                f"{param}=other-project",
                _path_with(world, ref, param, other),
                method,
                body=body,
                expect=410
                if ref.template in GONE_FOR_ANY_SERVER
                else 404
                if method == "GET"
                else None,
            )

    if destroys:
        return  # the real ids exist: anything else would delete them

    # Query strings.
    if method in ("GET", "HEAD"):
        for name, query in QUERIES.items():
            for user in ("demo", "admin"):
                yield Case(
                    f"query-{name}-as-{user}",
                    f"{real}?{query}",
                    method,
                    user=user,
                    may_succeed=True,
                )

    # Headers a client should not send.
    for name, headers in {
        "accept-xml": {"Accept": "application/xml"},
        "accept-html": {"Accept": "text/html"},
        "accept-garbage": {"Accept": "*/*;q=bogus, ;;"},
    }.items():
        yield Case(name, real, method, body=body, headers=headers, may_succeed=True)

    # Methods the path does not serve.
    # (once per path: from its first route)
    served = allowed_methods(ref, routes)
    if method == min(served, key=lambda m: (*METHODS, "HEAD").index(m)):
        for other_method in METHODS:
            if other_method not in served and not _served_elsewhere(
                ref, routes, other_method, world.real_path(ref)[len(prefix(ref.room)) :]
            ):
                yield Case(
                    f"method-{other_method}",
                    real,
                    other_method,
                    body=b"{}",
                    user="admin",
                    expect=(404, 405),
                )

    if not writes:
        return
    yield Case(
        "content-type-text",
        real,
        method,
        body=b"{}",
        headers={"Content-Type": "text/plain"},
        may_succeed=True,
    )
    yield Case(
        "content-type-none",
        real,
        method,
        body=b"{}",
        headers={"Content-Type": ""},
        may_succeed=True,
    )
    key = None if ref.room in ("placement", "glance") else wrapper_key(ref.template)
    shared = any(slot(ref.template, p) in SHARED_TARGETS for p in ref.params)
    yield from field_cases(world, ref)
    for user in ("demo",) if shared else ("demo", "admin"):
        for name, content, may_succeed in body_cases(key):
            yield Case(
                f"body-{name}-as-{user}",
                real,
                method,
                body=content,
                user=user,
                may_succeed=may_succeed,
            )


def _served_elsewhere(ref: RouteRef, routes: list[RouteRef], method: str, path: str) -> bool:
    """Whether another template of the room serves ``method`` on this path (Neutron's
    ``/quotas/project`` is also ``/quotas/{project_id}``)."""
    for other in routes:
        if other.room == ref.room and other.method == method:
            pattern = re.sub(r"\{(\w+)\}", r"[^/]+", other.template.rstrip("/"))
            if re.fullmatch(pattern + "/?", path):
                return True
    return False


def _path_with(world: World, ref: RouteRef, param: str, value: str) -> str:
    path = ref.template
    for p in ref.params:
        chosen = value if p == param else world.ids[ref.room][slot(ref.template, p)]
        path = path.replace("{" + p + "}", chosen)
    return prefix(ref.room) + path


# Routes whose success starts work on a thread of the service, not on the bus (Glance's
# import task): after a success the sweep waits for the databases to settle.
BACKGROUND = frozenset({("glance", "POST", "/v2/images/{image_id}/import")})


def settle(fingerprint: Fingerprint, quiet: float = 0.3, limit: float = 15.0) -> None:
    """Wait until the databases stop changing for ``quiet`` seconds (at most ``limit``)."""
    deadline = time.monotonic() + limit
    last = fingerprint.take()
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = fingerprint.take()
        if now == last:
            return
        last = now


def run_route(world: World, ref: RouteRef, routes: list[RouteRef]) -> list[str]:
    """Send every case of a route; return the problems found, each naming its case."""
    problems: list[str] = []
    world.refresh_tokens()
    before = world.fingerprint.take()
    body_needed: bool | None = None
    for case in cases_for(world, ref, routes):
        if case.name.startswith("body-") and body_needed is False:
            continue  # the route ignores bodies: it did what it does with the first one
        headers = dict(case.headers)
        if case.user == "" and "X-Auth-Token" in headers:
            sent = headers
        else:
            sent = {"X-Auth-Token": world.tokens[case.user]} if case.user else {}
            sent.update(headers)
        if case.user == "admin" and not any(h.lower().endswith("api-version") for h in sent):
            # The member's requests go at the service's oldest version, the admin's at its
            # newest: schemas differ between microversions.
            sent.update(LATEST.get(ref.room, {}))
        if case.body is not None and "Content-Type" not in sent:
            sent["Content-Type"] = "application/json"
        if sent.get("Content-Type") == "":
            del sent["Content-Type"]
        world.sent += 1
        try:
            answer = world.http.request(case.method, case.path, content=case.body, headers=sent)
        except httpx.HTTPError as exc:
            problems.append(f"{case.name}: no answer ({type(exc).__name__}: {exc})")
            answer = httpx.Response(599, text="no answer")
        status = answer.status_code
        label = f"{case.name} [{case.method} {case.path[:120]}]"
        text = answer.text[:300].replace("\n", " ")
        if status == 599:
            pass
        elif status >= 500 and not any(
            (ref.room, case.method, ref.template) == known[:3] and known[3] in answer.text
            for known in EXPECTED_5XX
        ):
            problems.append(f"{label}: {status} {text}")
        elif status >= 400:
            why = None if case.method == "HEAD" else envelope_problem(ref.room, answer)
            if why:
                problems.append(f"{label}: {status} {why}: {text}")
            allow = ALLOW_ON_405.get(ref.room) if case.name.startswith("method-") else None
            if status == 405 and allow is not None and ("allow" in answer.headers) != allow:
                problems.append(f"{label}: 405 {'without' if allow else 'with'} an Allow header")
            expected = case.expect
            if isinstance(expected, int) and status != expected:
                problems.append(f"{label}: {status}, expected {expected}: {text}")
            elif isinstance(expected, tuple) and status not in expected:
                problems.append(f"{label}: {status}, expected one of {expected}: {text}")
        elif not case.may_succeed and not case.name.startswith("body-not-json"):
            problems.append(f"{label}: {status} accepted: {text}")
        if case.name.startswith("body-not-json"):
            # A route that takes no body (PUT .../tags/{tag}) does its work whatever it is
            # sent: the other bodies would only repeat it.
            body_needed = status >= 400
        if case.method in ("POST", "PUT", "PATCH", "DELETE"):
            if status < 400:
                # Work a success started in the background (an import, a boot) must not
                # count against the next case.
                world.lab.sim.quiesce()
                if (ref.room, ref.method, ref.template) in BACKGROUND:
                    settle(world.fingerprint)
            after = world.fingerprint.take()
            if status >= 400:
                changed = Fingerprint.diff(before, after)
                if changed:
                    problems.append(f"{label}: failed with {status} but changed {changed}")
            before = after
    return problems


# ---- valid bodies, one field at a time made wrong ---------------------------------------------


def mutations(value: Any) -> Iterator[tuple[str, Any]]:
    """Wrong or extreme replacements for one field, by the type of its valid value."""
    if isinstance(value, bool):
        yield from (("str", "yes"), ("int", 1), ("null", None), ("list", [True]))
    elif isinstance(value, int):
        yield from (
            ("str", "8"),
            ("word", "eight"),
            ("negative", -1),
            ("zero", 0),
            ("huge", 2**63),
            ("infinity", float("inf")),  # JSON's Infinity (Python's json reads it)
            ("nan", float("nan")),
            ("float", 1.5),
            ("bool", True),
            ("null", None),
            ("list", [1]),
        )
    elif isinstance(value, str):
        yield from (
            ("int", 12),
            ("bool", False),
            ("null", None),
            ("object", {"nested": 1}),
            ("empty", ""),
            ("long", LONG),
            ("nul", "a\x00b"),
            ("unicode", "ünï-名-🙂"),
            ("spaces", "  x  "),
        )
    elif isinstance(value, list):
        yield from (("str", "x"), ("object", {}), ("nulls", [None]), ("nested", [[{}]]))
        yield from (("long-item", [LONG]), ("empty", []))
    elif isinstance(value, dict):
        yield from (("str", "x"), ("list", []), ("null", None))
    else:  # None
        yield from (("str", "x"), ("int", 1), ("object", {}))


def mutated(body: Any) -> Iterator[tuple[str, Any]]:
    """(field path and mutation, body) for every leaf and object of ``body``: the body as
    it is but for that one field; and each object with an unknown key added."""

    def walk(node: Any, path: str) -> Iterator[tuple[str, Any]]:
        if isinstance(node, dict):
            yield f"{path or '/'}+unknown", {**node, "zz_unknown_field": 1}
            for key, child in node.items():
                for name, replacement in walk(child, f"{path}/{key}"):
                    yield name, {**node, key: replacement}
                for name, replacement in mutations(child):
                    if isinstance(child, dict | list):
                        yield f"{path}/{key}={name}", {**node, key: replacement}
        elif isinstance(node, list):
            for index, child in enumerate(node):
                for name, replacement in walk(child, f"{path}/{index}"):
                    yield name, [*node[:index], replacement, *node[index + 1 :]]
        else:
            for name, replacement in mutations(node):
                yield f"{path}={name}", replacement

    yield from walk(body, "")


@dataclass(frozen=True)
class Base:
    """A valid body for a route, who sends it, and its media type."""

    body: Any
    users: tuple[str, ...] = ("demo",)
    media: str = "application/json"


def base_bodies(world: World) -> dict[tuple[str, str, str], list[Base]]:
    """Valid bodies for the routes where validation is richest. Targets that a mutation
    might really change are the throwaway ones (or a flavor that does not exist, so that
    no server is ever booted by a case)."""
    ids = world.ids
    server = ids["nova"]["servers/{server_id}"]
    rp = ids["placement"]["resource_providers/{uuid}"]
    net = ids["neutron"]["networks/{network_id}"]
    sg = ids["neutron"]["security-groups/{group_id}"]
    cirros = world.cirros
    both = ("demo", "admin")
    admin = ("admin",)
    return {
        ("nova", "POST", "/v2.1/servers"): [
            Base(
                {
                    "server": {
                        "name": "h",
                        "imageRef": cirros,
                        "flavorRef": NOTHING,
                        "networks": [{"uuid": net}],
                        "min_count": 1,
                        "max_count": 1,
                        "metadata": {"k": "v"},
                        "key_name": "k",
                        "availability_zone": "nova",
                        "security_groups": [{"name": "default"}],
                    }
                },
                both,
            )
        ],
        ("nova", "PUT", "/v2.1/servers/{server_id}"): [
            Base({"server": {"name": "h", "accessIPv4": "10.0.0.1"}}, both)
        ],
        ("nova", "POST", "/v2.1/servers/{server_id}/action"): [
            Base({"reboot": {"type": "SOFT"}}, both),
            Base({"resize": {"flavorRef": NOTHING}}, both),
            Base({"rebuild": {"imageRef": NOTHING, "name": "r"}}, both),
            Base({"os-getConsoleOutput": {"length": 5}}, both),
            Base({"addSecurityGroup": {"name": "zz-none"}}, both),
            Base({"changePassword": {"adminPass": "x"}}, ("demo",)),
        ],
        ("nova", "POST", "/v2.1/os-keypairs"): [
            Base({"keypair": {"name": "hk2", "type": "ssh", "public_key": "ssh-rsa AAAA x"}}, both)
        ],
        ("nova", "POST", "/v2.1/flavors"): [
            Base(
                {
                    "flavor": {
                        "name": "hf2",
                        "ram": 64,
                        "vcpus": 1,
                        "disk": 1,
                        "swap": 0,
                        "rxtx_factor": 1.0,
                        "os-flavor-access:is_public": False,
                    }
                },
                admin,
            )
        ],
        ("nova", "POST", "/v2.1/flavors/{flavor_id}/os-extra_specs"): [
            Base({"extra_specs": {"hostile:key": "v"}}, admin)
        ],
        ("nova", "POST", "/v2.1/flavors/{flavor_id}/action"): [
            Base({"addTenantAccess": {"tenant": world.demo_project}}, admin)
        ],
        ("nova", "PUT", "/v2.1/os-quota-sets/{project_id}"): [
            Base({"quota_set": {"instances": 10, "cores": 20, "force": False}}, admin)
        ],
        ("nova", "POST", "/v2.1/os-server-groups"): [
            Base({"server_group": {"name": "g", "policies": ["affinity"]}}, ("demo",)),
            Base({"server_group": {"name": "g", "policy": "affinity", "rules": {}}}, admin),
        ],
        ("nova", "POST", "/v2.1/servers/{server_id}/metadata"): [
            Base({"metadata": {"k1": "v"}}, both)
        ],
        ("nova", "PUT", "/v2.1/servers/{server_id}/metadata/{key}"): [
            Base({"meta": {"k1": "v"}}, both)
        ],
        ("nova", "PUT", "/v2.1/servers/{server_id}/tags"): [Base({"tags": ["t1"]}, admin)],
        ("nova", "POST", "/v2.1/os-server-external-events"): [
            Base({"events": [{"name": "network-changed", "server_uuid": server}]}, admin)
        ],
        ("neutron", "POST", "/v2.0/ports"): [
            Base(
                {
                    "port": {
                        "network_id": net,
                        "name": "p",
                        "admin_state_up": True,
                        "fixed_ips": [{"subnet_id": ids["neutron"]["subnets/{subnet_id}"]}],
                        "security_groups": [sg],
                        "mac_address": "fa:16:3e:00:00:01",
                        "allowed_address_pairs": [{"ip_address": "10.9.9.9"}],
                    }
                },
                both,
            )
        ],
        ("neutron", "PUT", "/v2.0/ports/{port_id}"): [
            Base(
                {
                    "port": {
                        "name": "p",
                        "admin_state_up": True,
                        "security_groups": [sg],
                        "port_security_enabled": True,
                        "binding:host_id": "compute1",
                    }
                },
                both,
            )
        ],
        ("neutron", "POST", "/v2.0/security-groups"): [
            Base({"security_group": {"name": "s", "description": "d", "stateful": True}}, both)
        ],
        ("neutron", "PUT", "/v2.0/security-groups/{group_id}"): [
            Base({"security_group": {"name": "s", "description": "d"}}, both)
        ],
        ("neutron", "POST", "/v2.0/security-group-rules"): [
            Base(
                {
                    "security_group_rule": {
                        "security_group_id": sg,
                        "direction": "ingress",
                        "protocol": "tcp",
                        "ethertype": "IPv4",
                        "port_range_min": 80,
                        "port_range_max": 81,
                        "remote_ip_prefix": "10.0.0.0/8",
                    }
                },
                both,
            )
        ],
        ("neutron", "POST", "/v2.0/subnets"): [
            Base(
                {
                    "subnet": {
                        "network_id": net,
                        "ip_version": 4,
                        "cidr": "10.99.0.0/24",
                        "allocation_pools": [{"start": "10.99.0.10", "end": "10.99.0.20"}],
                        "enable_dhcp": True,
                        "dns_nameservers": ["10.0.0.2"],
                    }
                },
                ("demo",),
            )
        ],
        ("neutron", "PUT", "/v2.0/networks/{network_id}"): [
            Base({"network": {"name": "n", "admin_state_up": True, "mtu": 1450}}, ("demo",))
        ],
        ("neutron", "POST", "/v2.0/subnetpools"): [
            Base(
                {
                    "subnetpool": {
                        "name": "sp",
                        "prefixes": ["10.251.0.0/16"],
                        "default_prefixlen": 24,
                        "min_prefixlen": 16,
                        "max_prefixlen": 28,
                        "default_quota": 1024,
                    }
                },
                both,
            )
        ],
        ("neutron", "PUT", "/v2.0/subnetpools/{subnetpool_id}"): [
            Base({"subnetpool": {"name": "sp", "default_prefixlen": 25}}, ("demo",))
        ],
        ("neutron", "PUT", "/v2.0/subnetpools/{subnetpool_id}/add_prefixes"): [
            Base({"prefixes": ["10.252.0.0/24"]}, ("demo",))
        ],
        ("neutron", "PUT", "/v2.0/quotas/{project_id}"): [
            Base({"quota": {"port": 50, "network": 10}}, admin)
        ],
        ("keystone", "POST", "/v3/auth/tokens"): [
            Base(
                {
                    "auth": {
                        "identity": {
                            "methods": ["password"],
                            "password": {
                                "user": {
                                    "name": "nobody",
                                    "domain": {"name": "Default"},
                                    "password": "x",
                                }
                            },
                        },
                        "scope": {"project": {"name": "nothing", "domain": {"id": "default"}}},
                    }
                },
                ("",),
            )
        ],
        ("keystone", "POST", "/v3/projects"): [
            Base(
                {
                    "project": {
                        "name": "hp2",
                        "domain_id": "default",
                        "enabled": True,
                        "description": "d",
                        "tags": ["a"],
                        "is_domain": False,
                    }
                },
                admin,
            )
        ],
        ("keystone", "PATCH", "/v3/users/{user_id}"): [
            Base({"user": {"name": "hu2", "enabled": True, "email": "e", "options": {}}}, admin)
        ],
        ("keystone", "POST", "/v3/users"): [
            Base({"user": {"name": "hu3", "password": "p", "domain_id": "default"}}, admin)
        ],
        ("keystone", "POST", "/v3/users/{user_id}/password"): [
            Base({"user": {"password": "n", "original_password": "pw"}}, admin)
        ],
        ("keystone", "POST", "/v3/endpoints"): [
            Base(
                {
                    "endpoint": {
                        "service_id": ids["keystone"]["services/{item_id}"],
                        "interface": "public",
                        "url": "http://h.example:1",
                        "region_id": ids["keystone"]["regions/{region_id}"],
                        "enabled": True,
                    }
                },
                admin,
            )
        ],
        ("keystone", "POST", "/v3/regions"): [
            Base({"region": {"description": "d", "parent_region_id": "RegionOne"}}, admin)
        ],
        ("keystone", "POST", "/v3/roles"): [Base({"role": {"name": "r9", "options": {}}}, admin)],
        ("placement", "POST", "/resource_providers"): [
            Base({"name": "rp2", "uuid": NOTHING, "parent_provider_uuid": rp}, admin)
        ],
        ("placement", "PUT", "/resource_providers/{uuid}"): [
            Base({"name": "rp3", "parent_provider_uuid": None}, admin)
        ],
        ("placement", "PUT", "/resource_providers/{uuid}/inventories"): [
            Base(
                {
                    "resource_provider_generation": 1,
                    "inventories": {
                        "VCPU": {
                            "total": 8,
                            "reserved": 0,
                            "min_unit": 1,
                            "max_unit": 8,
                            "step_size": 1,
                            "allocation_ratio": 1.0,
                        }
                    },
                },
                admin,
            )
        ],
        ("placement", "POST", "/resource_providers/{uuid}/inventories"): [
            Base({"resource_class": "MEMORY_MB", "total": 1024, "reserved": 0}, admin)
        ],
        ("placement", "PUT", "/resource_providers/{uuid}/inventories/{resource_class}"): [
            Base({"resource_provider_generation": 1, "total": 8, "max_unit": 8}, admin)
        ],
        ("placement", "PUT", "/resource_providers/{uuid}/traits"): [
            Base({"resource_provider_generation": 1, "traits": ["HW_CPU_X86_AVX"]}, admin)
        ],
        ("placement", "PUT", "/resource_providers/{uuid}/aggregates"): [
            Base({"resource_provider_generation": 1, "aggregates": [NOTHING]}, admin)
        ],
        ("placement", "PUT", "/allocations/{consumer_uuid}"): [
            Base(
                {
                    "allocations": {rp: {"resources": {"VCPU": 1}}},
                    "project_id": world.demo_project,
                    "user_id": "u",
                    "consumer_generation": 1,
                    "consumer_type": "INSTANCE",
                },
                admin,
            )
        ],
        ("placement", "POST", "/allocations"): [
            Base(
                {
                    NOTHING: {
                        "allocations": {rp: {"resources": {"VCPU": 1}}},
                        "project_id": world.demo_project,
                        "user_id": "u",
                        "consumer_generation": None,
                        "consumer_type": "INSTANCE",
                    }
                },
                admin,
            )
        ],
        ("placement", "POST", "/resource_classes"): [Base({"name": "CUSTOM_H2"}, admin)],
        ("glance", "POST", "/v2/images"): [
            Base(
                {
                    "name": "i",
                    "disk_format": "raw",
                    "container_format": "bare",
                    "min_ram": 0,
                    "min_disk": 0,
                    "visibility": "private",
                    "protected": False,
                    "tags": ["a"],
                    "hw_custom": "x",
                }
            )
        ],
        ("glance", "PATCH", "/v2/images/{image_id}"): [
            Base(
                [
                    {"op": "replace", "path": "/name", "value": "n"},
                    {"op": "replace", "path": "/min_ram", "value": 0},
                    {"op": "add", "path": "/hw_x", "value": "y"},
                ],
                media="application/openstack-images-v2.1-json-patch",
            )
        ],
        ("glance", "POST", "/v2/images/{image_id}/members"): [Base({"member": "m"})],
        ("glance", "POST", "/v2/images/{image_id}/import"): [
            Base({"method": {"name": "web-download", "uri": "http://h.example/x.img"}})
        ],
    }


def field_cases(world: World, ref: RouteRef) -> Iterator[Case]:
    """Each base body of the route, one field at a time made wrong (may be accepted)."""
    for base in world.bodies.get((ref.room, ref.method, ref.template), []):
        for user in base.users:
            for name, body in mutated(base.body):
                yield Case(
                    f"field{name}-as-{user or 'nobody'}",
                    world.real_path(ref),
                    ref.method,
                    headers={"Content-Type": base.media},
                    body=json.dumps(body).encode(),
                    user=user,
                    may_succeed=True,
                )


def world_on_its_own_sim(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[World]:
    """A :class:`World` on a sim of its own (every layer up to nova-compute, copied from the
    run's template). Not the shared ``nova_lab``: the sweep leaves flavors, resource providers
    and used-up quota behind on purpose (accepted unusual input), and the Nova tests sharing
    that lab would trip over them. The sim's teardown fails the run if it ever answered a 500."""
    labs = private_sim(tmp_path_factory, name, layer="nova-compute")
    lab = next(labs)
    made = World(lab).build()
    try:
        yield made
    finally:
        made.close()
        next(labs, None)
