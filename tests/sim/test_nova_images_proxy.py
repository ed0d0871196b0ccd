"""Nova's deprecated image proxy (``/images``, ``/images/{id}/metadata``) up to 2.35 / 2.38:
what it shows of Glance's images, its filters and paging, and metadata written through to
Glance -- checked against Glance through openstacksdk."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openstack
import pytest

from tests.sim.nova_helpers import compute_raw, fault_message

pytestmark = pytest.mark.slow
_raw = compute_raw("2.1")


@pytest.fixture()
def image(nova_admin: Any, unique: Callable[[str], str]) -> Iterator[Any]:
    made = nova_admin.image.create_image(
        name=unique("img"),
        disk_format="raw",
        container_format="bare",
        data=b"x" * 1024,
        min_ram=64,
        auto_disk_config="false",
        flavour="vanilla",
    )
    yield nova_admin.image.wait_for_status(made, status="active", wait=60)
    nova_admin.image.delete_image(made.id, ignore_missing=True)


def test_images_in_novas_shape(nova_admin: Any, image: Any) -> None:
    shown = _raw(nova_admin, "GET", f"/images/{image.id}").json()["image"]
    assert (shown["status"], shown["progress"], shown["minRam"]) == ("ACTIVE", 100, 64)
    assert shown["OS-EXT-IMG-SIZE:size"] == 1024 and shown["OS-DCF:diskConfig"] == "MANUAL"
    # the image's own properties (openstacksdk adds its owner_specified.* too), no base field
    assert {"auto_disk_config": "false", "flavour": "vanilla"}.items() <= shown["metadata"].items()
    assert not {"min_ram", "size", "status", "visibility"} & set(shown["metadata"])
    assert [link["rel"] for link in shown["links"]] == ["self", "bookmark", "alternate"]
    listed = _raw(nova_admin, "GET", f"/images?name={image.name}").json()["images"]
    assert [i["id"] for i in listed] == [image.id] and set(listed[0]) == {"id", "name", "links"}
    everything = {i.id for i in nova_admin.image.images()}
    detail = _raw(nova_admin, "GET", "/images/detail").json()["images"]
    assert {i["id"] for i in detail} == everything
    page = _raw(nova_admin, "GET", "/images?limit=1").json()
    assert len(page["images"]) == 1 and "marker=" in page["images_links"][0]["href"]
    missing = _raw(nova_admin, "GET", "/images/00000000-0000-0000-0000-000000000000")
    assert fault_message(missing) == (404, "Image not found.")
    assert _raw(nova_admin, "GET", "/images", version="2.36").status_code == 404


def test_image_metadata_is_written_to_glance(nova_admin: Any, image: Any) -> None:
    path = f"/images/{image.id}/metadata"
    merged = _raw(nova_admin, "POST", path, json={"metadata": {"colour": "red"}}).json()
    assert merged["metadata"]["colour"] == "red"
    assert nova_admin.image.get_image(image.id).properties["colour"] == "red"
    one = _raw(nova_admin, "PUT", f"{path}/colour", json={"meta": {"colour": "blue"}})
    assert one.json() == {"meta": {"colour": "blue"}}
    mismatch = _raw(nova_admin, "PUT", f"{path}/colour", json={"meta": {"size": "1"}})
    assert fault_message(mismatch) == (400, "Request body and URI mismatch")
    replaced = _raw(nova_admin, "PUT", path, json={"metadata": {"only": "this"}})
    assert replaced.json() == {"metadata": {"only": "this"}}
    now = nova_admin.image.get_image(image.id).properties
    assert now.get("only") == "this" and "colour" not in now and "flavour" not in now
    assert _raw(nova_admin, "DELETE", f"{path}/only").status_code == 204
    assert fault_message(_raw(nova_admin, "DELETE", f"{path}/only")) == (
        404,
        "Invalid metadata key",
    )
    assert _raw(nova_admin, "GET", path, version="2.39").status_code == 404
    assert _raw(nova_admin, "DELETE", f"/images/{image.id}").status_code == 204
    with pytest.raises(openstack.exceptions.NotFoundException):
        nova_admin.image.get_image(image.id)
