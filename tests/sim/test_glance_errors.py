"""Bad input and forbidden actions get Zed Glance's status and body (WebOb's JSON shape)."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

from tests.sim import glance_helpers as gh

PATCH_21 = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
BR = "<br /><br />\n"


@pytest.fixture()
def queued(glance_lab: Any, admin: Any, unique: Any) -> Any:
    return admin.image.create_image(name=unique("bad"), disk_format="raw", container_format="bare")


@pytest.mark.parametrize(
    "body, status, message",
    [
        (b"{", "400 Bad Request", f"Malformed JSON in request body.{BR}\n\n"),
        (b"", "400 Bad Request", f"Body expected in request.{BR}\n\n"),
        (b"5", "400 Bad Request", f"Unexpected body type. Expected list/dict.{BR}\n\n"),
        (
            b'{"name": "x", "min_ram": -1}',
            "400 Bad Request",
            f"Invalid value '-1' for parameter 'min_ram': Cannot be a negative value{BR}\n\n",
        ),
        (b'{"name": "x", "size": 10}', "403 Forbidden", f"Attribute 'size' is read-only.{BR}\n\n"),
        (b'{"name": "x", "self": "y"}', "403 Forbidden", f"Attribute 'self' is read-only.{BR}\n\n"),
        (
            b'{"name": "x", "os_glance_foo": "y"}',
            "403 Forbidden",
            f"Access was denied to this resource.{BR}Attribute 'os_glance_foo' is reserved.\n\n",
        ),
        (b'{"name": "x", "visibility": "public"}', None, None),
    ],
)
def test_create_refusals(
    glance_lab: Any, demo: Any, body: bytes, status: str | None, message: str | None
) -> None:
    response = gh.request(
        demo,
        glance_lab,
        "POST",
        "/v2/images",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    if status is None:  # only admins publicize
        status, message = (
            "403 Forbidden",
            (f"You are not authorized to complete publicize_image action.{BR}\n\n"),
        )
    assert response.status_code == int(status.split()[0]), response.text
    assert response.json() == gh.webob_json(status, message)


def test_unknown_disk_format_quotes_the_schema(glance_lab: Any, admin: Any) -> None:
    response = gh.request(
        admin, glance_lab, "POST", "/v2/images", json={"name": "x", "disk_format": "bogus"}
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith(
        "Provided object does not match schema 'image': 'bogus' is not one of [None, 'ami'"
    )


@pytest.mark.parametrize(
    "headers, ops, status, message",
    [
        (
            {"Content-Type": "application/json"},
            [],
            415,
            "The request media type application/json is not supported by this server.\n" + BR,
        ),
        (
            PATCH_21,
            {"op": "replace"},
            400,
            f"Request body must be a JSON array of operation objects.{BR}\n\n",
        ),
        (
            PATCH_21,
            [{"op": "move", "path": "/name"}],
            400,
            f"Invalid operation: `move`. It must be one of the following: add, remove, replace.{BR}"
            "\n\n",
        ),
        (
            PATCH_21,
            [{"op": "replace", "path": "/status", "value": "active"}],
            403,
            f"Attribute 'status' is read-only.{BR}\n\n",
        ),
        (
            PATCH_21,
            [{"op": "replace", "path": "/nothere", "value": "x"}],
            409,
            f"There was a conflict when trying to complete your request.{BR}"
            "Property nothere does not exist.\n\n",
        ),
        (
            PATCH_21,
            [{"op": "remove", "path": "/name"}],
            403,
            f"Access was denied to this resource.{BR}Property name may not be removed.\n\n",
        ),
        (
            PATCH_21,
            [{"op": "add", "path": "/a/b", "value": "x"}],
            400,
            f"Invalid JSON pointer for this resource: '/a/b'{BR}\n\n",
        ),
    ],
)
def test_patch_refusals(
    glance_lab: Any,
    admin: Any,
    queued: Any,
    headers: dict[str, str],
    ops: Any,
    status: int,
    message: str,
) -> None:
    response = gh.request(
        admin, glance_lab, "PATCH", f"/v2/images/{queued.id}", data=json.dumps(ops), headers=headers
    )
    assert response.status_code == status, response.text
    assert response.json()["message"] == message
    if status == 415:
        assert response.headers["Accept-Patch"] == (
            "application/openstack-images-v2.0-json-patch, "
            "application/openstack-images-v2.1-json-patch"
        )


def test_uploading_to_an_active_image_is_409(glance_lab: Any, admin: Any, unique: Any) -> None:
    image = admin.image.create_image(
        name=unique("active"), disk_format="raw", container_format="bare", data=b"first"
    )
    response = gh.request(
        admin,
        glance_lab,
        "PUT",
        f"/v2/images/{image.id}/file",
        data=b"second",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 409
    assert response.json()["message"] == (
        f"Image status transition from active to saving is not allowed{BR}\n\n"
    )
    wrong_type = gh.request(
        admin,
        glance_lab,
        "PUT",
        f"/v2/images/{image.id}/file",
        data=b"x",
        headers={"Content-Type": "text/plain"},
    )
    assert wrong_type.status_code == 415


def test_an_interrupted_upload_leaves_the_image_queued_without_bytes(
    glance_lab: Any, admin: Any, queued: Any
) -> None:
    token = admin.session.get_token()
    with socket.create_connection(("127.0.0.1", glance_lab.sim_port)) as sock:
        sock.sendall(
            (
                f"PUT /image/v2/images/{queued.id}/file HTTP/1.1\r\n"
                f"Host: 127.0.0.1\r\nX-Auth-Token: {token}\r\n"
                "Content-Type: application/octet-stream\r\n"
                "Content-Length: 10000000\r\n\r\n"
            ).encode()
            + b"x" * 300000
        )
        deadline = time.monotonic() + 10
        while admin.image.get_image(queued.id).status != "saving":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    image = gh.wait_for(admin, queued.id, ("queued",))
    assert (image.size, image.checksum) == (None, None)
    listing = glance_lab.sim.file("controller", "/var/lib/glance/images")
    assert queued.id not in listing["entries"]


def test_a_member_cannot_see_or_change_private_images(
    glance_lab: Any, admin: Any, demo: Any, unique: Any
) -> None:
    private = admin.image.create_image(
        name=unique("private"), disk_format="raw", container_format="bare", visibility="private"
    )
    response = gh.request(demo, glance_lab, "GET", f"/v2/images/{private.id}")
    assert response.json() == gh.webob_json(
        "404 Not Found", f"No image found with ID {private.id}{BR}\n\n"
    )
    public = admin.image.create_image(
        name=unique("public"), disk_format="raw", container_format="bare", visibility="public"
    )
    renamed = gh.request(
        demo,
        glance_lab,
        "PATCH",
        f"/v2/images/{public.id}",
        data=json.dumps([{"op": "replace", "path": "/name", "value": "x"}]),
        headers=PATCH_21,
    )
    assert renamed.json() == gh.webob_json("403 Forbidden", f"You do not own this image{BR}\n\n")
    names = {i.name for i in demo.image.images()}
    assert public.name in names and private.name not in names


def test_sharing_with_a_project(glance_lab: Any, admin: Any, demo: Any, unique: Any) -> None:
    demo_project = demo.session.get_project_id()
    shared = admin.image.create_image(
        name=unique("shared"), disk_format="raw", container_format="bare", visibility="shared"
    )
    admin.image.add_member(shared, member_id=demo_project)
    assert shared.name not in {i.name for i in demo.image.images()}  # pending
    demo.image.update_member(demo_project, shared, status="accepted")
    assert shared.name in {i.name for i in demo.image.images()}
    private = admin.image.create_image(
        name=unique("nomembers"), disk_format="raw", container_format="bare", visibility="private"
    )
    response = gh.request(
        admin, glance_lab, "POST", f"/v2/images/{private.id}/members", json={"member": demo_project}
    )
    assert response.json() == gh.webob_json(
        "403 Forbidden", f"Not allowed to create members for image {private.id}.{BR}\n\n"
    )


@pytest.mark.parametrize(
    "query, message",
    [
        ("limit=x", "limit param must be an integer"),
        (
            "sort_key=bogus",
            "Invalid sort key: bogus. It must be one of the following: name, status, "
            "container_format, disk_format, size, id, created_at, updated_at.",
        ),
        ("visibility=secret", "Invalid visibility value: secret"),
        (
            "marker=00000000-0000-0000-0000-000000000000",
            "No image found with ID 00000000-0000-0000-0000-000000000000",
        ),
    ],
)
def test_list_refusals(glance_lab: Any, admin: Any, query: str, message: str) -> None:
    response = gh.request(admin, glance_lab, "GET", f"/v2/images?{query}")
    assert response.status_code == 400
    assert response.json()["message"] == f"{message}{BR}\n\n"


def test_import_refusals(glance_lab: Any, admin: Any, queued: Any) -> None:
    def post(body: Any) -> Any:
        return gh.request(admin, glance_lab, "POST", f"/v2/images/{queued.id}/import", json=body)

    assert post({}).json()["message"] == f"Import request requires a 'method' field.{BR}\n\n"
    assert post({"method": {"name": "glance-direct"}}).json()["message"] == (
        f"Image needs to be staged before 'glance-direct' method can be used{BR}\n\n"
    )
    refused = post({"method": {"name": "web-download", "uri": "http://example.com:8080/x"}})
    assert (refused.status_code, refused.json()["message"]) == (
        400,
        f"URI for web-download does not pass filtering: http://example.com:8080/x{BR}\n\n",
    )


@pytest.mark.parametrize("method", ["GET", "DELETE", "PATCH"])
def test_an_empty_image_id_names_nothing(glance_lab: Any, admin: Any, method: str) -> None:
    """``/v2/images/`` -- an image id left empty, as tempest's null-id tests send -- is
    Glance's 404: its router matches paths as written, so the trailing slash is neither the
    image list nor a method the list refuses (405)."""
    response = gh.request(admin, glance_lab, method, "/v2/images/")
    assert response.status_code == 404, response.text
    assert response.json() == gh.webob_json(
        "404 Not Found", f"The resource could not be found.{BR}\n\n"
    )
    listed = gh.request(admin, glance_lab, "GET", "/v2/images")
    assert listed.status_code == 200 and "images" in listed.json()
