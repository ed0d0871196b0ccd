"""The hostile-input sweep, second half: Neutron's and Nova's routes (see
test_hostile_input.py for what is sent and checked), then a server still boots."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sim.hostile_sweep import NOTHING as NOTHING_ID
from tests.sim.hostile_sweep import World, every_route, run_route, world_on_its_own_sim

pytestmark = pytest.mark.slow
ROUTES = every_route()
MINE = [ref for ref in ROUTES if ref.room in ("neutron", "nova")]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from world_on_its_own_sim(tmp_path_factory, "hostile-compute")


@pytest.mark.parametrize("ref", MINE, ids=[ref.id for ref in MINE])
def test_hostile_input(world: World, ref: Any) -> None:
    problems = run_route(world, ref, ROUTES)
    assert not problems, f"{ref.id}:\n" + "\n".join(problems)


def test_the_sim_still_boots_a_server_after_the_sweep(world: World) -> None:
    demo = world.demo
    image = demo.image.find_image("cirros", ignore_missing=False)
    flavor = demo.compute.find_flavor("m1.tiny", ignore_missing=False)
    server = demo.compute.create_server(
        name="after-the-sweep",
        flavor_id=flavor.id,
        image_id=image.id,
        networks=[{"uuid": world.ids["neutron"]["networks/{network_id}"]}],
    )
    server = demo.compute.wait_for_server(
        server, status="ACTIVE", failures=["ERROR"], interval=0.2, wait=120
    )
    assert server.status == "ACTIVE"
    demo.compute.delete_server(server)
    assert world.lab.sim.health()["internal_errors"] == 0
    print(f"hostile sweep (neutron, nova): {world.sent} requests")


# ---- Nova's query-string schemas (labkit/sim/nova/api/query.py) ------------------------------

_NOT_ONE_OF = "Invalid input for query parameters {0}. Value: {1}. '{1}' is not one of"
# (path below /compute/v2.1, microversion, user, status, the message or its start)
QUERY_CASES = [
    # 2.75: unknown parameters refused; the server list's schema has patternProperties,
    # which jsonschema words differently; several names are sorted and joined.
    ("/servers?foo=bar", "2.75", "demo", 400, "'foo' does not match any of the regexes: '^_'"),
    (
        "/servers/detail?zeta=1&alpha=2",
        "2.75",
        "admin",
        400,
        "'alpha', 'zeta' do not match any of the regexes: '^_'",
    ),
    ("/servers?foo=bar", "2.74", "demo", 200, ""),
    ("/flavors?foo=bar", "2.75", "demo", 400, "Additional properties are not allowed ('foo' "),
    ("/flavors/detail?b=1&a=2", "2.75", "demo", 400, "Additional properties are not allowed "
     "('a', 'b' were unexpected)"),
    ("/flavors/detail?foo=bar", "2.74", "demo", 200, ""),
    ("/limits?foo=1", "2.75", "demo", 400, "Additional properties are not allowed ('foo' "),
    ("/limits?foo=1", "2.1", "demo", 200, ""),
    ("/os-services?foo=1", "2.75", "admin", 400, "Additional properties are not allowed"),
    ("/os-server-groups?foo=1", "2.75", "demo", 400, "Additional properties are not allowed"),
    ("/os-simple-tenant-usage?foo=1", "2.75", "admin", 400,
     "Additional properties are not allowed ('foo' was unexpected)"),
    ("/os-quota-sets/{project}?foo=1", "2.75", "demo", 400,
     "Additional properties are not allowed"),
    ("/os-quota-sets/{project}/detail?foo=1", "2.74", "demo", 200, ""),
    ("/servers/{server}/os-volume_attachments?foo=1", "2.75", "demo", 400,
     "Additional properties are not allowed"),
    # strict from the version that brought the schema
    ("/os-hypervisors?foo=1", "2.53", "admin", 400, "Additional properties are not allowed"),
    ("/os-hypervisors?foo=1", "2.52", "admin", 200, ""),
    ("/servers/{server}/os-instance-actions?foo=1", "2.58", "demo", 400,
     "Additional properties are not allowed ('foo' was unexpected)"),
    # known parameters with bad values: at every version
    ("/servers?limit=abc", "2.1", "demo", 400,
     "Invalid input for query parameters limit. Value: abc. 'abc' does not match '^[0-9]*$'"),
    ("/servers?limit=-1", "2.1", "demo", 400,
     "Invalid input for query parameters limit. Value: -1. '-1' does not match '^[0-9]*$'"),
    ("/flavors?limit=", "2.1", "demo", 400,
     "Invalid input for query parameters limit. Value: . '' is too short"),
    ("/flavors?sort_key=zz", "2.1", "demo", 400, _NOT_ONE_OF.format("sort_key", "zz")),
    ("/flavors?sort_dir=up", "2.1", "demo", 400, _NOT_ONE_OF.format("sort_dir", "up")),
    ("/servers?sort_key=zz", "2.1", "demo", 400, _NOT_ONE_OF.format("sort_key", "zz")),
    ("/servers?sort_key=deleted", "2.74", "admin", 200, ""),  # ignored up to 2.74
    ("/servers?sort_key=deleted", "2.75", "admin", 400, _NOT_ONE_OF.format("sort_key", "deleted")),
    ("/servers?changes-since=yesterday", "2.1", "demo", 400,
     "Invalid input for query parameters changes-since. Value: yesterday. 'yesterday' is not "
     "a 'date-time'"),
    ("/servers?changes-since=2026-13-01", "2.1", "demo", 400, "Invalid input for query "
     "parameters changes-since. Value: 2026-13-01. '2026-13-01' is not a 'date-time'"),
    ("/servers?changes-since=2026-01-01T00:00:00Z", "2.1", "demo", 200, ""),
    ("/servers?changes-since=2026-02-01&changes-before=2026-01-01", "2.66", "demo", 400,
     "The value of changes-since must be less than or equal to changes-before."),
    ("/servers?name=(", "2.1", "demo", 400,
     "Invalid input for query parameters name. Value: (. '(' is not a 'regex'"),
    ("/servers?metadata=x", "2.1", "admin", 400, "Invalid filter field: metadata."),
    ("/servers?_secret=x", "2.75", "admin", 400, "Invalid filter field: _secret."),
    ("/servers?_secret=x", "2.75", "demo", 200, ""),  # a member's unknown filters are dropped
    ("/servers?limit=%FF", "2.1", "demo", 400, "Query string is not UTF-8 encoded"),
    ("/os-hypervisors?limit=1&limit=2", "2.53", "admin", 400,
     "Invalid input for query parameters limit. Value: ['1', '2']. ['1', '2'] is too long"),
    ("/os-hypervisors?with_servers=maybe", "2.53", "admin", 400,
     _NOT_ONE_OF.format("with_servers", "maybe")),
    ("/os-server-groups?offset=x", "2.1", "demo", 400,
     "Invalid input for query parameters offset. Value: x. 'x' does not match '^[0-9]*$'"),
]  # fmt: skip


def test_nova_query_schemas(world: World) -> None:
    """Each list's query string as Nova's query_schema checks it: unknown parameters refused
    from 2.75 (ignored before), bad values of known ones refused at every version, with
    Nova's messages -- before the handler looks anything up."""
    wrong = []
    for path, version, user, status, message in QUERY_CASES:
        url = "/compute/v2.1" + path.format(project=world.demo_project, server=world.server_id)
        answer = world.send(
            user, "GET", url, headers={"OpenStack-API-Version": f"compute {version}"}
        )
        got = answer.json()
        if status == 200:
            if answer.status_code != 200:
                wrong.append(f"{url} {version}: {answer.status_code} {answer.text[:200]}")
            continue
        text = got.get("badRequest", {}).get("message", "") if isinstance(got, dict) else ""
        if answer.status_code != status or not text.startswith(message):
            wrong.append(f"{url} {version} as {user}: {answer.status_code} {answer.text[:300]}")
    assert not wrong, "\n".join(wrong)


# ---- the metadata API (labkit/sim/nova/metadata_api.py), as the metadata agent reaches it ------


def test_metadata_api_hostile_requests(world: World) -> None:
    """Odd paths, methods and forged or missing proxy headers sent to nova-api-metadata:
    WebOb's 400/403/404 pages as Nova's metadata handler raises them (it has no fault
    wrapper and serves every method alike), never a 5xx, and nothing changed."""
    import hashlib
    import hmac

    from tests.sim.hostile_sweep import Fingerprint, _webob

    conf = (Path(world.lab.paths.root) / "hosts/controller/etc/nova/nova.conf").read_text()
    secret = re.search(r"^metadata_proxy_shared_secret\s*=\s*(.*)$", conf, re.M)
    assert secret, "no metadata_proxy_shared_secret in the controller's nova.conf"

    def sign(value: str) -> str:
        return hmac.new(
            secret.group(1).strip().encode(), value.encode(), hashlib.sha256
        ).hexdigest()

    server = world.server_id
    project = world.demo_project
    good = {
        "X-Instance-ID": server,
        "X-Tenant-ID": project,
        "X-Instance-ID-Signature": sign(server),
    }
    cases: list[tuple[str, str, Any, int, str]] = [
        ("GET", "/openstack/latest/meta_data.json", good, 200, server),
        ("PUT", "/openstack/latest/meta_data.json", good, 200, server),  # any method reads
        ("DELETE", "/openstack/latest/meta_data.json", good, 200, server),
        ("GET", "/2099-01-01/meta-data/", good, 404, "The resource could not be found."),
        ("GET", "/openstack/2099-01-01/meta_data.json", good, 404, "could not be found"),
        ("GET", "/latest/meta-data/%2e%2e/%2e%2e/etc/passwd", good, 404, "could not be found"),
        ("GET", "/latest/meta-data/" + "a/" * 3000, good, 404, "could not be found"),
        ("GET", "/latest/meta-data/x%00y", good, 404, "could not be found"),
        ("GET", "/latest/meta-data/%FF%C3%A9", good, 404, "could not be found"),
        ("GET", "/latest/meta-data/public-keys/-1/openssh-key", good, 404, "could not be found"),
        ("GET", "/openstack/content/../../x", good, 404, "could not be found"),
        ("PATCH", "/openstack/latest/password", good, 400, "GET and POST only are supported."),
        ("POST", "/openstack/latest/password", good, 400, "Request is too large."),
        (
            "GET",
            "/openstack/latest/meta_data.json",
            {"X-Instance-ID": server, "X-Tenant-ID": project},
            400,
            "X-Instance-ID-Signature header is missing from request.",
        ),
        (
            "GET",
            "/openstack/latest/meta_data.json",
            {"X-Tenant-ID": project, "X-Instance-ID-Signature": sign(server)},
            400,
            "X-Instance-ID header is missing from request.",
        ),
        (
            "GET",
            "/openstack/latest/meta_data.json",
            {"X-Instance-ID": server, "X-Instance-ID-Signature": sign(server)},
            400,
            "X-Tenant-ID header is missing from request.",
        ),
        (
            "GET",
            "/openstack/latest/meta_data.json",
            {**good, "X-Instance-ID-Signature": "0" * 64},
            403,
            "Invalid proxy request signature.",
        ),
        (
            "GET",
            "/openstack/latest/meta_data.json",
            {**good, "X-Instance-ID-Signature": ""},
            403,
            "Invalid proxy request signature.",
        ),
        (  # signed with the secret as the agent would, but for another project
            "GET",
            "/openstack/latest/meta_data.json",
            {**good, "X-Tenant-ID": "someone-else"},
            404,
            "could not be found",
        ),
        (  # a UTF-8 id: WSGI reads headers as latin-1, so its signature is not this one
            "GET",
            "/openstack/latest/meta_data.json",
            {"X-Instance-ID": "é".encode(), "X-Tenant-ID": project,
             "X-Instance-ID-Signature": sign("é")},
            403,
            "Invalid proxy request signature.",
        ),
        (
            "GET",
            "/openstack/latest/meta_data.json",
            {"X-Instance-ID": NOTHING_ID, "X-Tenant-ID": project,
             "X-Instance-ID-Signature": sign(NOTHING_ID)},
            404,
            "could not be found",
        ),
        (
            "GET",
            "/openstack/latest/meta_data.json",
            {"X-Metadata-Provider": "p"},
            400,
            "X-Forwarded-For is missing from request.",
        ),
        (
            "GET",
            "/openstack/latest/meta_data.json",
            {"X-Metadata-Provider": "p", "X-Forwarded-For": "10.0.0.1"},
            403,
            "Invalid proxy request signature.",
        ),
    ]  # fmt: skip
    before = world.fingerprint.take()
    wrong = []
    for method, path, headers, status, text in cases:
        body = b"x" * 2000 if method == "POST" else None
        answer = world.http.request(method, "/nova-metadata" + path, headers=headers, content=body)
        label = f"{method} {path[:80]}: {answer.status_code} {answer.text[:200]!r}"
        if answer.status_code != status or text not in answer.text:
            wrong.append(f"{label}, expected {status} with {text!r}")
        elif status >= 400 and not _webob(answer):
            wrong.append(f"{label}: not a WebOb page")
    assert not wrong, "\n".join(wrong)
    assert not Fingerprint.diff(before, world.fingerprint.take())


def test_neutron_405_has_no_allow_header(world: World) -> None:
    """Neutron's pecan controllers refuse a method with a bare ``pecan.abort(405)``: the
    NeutronError body, no Allow header (unlike Glance and Placement)."""
    net = world.ids["neutron"]["networks/{network_id}"]
    for method, path in (
        ("PATCH", "/networking/v2.0/networks"),
        ("POST", f"/networking/v2.0/networks/{net}"),
    ):
        answer = world.send("admin", method, path, body={})
        assert answer.status_code == 405, answer.text
        assert "allow" not in answer.headers
        assert answer.json()["NeutronError"]["type"] == "HTTPMethodNotAllowed"


def test_unrouted_requests_authenticate_first_then_miss_as_upstream(world: World) -> None:
    """keystonemiddleware sits in front of Nova's, Neutron's and Glance's routers: a path or
    method no route serves is a 401 without a valid token. With one, Nova's Routes mapper
    finds no route -- for an unknown path and for a method the path does not serve alike --
    and its router returns WebOb's bare 404 page (no fault body, no 405)."""
    server = world.server_id
    for path in ("/compute/v2.1/nothing", "/networking/v2.0/nothing", "/image/v2/nothing"):
        answer = world.send("", "GET", path)
        assert answer.status_code == 401, (path, answer.text)
    for method, path in (
        ("GET", "/compute/v2.1/nothing"),
        ("PATCH", "/compute/v2.1/servers"),
        ("POST", f"/compute/v2.1/servers/{server}"),
    ):
        answer = world.send("demo", method, path, headers={"Accept": "application/json"})
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json() == {
            "message": "The resource could not be found.<br /><br />\n\n\n",
            "code": "404 Not Found",
            "title": "Not Found",
        }
        assert "allow" not in answer.headers


def test_json_bodies_are_utf8_as_oslo_reads_them(world: World) -> None:
    """Nova and Neutron read bodies with oslo.serialization, which decodes UTF-8 first: a
    byte-order mark or a UTF-16 body is malformed (``json.loads(bytes)`` would have guessed
    the encoding and read it), and so is nesting deeper than the parser goes; JSON's
    Infinity in an integer field is a 400, not an overflow."""
    body = {"network": {"name": "n"}}
    encoded = {
        "bom": b"\xef\xbb\xbf" + json.dumps(body).encode(),
        "utf-16": json.dumps(body).encode("utf-16"),
        "deep": b"[" * 100_000,
    }
    for name, content in encoded.items():
        nova = world.send("admin", "POST", "/compute/v2.1/os-keypairs", content)
        assert nova.status_code == 400, (name, nova.text)
        assert nova.json() == {"badRequest": {"code": 400, "message": "Malformed request body"}}
        neutron = world.send("demo", "POST", "/networking/v2.0/networks", content)
        assert neutron.status_code == 400, (name, neutron.text)
        assert neutron.json()["NeutronError"]["message"] == "Body contains invalid data"
    flavor = {"flavor": {"name": "inf", "ram": float("inf"), "vcpus": 1, "disk": 1}}
    answer = world.send("admin", "POST", "/compute/v2.1/flavors", flavor)
    assert answer.status_code == 400, answer.text
    assert answer.json()["badRequest"]["message"].startswith(
        "Invalid input for field/attribute ram. Value: inf."
    )
    mtu = world.send(
        "demo", "POST", "/networking/v2.0/networks", {"network": {"mtu": float("inf")}}
    )
    assert mtu.status_code == 400, mtu.text
    assert world.lab.sim.health()["internal_errors"] == 0


_BAD_VERSION = "API Version String {} is of invalid format. Must be of format MajorNum.MinorNum."
# (headers, the version Nova uses, or the status and message it refuses with)
VERSION_HEADER_CASES: list[tuple[list[tuple[str, str]], str | tuple[int, str]]] = [
    ([("OpenStack-API-Version", "placement 1.10, compute 2.60")], "2.60"),
    ([("OpenStack-API-Version", "compute 2.30, compute 2.60")], "2.60"),  # the last wins
    ([("OpenStack-API-Version", "compute 2.30"),
      ("OpenStack-API-Version", "compute 2.40")], "2.40"),
    ([("OpenStack-API-Version", "compute")], "2.1"),
    ([("OpenStack-API-Version", "COMPUTE\t2.12")], "2.12"),
    ([("OpenStack-API-Version", "placement 1.10"),
      ("X-OpenStack-Nova-API-Version", "2.20")], "2.20"),
    ([("X-OpenStack-Nova-API-Version", "2.10, 2.20")], "2.20"),
    ([("OpenStack-API-Version", "compute 02.5")], (400, _BAD_VERSION.format("02.5"))),
    ([("OpenStack-API-Version", "compute LATEST")], (400, _BAD_VERSION.format("LATEST"))),
    ([("OpenStack-API-Version", "compute 2.1.1")], (400, _BAD_VERSION.format("2.1.1"))),
    ([("OpenStack-API-Version", "compute 2.0")], (
        406, "Version 2.0 is not supported by the API. Minimum is 2.1 and maximum is 2.93.")),
]  # fmt: skip


def test_nova_microversion_headers_as_microversion_parse_reads_them(world: World) -> None:
    """Nova reads its version with microversion_parse: the last ``compute`` item of
    ``OpenStack-API-Version`` (repeated headers folded with ','), else the last value of
    the legacy header; APIVersionRequest's pattern (no leading zeros, a case-sensitive
    ``latest``), and its own texts for a malformed (400) or unsupported (406) version."""
    wrong = []
    for headers, expected in VERSION_HEADER_CASES:
        sent = [("X-Auth-Token", world.tokens["demo"]), *headers]
        answer = world.http.get("/compute/v2.1/flavors", headers=sent)
        if isinstance(expected, str):
            got = answer.headers.get("OpenStack-API-Version")
            if answer.status_code != 200 or got != f"compute {expected}":
                wrong.append(f"{headers}: {answer.status_code} {got} {answer.text[:200]}")
        else:
            status, message = expected
            fault = answer.json()
            inner = next(iter(fault.values())) if isinstance(fault, dict) and fault else {}
            if answer.status_code != status or inner.get("message") != message:
                wrong.append(f"{headers}: {answer.status_code} {answer.text[:200]}")
    assert not wrong, "\n".join(wrong)


def test_neutron_page_markers_as_the_plugin_looks_them_up(world: World) -> None:
    """Networks and ports are paged by the DB plugin, which fetches the marker first: one
    that does not exist is that resource's 404. Subnets and security groups page through
    OVO objects, which take an unknown marker as none; without a limit (or limit=0) there
    is no paging and the marker is not looked at."""
    base = "/networking/v2.0"
    cases = [
        (f"{base}/networks?limit=1&marker={NOTHING_ID}", 404, "NetworkNotFound"),
        (f"{base}/ports?limit=1&marker={NOTHING_ID}", 404, "PortNotFound"),
        (f"{base}/networks?limit=0&marker={NOTHING_ID}", 200, ""),
        (f"{base}/networks?marker={NOTHING_ID}", 200, ""),
        (f"{base}/subnets?limit=1&marker={NOTHING_ID}", 200, ""),
        (f"{base}/security-groups?limit=1&marker={NOTHING_ID}", 200, ""),
    ]
    for path, status, kind in cases:
        answer = world.send("demo", "GET", path)
        assert answer.status_code == status, (path, answer.text)
        if kind:
            assert answer.json()["NeutronError"] == {
                "type": kind,
                "message": f"{kind[:-8]} {NOTHING_ID} could not be found.",
                "detail": "",
            }
    net = world.ids["neutron"]["networks/{network_id}"]
    first = world.send("demo", "GET", f"{base}/networks?limit=1&marker={net}")
    assert first.status_code == 200, first.text
