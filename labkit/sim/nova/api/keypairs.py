"""``/os-keypairs``: import, generate, list, show and delete SSH (and x509) key pairs, as Zed's
``nova/api/openstack/compute/keypairs.py`` does -- and ``/os-server-groups``.

A key pair belongs to a *user*, not a project: every call works on the caller's own keys
unless an admin names another user with ``user_id`` (2.10+; the policy
``os_compute_api:os-keypairs:<action>`` is ``admin or user_id:%(user_id)s``). What changes
with the microversion:

- 2.1: create answers 200, delete 202, no ``type``.
- 2.2: ``type`` (``ssh`` or ``x509``) in bodies and answers; create 201, delete 204.
- 2.10: ``user_id`` in the create body and as a query parameter of list/show/delete.
- 2.35: ``limit`` and ``marker`` (a key *name*) page the list, with ``keypairs_links``.
- 2.75: an unknown query parameter is a 400 instead of being ignored.
- 2.92: ``public_key`` is required (Nova no longer makes private keys), and names may also
  contain ``@`` and ``.``.

The fingerprint is Nova's (``nova/crypto.py``): for an SSH key the MD5 of the key blob (the
base64 field), as colon-separated hex -- what ``ssh-keygen -l -E md5`` prints; for an x509
certificate the SHA-1 of its DER encoding, in the same notation. A key Nova makes itself is
RSA 2048 in the traditional ``BEGIN RSA PRIVATE KEY`` PEM, its public half commented
``Generated-by-Nova``; the private key is in the create answer only -- Nova never stores it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import string
import threading
import unicodedata
from datetime import timedelta
from typing import Any

import jsonschema
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from sqlalchemy import select
from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.nova import instances, quota
from labkit.sim.nova import models as m
from labkit.sim.nova.api._helpers import (
    MAX_LIMIT,
    body_of,
    caller,
    is_uuid,
    microversion_at_least,
    next_link,
    nova,
)
from labkit.sim.nova.errors import (
    bad_request,
    forbidden,
    invalid_keypair,
    invalid_name,
    keypair_exists,
    keypair_not_found,
    not_found,
    policy_forbidden,
)

routes = Routes()
# The quota recheck, the duplicate check and the insert happen together (Nova relies on the
# table's unique key and rechecks the quota after inserting; the effect is the same).
_STORE_LOCK = threading.Lock()


# ---- request validation (nova/api/validation) --------------------------------------------------
#
# Nova checks bodies and query strings with JSON Schema (Draft 4) and words the first error
# as "Invalid input for field/attribute <field>. Value: <value>. <what jsonschema said>"
# (query strings: "... for query parameters <name> ..."), or with jsonschema's bare message
# when the problem is at the top (a missing "keypair"). A failed name *format* check says
# what a name may hold instead.


class _InvalidName(Exception):
    """A name format check failed; the reason is Nova's."""


def _printable(char: str) -> bool:
    """``parameter_types._is_printable``: not a control/format/unassigned character and not a
    line or paragraph separator. Nova builds its character ranges over the BMP only, so a
    character above U+FFFF never matches."""
    category = unicodedata.category(char)
    if ord(char) >= 0xFFFF:
        return False
    return not category.startswith("C") and (not category.startswith("Z") or category == "Zs")


def _name_format(value: object) -> bool:
    """The ``name`` format: printable characters, not starting or ending with whitespace."""
    if not isinstance(value, str):
        return True  # the schema's "type" reports it
    edges_ok = all(
        _printable(c) and unicodedata.category(c) != "Zs" for c in value[:1] + value[-1:]
    )
    if value and edges_ok and all(_printable(c) for c in value):
        return True
    raise _InvalidName("printable characters. Can not start or end with whitespace.")


def _keypair_chars(safe: str) -> Any:
    def check(value: object) -> bool:
        if isinstance(value, str) and any(c not in safe for c in value):
            raise _InvalidName(f"Only expected characters: [{safe}]")
        return True

    return check


_SAFE_20 = "_- " + string.digits + string.ascii_letters
_SAFE_292 = "@._- " + string.digits + string.ascii_letters
_FORMATS = jsonschema.FormatChecker(formats=())
_FORMATS.checks("name", raises=_InvalidName)(_name_format)
_FORMATS.checks("keypair_name_20", raises=_InvalidName)(_keypair_chars(_SAFE_20))
_FORMATS.checks("keypair_name_292", raises=_InvalidName)(_keypair_chars(_SAFE_292))


def _keypair_name(fmt: str) -> dict[str, Any]:
    """``parameter_types.keypair_name_special_chars[_292]``: a ``name`` and then the stricter
    character set."""
    text = {"type": "string", "minLength": 1, "maxLength": 255}
    return {"allOf": [{**text, "format": "name"}, {**text, "format": fmt}]}


def _create_schema(call: Call) -> dict[str, Any]:
    """``schemas/keypairs.py``: create (2.1), create_v22, create_v210, create_v292."""
    v292 = microversion_at_least(call, "2.92")
    props: dict[str, Any] = {
        "name": _keypair_name("keypair_name_292" if v292 else "keypair_name_20")
    }
    if microversion_at_least(call, "2.2"):
        props["type"] = {"type": "string", "enum": ["ssh", "x509"]}
    props["public_key"] = {"type": "string"}
    if microversion_at_least(call, "2.10"):
        props["user_id"] = {"type": "string"}
    return {
        "type": "object",
        "properties": {
            "keypair": {
                "type": "object",
                "properties": props,
                "required": ["name", "public_key"] if v292 else ["name"],
                "additionalProperties": False,
            }
        },
        "required": ["keypair"],
        "additionalProperties": False,
    }


def _query_schema(call: Call, paged: bool) -> dict[str, Any] | None:
    """The query schemas: nothing checked before 2.10; ``user_id`` (and on the list
    ``limit``/``marker`` from 2.35) after; nothing else allowed from 2.75."""
    if not microversion_at_least(call, "2.10"):
        return None
    strings = {"type": "array", "items": {"type": "string"}}
    props: dict[str, Any] = {"user_id": strings}
    if paged and microversion_at_least(call, "2.35"):
        non_negative = {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 0}
        props["limit"] = {"type": "array", "items": {**non_negative, "minLength": 1}}
        props["marker"] = strings
    return {
        "type": "object",
        "properties": props,
        "additionalProperties": not microversion_at_least(call, "2.75"),
    }


def _validate(schema: dict[str, Any], instance: Any, where: str) -> None:
    """Nova's ``_SchemaValidator.validate``: the first error jsonschema finds, worded as Nova
    words it. ``where`` is "field/attribute" (bodies) or "query parameters"."""
    error = next(
        iter(jsonschema.Draft4Validator(schema, format_checker=_FORMATS).iter_errors(instance)),
        None,
    )
    if error is None:
        return
    if isinstance(error.cause, _InvalidName):
        raise invalid_name(str(error.cause))
    # Zed's jsonschema said "is too short" where newer releases say "should be non-empty".
    message = error.message.replace(" should be non-empty", " is too short")
    if not error.path:
        raise bad_request(message)
    # a body names the innermost field; a query string its parameter (the path's first part)
    field = error.path[-1] if where == "field/attribute" else error.path[0]
    raise bad_request(f"Invalid input for {where} {field}. Value: {error.instance}. {message}")


def _check_query(call: Call, paged: bool = False) -> None:
    schema = _query_schema(call, paged)
    if schema is not None:
        query = {key: call.query.getlist(key) for key in call.query}
        _validate(schema, query, "query parameters")


# ---- fingerprints and generated keys (nova/crypto.py) ------------------------------------------


def _colon_hex(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def fingerprint(public_key: str) -> str:
    """``crypto.generate_fingerprint``: the key must load as an OpenSSH public key; the MD5
    is over the base64-decoded second space-separated field. Raises Nova's 400."""
    try:
        serialization.load_ssh_public_key(public_key.encode("utf-8"))
        blob = base64.b64decode(public_key.split(" ")[1])
    except Exception:
        raise invalid_keypair("failed to generate fingerprint") from None
    return _colon_hex(hashlib.md5(blob, usedforsecurity=False).digest())


def x509_fingerprint(pem: str) -> str:
    """``crypto.generate_x509_fingerprint``: SHA-1 of the certificate (its DER bytes)."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("utf-8"))
        return _colon_hex(cert.fingerprint(hashes.SHA1()))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise invalid_keypair(
            f"failed to generate X509 fingerprint. Error message: {exc}"
        ) from None


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def generate_ssh() -> tuple[str, str, str]:
    """``crypto.generate_key_pair``: (private, public, fingerprint) of a new RSA 2048 key."""
    key = _rsa_key()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    blob = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    public = f"{blob.decode()} Generated-by-Nova"
    return private, public, fingerprint(public)


_UPN = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")  # Microsoft's user principal name


def _der_utf8(text: str) -> bytes:
    """A DER UTF8String (tag 12) -- the value of the certificate's UPN otherName."""
    data = text.encode("utf-8")
    size = len(data)
    if size < 0x80:
        return bytes([0x0C, size]) + data
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x0C, 0x80 | len(length)]) + length + data


def generate_x509(user_id: str, now: Any) -> tuple[str, str, str]:
    """``crypto.generate_winrm_x509_cert``: a self-signed client certificate for WinRM
    (CN=<user id>, 10 years, clientAuth, UPN <user id>@localhost). The "private key" Nova
    hands back is the key and certificate as base64 PKCS#12; the public key is the PEM."""
    key = _rsa_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.OtherName(_UPN, _der_utf8(f"{user_id}@localhost"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    bundle = pkcs12.serialize_key_and_certificates(
        None, key, cert, None, serialization.NoEncryption()
    )
    return base64.b64encode(bundle).decode("ascii"), pem, x509_fingerprint(pem)


# ---- who, and the views (views/keypairs.py) ----------------------------------------------------


def _user(call: Call, action: str) -> str:
    """The user whose keys a list/show/delete works on: ``?user_id=`` from 2.10 (its first
    value), else the caller -- after the policy check on it."""
    wanted = call.query.getlist("user_id")[:1] if microversion_at_least(call, "2.10") else []
    user = (wanted[0] if wanted else "") or caller(call).user_id
    _authorize(call, action, user)
    return user


def _authorize(call: Call, action: str, user_id: str) -> None:
    """``os_compute_api:os-keypairs:<action>``: ``(rule:context_is_admin) or
    user_id:%(user_id)s``."""
    who = caller(call)
    if not (who.is_admin or who.user_id == user_id):
        raise policy_forbidden(f"os_compute_api:os-keypairs:{action}")


def _typed(call: Call, out: dict[str, Any], row: m.KeyPair) -> dict[str, Any]:
    if microversion_at_least(call, "2.2"):
        out["type"] = row.type
    return out


def _index_view(call: Call, row: m.KeyPair) -> dict[str, Any]:
    out = {"name": row.name, "public_key": row.public_key, "fingerprint": row.fingerprint}
    return {"keypair": _typed(call, out, row)}


def _show_view(call: Call, row: m.KeyPair) -> dict[str, Any]:
    out = {
        "name": row.name,
        "public_key": row.public_key,
        "fingerprint": row.fingerprint,
        "user_id": row.user_id,
        "created_at": row.created_at,
        "deleted": False,
        "deleted_at": None,
        "id": row.id,
        "updated_at": None,
    }
    return _typed(call, out, row)


def _find(call: Call, user_id: str, name: str) -> m.KeyPair:
    with nova(call).nova_cells.api.read() as s:
        row = s.scalars(
            select(m.KeyPair).where(m.KeyPair.user_id == user_id, m.KeyPair.name == name)
        ).first()
    if row is None:
        raise keypair_not_found(name, user_id)
    return row


# ---- the routes --------------------------------------------------------------------------------


@routes.get("/v2.1/os-keypairs")
def list_keypairs(call: Call) -> Response:
    _check_query(call, paged=True)
    user = _user(call, "index")
    paged = microversion_at_least(call, "2.35")
    limit = MAX_LIMIT
    marker = None
    if paged:
        if "limit" in call.query:
            limit = min(MAX_LIMIT, int(call.query["limit"]))  # webob: the last value
        marker = call.query.get("marker")
    query = select(m.KeyPair).where(m.KeyPair.user_id == user)
    with nova(call).nova_cells.api.read() as s:
        if marker is not None:
            if s.scalars(query.where(m.KeyPair.name == marker)).first() is None:
                raise bad_request(f"Marker {marker} could not be found.")
            query = query.where(m.KeyPair.name > marker)
        rows = list(s.scalars(query.order_by(m.KeyPair.name).limit(limit if paged else None)))
    out: dict[str, Any] = {"keypairs": [_index_view(call, r) for r in rows]}
    if paged:
        # common.ViewBuilder._get_collection_links: a "next" link when the page is full
        asked = min(int(call.query.get("limit", MAX_LIMIT) or 0), MAX_LIMIT)
        if asked and asked == len(rows):
            params = dict(sorted(call.query.items()))
            params["marker"] = rows[-1].name
            out["keypairs_links"] = next_link(call, "os-keypairs", params)
    return json_response(out)


@routes.get("/v2.1/os-keypairs/{name}")
def show_keypair(call: Call, name: str) -> Response:
    _check_query(call)
    row = _find(call, _user(call, "show"), name)
    return json_response({"keypair": _show_view(call, row)})


@routes.post("/v2.1/os-keypairs")
def create_keypair(call: Call) -> Response:
    _validate(_create_schema(call), call.json(), "field/attribute")
    params: dict[str, Any] = call.json()["keypair"]
    api = nova(call)
    who = caller(call)
    name = str(params["name"]).strip()  # common.normalize_name
    kind = str(params.get("type", "ssh"))
    user = (params.get("user_id") if microversion_at_least(call, "2.10") else None) or who.user_id
    _authorize(call, "create", user)
    cells = api.nova_cells
    limit = quota.limits(cells, who.project_id)["key_pairs"]
    with cells.api.read() as s:
        quota.check_key_pairs(limit, quota.key_pairs_in_use(s, user))
    private: str | None = None
    if "public_key" in params:  # import
        public = str(params["public_key"])
        print_ = x509_fingerprint(public) if kind == "x509" else fingerprint(public)
    elif kind == "x509":
        private, public, print_ = generate_x509(user, api.runtime.now())
    else:
        private, public, print_ = generate_ssh()
    with _STORE_LOCK, cells.api.write() as s:
        quota.check_key_pairs(limit, quota.key_pairs_in_use(s, user))
        taken = select(m.KeyPair.id).where(m.KeyPair.user_id == user, m.KeyPair.name == name)
        if s.scalars(taken).first() is not None:
            raise keypair_exists(name)
        # the API database keeps seconds only (MySQL DATETIME)
        created = api.runtime.now().strftime("%Y-%m-%dT%H:%M:%S.000000")
        row = m.KeyPair(
            user_id=user,
            name=name,
            fingerprint=print_,
            public_key=public,
            type=kind,
            created_at=created,
        )
        s.add(row)
    out: dict[str, Any] = {}
    if private is not None:
        out["private_key"] = private
    if microversion_at_least(call, "2.2"):
        out["type"] = kind
    out.update({"name": name, "public_key": public, "fingerprint": print_, "user_id": user})
    return json_response({"keypair": out}, 201 if microversion_at_least(call, "2.2") else 200)


@routes.delete("/v2.1/os-keypairs/{name}")
def delete_keypair(call: Call, name: str) -> Response:
    _check_query(call)
    user = _user(call, "delete")
    with nova(call).nova_cells.api.write() as s:
        row = s.scalars(
            select(m.KeyPair).where(m.KeyPair.user_id == user, m.KeyPair.name == name)
        ).first()
        if row is None:
            raise keypair_not_found(name, user)
        s.delete(row)
    return empty_response(204 if microversion_at_least(call, "2.2") else 202)


# ---- server groups ------------------------------------------------------------------------------

_POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


def _members(call: Call, uuids: list[str]) -> list[str]:
    """``_get_not_deleted``: the members that still exist -- those not scheduled yet first,
    then those their cell holds undeleted; a deleted server drops out of the list."""
    cells = nova(call).nova_cells
    waiting: list[str] = []
    placed: list[str] = []
    for uuid in uuids:
        found = instances.find(cells, uuid)
        if found is not None:
            (waiting if found[0] is None else placed).append(uuid)
    return waiting + placed


def _group_view(call: Call, row: m.InstanceGroup) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.uuid,
        "name": row.name,
        "members": _members(call, list(row.members)),
        "metadata": {},
    }
    if microversion_at_least(call, "2.64"):
        out.pop("metadata")
        out.update(
            {
                "policy": row.policy,
                "rules": dict(row.rules or {}),
                "project_id": row.project_id,
                "user_id": row.user_id,
            }
        )
    else:
        out["policies"] = [row.policy]
        if microversion_at_least(call, "2.13"):
            out.update({"project_id": row.project_id, "user_id": row.user_id})
    return out


@routes.get("/v2.1/os-server-groups")
def list_groups(call: Call) -> Response:
    who = caller(call)
    with nova(call).nova_cells.api.read() as s:
        query = select(m.InstanceGroup)
        if not (who.is_admin and "all_projects" in call.query):
            query = query.where(m.InstanceGroup.project_id == who.project_id)
        rows = list(s.scalars(query.order_by(m.InstanceGroup.id)))
    return json_response({"server_groups": [_group_view(call, r) for r in rows]})


def _check_rules(rules: Any, policy: str) -> None:
    """2.64's ``rules``: an object with at most ``max_server_per_host`` (a positive integer),
    for anti-affinity only -- checked before anything is stored."""
    if not isinstance(rules, dict):
        raise bad_request(
            f"Invalid input for field/attribute rules. Value: {rules}. {rules!r} is not of type "
            "'object'"
        )
    for key, value in rules.items():
        if key != "max_server_per_host":
            raise bad_request(
                f"Invalid input for field/attribute rules. Value: {rules}. Additional properties "
                f"are not allowed ('{key}' was unexpected)"
            )
        if isinstance(value, bool) or not (
            (isinstance(value, int) and 1 <= value <= 0x7FFFFFFF)
            or (isinstance(value, str) and value.isdigit() and 1 <= int(value) <= 0x7FFFFFFF)
        ):
            raise bad_request(
                "Invalid input for field/attribute max_server_per_host. Value: "
                f"{value}. {value!r} is not valid under any of the given schemas"
            )
    if rules and policy != "anti-affinity":
        raise bad_request("Only anti-affinity policy supports rules.")


@routes.post("/v2.1/os-server-groups")
def create_group(call: Call) -> Response:
    body = body_of(call, "server_group")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request(f"Invalid input for field/attribute name. Value: {name}.")
    policy = (
        body.get("policy")
        if microversion_at_least(call, "2.64")
        else (body.get("policies") or [None])[0]
    )
    if policy not in _POLICIES:
        raise bad_request(
            f"Invalid input for field/attribute policy. Value: {policy}. {policy!r} is not one of "
            f"{list(_POLICIES)}"
        )
    rules = body.get("rules", {}) if microversion_at_least(call, "2.64") else {}
    _check_rules(rules, str(policy))
    api = nova(call)
    who = caller(call)
    if (
        quota.usage(api.nova_cells, who.project_id)["server_groups"]
        >= quota.limits(api.nova_cells, who.project_id)["server_groups"]
    ):
        raise forbidden("Quota exceeded, too many server groups.")
    row = m.InstanceGroup(
        uuid=api.runtime.ids.dashed_id(),
        name=name,
        project_id=who.project_id,
        user_id=who.user_id,
        policy=str(policy),
        rules=rules or {},
        members=[],
    )
    with api.nova_cells.api.write() as s:
        s.add(row)
    return json_response({"server_group": _group_view(call, row)})


def _group(call: Call, group_id: str) -> m.InstanceGroup:
    with nova(call).nova_cells.api.read() as s:
        row = (
            s.scalars(select(m.InstanceGroup).where(m.InstanceGroup.uuid == group_id)).first()
            if is_uuid(group_id)
            else None
        )
    if row is None or (row.project_id != caller(call).project_id and not caller(call).is_admin):
        raise not_found(f"Instance group {group_id} could not be found.")
    return row


@routes.get("/v2.1/os-server-groups/{group_id}")
def show_group(call: Call, group_id: str) -> Response:
    return json_response({"server_group": _group_view(call, _group(call, group_id))})


@routes.delete("/v2.1/os-server-groups/{group_id}")
def delete_group(call: Call, group_id: str) -> Response:
    row = _group(call, group_id)
    with nova(call).nova_cells.api.write() as s:
        found = s.get(m.InstanceGroup, row.id)
        if found is not None:
            s.delete(found)
    return empty_response(204)
