"""``POST /v2/images/{id}/import``: start an interoperable import (see :mod:`..imports`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes
from labkit.sim.glance import policy
from labkit.sim.glance.api._helpers import app, body, ctx, enforce_limit, no_content
from labkit.sim.glance.config import GlanceConf
from labkit.sim.glance.domain import Image
from labkit.sim.glance.errors import (
    Forbidden,
    NotFound,
    bad_request,
    conflict,
    forbidden,
    not_found,
)
from labkit.sim.glance.imports import LOCK_KEY
from labkit.sim.glance.policy import Context

routes = Routes()


def _validate_body(data: Any, conf: GlanceConf) -> dict[str, Any]:
    """RequestDeserializer._validate_import_body."""
    if not isinstance(data, dict) or "method" not in data:
        raise bad_request("Import request requires a 'method' field.")
    method = data["method"]
    if not isinstance(method, dict):
        # Zed indexes it like a dict and fails with a TypeError (a bare 500, an upstream
        # bug); the sim answers as for a missing method instead.
        raise bad_request("Import request requires a 'method' field.")
    if "name" not in method:
        raise bad_request("Import request requires a 'name' field.")
    if not isinstance(method["name"], str) or method["name"] not in conf.enabled_import_methods:
        raise bad_request(f"Unknown import method name '{method['name']}'.")
    if not isinstance(data.get("all_stores_must_succeed", True), bool):
        raise bad_request("'all_stores_must_succeed' must be boolean value only")
    if not isinstance(data.get("all_stores", False), bool):
        raise bad_request("'all_stores' must be boolean value only")
    return data


def uri_allowed(uri: str | None, conf: GlanceConf) -> bool:
    """glance.common.utils.validate_import_uri with ``[import_filtering_opts]``."""
    if not uri or not isinstance(uri, str):  # a number or an object is no URI (Zed: 500)
        return False
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return False
    rules = conf.import_filter
    if rules.unreadable:
        return False
    bad_schemes = () if rules.allowed_schemes else rules.disallowed_schemes
    bad_hosts = () if rules.allowed_hosts else rules.disallowed_hosts
    bad_ports = () if rules.allowed_ports else rules.disallowed_ports
    if (
        not parts.scheme
        or (rules.allowed_schemes and parts.scheme not in rules.allowed_schemes)
        or parts.scheme in bad_schemes
    ):
        return False
    host = parts.hostname
    if not host or (rules.allowed_hosts and host not in rules.allowed_hosts) or host in bad_hosts:
        return False
    return not (
        port and ((rules.allowed_ports and port not in rules.allowed_ports) or port in bad_ports)
    )


def _stores(call: Call, data: dict[str, Any], conf: GlanceConf) -> list[str | None]:
    """utils.get_stores_from_request."""
    if not conf.multistore:
        return [None]
    header = call.headers.get("x-image-meta-store")
    if data.get("all_stores", False):
        if "stores" in data or header:
            raise bad_request(
                "All_stores parameter can't be used with x-image-meta-store "
                "header or stores parameter"
            )
        stores: list[str | None] = list(conf.enabled_backends)
    elif "stores" in data:
        if header:
            raise bad_request(
                "Stores parameter and x-image-meta-store header can't be both specified"
            )
        stores = list(data["stores"])
    else:
        stores = [header or conf.default_backend]
    for store in stores:
        if store not in conf.enabled_backends:
            raise conflict(f"Unknown scheme '{store}' found in URI")
    return stores


def _checks(image: Image, method: str, caller: Context) -> None:
    if image.status == "active" and method != "copy-image":
        raise conflict("Image with status active cannot be target for import")
    if image.status != "active" and method == "copy-image":
        raise conflict("Only images with status active can be targeted for copying")
    if image.status != "queued" and method in ("web-download", "glance-download"):
        raise conflict(f"Image needs to be in 'queued' state to use '{method}' method")
    if image.status != "uploading" and method == "glance-direct":
        raise conflict("Image needs to be staged before 'glance-direct' method can be used")
    if not image.container_format:
        raise conflict("'container_format' needs to be set before import")
    if not image.disk_format:
        raise conflict("'disk_format' needs to be set before import")
    if method == "copy-image":
        policy.enforce(caller, "copy_image")
    else:
        policy.check_mutable(caller, image)


@routes.post("/v2/images/{image_id}/import")
def import_image(call: Call, image_id: str) -> Response:
    glance = app(call)
    conf = glance.config
    data = _validate_body(body(call), conf)
    method: str = data["method"]["name"]
    uri = data["method"].get("uri")
    caller = ctx(call)
    importer = glance.importer
    assert importer is not None
    enforce_limit(glance, caller, "image_size_total")
    try:
        with glance.images.write() as tx:
            image = tx.get(image_id, caller)
            _checks(image, method, caller)
            held_by = image.extra.get(LOCK_KEY)
            if held_by and not importer.lock_is_stale(tx, held_by):
                raise conflict("Image has active task")
            stores = _stores(call, data, conf)
            if method == "copy-image":
                present = {loc.store for loc in image.locations}
                if data.get("all_stores", False):
                    stores = [s for s in stores if s not in present]
                    if not stores:
                        return no_content(202)
                for store in stores:
                    if store in present:
                        raise bad_request(f"Image is already present at store '{store}'")
            if not data.get("all_stores_must_succeed", True) and not conf.multistore:
                raise bad_request(
                    f"All_stores_must_succeed can only be set with enabled_backends {uri}"
                )
            if method == "web-download" and not uri_allowed(uri, conf):
                raise bad_request(f"URI for web-download does not pass filtering: {uri}")
            task = importer.new_task(tx, image, caller, data, stores)
            image.extra[LOCK_KEY] = task.id
            tx.save(image)
    except NotFound as exc:
        raise not_found(exc.msg) from None
    except Forbidden as exc:
        raise forbidden(exc.msg) from None
    importer.spawn(task.id, caller)
    return no_content(202)
