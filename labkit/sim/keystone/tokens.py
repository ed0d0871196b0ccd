"""Authentication and tokens: what ``POST /v3/auth/tokens`` does, step by step.

1. Read the scope (project/domain/system/unscoped) and look it up -- an unknown project is a
   401, not a 404, so that names cannot be probed.
2. Run each auth method (``password``, ``token``) to find the user.
3. Work out the roles the user has on the scope; none means 401.
4. Mint a Fernet token (see :mod:`.fernet`) -- nothing is stored: validating a token means
   decrypting it and re-reading user, scope and roles, then checking revocation events.

What the database says about users, scopes, roles, the catalog and revocations is read once
per database version (:mod:`.memo`): any commit makes the next request read it again, so
answers are exactly those of re-reading on every request, in a fraction of the time. The
password is checked with bcrypt on every issue, as Keystone does.

The check comes first and the rest of the request after it, on one thread. Making the token
on a second thread while bcrypt (which lets go of the GIL) runs was tried and measured on a
two-core machine: at best it saved nothing (the other thread's wake-up and hand-back cost
what the ~0.1 ms of work it took over was worth), and with the cores busy -- tests running
beside the sim, a notebook -- the second thread waited for a core and a login took
milliseconds longer.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property, partial
from typing import Any

from cryptography.fernet import MultiFernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from labkit.sim.core.clock import isotime
from labkit.sim.core.store import Database
from labkit.sim.keystone import appcred, assignment, catalog, identity, resource, revoke
from labkit.sim.keystone import models as m
from labkit.sim.keystone.errors import (
    KeystoneError,
    NotFound,
    Unauthorized,
    ValidationError,
)
from labkit.sim.keystone.fernet import (
    AUTH_METHODS,
    KeyRepository,
    KeysNotFound,
    TokenNotRecognized,
    TokenPayload,
    decode,
    encode,
)
from labkit.sim.keystone.memo import Memo, Memos
from labkit.sim.keystone.policy import Credentials
from labkit.sim.keystone.schemas import TOKEN_ISSUE, validate

SUPPORTED_METHODS = ("password", "token", "application_credential")
# Decoded payloads kept per key set (a token is decrypted once, not on every request), and
# digests of auth bodies known to pass the schema: bounds on what is remembered.
MAX_DECODED = 4096


@dataclass(frozen=True)
class Scoped:
    """The database's side of a token: who, on which scope, with which roles."""

    user: dict[str, Any]
    roles: list[dict[str, str]]
    project: dict[str, Any] | None = None
    domain: dict[str, Any] | None = None
    system: bool = False
    # {"id", "name", "restricted"} for a token an application credential got
    application_credential: dict[str, Any] | None = None


@dataclass(frozen=True)
class Login:
    """What authenticating as a user needs to know of them."""

    user_id: str
    password_hash: str | None
    usable: bool  # enabled, in an enabled domain
    default_project_id: str | None


@dataclass
class Token:
    """A valid token as Keystone sees it after decrypting and re-reading the database."""

    id: str
    payload: TokenPayload
    user: dict[str, Any]
    roles: list[dict[str, str]] = field(default_factory=list)
    project: dict[str, Any] | None = None
    domain: dict[str, Any] | None = None
    system: bool = False
    application_credential: dict[str, Any] | None = None
    # the answers it was read from (one database version): rendering it reads no more
    memo: Memo | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, token_id: str, payload: TokenPayload, scoped: Scoped) -> Token:
        return cls(
            token_id,
            payload,
            scoped.user,
            scoped.roles,
            scoped.project,
            scoped.domain,
            scoped.system,
            scoped.application_credential,
        )

    @property
    def user_id(self) -> str:
        return str(self.user["id"])

    @property
    def project_id(self) -> str | None:
        return self.project["id"] if self.project else None

    @property
    def unscoped(self) -> bool:
        return not (self.project or self.domain or self.system)

    @property
    def role_names(self) -> list[str]:
        return [r["name"] for r in self.roles]

    @cached_property
    def _credentials(self) -> Credentials:
        return Credentials(
            user_id=self.user_id,
            roles=frozenset(self.role_names),
            project_id=self.project_id,
            project_domain_id=self.project["domain"]["id"] if self.project else None,
            domain_id=self.domain["id"] if self.domain else None,
            system="all" if self.system else None,
        )

    def credentials(self) -> Credentials:
        return self._credentials


def _random_audit_id() -> str:
    # keystone/token/provider.py random_urlsafe_str: 16 random bytes, urlsafe b64, '==' cut.
    return base64.urlsafe_b64encode(os.urandom(16)).decode()[:-2]


def _key(value: Any) -> str:
    """A request fragment (JSON data) as a memo key."""
    return json.dumps(value, sort_keys=True)


class TokenProvider:
    def __init__(self, keys: KeyRepository, expiration: int = 3600) -> None:
        self.keys = keys
        self.expiration = expiration
        self.memos = Memos()
        self._decoded: tuple[MultiFernet | None, dict[str, TokenPayload]] = (None, {})
        self._valid_bodies: set[bytes] = set()
        self._digest_key = os.urandom(16)

    # ---- issuing ------------------------------------------------------------------------------
    def issue(
        self,
        db: Database,
        auth: Any,
        now: datetime,
        include_catalog: bool = True,
        raw: bytes | None = None,
    ) -> tuple[Token, str]:
        """``POST /v3/auth/tokens``: the new token and its JSON body (:meth:`render_json`),
        read from Keystone's database ``db`` (through the memo of its version). ``raw`` is
        the request body ``auth`` was parsed from, if it was (see :meth:`_check_schema`).

        Errors come in Keystone's order: the body's shape, the scope, then each method in the
        order the body lists them (for a password: the user, the password, whether the user
        may log in), then the roles on the scope."""
        if auth is None:
            raise ValidationError.expecting("auth", "request body")
        self._check_schema(auth, raw)
        _check_names_present(auth)
        identity_data = auth["identity"]
        methods = identity_data["methods"]
        for method in methods:
            if method not in identity_data:
                raise ValidationError.expecting(method, "identity")
        for method in methods:
            if method not in SUPPORTED_METHODS:
                raise KeystoneError(
                    "Attempted to authenticate with an unsupported method.", status=401
                )
        memo = self.memos.current(db)
        app_cred: _AppCredLogin | None = None
        if "application_credential" in methods:
            # keystone/auth/core.py: the credential's project is the scope, none may be asked
            if "scope" in auth:
                raise Unauthorized()
            app_cred = _app_cred_login(db, identity_data["application_credential"], now)
            scope = {"project_id": app_cred.project_id} if app_cred.project_id else {}
        else:
            scope = self._scope(memo, auth.get("scope"))
        user: Login | None = None
        expires_at: datetime | None = None
        audit_ids: list[str] = []
        succeeded = set(methods)
        for method in methods:
            if method == "application_credential":
                assert app_cred is not None
                user_id = app_cred.user_id
                user = memo.get(("user", user_id), partial(_login_by_id, user_id=user_id))
                _require_password(user, True)
                # CVE-2022-2447: a token never outlives the credential that got it
                expires_at = app_cred.cap(now + timedelta(seconds=self.expiration))
            elif method == "password":
                user, password = self._password_login(memo, identity_data["password"])
                # The check Keystone makes on every login, at the cost the hash was made with.
                _require_password(user, identity.check_password(password, user.password_hash))
            else:
                parent = self._token_method(db, identity_data["token"], auth, now)
                user_id = parent.user_id
                user = memo.get(("user", user_id), partial(_login_by_id, user_id=user_id))
                # keystone/auth/plugins/token.py: a token made from a token keeps the methods
                # that proved the identity in the first place, the parent's expiry, and the
                # parent's audit chain id (its own audit id, or its parent's when rescoped).
                succeeded.update(parent.payload.methods)
                expires_at = parent.payload.expires_at
                audit_ids = [parent.payload.audit_ids[-1]]
        assert user is not None
        token = self._mint(
            memo,
            user,
            auth,
            scope,
            now,
            succeeded,
            expires_at,
            audit_ids,
            app_cred.id if app_cred else None,
        )
        return token, self._render_text(memo, token, include_catalog)

    def _mint(
        self,
        memo: Memo,
        user: Login,
        auth: dict[str, Any],
        scope: dict[str, str],
        now: datetime,
        succeeded: set[str],
        expires_at: datetime | None,
        audit_ids: list[str],
        app_cred_id: str | None = None,
    ) -> Token:
        """The token of an authenticated ``user``: 401 if it has no role on its scope."""
        if (
            app_cred_id is None
            and scope == {}
            and auth.get("scope") != "unscoped"
            and (user.default_project_id)
        ):
            scope = memo.get(("default-scope", user.user_id), partial(_default_scope, user=user))
        payload = TokenPayload(
            user_id=user.user_id,
            # Keystone issues list(set(...)), an arbitrary order; the bitmask order is what a
            # validation of the same token answers, so the sim answers that both times.
            methods=[name for name in AUTH_METHODS if name in succeeded],
            expires_at=(expires_at or now + timedelta(seconds=self.expiration)).replace(
                microsecond=0
            ),
            audit_ids=[_random_audit_id(), *audit_ids],
            project_id=scope.get("project_id"),
            domain_id=scope.get("domain_id"),
            system=scope.get("system"),
            issued_at=now.replace(microsecond=0),
            app_cred_id=app_cred_id,
        )
        token_id = encode(payload, self._crypto(), now)
        token = self._build(memo, token_id, payload)
        self._require_roles(token)
        return token

    def _check_schema(self, auth: Any, raw: bytes | None) -> None:
        """TOKEN_ISSUE's schema check, which costs as much as the rest of an issue but bcrypt.
        Whether a body passes depends on nothing but the body, and clients send the same
        body again and again: bodies that passed are remembered by a keyed digest (so the
        passwords in them cannot be guessed from memory) -- of the request's own bytes when
        ``auth`` was parsed from them (the same bytes parse to the same ``auth``), which is
        cheaper than serialising ``auth`` again to digest it."""
        text = raw if raw is not None else _key(auth).encode()
        digest = hashlib.blake2b(text, key=self._digest_key, digest_size=16).digest()
        if digest in self._valid_bodies:
            return
        validate(TOKEN_ISSUE, auth)
        if len(self._valid_bodies) >= MAX_DECODED:
            self._valid_bodies.clear()
        self._valid_bodies.add(digest)

    def _scope(self, memo: Memo, scope: Any) -> dict[str, str]:
        if scope is None or scope == "unscoped":
            return {}
        if not isinstance(scope, dict):
            raise ValidationError.expecting(
                "system, project, domain, OS-TRUST:trust or unscoped", "scope"
            )
        return memo.get(("scope", _key(scope)), lambda s: self._lookup_scope(s, scope))

    def _lookup_scope(self, s: Session, scope: dict[str, Any]) -> dict[str, str]:
        keys = [
            k for k in ("project", "domain", "unscoped", "system", "OS-TRUST:trust") if k in scope
        ]
        if len(keys) != 1:
            raise ValidationError.expecting(
                "system, project, domain, OS-TRUST:trust or unscoped", "scope"
            )
        kind = keys[0]
        if kind == "system":
            return {"system": "all"}
        if kind == "unscoped":
            return {}
        if kind == "OS-TRUST:trust":
            raise Unauthorized()  # trusts are not emulated: Keystone answers 401 for unknown
        if kind == "domain":
            return {"domain_id": _lookup_domain(s, scope["domain"]).id}
        info = scope["project"]
        try:
            if info.get("name"):
                if "domain" not in info:
                    raise ValidationError.expecting("domain", "project")
                domain = _lookup_domain(s, info["domain"])
                project = resource.get_project_by_name(s, info["name"], domain.id)
            else:
                project = resource.get_project(s, info.get("id", ""))
                _lookup_domain(s, {"id": project.domain_id})
        except NotFound:
            raise Unauthorized() from None
        if not project.enabled:
            raise Unauthorized()
        return {"project_id": project.id}

    @staticmethod
    def _password_login(memo: Memo, data: dict[str, Any]) -> tuple[Login, str]:
        """The user a password method names (401 if there is none) and the password given,
        for :func:`_require_password` to judge."""
        info = data.get("user") or {}
        if not info.get("id") and "domain" not in info:
            raise ValidationError.expecting("domain", "user")
        who = {k: v for k, v in info.items() if k != "password"}
        login = memo.get(("login", _key(who)), lambda s: _login_by_reference(s, who))
        return login, str(info.get("password", ""))

    def _token_method(
        self, db: Database, data: dict[str, Any], auth: dict[str, Any], now: datetime
    ) -> Token:
        parent = self.validate(db, data["id"], now)
        scope = auth.get("scope")
        wants: dict[str, Any] = scope if isinstance(scope, dict) else {}
        if parent.system and ("project" in wants or "domain" in wants):
            raise KeystoneError(
                "You are not authorized to perform the requested action: Using a "
                "system-scoped token to create a project-scoped or domain-scoped token is not "
                "allowed..",
                status=403,
            )
        return parent

    @staticmethod
    def _require_roles(token: Token) -> None:
        if not token.unscoped and not token.roles:
            raise Unauthorized()

    # ---- validating ---------------------------------------------------------------------------
    def _crypto(self) -> MultiFernet:
        try:
            return self.keys.crypto()
        except KeysNotFound:
            raise KeystoneError(
                "An unexpected error prevented the server from fulfilling your request.", status=500
            ) from None

    def decode(self, token_id: str) -> TokenPayload:
        """Decrypt a token. A payload is kept with the key set that opened it: rotating the
        keys (the repository re-reads its folder) starts afresh, so a token whose key was
        rotated out is not recognized."""
        crypto = self._crypto()
        keys, decoded = self._decoded
        if keys is not crypto:
            decoded = {}
            self._decoded = (crypto, decoded)
        payload = decoded.get(token_id)
        if payload is None:
            try:
                payload = decode(token_id, crypto)
            except TokenNotRecognized:
                raise NotFound("Could not recognize Fernet token") from None
            if len(decoded) >= MAX_DECODED:
                decoded.clear()
            decoded[token_id] = payload
        return payload

    def validate(self, db: Database, token_id: str, now: datetime) -> Token:
        """Keystone's validate_token: 404 for tokens it cannot read, expired or revoked --
        read from Keystone's database ``db`` (through the memo of its version)."""
        if not token_id:
            raise NotFound("No token in the request")
        payload = self.decode(token_id)
        if now >= payload.expires_at:
            raise NotFound("Failed to validate token")
        memo = self.memos.current(db)
        if memo.get(("revocations",), revoke.events).is_revoked(payload):
            raise NotFound("Failed to validate token")
        try:
            token = self._build(memo, token_id, payload)
            self._require_roles(token)
        except (NotFound, Unauthorized):
            raise NotFound(f"Could not find token: {token_id}.") from None
        return token

    @staticmethod
    def _build(memo: Memo, token_id: str, payload: TokenPayload) -> Token:
        key = (
            "scoped",
            payload.user_id,
            payload.project_id,
            payload.domain_id,
            payload.system,
            payload.app_cred_id,
        )
        token = Token.of(token_id, payload, memo.get(key, lambda s: _scoped(s, payload)))
        token.memo = memo
        return token

    # ---- rendering and revoking ---------------------------------------------------------
    def render(
        self, s: Database | Session, token: Token, include_catalog: bool = True
    ) -> dict[str, Any]:
        """The token's JSON body (``{"token": {...}}``), its catalog included unless told."""
        body = self._body(token)
        if include_catalog and not token.unscoped:
            body["catalog"] = self._catalog(self._memo(s, token), token)
        return {"token": _with_app_cred(body, token)}

    def render_json(self, s: Database | Session, token: Token, include_catalog: bool = True) -> str:
        """``json.dumps(self.render(...))``, the same text, without serialising the catalog
        again: the catalog is the same for every token of a user in a project until the
        database changes (an endpoint, service or region among them), so its JSON text is
        kept next to it in the memo of the database's version -- and dropped with it."""
        return self._render_text(self._memo(s, token), token, include_catalog)

    def _render_text(self, memo: Memo, token: Token, include_catalog: bool) -> str:
        body = self._body(token)
        if not include_catalog or token.unscoped:
            return json.dumps({"token": _with_app_cred(body, token)})
        value = self._catalog(memo, token)
        text = memo.get(
            ("catalog-json", token.project_id, token.user_id), lambda _: json.dumps(value)
        )
        # The catalog is the body's last key: its placeholder is the last string in the text.
        body["catalog"] = _CATALOG_SLOT
        head, slot, tail = json.dumps({"token": _with_app_cred(body, token)}).rpartition(
            _CATALOG_SLOT_JSON
        )
        assert slot, "the catalog placeholder is in the body"
        return head + text + tail

    @staticmethod
    def _body(token: Token) -> dict[str, Any]:
        p = token.payload
        body: dict[str, Any] = {
            "methods": p.methods,
            "user": token.user,
            "audit_ids": p.audit_ids,
            "expires_at": isotime(p.expires_at, subsecond=True),
            "issued_at": isotime(p.issued_at or p.expires_at, subsecond=True),
        }
        if token.system:
            body["roles"] = token.roles
            body["system"] = {"all": True}
        elif token.domain:
            body["domain"] = token.domain
            body["roles"] = token.roles
        elif token.project:
            body["project"] = token.project
            body["is_domain"] = False
            body["roles"] = token.roles
        return body

    def _memo(self, s: Database | Session, token: Token) -> Memo:
        """The memo the token was read from (same request, same database version), else
        the current one."""
        return token.memo if token.memo is not None else self.memos.current(s)

    @staticmethod
    def _catalog(memo: Memo, token: Token) -> Any:
        project_id, user_id = token.project_id, token.user_id
        return memo.get(
            ("catalog", project_id, user_id),
            lambda s: catalog.v3_catalog(s, project_id, user_id),
        )

    @staticmethod
    def revoke(s: Session, token: Token, now: datetime) -> None:
        revoke.revoke_audit_id(s, token.payload.audit_ids[0], now)


def _with_app_cred(body: dict[str, Any], token: Token) -> dict[str, Any]:
    """Keystone renders a token's application credential last, after its catalog."""
    if token.application_credential is not None:
        body["application_credential"] = token.application_credential
    return body


@dataclass(frozen=True)
class _AppCredLogin:
    """What logging in with an application credential yields (read in one session)."""

    id: str
    user_id: str
    project_id: str | None
    expires_at: datetime | None

    def cap(self, expires_at: datetime) -> datetime:
        return min(expires_at, self.expires_at) if self.expires_at else expires_at


def _app_cred_login(db: Database, info: Any, now: datetime) -> _AppCredLogin:
    """The application credential a login names, its secret checked (not through the memo:
    the secret must not be remembered)."""
    if not isinstance(info, dict):
        raise ValidationError.expecting("application_credential", "identity")
    with db.read() as s:
        found = appcred.authenticate(s, info, now)
        return _AppCredLogin(found.id, found.user_id, found.project_id, appcred.expiry(found))


_CATALOG_SLOT = "\x00catalog\x00"  # where render_json puts the catalog's kept JSON text
_CATALOG_SLOT_JSON = json.dumps(_CATALOG_SLOT)


# ---- reading the database (through a memo: see the module docstring) ---------------------------


def _require_password(login: Login, passed: bool) -> None:
    """401 unless bcrypt passed the password and the user may log in (enabled, in an enabled
    domain) -- checked in that order, as Keystone does."""
    if not passed:
        raise Unauthorized()
    if not login.usable:
        raise Unauthorized()


def _default_scope(s: Session, *, user: Login) -> dict[str, str]:
    """The user's default project, when it is enabled and they hold a role there."""
    project = s.get(m.Project, user.default_project_id or "")
    if project is None or not project.enabled:
        return {}
    if assignment.effective_role_ids(s, user.user_id, project_id=project.id):
        return {"project_id": project.id}
    return {}


def _lookup_domain(s: Session, info: dict[str, str]) -> m.Domain:
    try:
        if info.get("name"):
            domain = resource.get_domain_by_name(s, info["name"])
        else:
            domain = resource.get_domain(s, info.get("id", ""))
    except NotFound:
        raise Unauthorized() from None
    if not domain.enabled:
        raise Unauthorized()
    return domain


def _login(s: Session, user: m.User) -> Login:
    user_domain = s.get(m.Domain, user.domain_id)
    usable = user.enabled and user_domain is not None and user_domain.enabled
    return Login(user.id, user.password_hash, usable, user.default_project_id)


def _login_by_reference(s: Session, info: dict[str, Any]) -> Login:
    """The user a password request names, by id or by name in a domain; 401 if none."""
    try:
        if info.get("id"):
            user = identity.get_user(s, info["id"])
        else:
            domain = _lookup_domain(s, info["domain"])
            user = identity.get_user_by_name(s, info.get("name", ""), domain.id)
    except NotFound:
        raise Unauthorized() from None
    return _login(s, user)


def _login_by_id(s: Session, *, user_id: str) -> Login:
    return _login(s, identity.get_user(s, user_id))


def _scoped(s: Session, payload: TokenPayload) -> Scoped:
    """User, scope and effective roles of a token; Unauthorized/NotFound when any is gone or
    disabled."""
    user = identity.get_user(s, payload.user_id)
    user_domain = resource.get_domain(s, user.domain_id)
    if not user.enabled or not user_domain.enabled:
        raise Unauthorized()
    user_ref = {
        "domain": {"id": user_domain.id, "name": user_domain.name},
        "id": user.id,
        "name": user.name,
        "password_expires_at": None,
    }
    project_ref: dict[str, Any] | None = None
    domain_ref: dict[str, Any] | None = None
    if payload.project_id:
        project = resource.get_project(s, payload.project_id)
        project_domain = resource.get_domain(s, project.domain_id)
        if not project.enabled or not project_domain.enabled:
            raise Unauthorized()
        project_ref = {
            "domain": {"id": project_domain.id, "name": project_domain.name},
            "id": project.id,
            "name": project.name,
        }
        role_ids = assignment.effective_role_ids(s, user.id, project_id=project.id)
    elif payload.domain_id:
        domain = resource.get_domain(s, payload.domain_id)
        if not domain.enabled:
            raise Unauthorized()
        domain_ref = {"id": domain.id, "name": domain.name}
        role_ids = assignment.effective_role_ids(s, user.id, domain_id=domain.id)
    elif payload.system:
        role_ids = assignment.effective_role_ids(s, user.id, system=True)
    else:
        role_ids = []
    app_cred_ref: dict[str, Any] | None = None
    if payload.app_cred_id:
        # the credential's roles the user still holds there, in the credential's order
        found = appcred.get(s, payload.app_cred_id)
        role_ids = [rid for rid in found.roles if rid in role_ids]
        app_cred_ref = {"id": found.id, "name": found.name, "restricted": not found.unrestricted}
    roles = {r.id: r for r in s.scalars(select(m.Role).where(m.Role.id.in_(role_ids)))}
    # Domain-specific roles are never placed in tokens (Keystone strips them).
    role_refs = [
        {"id": roles[rid].id, "name": roles[rid].name}
        for rid in role_ids
        if rid in roles and roles[rid].domain_id == m.NULL_DOMAIN
    ]
    return Scoped(user_ref, role_refs, project_ref, domain_ref, bool(payload.system), app_cred_ref)


def _check_names_present(auth: dict[str, Any]) -> None:
    """keystone/auth/schema.py: ids or names must be present where objects are named."""
    user = auth["identity"].get("password", {}).get("user")
    if user is not None:
        if "id" not in user and "name" not in user:
            raise ValidationError(
                "Invalid input for field identity/password/user: id or name must be present."
            )
        domain = user.get("domain")
        if domain is not None and "id" not in domain and "name" not in domain:
            raise ValidationError(
                "Invalid input for field identity/password/user/domain: id or name must be present."
            )
    scope = auth.get("scope")
    if isinstance(scope, dict):
        project = scope.get("project")
        if project is not None:
            if "id" not in project and "name" not in project:
                raise ValidationError(
                    "Invalid input for field scope/project: id or name must be present."
                )
            domain = project.get("domain")
            if domain is not None and "id" not in domain and "name" not in domain:
                raise ValidationError(
                    "Invalid input for field scope/project/domain: id or name must be present."
                )
        domain = scope.get("domain")
        if domain is not None and "id" not in domain and "name" not in domain:
            raise ValidationError(
                "Invalid input for field scope/domain: id or name must be present."
            )
