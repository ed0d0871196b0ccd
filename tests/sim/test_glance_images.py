"""Glance images through the real clients: upload, web-download, checksums, listing, updates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.sim import glance_helpers as gh


@pytest.fixture(scope="module")
def cirros_file(glance_lab: Any, admin: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gh.fetch_mirror(admin, glance_lab, tmp_path_factory.mktemp("img") / "cirros.img")


def test_cli_upload_of_a_public_qcow2_reaches_active_with_right_checksums(
    osc: Any, admin: Any, cirros_file: Path, unique: Any
) -> None:
    name = unique("cirros")
    out = json.loads(
        osc(
            f"image create --disk-format qcow2 --container-format bare "
            f"--file {cirros_file} --public {name} -f json"
        ).stdout
    )
    data = cirros_file.read_bytes()
    md5, sha512 = gh.md5_and_sha512(data)
    assert out["status"] == "active"
    assert out["checksum"] == md5
    image = admin.image.get_image(out["id"])
    assert image.visibility == "public"
    assert (image.size, image.hash_algo, image.hash_value) == (len(data), "sha512", sha512)
    assert image.virtual_size == 112 << 20  # read from the qcow2 header
    assert image.properties["stores"] == "fs"


def test_web_download_import_reaches_active_and_matches_the_mirrors_md5sums(
    glance_lab: Any, admin: Any, osc: Any, unique: Any
) -> None:
    image = admin.image.create_image(
        name=unique("web"), disk_format="qcow2", container_format="bare"
    )
    assert image.status == "queued"
    osc(f"image import --method web-download --uri {gh.mirror_url(glance_lab)} {image.id}")
    image = gh.wait_for(admin, image.id)
    sums = admin.session.get(
        gh.mirror_url(glance_lab, "cirros/0.6.2/MD5SUMS"), authenticated=False
    ).text
    assert f"{image.checksum}  cirros-0.6.2-x86_64-disk.img" in sums
    assert image.properties["os_glance_importing_to_stores"] == ""
    assert image.properties["os_glance_failed_import"] == ""
    tasks = gh.request(admin, glance_lab, "GET", f"/v2/images/{image.id}/tasks").json()["tasks"]
    assert [(t["type"], t["status"], t["result"]) for t in tasks] == [
        ("api_image_import", "success", {"image_id": image.id})
    ]


def test_import_with_the_cli_stages_then_imports(
    osc: Any, admin: Any, cirros_file: Path, unique: Any
) -> None:
    out = json.loads(
        osc(
            f"image create --disk-format qcow2 --container-format bare --import "
            f"--file {cirros_file} {unique('direct')} -f json"
        ).stdout
    )
    image = gh.wait_for(admin, out["id"])
    assert image.checksum == gh.md5_and_sha512(cirros_file.read_bytes())[0]


def test_unreachable_url_ends_queued_with_the_store_in_failed_import(
    glance_lab: Any, admin: Any, unique: Any
) -> None:
    image = admin.image.create_image(
        name=unique("unreachable"), disk_format="qcow2", container_format="bare"
    )
    for uri in ("http://127.0.0.1:80/nothing.img", gh.mirror_url(glance_lab, "no/such.img")):
        response = gh.request(
            admin,
            glance_lab,
            "POST",
            f"/v2/images/{image.id}/import",
            json={"method": {"name": "web-download", "uri": uri}},
        )
        assert response.status_code == 202
        image = gh.wait_for(admin, image.id, ("queued",))
        assert image.properties["os_glance_failed_import"] == "fs"
        assert image.properties["os_glance_importing_to_stores"] == ""
    tasks = gh.request(admin, glance_lab, "GET", f"/v2/images/{image.id}/tasks").json()["tasks"]
    assert {(t["status"], t["message"]) for t in tasks} == {
        ("failure", "Task failed due to Internal Error")
    }


def test_download_whole_and_ranged(
    glance_lab: Any, admin: Any, cirros_file: Path, unique: Any
) -> None:
    data = cirros_file.read_bytes()
    image = admin.image.create_image(
        name=unique("dl"), disk_format="qcow2", container_format="bare", filename=str(cirros_file)
    )
    assert admin.image.download_image(image).content == data
    ranged = gh.request(
        admin, glance_lab, "GET", f"/v2/images/{image.id}/file", headers={"Range": "bytes=0-15"}
    )
    assert ranged.status_code == 206
    assert ranged.content == data[:16]
    assert ranged.headers["Content-Range"] == f"bytes 0-15/{len(data)}"
    assert ranged.headers["Content-MD5"] == gh.md5_and_sha512(data)[0]
    queued = admin.image.create_image(
        name=unique("empty"), disk_format="raw", container_format="bare"
    )
    empty = gh.request(admin, glance_lab, "GET", f"/v2/images/{queued.id}/file")
    assert (empty.status_code, empty.content) == (204, b"")


def test_list_filters_sort_and_pagination(admin: Any, unique: Any) -> None:
    tag = unique("tag")
    made = [
        admin.image.create_image(
            name=f"{tag}-{n}", disk_format="raw", container_format="bare", tags=[tag], data=b"x" * n
        )
        for n in (1, 2, 3)
    ]
    by_tag = list(admin.image.images(tag=tag, sort="name:asc"))
    assert [i.name for i in by_tag] == [i.name for i in made]
    assert [i.name for i in admin.image.images(tag=tag, size_min=2, sort="size:desc")] == [
        f"{tag}-3",
        f"{tag}-2",
    ]
    pages = list(admin.image.images(tag=tag, limit=1, paginated=True))
    assert len(pages) == 3
    ids = ",".join(i.id for i in made[:2])
    assert {i.id for i in admin.image.images(id=f"in:{ids}")} == {made[0].id, made[1].id}


def test_patch_tags_and_properties(glance_lab: Any, admin: Any, unique: Any) -> None:
    image = admin.image.create_image(
        name=unique("patch"), disk_format="raw", container_format="bare"
    )
    image = admin.image.update_image(image, name=unique("renamed"), min_ram=128, os_distro="cirros")
    assert (image.min_ram, image.os_distro) == (128, "cirros")
    admin.image.add_tag(image, "lab")
    assert admin.image.get_image(image.id).tags == ["lab"]
    admin.image.remove_tag(image, "lab")
    draft4 = gh.request(
        admin,
        glance_lab,
        "PATCH",
        f"/v2/images/{image.id}",
        data=json.dumps([{"add": "/os_distro", "value": "x"}]),
        headers={"Content-Type": "application/openstack-images-v2.0-json-patch"},
    )
    assert draft4.status_code == 409
    assert draft4.json()["message"].endswith("Property os_distro already present.\n\n")


def test_protected_images_and_deactivation(
    glance_lab: Any, admin: Any, demo: Any, unique: Any
) -> None:
    image = admin.image.create_image(
        name=unique("protected"),
        disk_format="raw",
        container_format="bare",
        data=b"data",
        protected=True,
        visibility="public",
    )
    refused = gh.request(admin, glance_lab, "DELETE", f"/v2/images/{image.id}")
    assert refused.status_code == 403
    assert refused.json() == gh.webob_json(
        "403 Forbidden", f"Image {image.id} is protected and cannot be deleted.<br /><br />\n\n\n"
    )
    admin.image.deactivate_image(image)
    assert admin.image.get_image(image.id).status == "deactivated"
    blocked = gh.request(demo, glance_lab, "GET", f"/v2/images/{image.id}/file")
    assert blocked.status_code == 403
    assert "has been deactivated" in blocked.json()["message"]
    admin.image.reactivate_image(image)
    admin.image.update_image(image, protected=False)
    admin.image.delete_image(image)
    gone = gh.request(admin, glance_lab, "GET", f"/v2/images/{image.id}")
    assert gone.status_code == 404


def test_notebook_helpers_timeline_checksums_and_bytes_on_the_controller(
    glance_lab: Any, admin: Any, unique: Any
) -> None:
    from labkit import images

    image = admin.image.create_image(
        name=unique("watched"), disk_format="qcow2", container_format="bare"
    )
    admin.image.import_image(
        image, method="web-download", uri=gh.mirror_url(glance_lab) + "?rate=40M"
    )
    timeline = images.watch_import(
        admin, image.id, interval=0.05, staged_bytes=images.sim_staged_bytes(glance_lab.sim)
    )
    assert timeline.final_status == "active"
    assert [s for s, _, _ in timeline.spans()][-2:] == ["importing", "active"]
    assert any((p.staged_bytes or 0) > 0 for p in timeline.points)
    assert "importing" in timeline.table()
    image = admin.image.get_image(image.id)
    chunks = admin.image.download_image(image, stream=True).iter_content(1 << 20)
    report = images.verify_checksums(image, chunks)
    assert report.ok, str(report)
    landed = images.where_bytes_landed(glance_lab.sim, image.id)
    assert (landed.path, landed.size) == (f"/var/lib/glance/images/{image.id}", image.size)
    assert image.id in landed.store_listing
