"""Discovery and ``/v3/auth/*``: versions, tokens, catalog, the projects a token may use."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response, on_loop
from labkit.sim.keystone import assignment, catalog, identity, views
from labkit.sim.keystone import models as m
from labkit.sim.keystone.api._helpers import ks
from labkit.sim.keystone.errors import Forbidden, NotFound
from labkit.sim.keystone.service import enforce, public
from labkit.sim.keystone.tokens import Token

routes = Routes()

VERSION_UPDATED = "2020-04-07T00:00:00Z"  # Keystone Zed's v3.14


def _version(root: str) -> dict[str, Any]:
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": VERSION_UPDATED,
        "links": [{"rel": "self", "href": f"{root}/v3/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
        ],
    }


@routes.get("/")
@public
def versions(call: Call) -> Response:
    return json_response(
        {"versions": {"values": [_version(call.root_url)]}},
        300,
        {"Location": f"{call.root_url}/v3/"},
    )


@routes.get("/v3")
@public
def version_v3(call: Call) -> Response:
    return json_response({"version": _version(call.root_url)})


def _json_text(text: str, status: int, subject: str) -> Response:
    """A token body already serialised (what json_response would send for it)."""
    return Response(
        text,
        status_code=status,
        headers={"X-Subject-Token": subject},
        media_type="application/json",
    )


@routes.post("/v3/auth/tokens")
@public
def issue_token(call: Call) -> Response:
    app = ks(call)
    data = call.json()
    auth = data.get("auth") if isinstance(data, dict) else None
    include_catalog = "nocatalog" not in call.query
    token, text = app.provider.issue(
        app.database(), auth, app.runtime.now(), include_catalog, raw=call.body
    )
    return _json_text(text, 201, token.id)


def _subject(call: Call) -> Token:
    app = ks(call)
    subject = call.headers.get("x-subject-token", "")
    return app.provider.validate(app.database(), subject, app.runtime.now())


def _subject_target(call: Call) -> dict[str, Any]:
    app = ks(call)
    subject = call.headers.get("x-subject-token", "")
    try:
        payload = app.provider.decode(subject)
    except NotFound:
        return {}
    return {"target.token.user_id": payload.user_id}


# Validation and the token check run on the event loop (core.http.on_loop): tens of
# microseconds of work read from the token provider's memo (a few milliseconds of queries
# on the first request after a commit). An issue stays on a request
# thread: its bcrypt check (~1 ms at the sim's cost of 4, 250 ms at Keystone's 12) lets go
# of the GIL there, so other requests go on meanwhile.
@routes.get("/v3/auth/tokens")
@on_loop
def validate_token(call: Call) -> Response:
    enforce(call, "identity:validate_token", _subject_target(call))
    app = ks(call)
    subject = call.headers.get("x-subject-token", "")
    db = app.database()
    token = app.provider.validate(db, subject, app.runtime.now())
    text = app.provider.render_json(db, token, include_catalog="nocatalog" not in call.query)
    return _json_text(text, 200, token.id)


@routes.head("/v3/auth/tokens")
@on_loop
def check_token(call: Call) -> Response:
    enforce(call, "identity:check_token", _subject_target(call))
    token = _subject(call)
    return Response(
        b"", status_code=200, media_type="application/json", headers={"X-Subject-Token": token.id}
    )


@routes.delete("/v3/auth/tokens")
def revoke_token(call: Call) -> Response:
    enforce(call, "identity:revoke_token", _subject_target(call))
    token = _subject(call)
    app = ks(call)
    with app.write() as s:
        app.provider.revoke(s, token, app.runtime.now())
    return empty_response()


@routes.get("/v3/auth/catalog")
def auth_catalog(call: Call) -> Response:
    token: Token = call.auth
    if not token.project_id:
        # "A project-scoped token is required to produce a service catalog." -- a security
        # error, so outside insecure_debug the caller only sees the generic 403 text.
        raise Forbidden()
    app = ks(call)
    with app.session() as s:
        entries = catalog.v3_catalog(s, token.project_id, token.user_id)
    return json_response(
        {"catalog": entries, "links": {"self": f"{call.root_url}/v3/auth/catalog"}}
    )


def _projects_of(s: Session, user_id: str) -> list[m.Project]:
    """Projects where the user holds a role, directly, through a group or by inheritance."""
    refs = assignment.list_assignments(s, user_id=user_id, effective=True)
    ids = sorted({r.project_id for r in refs if r.project_id})
    return [p for p in (s.get(m.Project, i) for i in ids) if p is not None]


def _user_projects(call: Call) -> list[m.Project]:
    token: Token = call.auth
    with ks(call).session() as s:
        projects = _projects_of(s, token.user_id)
        enabled_domains = {d.id for d in s.query(m.Domain).filter(m.Domain.enabled.is_(True))}
    return [p for p in projects if p.enabled and p.domain_id in enabled_domains]


@routes.get("/v3/auth/projects")
def auth_projects(call: Call) -> Response:
    items = [views.project(p, call.root_url) for p in _user_projects(call)]
    return json_response(views.collection("projects", items, call.url))


@routes.get("/v3/users/{user_id}/projects")
def user_projects(call: Call, user_id: str) -> Response:
    app = ks(call)
    with app.session() as s:
        user = identity.get_user(s, user_id)
        enforce(
            call,
            "identity:list_user_projects",
            {
                "user_id": user.id,
                "target.user.id": user.id,
                "target.user.domain_id": user.domain_id,
            },
        )
        items = [views.project(p, call.root_url) for p in _projects_of(s, user.id)]
    return json_response(views.collection("projects", items, call.url))


@routes.get("/v3/auth/domains")
def auth_domains(call: Call) -> Response:
    token: Token = call.auth
    app = ks(call)
    with app.session() as s:
        refs = assignment.list_assignments(s, user_id=token.user_id, effective=True)
        ids = sorted({r.domain_id for r in refs if r.domain_id})
        items = [
            views.domain(d, call.root_url)
            for d in (s.get(m.Domain, i) for i in ids)
            if d is not None and d.enabled
        ]
    return json_response(views.collection("domains", items, call.url))


@routes.get("/v3/auth/system")
def auth_system(call: Call) -> Response:
    token: Token = call.auth
    app = ks(call)
    with app.session() as s:
        system = assignment.effective_role_ids(s, token.user_id, system=True)
    return json_response({"system": [{"all": True}] if system else [], "links": {"self": call.url}})
