"""Version documents (``/``, ``/versions``), ``/v2/info/*`` and ``/v2/schemas/*``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.glance import policy, quota, schemas
from labkit.sim.glance.api._helpers import app, ctx
from labkit.sim.glance.errors import Forbidden, forbidden, not_found
from labkit.sim.glance.service import public

routes = Routes()


def version_list(call: Call) -> list[dict[str, Any]]:
    """glance.api.versions: what is listed depends on the image cache and multiple stores."""
    conf = app(call).config
    base = (conf.public_endpoint or call.root_url).rstrip("/")
    ids = ["2.16", "2.15", "2.14"] if conf.image_cache_dir else ["2.15"]
    ids += ["2.13", "2.12", "2.11", "2.10", "2.9", "2.8"] if conf.multistore else ["2.9"]
    ids += ["2.7", "2.6", "2.5", "2.4", "2.3", "2.2", "2.1", "2.0"]
    return [
        {
            "id": f"v{v}",
            "status": "CURRENT" if i == 0 else "SUPPORTED",
            "links": [{"rel": "self", "href": f"{base}/v2/"}],
        }
        for i, v in enumerate(ids)
    ]


@public
def versions(call: Call) -> Response:
    """Any request the version negotiation cannot place: 300 Multiple Choices."""
    return json_response({"versions": version_list(call)}, 300)


for _method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
    routes.add(_method, "/", versions)


@routes.get("/versions")
@public
def versions_explicit(call: Call) -> Response:
    return json_response({"versions": version_list(call)})


@routes.get("/v2/info/import")
def info_import(call: Call) -> Response:
    return json_response(
        {
            "import-methods": {
                "description": "Import methods available.",
                "type": "array",
                "value": list(app(call).config.enabled_import_methods),
            }
        }
    )


def _stores(call: Call) -> list[dict[str, Any]]:
    conf = app(call).config
    if not conf.multistore:
        raise not_found("Multi backend is not supported at this site.")
    out: list[dict[str, Any]] = []
    for store in conf.enabled_backends:
        entry: dict[str, Any] = {"id": store}
        if store == conf.default_backend:
            entry["default"] = "true"
        out.append(entry)
    return out


@routes.get("/v2/info/stores")
def info_stores(call: Call) -> Response:
    return json_response({"stores": _stores(call)})


@routes.get("/v2/info/stores/detail")
def info_stores_detail(call: Call) -> Response:
    stores = _stores(call)
    try:
        policy.enforce(ctx(call), "stores_info_detail")
    except Forbidden as exc:
        raise forbidden(exc.msg) from None
    conf = app(call).config
    for store in stores:
        store["type"] = conf.enabled_backends[store["id"]]
        store["properties"] = {
            "data_dir": conf.store_dir(store["id"]),
            "chunk_size": 65536,
            "thin_provisioning": False,
        }
    return json_response({"stores": stores})


@routes.get("/v2/info/usage")
def info_usage(call: Call) -> Response:
    with app(call).images.read() as tx:
        usage = quota.usage_report(app(call).config, tx, ctx(call))
    return json_response({"usage": usage})


@routes.get("/v2/schemas/image")
def schema_image(call: Call) -> Response:
    conf = app(call).config
    return json_response(schemas.image_schema(conf.disk_formats, conf.container_formats))


@routes.get("/v2/schemas/images")
def schema_images(call: Call) -> Response:
    conf = app(call).config
    item = schemas.image_schema(conf.disk_formats, conf.container_formats)
    return json_response(schemas.images_schema(item))


@routes.get("/v2/schemas/member")
def schema_member(call: Call) -> Response:
    return json_response(schemas.member_schema())


@routes.get("/v2/schemas/members")
def schema_members(call: Call) -> Response:
    return json_response(schemas.members_schema())
