"""Faults travel between layers as in a real cloud: a service whose database is down fails
the way the real one does, says why in its log, and recovers when the database is back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openstack
import pytest

from tests.conftest import private_sim
from tests.sim.keystone_helpers import admin_password_body

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # A sim of its own: these tests stop base services under it.
    for lab in private_sim(tmp_path_factory, "faults"):
        lab.ensure("glance")
        yield lab


def _token_request(lab: Any) -> httpx.Response:
    creds = lab.credentials("admin")
    body = admin_password_body(creds.password)
    return httpx.post(f"{creds.auth_url.rstrip('/')}/auth/tokens", json=body, timeout=10)


def test_keystone_answers_500_while_mariadb_is_stopped_and_recovers(lab: Any) -> None:
    assert _token_request(lab).status_code == 201
    lab.sim.service("controller", "mariadb", "stop")
    try:
        down = _token_request(lab)
        assert down.status_code == 500
        assert down.json() == {
            "error": {
                "code": 500,
                "message": "An unexpected error prevented the server from fulfilling your request.",
                "title": "Internal Server Error",
            }
        }
        log = "\n".join(lab.sim.log("keystone", tail=20))
        assert "oslo_db.exception.DBConnectionError" in log
        assert "Can't connect to MySQL server" in log
    finally:
        lab.sim.service("controller", "mariadb", "start")
    assert _token_request(lab).status_code == 201
    assert "Database connection re-established" in "\n".join(lab.sim.log("keystone", tail=20))


def test_glance_fails_while_mariadb_is_stopped_and_recovers(lab: Any) -> None:
    conn = lab.connect("admin")
    assert isinstance(list(conn.image.images()), list)
    lab.sim.service("controller", "mariadb", "stop")
    try:
        with pytest.raises(openstack.exceptions.HttpException) as caught:
            list(conn.image.images())
        # Glance's own DBConnectionError (500), or Keystone's failing validation seen
        # through auth_token (503): both are what a real Zed cloud answers.
        assert caught.value.status_code in (500, 503)
        assert "DBConnectionError" in "\n".join(lab.sim.log("glance-api", tail=20))
    finally:
        lab.sim.service("controller", "mariadb", "start")
    assert isinstance(list(conn.image.images()), list)


def test_labkit_check_fails_and_names_the_layer_while_mariadb_is_stopped(lab: Any) -> None:
    from tests.sim.test_sim_services import _labkit

    assert _labkit(lab, "check", str(lab.env.path)).returncode == 0
    lab.sim.service("controller", "mariadb", "stop")
    try:
        result = _labkit(lab, "check", str(lab.env.path))
    finally:
        lab.sim.service("controller", "mariadb", "start")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL controller/mariadb: stopped -- layer 'base'" in result.stdout
    assert "labkit sim start-service mariadb --host controller" in result.stdout


def test_glance_answers_503_while_keystone_is_stopped(lab: Any) -> None:
    conn = lab.connect("admin")
    headers = {"X-Auth-Token": "not-a-token-anyone-cached"}
    url = conn.session.get_endpoint(service_type="image").rstrip("/") + "/v2/images"
    lab.sim.service("controller", "keystone", "stop")
    try:
        answer = httpx.get(url, headers=headers, timeout=10)
        assert answer.status_code == 503
        assert "The Keystone service is temporarily unavailable." in answer.text
        assert "Unable to establish connection" in "\n".join(lab.sim.log("glance-api", tail=5))
    finally:
        lab.sim.service("controller", "keystone", "start")
    assert httpx.get(url, headers=headers, timeout=10).status_code == 401
