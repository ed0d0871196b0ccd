"""WebOb-shaped error bodies and the lab's client configuration."""

from __future__ import annotations

import json

from labkit.cloud import Credentials, clouds_yaml
from labkit.sim.core import webob_style


def test_accept_negotiation_follows_webob() -> None:
    assert webob_style.negotiate("application/json") == "application/json"
    assert webob_style.negotiate("*/*") == "text/html"
    assert webob_style.negotiate(None) == "text/html"
    assert webob_style.negotiate("text/plain") == "text/plain"
    assert webob_style.negotiate("text/html;q=0.1, application/json") == "application/json"


def test_json_error_carries_code_as_a_string() -> None:
    kind, body = webob_style.body(404, "No image found with ID x", accept="application/json")
    assert kind == "application/json"
    assert json.loads(body) == {
        "message": "No image found with ID x<br /><br />\n\n\n",
        "code": "404 Not Found",
        "title": "Not Found",
    }


def test_openrc_has_the_seeds_variables() -> None:
    rc = Credentials("http://127.0.0.1:8642/identity/v3/", "demo", "DEMO_PASS", "demo").openrc()
    names = [line.split("=")[0].removeprefix("export ") for line in rc.splitlines()]
    assert names == [
        "OS_AUTH_URL",
        "OS_PROJECT_NAME",
        "OS_USERNAME",
        "OS_PASSWORD",
        "OS_USER_DOMAIN_NAME",
        "OS_PROJECT_DOMAIN_NAME",
        "OS_IDENTITY_API_VERSION",
        "OS_REGION_NAME",
    ]
    assert "export OS_IDENTITY_API_VERSION=3" in rc and "export OS_REGION_NAME=RegionOne" in rc


def test_clouds_yaml_entries() -> None:
    text = clouds_yaml({"lab-admin": Credentials("http://h/identity/v3/", "admin", "pw", "admin")})
    assert (
        "lab-admin:" in text and "project_name: admin" in text and "region_name: RegionOne" in text
    )
