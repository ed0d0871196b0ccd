"""``/images`` and ``/images/{id}/metadata``: Nova's proxy to Glance's images, deprecated
but answered up to microversion 2.35 (the metadata up to 2.38), a 404 after
(``nova/api/openstack/compute/images.py``, ``image_metadata.py``, ``views/images.py``).

Nova asks Glance v2 with the caller's token and answers in the old shape: ``minRam``,
``minDisk``, ``metadata`` (the image's own properties, not Glance's base attributes),
``status`` ACTIVE / SAVING / DELETED / ERROR / UNKNOWN with a ``progress``, the size as
``OS-EXT-IMG-SIZE:size``, a ``server`` for a snapshot and ``OS-DCF:diskConfig`` from
``auto_disk_config``. The list filters are Nova's (name, status, changes-since as
``updated_at=gte:``, server, type, minRam, minDisk, ``property-*``) passed on to Glance;
``limit``/``marker`` page it with an ``images_links`` next link. Metadata changes are one
JSON patch to Glance that leaves exactly the properties asked for (``purge_props``); the
``metadata_items`` quota on them is not checked.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import httpx
from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.nova.api import body as checks
from labkit.sim.nova.api._helpers import caller, microversion_at_least, next_link, nova
from labkit.sim.nova.clients import GLANCE_IMAGE_FIELDS
from labkit.sim.nova.errors import NovaError, bad_request, forbidden, not_found

routes = Routes()
STATUS = {
    "active": "ACTIVE",
    "queued": "SAVING",
    "saving": "SAVING",
    "deleted": "DELETED",
    "pending_delete": "DELETED",
    "killed": "ERROR",
}
PROGRESS = {"queued": 25, "saving": 50, "active": 100}
FILTERS = {
    "name": "name",
    "status": "status",
    "server": "instance_uuid",
    "type": "image_type",
    "minRam": "min_ram",
    "minDisk": "min_disk",
}
_META: checks.Schema = {
    "type": "object",
    "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string", "maxLength": 255}},
    "additionalProperties": False,
}
_METADATA_BODY: checks.Schema = {
    "type": "object",
    "properties": {"metadata": _META},
    "required": ["metadata"],
    "additionalProperties": False,
}
_META_BODY: checks.Schema = {
    "type": "object",
    "properties": {"meta": {**_META, "minProperties": 1, "maxProperties": 1}},
    "required": ["meta"],
    "additionalProperties": False,
}
NOT_FOUND = "Image not found."


def _until(call: Call, version: str) -> None:
    if microversion_at_least(call, version):
        raise not_found("The resource could not be found.")


def _glance(call: Call, method: str, path: str, **kwargs: Any) -> httpx.Response:
    api = nova(call)
    headers = {"X-Auth-Token": caller(call).token, **kwargs.pop("headers", {})}
    try:
        return api.http_client.request(
            method, f"{api.glance_url().rstrip('/')}{path}", headers=headers, **kwargs
        )
    except httpx.HTTPError as exc:
        raise NovaError(f"Image service unavailable: {exc}", status=503) from None


def _image(call: Call, image_id: str) -> dict[str, Any]:
    answer = _glance(call, "GET", f"/v2/images/{quote(image_id, safe='')}")
    if answer.status_code == 403:
        raise forbidden(f"Not authorized for image {image_id}.")
    if answer.status_code != 200:
        raise not_found(NOT_FOUND)
    return dict(answer.json())


def properties(image: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in image.items()
        if k not in GLANCE_IMAGE_FIELDS and not k.startswith("os_glance")
    }


def _links(call: Call, image_id: str) -> list[dict[str, str]]:
    root = call.root_url
    return [
        {"rel": "self", "href": f"{root}/v2.1/images/{image_id}"},
        {"rel": "bookmark", "href": f"{root}/images/{image_id}"},
        {
            "rel": "alternate",
            "type": "application/vnd.openstack.image",
            "href": f"{nova(call).glance_url().rstrip('/')}/images/{image_id}",
        },
    ]


def _view(call: Call, image: dict[str, Any]) -> dict[str, Any]:
    meta = properties(image)
    out: dict[str, Any] = {
        "id": image["id"],
        "name": image.get("name"),
        "minRam": int(image.get("min_ram") or 0),
        "minDisk": int(image.get("min_disk") or 0),
        "metadata": meta,
        "created": image.get("created_at"),
        "updated": image.get("updated_at"),
        "status": STATUS.get(str(image.get("status")), "UNKNOWN"),
        "progress": PROGRESS.get(str(image.get("status")), 0),
        "OS-EXT-IMG-SIZE:size": image.get("size"),
        "links": _links(call, image["id"]),
    }
    server = meta.get("instance_uuid")
    if server is not None:
        root = call.root_url
        out["server"] = {
            "id": server,
            "links": [
                {"rel": "self", "href": f"{root}/v2.1/servers/{server}"},
                {"rel": "bookmark", "href": f"{root}/servers/{server}"},
            ],
        }
    auto = meta.get("auto_disk_config")
    if auto is not None:
        on = str(auto).strip().lower() in ("1", "t", "true", "on", "y", "yes")
        out["OS-DCF:diskConfig"] = "AUTO" if on else "MANUAL"
    return out


def _listed(call: Call) -> tuple[list[dict[str, Any]], int | None]:
    """Glance's images for Nova's filters and paging; every page when no limit is given."""
    params: list[tuple[str, str]] = []
    for name, value in call.query.items():
        if name in FILTERS:
            params.append((FILTERS[name], value.lower() if name == "status" else value))
        elif name == "changes-since":
            params.append(("updated_at", f"gte:{value}"))
        elif name.startswith("property-"):
            params.append((name[len("property-") :], value))
    if "server" in call.query:  # a server URL is reduced to its id
        params = [(k, v.rsplit("/", 1)[-1] if k == "instance_uuid" else v) for k, v in params]
    limit = None
    if "limit" in call.query:
        raw = call.query["limit"]
        if not raw.isdigit():
            raise bad_request("limit param must be an integer")
        limit = int(raw)
        params.append(("limit", raw))
    if "marker" in call.query:
        params.append(("marker", call.query["marker"]))
    images: list[dict[str, Any]] = []
    path = f"/v2/images?{urlencode(params)}"
    while path:
        answer = _glance(call, "GET", path)
        if answer.status_code != 200:
            detail = answer.text.strip().splitlines()[-1] if answer.text.strip() else ""
            raise bad_request(detail or "Invalid image listing")
        page = answer.json()
        images += page.get("images", [])
        path = page.get("next") if limit is None else ""
    return images, limit


def _list(call: Call, collection: str, detail: bool) -> Response:
    _until(call, "2.36")
    images, limit = _listed(call)
    if detail:
        shown = [_view(call, i) for i in images]
    else:
        shown = [
            {"id": i["id"], "name": i.get("name"), "links": _links(call, i["id"])} for i in images
        ]
    out: dict[str, Any] = {"images": shown}
    if limit is not None and images and len(images) == limit:
        params = {**call.query, "marker": images[-1]["id"]}
        out["images_links"] = next_link(call, collection, params)
    return json_response(out)


@routes.get("/v2.1/images")
def list_images(call: Call) -> Response:
    return _list(call, "images", detail=False)


@routes.get("/v2.1/images/detail")
def list_images_detail(call: Call) -> Response:
    return _list(call, "images/detail", detail=True)


@routes.get("/v2.1/images/{image_id}")
def show_image(call: Call, image_id: str) -> Response:
    _until(call, "2.36")
    return json_response({"image": _view(call, _image(call, image_id))})


@routes.delete("/v2.1/images/{image_id}")
def delete_image(call: Call, image_id: str) -> Response:
    _until(call, "2.36")
    answer = _glance(call, "DELETE", f"/v2/images/{quote(image_id, safe='')}")
    if answer.status_code == 404:
        raise not_found(NOT_FOUND)
    if answer.status_code == 403:
        raise forbidden("You are not allowed to delete the image.")
    return empty_response(204)


# ---- metadata ------------------------------------------------------------------------------------


def _replace_properties(call: Call, image: dict[str, Any], wanted: dict[str, Any]) -> None:
    """``image_api.update(..., purge_props=True)``: one JSON patch leaving exactly ``wanted``."""
    old = properties(image)
    patch = [{"op": "remove", "path": f"/{k}"} for k in old if k not in wanted]
    patch += [
        {"op": "replace" if k in old else "add", "path": f"/{k}", "value": v}
        for k, v in wanted.items()
        if old.get(k) != v
    ]
    if not patch:
        return
    answer = _glance(
        call,
        "PATCH",
        f"/v2/images/{image['id']}",
        json=patch,
        headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
    )
    if answer.status_code == 403:
        raise forbidden(f"Not authorized for image {image['id']}.")
    if answer.status_code == 404:
        raise not_found(NOT_FOUND)
    if answer.status_code != 200:
        detail = answer.text.strip().splitlines()[-1] if answer.text.strip() else ""
        raise bad_request(detail or "Invalid image metadata")


@routes.get("/v2.1/images/{image_id}/metadata")
def list_metadata(call: Call, image_id: str) -> Response:
    _until(call, "2.39")
    return json_response({"metadata": properties(_image(call, image_id))})


@routes.post("/v2.1/images/{image_id}/metadata")
def merge_metadata(call: Call, image_id: str) -> Response:
    _until(call, "2.39")
    body = call.json()
    checks.check("metadata", body, _METADATA_BODY)
    image = _image(call, image_id)
    wanted = {**properties(image), **body["metadata"]}
    _replace_properties(call, image, wanted)
    return json_response({"metadata": wanted})


@routes.put("/v2.1/images/{image_id}/metadata")
def replace_metadata(call: Call, image_id: str) -> Response:
    _until(call, "2.39")
    body = call.json()
    checks.check("metadata", body, _METADATA_BODY)
    image = _image(call, image_id)
    _replace_properties(call, image, dict(body["metadata"]))
    return json_response({"metadata": body["metadata"]})


@routes.get("/v2.1/images/{image_id}/metadata/{key}")
def show_metadata_item(call: Call, image_id: str, key: str) -> Response:
    _until(call, "2.39")
    meta = properties(_image(call, image_id))
    if key not in meta:
        raise not_found("The resource could not be found.")
    return json_response({"meta": {key: meta[key]}})


@routes.put("/v2.1/images/{image_id}/metadata/{key}")
def set_metadata_item(call: Call, image_id: str, key: str) -> Response:
    _until(call, "2.39")
    body = call.json()
    checks.check("meta", body, _META_BODY)
    if key not in body["meta"]:
        raise bad_request("Request body and URI mismatch")
    image = _image(call, image_id)
    _replace_properties(call, image, {**properties(image), key: body["meta"][key]})
    return json_response({"meta": body["meta"]})


@routes.delete("/v2.1/images/{image_id}/metadata/{key}")
def delete_metadata_item(call: Call, image_id: str, key: str) -> Response:
    _until(call, "2.39")
    image = _image(call, image_id)
    meta = properties(image)
    if key not in meta:
        raise not_found("Invalid metadata key")
    meta.pop(key)
    _replace_properties(call, image, meta)
    return empty_response(204)
