"""glance-api.conf changes the sim's Glance the way it changes a real one (then restored)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from labkit.install import steps as st
from tests.sim import glance_helpers as gh

CONF = "/etc/glance/glance-api.conf"


@contextmanager
def configured(lab: Any, *settings: tuple[str, str, str]) -> Iterator[None]:
    """Apply ``settings`` to glance-api.conf and restart glance-api; undo both afterwards."""
    before = lab.sim.file("controller", CONF)["content"]
    step = st.IniSet(title="test", host="controller", path=CONF, settings=settings)
    lab.sim.step("controller", step.to_dict(), "apply", lab.secrets, set())
    lab.sim.service("controller", "glance-api", "restart")
    try:
        yield
    finally:
        restore = st.WriteFile(
            title="restore", host="controller", path=CONF, content=before, mode="0644"
        )
        lab.sim.step("controller", restore.to_dict(), "apply", lab.secrets, set())
        lab.sim.service("controller", "glance-api", "restart")


def test_debians_region_name_pitfall_answers_500_with_endpointnotfound(
    glance_lab: Any, admin: Any
) -> None:
    with configured(glance_lab, ("keystone_authtoken", "region_name", "regionOne")):
        response = gh.request(admin, glance_lab, "GET", "/v2/images")
        assert (response.status_code, response.content) == (500, b"")
        assert response.headers["Content-Type"].startswith("text/plain")
        log = glance_lab.sim.log("glance-api", tail=20)
        assert any(
            "EndpointNotFound: internal endpoint for identity service in regionOne "
            "region not found" in line
            for line in log
        )
        # Without a token the middleware never looks for Keystone: still a 401.
        anonymous = admin.session.get(
            gh.image_url(glance_lab) + "/v2/images", authenticated=False, raise_exc=False
        )
        assert anonymous.status_code == 401
    assert gh.request(admin, glance_lab, "GET", "/v2/images").status_code == 200


def test_a_wrong_glance_password_is_503(glance_lab: Any, admin: Any) -> None:
    with configured(glance_lab, ("keystone_authtoken", "password", "wrong")):
        response = gh.request(admin, glance_lab, "GET", "/v2/images")
        assert response.status_code == 503
        assert response.json()["message"].endswith(
            "<br /><br />\nThe Keystone service is temporarily unavailable.\n\n"
        )


def test_unified_limits_on_image_count(glance_lab: Any, admin: Any, demo: Any, unique: Any) -> None:
    demo_project = demo.session.get_project_id()
    owned = len([i for i in demo.image.images() if i.owner == demo_project])
    with configured(
        glance_lab,
        ("DEFAULT", "use_keystone_limits", "True"),
        ("labkit_limits", "image_count_total", "100"),
        ("labkit_limits", "image_size_total", "1000"),
        ("labkit_limits", "image_stage_total", "1000"),
        ("labkit_limits", "image_count_uploading", "10"),
        ("labkit_limits:demo", "image_count_total", str(owned)),
    ):
        response = gh.request(
            demo,
            glance_lab,
            "POST",
            "/v2/images",
            json={"name": unique("over"), "disk_format": "raw", "container_format": "bare"},
        )
        assert response.status_code == 413
        assert response.json()["message"] == (
            "The request returned a 413 Request Entity Too Large. This generally means that "
            "rate limiting or a quota threshold was breached.\n\nThe response body:\nProject "
            f"{demo_project} is over a limit for [Resource image_count_total is over limit of "
            f"{owned} due to current usage {owned} and delta 1]<br /><br />\n\n\n"
        )
        usage = gh.request(demo, glance_lab, "GET", "/v2/info/usage").json()["usage"]
        assert usage["image_count_total"] == {"usage": owned, "limit": owned}
        assert (
            gh.request(
                admin, glance_lab, "POST", "/v2/images", json={"name": unique("admin-ok")}
            ).status_code
            == 201
        )


def test_image_size_cap_refuses_and_restores(glance_lab: Any, admin: Any, unique: Any) -> None:
    with configured(glance_lab, ("DEFAULT", "image_size_cap", "1000")):
        image = admin.image.create_image(
            name=unique("capped"), disk_format="raw", container_format="bare"
        )
        response = gh.request(
            admin,
            glance_lab,
            "PUT",
            f"/v2/images/{image.id}/file",
            data=b"x" * 5000,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert response.status_code == 413
        assert response.json()["message"] == (
            "The incoming image is too large: The provided image is too large.<br /><br />\n\n\n"
        )
        assert admin.image.get_image(image.id).status == "queued"


def test_allowed_ports_without_brackets_lets_no_web_download_through(
    glance_lab: Any, admin: Any, unique: Any
) -> None:
    """Glance declares the port lists with bounds=True: oslo.config wants "[80,443]"."""
    port = gh.base(glance_lab).rsplit(":", 1)[1]
    with configured(glance_lab, ("import_filtering_opts", "allowed_ports", f"80,443,{port}")):
        created = gh.request(
            admin,
            glance_lab,
            "POST",
            "/v2/images",
            json={"name": unique("ports"), "disk_format": "qcow2", "container_format": "bare"},
        )
        uri = gh.mirror_url(glance_lab)
        response = gh.request(
            admin,
            glance_lab,
            "POST",
            f"/v2/images/{created.json()['id']}/import",
            json={"method": {"name": "web-download", "uri": uri}},
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 400
        assert response.json()["message"].startswith(
            f"URI for web-download does not pass filtering: {uri}"
        )
