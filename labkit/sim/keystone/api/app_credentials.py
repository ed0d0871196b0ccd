"""``/v3/users/{user_id}/application_credentials``: a user's application credentials."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.keystone import appcred, schemas, views
from labkit.sim.keystone import models as m
from labkit.sim.keystone.api._helpers import ks
from labkit.sim.keystone.errors import Forbidden, ValidationError
from labkit.sim.keystone.service import body_of, enforce

routes = Routes()
BASE = "/v3/users/{user_id}/application_credentials"


def _require_unrestricted(call: Call) -> None:
    """A token an application credential got may manage application credentials only when
    that credential is unrestricted (Keystone's _check_unrestricted_application_credential)."""
    made_by = call.auth.application_credential
    if made_by is not None and made_by["restricted"]:
        raise Forbidden(
            "Using method 'application_credential' is not allowed for managing additional "
            "application credentials."
        )


def _owner_target(s: Any, app_cred_id: str, user_id: str) -> dict[str, Any]:
    """The policy target of one credential: its owner, not the user the path names (else a
    user could reach another's credential through their own path)."""
    found = s.get(m.ApplicationCredential, app_cred_id)
    return {"user_id": found.user_id if found is not None else user_id}


@routes.get(BASE)
def list_app_creds(call: Call, user_id: str) -> Response:
    enforce(call, "identity:list_application_credentials", {"user_id": user_id})
    with ks(call).session() as s:
        found = appcred.list_for_user(s, user_id, call.query.get("name"))
        items = [appcred.view(s, c, call.root_url, listed=True) for c in found]
    return json_response(views.collection("application_credentials", items, call.url))


@routes.post(BASE)
def create_app_cred(call: Call, user_id: str) -> Response:
    enforce(call, "identity:create_application_credential", {"user_id": user_id})
    data = body_of(call, "application_credential")
    schemas.validate(schemas.APPLICATION_CREDENTIAL_CREATE, data)
    _require_unrestricted(call)
    token = call.auth
    if token.user_id != user_id:
        raise Forbidden("Cannot create an application credential for another user.")
    if data.get("access_rules"):
        raise ValidationError(
            "Invalid application credential: access rules are not emulated by the sim."
        )
    app = ks(call)
    with app.write() as s:
        row, secret = appcred.create(
            s,
            new_id=app.runtime.ids.hex_id(),
            user_id=user_id,
            project_id=token.project_id,
            token_role_ids=[r["id"] for r in token.roles],
            data=data,
            rounds=app.hash_rounds,
            now=app.runtime.now(),
        )
        s.flush()
        out = appcred.view(s, row, call.root_url, listed=True)
    # the secret is shown once, here, and never kept
    return json_response({"application_credential": {**out, "secret": secret}}, 201)


@routes.get(BASE + "/{application_credential_id}")
def get_app_cred(call: Call, user_id: str, application_credential_id: str) -> Response:
    with ks(call).session() as s:
        target = _owner_target(s, application_credential_id, user_id)
        enforce(call, "identity:get_application_credential", target)
        row = appcred.get(s, application_credential_id)
        out = appcred.view(s, row, call.root_url, listed=False)
    return json_response({"application_credential": out})


@routes.delete(BASE + "/{application_credential_id}")
def delete_app_cred(call: Call, user_id: str, application_credential_id: str) -> Response:
    with ks(call).write() as s:
        target = _owner_target(s, application_credential_id, user_id)
        enforce(call, "identity:delete_application_credential", target)
        _require_unrestricted(call)
        s.delete(appcred.get(s, application_credential_id))
    return empty_response()
