"""``/v2/images/{id}/actions/{deactivate,reactivate}`` and ``/v2/images/{id}/tags/{tag}``."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes
from labkit.sim.glance import policy, schemas
from labkit.sim.glance.api._helpers import app, ctx, no_content
from labkit.sim.glance.api.images import check_counts
from labkit.sim.glance.domain import Image
from labkit.sim.glance.errors import (
    CountLimitExceeded,
    Forbidden,
    Invalid,
    InvalidImageStatusTransition,
    NotFound,
    bad_request,
    forbidden,
    not_found,
    too_large,
)

routes = Routes()


def _action(call: Call, image_id: str, act: Callable[[Image], None]) -> Response:
    caller = ctx(call)
    try:
        with app(call).images.write() as tx:
            image = tx.get(image_id, caller)
            policy.check_mutable(caller, image)
            before = image.status
            act(image)
            if image.status != before:
                tx.save(image)
    except NotFound as exc:
        raise not_found(exc.msg) from None
    except Forbidden as exc:
        raise forbidden(exc.msg) from None
    except InvalidImageStatusTransition as exc:
        raise bad_request(exc.msg) from None
    app(call).runtime.logger(app(call).name).info(
        "Image %s is %sd", image_id, act.__name__.removeprefix("_")
    )
    return no_content()


@routes.post("/v2/images/{image_id}/actions/deactivate")
def deactivate(call: Call, image_id: str) -> Response:
    def _deactivate(image: Image) -> None:
        image.deactivate()

    return _action(call, image_id, _deactivate)


@routes.post("/v2/images/{image_id}/actions/reactivate")
def reactivate(call: Call, image_id: str) -> Response:
    def _reactivate(image: Image) -> None:
        image.reactivate()

    return _action(call, image_id, _reactivate)


@routes.put("/v2/images/{image_id}/tags/{tag}")
def add_tag(call: Call, image_id: str, tag: str) -> Response:
    conf = app(call).config
    try:
        schemas.validate(
            schemas.image_schema(conf.disk_formats, conf.container_formats),
            "image",
            {"tags": [tag]},
        )
    except Invalid as exc:
        raise bad_request(exc.msg) from None
    caller = ctx(call)
    try:
        with app(call).images.write() as tx:
            image = tx.get(image_id, caller)
            policy.check_mutable(caller, image)
            image.add_tag(tag)
            check_counts(conf, image)
            tx.save(image)
    except NotFound:
        raise not_found(f"Image {image_id} not found.") from None
    except Forbidden:
        raise forbidden(f"Not allowed to update tags for image {image_id}.") from None
    except CountLimitExceeded as exc:
        raise too_large(f"Image tag limit exceeded for image {image_id}: {exc.msg}:") from None
    return no_content()


@routes.delete("/v2/images/{image_id}/tags/{tag}")
def delete_tag(call: Call, image_id: str, tag: str) -> Response:
    caller = ctx(call)
    try:
        with app(call).images.write() as tx:
            image = tx.get(image_id, caller)
            policy.check_mutable(caller, image)
            if tag not in image.tags:
                raise not_found()
            image.remove_tag(tag)
            tx.save(image)
    except NotFound:
        raise not_found(f"Image {image_id} not found.") from None
    except Forbidden:
        raise forbidden(f"Not allowed to delete tags for image {image_id}.") from None
    return no_content()
