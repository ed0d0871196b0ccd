"""Nova's key pairs through the real clients: the ``openstack keypair`` commands, the API's
microversions (2.1 / 2.2 / 2.10 / 2.35 / 2.75 / 2.92), Nova's fingerprints, generated keys,
per-user scoping and the admin's ``user_id``, quota, and a server booted with a key.

The fingerprints are computed here from the key material, independently of the sim.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openstack
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from tests.conftest import openstack_cli
from tests.sim.nova_helpers import compute_raw, fault

pytestmark = pytest.mark.slow
Osc = Callable[..., subprocess.CompletedProcess[str]]
WAIT = {"interval": 0.2, "wait": 60}


@pytest.fixture(scope="module")
def admin(nova_lab: Any) -> Any:
    return nova_lab.connect("admin")


@pytest.fixture(scope="module")
def demo(nova_lab: Any) -> Any:
    return nova_lab.connect("demo")


@pytest.fixture(scope="module")
def cli(nova_lab: Any) -> Osc:
    run = openstack_cli(nova_lab)
    return lambda *args, check=True, cloud="lab-admin": run(
        shlex.join(args), check=check, cloud=cloud
    )


def _json(cli: Osc, *args: str, cloud: str = "lab-admin") -> Any:
    return json.loads(cli(*args, "-f", "json", cloud=cloud).stdout)


_raw = compute_raw("2.93")


def _ssh_key(comment: str = "") -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    line = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return f"{line} {comment}".rstrip()


def _md5_fingerprint(public_key: str) -> str:
    digest = hashlib.md5(base64.b64decode(public_key.split()[1])).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


def _sha1_fingerprint(cert: x509.Certificate) -> str:
    digest = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 40, 2))


def _names(conn: Any, version: str = "2.10", query: str = "") -> list[str]:
    answer = _raw(conn, "GET", f"/os-keypairs{query}", version)
    assert answer.status_code == 200, answer.text
    return [k["keypair"]["name"] for k in answer.json()["keypairs"]]


def _user_in_new_project(admin: Any, nova_lab: Any, name: str, **quota: int) -> tuple[Any, Any]:
    """A user who is only a member of a project of its own (quota set on that project)."""
    project = admin.identity.create_project(name=name, domain_id="default")
    user = admin.identity.create_user(
        name=f"{name}-user", password="SECRET", domain_id="default", default_project_id=project.id
    )
    admin.identity.assign_project_role_to_user(project, user, admin.identity.find_role("member"))
    if quota:
        admin.compute.update_quota_set(project.id, **quota)
    creds = nova_lab.credentials("admin")
    conn = openstack.connect(
        auth_url=creds.auth_url,
        username=user.name,
        password="SECRET",
        user_domain_name="Default",
        project_id=project.id,
        region_name=creds.region,
    )
    return user, conn


# ---- the CLI -----------------------------------------------------------------------------------


def test_import_from_the_cli_keeps_the_key_and_novas_fingerprint(
    admin: Any, cli: Osc, tmp_path: Path, unique: Callable[[str], str]
) -> None:
    public = _ssh_key("learner@lab") + "\n"  # a .pub file ends with a newline; Nova keeps it
    path = tmp_path / "id_rsa.pub"
    path.write_text(public)
    name = unique("imported")
    created = _json(cli, "keypair", "create", "--public-key", str(path), name)
    assert created["name"] == name
    assert created["fingerprint"] == _md5_fingerprint(public)
    assert created["type"] == "ssh"
    assert cli("keypair", "show", "--public-key", name).stdout.strip() == public.strip()
    stored = _raw(admin, "GET", f"/os-keypairs/{name}").json()["keypair"]["public_key"]
    assert stored == public  # as sent, newline included
    shown = _json(cli, "keypair", "show", name)
    assert shown["fingerprint"] == _md5_fingerprint(public)
    assert shown["user_id"] == _json(cli, "token", "issue")["user_id"]
    listed = {k["Name"]: k for k in _json(cli, "keypair", "list")}
    assert listed[name]["Fingerprint"] == _md5_fingerprint(public)
    assert listed[name]["Type"] == "ssh"
    cli("keypair", "delete", name)
    assert name not in {k["Name"] for k in _json(cli, "keypair", "list")}
    gone = cli("keypair", "show", name, check=False)
    assert gone.returncode != 0


def test_without_a_public_key_the_cli_makes_an_ed25519_key_and_nova_stores_its_public_half(
    cli: Osc, unique: Callable[[str], str]
) -> None:
    name = unique("made-by-osc")
    out = cli("keypair", "create", name).stdout
    assert "-----BEGIN OPENSSH PRIVATE KEY-----" in out
    private = serialization.load_ssh_private_key(out.strip().encode(), password=None)
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    assert cli("keypair", "show", "--public-key", name).stdout.strip() == public
    assert _json(cli, "keypair", "show", name)["fingerprint"] == _md5_fingerprint(public)
    cli("keypair", "delete", name)


def test_admin_manages_another_users_keys_with_user(
    cli: Osc, demo: Any, tmp_path: Path, unique: Callable[[str], str]
) -> None:
    path = tmp_path / "k.pub"
    path.write_text(_ssh_key())
    name = unique("for-demo")
    created = _json(cli, "keypair", "create", "--public-key", str(path), "--user", "demo", name)
    demo_id = demo.current_user_id
    assert created["user_id"] == demo_id
    assert name in _names(demo)  # demo sees it as its own
    assert name not in {k["Name"] for k in _json(cli, "keypair", "list")}  # not the admin's
    assert name in {k["Name"] for k in _json(cli, "keypair", "list", "--user", "demo")}
    assert _json(cli, "keypair", "show", "--user", "demo", name)["user_id"] == demo_id
    cli("keypair", "delete", "--user", "demo", name)
    assert name not in _names(demo)


# ---- microversions -----------------------------------------------------------------------------


def test_the_shapes_and_status_codes_follow_the_microversion(
    admin: Any, unique: Callable[[str], str]
) -> None:
    public = _ssh_key()
    old = unique("v21")
    answer = _raw(admin, "POST", "/os-keypairs", "2.1", json={"keypair": {"name": old}})
    assert answer.status_code == 200  # a generated key, 2.1: 200 and no type
    body = answer.json()["keypair"]
    assert set(body) == {"name", "public_key", "fingerprint", "user_id", "private_key"}
    listed = _raw(admin, "GET", "/os-keypairs", "2.1").json()["keypairs"]
    assert {"name", "public_key", "fingerprint"} == set(
        next(k["keypair"] for k in listed if k["keypair"]["name"] == old)
    )
    shown = _raw(admin, "GET", f"/os-keypairs/{old}", "2.1").json()["keypair"]
    assert set(shown) == {
        "name",
        "public_key",
        "fingerprint",
        "user_id",
        "created_at",
        "deleted",
        "deleted_at",
        "id",
        "updated_at",
    }
    assert shown["deleted"] is False and shown["deleted_at"] is None
    datetime.strptime(shown["created_at"], "%Y-%m-%dT%H:%M:%S.%f")
    assert _raw(admin, "DELETE", f"/os-keypairs/{old}", "2.1").status_code == 202

    typed = unique("v22")
    answer = _raw(
        admin,
        "POST",
        "/os-keypairs",
        "2.2",
        json={"keypair": {"name": typed, "public_key": public, "type": "ssh"}},
    )
    assert answer.status_code == 201
    assert answer.json()["keypair"]["type"] == "ssh"
    assert "private_key" not in answer.json()["keypair"]  # imported: no private key
    assert _raw(admin, "GET", f"/os-keypairs/{typed}", "2.2").json()["keypair"]["type"] == "ssh"
    assert _raw(admin, "DELETE", f"/os-keypairs/{typed}", "2.2").status_code == 204

    # 2.1 knows no "type"; 2.2 no "user_id"
    answer = _raw(
        admin, "POST", "/os-keypairs", "2.1", json={"keypair": {"name": "t", "type": "ssh"}}
    )
    assert fault(answer) == (
        400,
        "badRequest",
        "Invalid input for field/attribute keypair. Value: {'name': 't', 'type': 'ssh'}. "
        "Additional properties are not allowed ('type' was unexpected)",
    )
    answer = _raw(
        admin, "POST", "/os-keypairs", "2.2", json={"keypair": {"name": "t", "user_id": "u"}}
    )
    assert fault(answer)[0] == 400
    assert "('user_id' was unexpected)" in fault(answer)[2]


def test_292_requires_a_public_key_and_allows_at_and_dot_in_names(
    admin: Any, unique: Callable[[str], str]
) -> None:
    answer = _raw(admin, "POST", "/os-keypairs", "2.92", json={"keypair": {"name": "k"}})
    assert fault(answer) == (
        400,
        "badRequest",
        "Invalid input for field/attribute keypair. Value: {'name': 'k'}. 'public_key' is a "
        "required property",
    )
    name = unique("me@lab.example")
    key = {"keypair": {"name": name, "public_key": _ssh_key()}}
    answer = _raw(admin, "POST", "/os-keypairs", "2.91", json=key)
    assert fault(answer) == (
        400,
        "badRequest",
        "An invalid 'name' value was provided. The name must be: Only expected characters: "
        "[_- 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ]",
    )
    answer = _raw(admin, "POST", "/os-keypairs", "2.92", json=key)
    assert answer.status_code == 201, answer.text
    assert _raw(admin, "DELETE", f"/os-keypairs/{name}", "2.92").status_code == 204


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            " lead",
            "An invalid 'name' value was provided. The name must be: printable characters. "
            "Can not start or end with whitespace.",
        ),
        ("", "Invalid input for field/attribute name. Value: . '' is too short"),
        (7, "Invalid input for field/attribute name. Value: 7. 7 is not of type 'string'"),
        ("x" * 256, "is too long"),
    ],
)
def test_bad_names_get_novas_schema_errors(admin: Any, name: Any, message: str) -> None:
    answer = _raw(admin, "POST", "/os-keypairs", "2.10", json={"keypair": {"name": name}})
    status, key, text = fault(answer)
    assert (status, key) == (400, "badRequest")
    assert message in text


# ---- import, generate, fingerprints ------------------------------------------------------------


def test_nova_generates_an_rsa_key_before_292_and_never_shows_the_private_half_again(
    admin: Any, unique: Callable[[str], str]
) -> None:
    name = unique("by-nova")
    answer = _raw(admin, "POST", "/os-keypairs", "2.91", json={"keypair": {"name": name}})
    assert answer.status_code == 201
    made = answer.json()["keypair"]
    assert made["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert made["public_key"].startswith("ssh-rsa ")
    assert made["public_key"].endswith(" Generated-by-Nova")
    private = serialization.load_pem_private_key(made["private_key"].encode(), password=None)
    derived = (
        private.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    assert made["public_key"] == f"{derived} Generated-by-Nova"
    assert made["fingerprint"] == _md5_fingerprint(made["public_key"])
    shown = _raw(admin, "GET", f"/os-keypairs/{name}", "2.91").json()["keypair"]
    assert "private_key" not in shown
    assert shown["public_key"] == made["public_key"]
    _raw(admin, "DELETE", f"/os-keypairs/{name}")


def test_x509_certificates_import_with_a_sha1_fingerprint_and_generate_as_pkcs12(
    admin: Any, unique: Callable[[str], str]
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "winrm")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    name = unique("cert")
    body = {"keypair": {"name": name, "type": "x509", "public_key": pem}}
    answer = _raw(admin, "POST", "/os-keypairs", "2.10", json=body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["keypair"]["fingerprint"] == _sha1_fingerprint(cert)
    assert answer.json()["keypair"]["type"] == "x509"
    _raw(admin, "DELETE", f"/os-keypairs/{name}")

    bad = {"keypair": {"name": name, "type": "x509", "public_key": _ssh_key()}}
    status, _, text = fault(_raw(admin, "POST", "/os-keypairs", "2.10", json=bad))
    assert status == 400
    assert text.startswith(
        "Keypair data is invalid: failed to generate X509 fingerprint. Error message: "
    )

    made = _raw(
        admin, "POST", "/os-keypairs", "2.10", json={"keypair": {"name": name, "type": "x509"}}
    ).json()["keypair"]
    generated = x509.load_pem_x509_certificate(made["public_key"].encode())
    user_id = admin.current_user_id
    assert generated.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == user_id
    assert made["fingerprint"] == _sha1_fingerprint(generated)
    bundle = pkcs12.load_pkcs12(base64.b64decode(made["private_key"]), None)
    assert bundle.cert is not None and bundle.cert.certificate == generated
    _raw(admin, "DELETE", f"/os-keypairs/{name}")


def test_bad_and_duplicate_keys_get_novas_errors_and_change_nothing(
    admin: Any, unique: Callable[[str], str]
) -> None:
    name = unique("dup")
    before = _names(admin)
    for junk in ("ssh-rsa not-base64!", "hello", "ssh-ed25519 AAAA"):
        answer = _raw(
            admin, "POST", "/os-keypairs", json={"keypair": {"name": name, "public_key": junk}}
        )
        assert fault(answer) == (
            400,
            "badRequest",
            "Keypair data is invalid: failed to generate fingerprint",
        )
    assert _names(admin) == before
    key = {"keypair": {"name": name, "public_key": _ssh_key()}}
    assert _raw(admin, "POST", "/os-keypairs", json=key).status_code == 201
    again = {"keypair": {"name": name, "public_key": _ssh_key()}}
    assert fault(_raw(admin, "POST", "/os-keypairs", json=again)) == (
        409,
        "conflictingRequest",
        f"Key pair '{name}' already exists.",
    )
    user = admin.current_user_id
    _raw(admin, "DELETE", f"/os-keypairs/{name}")
    for method in ("GET", "DELETE"):
        assert fault(_raw(admin, method, f"/os-keypairs/{name}")) == (
            404,
            "itemNotFound",
            f"Keypair {name} not found for user {user}",
        )


# ---- scoping, paging, quota --------------------------------------------------------------------


def test_a_user_sees_only_its_own_keys_and_only_an_admin_may_name_another_user(
    admin: Any, demo: Any, unique: Callable[[str], str]
) -> None:
    name = unique("mine")
    body = {"keypair": {"name": name, "public_key": _ssh_key()}}
    assert _raw(demo, "POST", "/os-keypairs", json=body).status_code == 201
    assert name not in _names(admin)
    admin_id = admin.current_user_id
    for method, path, rule in (
        ("GET", f"/os-keypairs?user_id={admin_id}", "index"),
        ("GET", f"/os-keypairs/{name}?user_id={admin_id}", "show"),
        ("DELETE", f"/os-keypairs/{name}?user_id={admin_id}", "delete"),
    ):
        assert fault(_raw(demo, method, path)) == (
            403,
            "forbidden",
            f"Policy doesn't allow os_compute_api:os-keypairs:{rule} to be performed.",
        )
    theirs = {"keypair": {"name": unique("theirs"), "public_key": _ssh_key(), "user_id": admin_id}}
    assert fault(_raw(demo, "POST", "/os-keypairs", json=theirs))[2] == (
        "Policy doesn't allow os_compute_api:os-keypairs:create to be performed."
    )
    # before 2.10 the query's user_id means nothing: the caller's own keys
    assert name in _names(demo, "2.9", f"?user_id={admin_id}")
    # naming oneself is allowed
    assert name in _names(demo, "2.10", f"?user_id={demo.current_user_id}")
    _raw(demo, "DELETE", f"/os-keypairs/{name}")


def test_235_pages_by_name_with_a_next_link(
    admin: Any, nova_lab: Any, unique: Callable[[str], str]
) -> None:
    _, conn = _user_in_new_project(admin, nova_lab, unique("pager"))
    for name in ("kc", "ka", "kb"):
        body = {"keypair": {"name": name, "public_key": _ssh_key()}}
        assert _raw(conn, "POST", "/os-keypairs", json=body).status_code == 201
    first = _raw(conn, "GET", "/os-keypairs?limit=2", "2.35").json()
    assert [k["keypair"]["name"] for k in first["keypairs"]] == ["ka", "kb"]
    (link,) = first["keypairs_links"]
    assert link["rel"] == "next"
    assert link["href"].endswith("/v2.1/os-keypairs?limit=2&marker=kb")
    second = _raw(conn, "GET", "/os-keypairs?limit=2&marker=kb", "2.35").json()
    assert [k["keypair"]["name"] for k in second["keypairs"]] == ["kc"]
    assert "keypairs_links" not in second
    # before 2.35 there is no paging: all of them, no links
    assert _names(conn, "2.34", "?limit=1") == ["ka", "kb", "kc"]
    assert fault(_raw(conn, "GET", "/os-keypairs?marker=nope", "2.35")) == (
        400,
        "badRequest",
        "Marker nope could not be found.",
    )
    assert fault(_raw(conn, "GET", "/os-keypairs?limit=-1", "2.35"))[2] == (
        "Invalid input for query parameters limit. Value: -1. '-1' does not match '^[0-9]*$'"
    )
    # 2.75 refuses what it does not know; 2.74 ignores it
    assert _names(conn, "2.74", "?sort=name") == ["ka", "kb", "kc"]
    assert fault(_raw(conn, "GET", "/os-keypairs?sort=name", "2.75")) == (
        400,
        "badRequest",
        "Additional properties are not allowed ('sort' was unexpected)",
    )


def test_the_key_pairs_quota_counts_the_users_keys(
    admin: Any, nova_lab: Any, unique: Callable[[str], str]
) -> None:
    _, conn = _user_in_new_project(admin, nova_lab, unique("kp-quota"), key_pairs=1)
    first = {"keypair": {"name": "one", "public_key": _ssh_key()}}
    assert _raw(conn, "POST", "/os-keypairs", json=first).status_code == 201
    over = fault(
        _raw(conn, "POST", "/os-keypairs", json={"keypair": {"name": "two", "public_key": "x"}})
    )
    # the quota is checked before the key itself
    assert over == (403, "forbidden", "Quota exceeded, too many key pairs.")
    assert _names(conn) == ["one"]
    assert _raw(conn, "DELETE", "/os-keypairs/one").status_code == 204
    second = {"keypair": {"name": "two", "public_key": _ssh_key()}}
    assert _raw(conn, "POST", "/os-keypairs", json=second).status_code == 201


# ---- servers -----------------------------------------------------------------------------------


def test_a_server_keeps_the_key_it_was_booted_with(
    admin: Any, demo: Any, unique: Callable[[str], str]
) -> None:
    name = unique("boot-key")
    body = {"keypair": {"name": name, "public_key": _ssh_key()}}
    assert _raw(admin, "POST", "/os-keypairs", json=body).status_code == 201
    image = admin.image.find_image("cirros")
    flavor = admin.compute.find_flavor("m1.nano")
    server = admin.compute.create_server(
        name=unique("keyed"),
        flavor_id=flavor.id,
        image_id=image.id,
        networks="none",
        key_name=name,
    )
    server = admin.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], **WAIT)
    assert server.key_name == name
    # the instance keeps its own copy: deleting the key pair does not change the server
    _raw(admin, "DELETE", f"/os-keypairs/{name}")
    assert admin.compute.get_server(server.id).key_name == name
    admin.compute.delete_server(server)
    # a key pair is found among the caller's own only
    mine = {"keypair": {"name": name, "public_key": _ssh_key()}}
    assert _raw(demo, "POST", "/os-keypairs", json=mine).status_code == 201
    with pytest.raises(
        openstack.exceptions.BadRequestException, match=r"Invalid key_name provided\."
    ):
        admin.compute.create_server(
            name="nokey", flavor_id=flavor.id, image_id=image.id, networks="none", key_name=name
        )
    _raw(demo, "DELETE", f"/os-keypairs/{name}")
