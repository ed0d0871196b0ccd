"""The catalog in a token body is kept as JSON text between requests: a change to an
endpoint, a service or a region shows in the very next token, issued or validated."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from keystoneauth1 import session as ka_session

from labkit.lab import Lab
from tests.sim.keystone_helpers import admin_password_body


def _issue(lab: Lab) -> tuple[str, dict[str, Any]]:
    """A password token for admin over keystoneauth: (token id, the JSON body)."""
    creds = lab.credentials("admin")
    session = ka_session.Session()
    answer = session.post(
        creds.auth_url.rstrip("/") + "/auth/tokens",
        json=admin_password_body(creds.password),
        authenticated=False,
    )
    assert answer.status_code == 201
    return answer.headers["X-Subject-Token"], answer.json()


def _urls(body: dict[str, Any], kind: str) -> list[str]:
    return [
        endpoint["url"]
        for entry in body["token"]["catalog"]
        if entry["type"] == kind
        for endpoint in entry["endpoints"]
    ]


def test_an_endpoint_change_shows_in_the_next_token_at_once(
    sim_lab: Lab, admin: Any, unique: Callable[[str], str]
) -> None:
    kind = unique("cache")
    service = admin.identity.create_service(name=kind, type=kind)
    endpoint = admin.identity.create_endpoint(
        service_id=service.id, interface="public", url="http://one.invalid", region_id="RegionOne"
    )
    _token, first = _issue(sim_lab)
    _token, again = _issue(sim_lab)  # the kept catalog text: the same body
    assert _urls(first, kind) == _urls(again, kind) == ["http://one.invalid"]
    assert first["token"]["catalog"] == again["token"]["catalog"]

    admin.identity.update_endpoint(endpoint, url="http://two.invalid")
    token, changed = _issue(sim_lab)
    assert _urls(changed, kind) == ["http://two.invalid"]
    validated = admin.session.get(
        sim_lab.credentials("admin").auth_url.rstrip("/") + "/auth/tokens",
        headers={"X-Subject-Token": token},
    )
    assert validated.status_code == 200
    assert validated.json()["token"]["catalog"] == changed["token"]["catalog"]
    # the body is plain JSON with the catalog as its token's last key, as json.dumps writes
    assert list(validated.json()["token"])[-1] == "catalog"
    assert json.loads(validated.text) == validated.json()

    admin.identity.delete_endpoint(endpoint)
    _token, gone = _issue(sim_lab)
    assert _urls(gone, kind) == []
    admin.identity.delete_service(service)
    _token, no_service = _issue(sim_lab)
    assert all(entry["type"] != kind for entry in no_service["token"]["catalog"])
