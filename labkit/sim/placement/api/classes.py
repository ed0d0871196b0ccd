"""``/resource_classes`` (from 1.2) and ``/traits`` (from 1.6), standard and custom."""

from __future__ import annotations

import jsonschema
from starlette.responses import Response

from labkit.sim.core.http import Call, Routes
from labkit.sim.placement import classes, errors, schemas
from labkit.sim.placement.api._helpers import (
    body,
    check_accept,
    empty,
    enforce,
    location,
    now,
    ok,
    query,
    reading,
    since,
    url,
    version,
    writing,
)
from labkit.sim.placement.errors import PlacementError, bad_request, conflict

routes = Routes()


def _class_view(call: Call, name: str) -> dict[str, object]:
    return {
        "name": name,
        "links": [{"rel": "self", "href": url(call, f"/resource_classes/{name}")}],
    }


def _no_class(name: str) -> PlacementError:
    return PlacementError(404, str(errors.ResourceClassNotFound(name)), in_handler=False)


@routes.get("/resource_classes")
def list_classes(call: Call) -> Response:
    since(call, 2)
    check_accept(call)
    enforce(call, "placement:resource_classes:list")
    with reading(call) as s:
        names = [row.name for row in classes.list_classes(s)]
    return ok(call, {"resource_classes": [_class_view(call, n) for n in names]})


@routes.post("/resource_classes")
def create_class(call: Call) -> Response:
    since(call, 2)
    enforce(call, "placement:resource_classes:create")
    name = body(call, schemas.RESOURCE_CLASS)["name"]
    with writing(call) as s:
        try:
            classes.create_class(s, name, now(call))
        except errors.Duplicate:
            raise conflict(f"Conflicting resource class already exists: {name}") from None
    return empty(201, {"Location": location(call, f"/resource_classes/{name}")})


@routes.get("/resource_classes/{name}")
def show_class(call: Call, name: str) -> Response:
    since(call, 2)
    check_accept(call)
    enforce(call, "placement:resource_classes:show")
    with reading(call) as s:
        try:
            classes.get_class(s, name)
        except errors.ResourceClassNotFound:
            raise _no_class(name) from None
    return ok(call, _class_view(call, name))


@routes.put("/resource_classes/{name}")
def put_class(call: Call, name: str) -> Response:
    since(call, 2)
    enforce(call, "placement:resource_classes:update")
    if not version(call).at_least(7):  # 1.2-1.6: a rename with {"name": NEW}
        data = body(call, schemas.RESOURCE_CLASS)
        with writing(call) as s:
            try:
                classes.rename_class(s, name, data["name"], now(call))
            except errors.ResourceClassNotFound:
                raise _no_class(name) from None
            except errors.Duplicate:
                raise conflict(f"Resource class already exists: {data['name']}") from None
            except errors.ActionError:
                raise bad_request(f"Cannot update standard resource class {name}") from None
        return ok(call, _class_view(call, data["name"]))
    try:
        jsonschema.validate({"name": name}, schemas.RESOURCE_CLASS)
    except jsonschema.ValidationError as exc:
        raise bad_request(f"JSON does not validate: {exc}") from None
    status = 204
    with writing(call) as s:
        try:
            classes.get_class(s, name)
        except errors.ResourceClassNotFound:
            classes.create_class(s, name, now(call))
            status = 201
    return empty(status, {"Location": location(call, f"/resource_classes/{name}")})


@routes.delete("/resource_classes/{name}")
def delete_class(call: Call, name: str) -> Response:
    since(call, 2)
    enforce(call, "placement:resource_classes:delete")
    with writing(call) as s:
        try:
            classes.delete_class(s, name)
        except errors.ResourceClassNotFound:
            raise _no_class(name) from None
        except errors.ClassInUse as exc:
            raise conflict(f"Error in delete resource class: {exc}") from None
        except errors.PlacementException as exc:
            raise bad_request(f"Error in delete resource class: {exc}") from None
    return empty()


# ---- traits ------------------------------------------------------------------------------------


@routes.get("/traits")
def list_traits(call: Call) -> Response:
    since(call, 6)
    check_accept(call)
    enforce(call, "placement:traits:list")
    params = query(call, schemas.TRAITS_QUERY)
    names_in: list[str] | None = None
    prefix: str | None = None
    associated: bool | None = None
    if "name" in params:
        op, sep, value = params["name"].partition(":")
        if not sep:
            raise bad_request(
                "Badly formatted name parameter. Expected name query string parameter in "
                f'form: ?name=[in|startswith]:[name1,name2|prefix]. Got: "{params["name"]}"'
            )
        if op == "in":
            names_in = value.split(",")
        elif op == "startswith":
            prefix = value
    if "associated" in params:
        flag = params["associated"].lower()
        if flag not in ("true", "false"):
            raise bad_request('The query parameter "associated" only accepts "true" or "false"')
        associated = flag == "true"
    with reading(call) as s:
        names = classes.list_traits(s, names_in, prefix, associated)
    return ok(call, {"traits": names})


@routes.get("/traits/{name}")
def show_trait(call: Call, name: str) -> Response:
    since(call, 6)
    enforce(call, "placement:traits:show")
    with reading(call) as s:
        try:
            classes.get_trait(s, name)
        except errors.TraitNotFound as exc:
            raise PlacementError(404, str(exc)) from None
    return empty()


@routes.put("/traits/{name}")
def put_trait(call: Call, name: str) -> Response:
    since(call, 6)
    enforce(call, "placement:traits:update")
    try:
        jsonschema.validate(name, schemas.CUSTOM_TRAIT)
    except jsonschema.ValidationError:
        raise bad_request(
            "The trait is invalid. A valid trait must be no longer than 255 characters, start "
            'with the prefix "CUSTOM_" and use following characters: "A"-"Z", "0"-"9" and "_"'
        ) from None
    with writing(call) as s:
        _, created = classes.ensure_trait(s, name, now(call))
    return empty(201 if created else 204, {"Location": location(call, f"/traits/{name}")})


@routes.delete("/traits/{name}")
def delete_trait(call: Call, name: str) -> Response:
    since(call, 6)
    enforce(call, "placement:traits:delete")
    with writing(call) as s:
        try:
            classes.delete_trait(s, name)
        except errors.TraitNotFound as exc:
            raise PlacementError(404, str(exc)) from None
        except errors.TraitInUse as exc:
            raise conflict(str(exc)) from None
        except errors.PlacementException as exc:
            raise bad_request(str(exc)) from None
    return empty()
