"""``/v2/images``: create, list, show, delete, and an image's tasks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.glance import listing, policy, quota, schemas, views
from labkit.sim.glance.api._helpers import app, body, ctx, no_content
from labkit.sim.glance.domain import Image
from labkit.sim.glance.errors import (
    CountLimitExceeded,
    Duplicate,
    Forbidden,
    Invalid,
    InvalidImageStatusTransition,
    LimitExceeded,
    NotFound,
    ReadonlyProperty,
    ReservedProperty,
    bad_request,
    conflict,
    forbidden,
    not_found,
    too_large,
)

routes = Routes()

# Read-only attributes the API refuses outright, before schema validation.
DISALLOWED = ("direct_url", "self", "file", "schema", "stores")
RESERVED = ("location", "deleted", "deleted_at")
RESERVED_NAMESPACE = "os_glance"
# Keys of a create body that are the image's own attributes (the rest are properties).
BASE_KEYS = (
    "checksum",
    "created_at",
    "container_format",
    "disk_format",
    "id",
    "min_disk",
    "min_ram",
    "name",
    "size",
    "virtual_size",
    "status",
    "tags",
    "owner",
    "updated_at",
    "visibility",
    "protected",
    "os_hidden",
)
READONLY_ON_CREATE = (
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "size",
    "virtual_size",
)
RESERVED_ON_CREATE = (
    "owner",
    "locations",
    "deleted",
    "deleted_at",
    "direct_url",
    "self",
    "file",
    "schema",
)


def check_counts(conf: Any, image: Image) -> None:
    """image_property_quota and image_tag_quota, checked when an image is saved."""
    if len(image.extra) > conf.image_property_quota:
        raise CountLimitExceeded("image properties", len(image.extra), conf.image_property_quota)
    if len(image.tags) > conf.image_tag_quota:
        raise CountLimitExceeded("image tags", len(image.tags), conf.image_tag_quota)


def import_headers(call: Call) -> dict[str, str]:
    conf = app(call).config
    headers = {}
    if conf.enabled_import_methods:
        headers["OpenStack-image-import-methods"] = ",".join(conf.enabled_import_methods)
    if conf.multistore:
        headers["OpenStack-image-store-ids"] = ",".join(conf.store_ids)
    return headers


@routes.post("/v2/images")
def create(call: Call) -> Response:
    glance = app(call)
    conf = glance.config
    data = body(call)
    for key in DISALLOWED:
        if key in data:
            raise forbidden(f"Attribute '{key}' is read-only.")
    try:
        schemas.validate(
            schemas.image_schema(conf.disk_formats, conf.container_formats), "image", data
        )
        if not isinstance(data, dict):
            # Glance's image schema names no "type", so a JSON list passes it and Zed then
            # fails on it with a 500 (``list.pop('tags', [])``). The sim answers what the
            # schema means, as jsonschema words a type error, instead of that bug.
            schemas.validate({"type": "object"}, "image", data)
    except Invalid as exc:
        raise bad_request(exc.msg) from None
    assert isinstance(data, dict)
    props = dict(data)
    tags = props.pop("tags", [])
    attrs = {key: props.pop(key) for key in BASE_KEYS if key in props}
    for key in props:
        if len(key) > 255:
            raise bad_request("Custom property should not be greater than 255 characters.")
        if key in RESERVED or key.startswith(RESERVED_NAMESPACE):
            raise forbidden(detail=f"Attribute '{key}' is reserved.")
    caller = ctx(call)
    owner = attrs.get("owner", caller.project_id)
    try:
        policy.enforce_visibility(caller, attrs.get("visibility", "private"))
        if "owner" in attrs:
            policy.check_create_owner(caller, attrs["owner"])
        with glance.images.write() as tx:
            quota.enforce(conf, tx, caller, "image_count_total", delta=1)
            image = _new_image(call, attrs, props, tags, owner)
            check_counts(conf, image)
            tx.add(image)
    except (ReadonlyProperty, ReservedProperty) as exc:
        raise forbidden(exc.msg) from None
    except Forbidden as exc:
        raise forbidden(exc.msg) from None
    except (LimitExceeded, CountLimitExceeded) as exc:
        raise too_large(exc.msg) from None
    except Duplicate as exc:
        raise conflict(exc.msg) from None
    except Invalid as exc:
        raise bad_request(exc.msg) from None
    headers = {"Location": f"{call.root_url}/v2/images/{image.id}", **import_headers(call)}
    return json_response(views.image(image, conf.multistore), 201, headers)


def _new_image(
    call: Call, attrs: dict[str, Any], props: dict[str, Any], tags: list[str], owner: str | None
) -> Image:
    """ImageFactory.new_image: read-only and reserved keys refused, defaults filled."""
    for key in READONLY_ON_CREATE:
        if key in attrs:
            raise ReadonlyProperty(key)
    for key in RESERVED_ON_CREATE:
        if key in props:
            raise ReservedProperty(key)
    now = app(call).runtime.now().timestamp()
    image = Image(
        id=attrs.get("id") or app(call).runtime.ids.dashed_id(),
        status="queued",
        visibility=attrs.get("visibility", "shared"),
        created_at=now,
        updated_at=now,
        owner=owner,
        extra=dict(props),
    )
    for key in (
        "name",
        "disk_format",
        "container_format",
        "min_disk",
        "min_ram",
        "protected",
        "os_hidden",
    ):
        if key in attrs:
            image.set_attribute(key, attrs[key])
    image.set_attribute("tags", list(tags))
    return image


@routes.get("/v2/images")
def index(call: Call) -> Response:
    glance = app(call)
    conf = glance.config
    caller = ctx(call)
    pairs = list(call.query.multi_items())
    try:
        query = listing.parse(pairs, conf.limit_param_default, conf.api_limit_max)
        with glance.images.read() as tx:
            memberships = tx.memberships(caller.owner) if caller.owner else {}
            page, next_marker = listing.select(
                query,
                caller,
                tx.candidates(),
                memberships,
                tx.find,
                lambda image: policy.is_visible(caller, image, tx.member_status),
            )
    except Invalid as exc:
        raise bad_request(exc.msg) from None
    except Forbidden as exc:
        raise forbidden(exc.msg) from None
    params = {k: v for k, v in pairs if k != "marker"}
    out: dict[str, Any] = {
        "images": [views.image(i, conf.multistore) for i in page],
        "first": "/v2/images",
        "schema": "/v2/schemas/images",
    }
    if params:
        out["first"] = f"/v2/images?{urlencode(params)}"
    if next_marker is not None:
        out["next"] = f"/v2/images?{urlencode({**params, 'marker': next_marker})}"
    return json_response(out)


@routes.get("/v2/images/{image_id}")
def show(call: Call, image_id: str) -> Response:
    glance = app(call)
    try:
        image = glance.images.get(image_id, ctx(call))
    except NotFound as exc:
        raise not_found(exc.msg) from None
    return json_response(views.image(image, glance.config.multistore))


@routes.delete("/v2/images/{image_id}")
def delete(call: Call, image_id: str) -> Response:
    glance = app(call)
    caller = ctx(call)
    try:
        with glance.images.write() as tx:
            image = tx.get(image_id, caller)
            policy.check_mutable(caller, image)
            doomed = [loc.url for loc in image.locations]
            image.delete()
            image.locations = []
            tx.save(image)
    except NotFound:
        raise not_found(f"Failed to find image {image_id} to delete") from None
    except Forbidden as exc:
        raise forbidden(exc.msg) from None
    except InvalidImageStatusTransition as exc:
        raise bad_request(exc.msg) from None
    # The data goes with the image: staged bytes and every stored copy.
    glance.staging_file(image_id).unlink(missing_ok=True)
    for url in doomed:
        glance.host_path(url.removeprefix("file://")).unlink(missing_ok=True)
    return no_content()


@routes.get("/v2/images/{image_id}/tasks")
def tasks(call: Call, image_id: str) -> Response:
    glance = app(call)
    try:
        with glance.images.read() as tx:
            tx.get(image_id, ctx(call))
            rows = [views.task(t) for t in tx.tasks_for(image_id)]
    except NotFound:
        raise not_found() from None
    return json_response({"tasks": rows})
