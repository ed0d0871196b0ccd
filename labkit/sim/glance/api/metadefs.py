"""``GET /v2/metadefs/namespaces``: Glance's catalog of metadata definitions, empty here.

Metadata definitions ("metadefs") describe properties an image, a flavor or a server may
carry (``hw:cpu_policy``, ``os_distro`` ...), grouped in namespaces. Glance ships them as
JSON files that ``glance-manage db_load_metadefs`` loads; the Install Guide never runs it,
so the catalog of a guide-built cloud is empty -- and that is what the sim answers.

Horizon asks for them whenever it offers to edit metadata: the launch wizard's "Metadata"
step, the images' "Update Metadata" (python-glanceclient's ``metadefs_namespace.list``
with ``resource_types=OS::Nova::Flavor`` and the like). A 404 there made the wizard show
"Unable to retrieve the namespaces." The schemas of namespaces, objects, properties, tags
and resource type associations (``/v2/schemas/metadefs/...``) are served as Zed's
(:mod:`labkit.sim.glance.metadef_schemas`). Creating, changing or deleting namespaces, their
objects, properties and tags is not emulated.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.glance import metadef_schemas, schemas
from labkit.sim.glance.errors import bad_request

routes = Routes()
SORT_KEYS = ("created_at", "updated_at", "namespace", "display_name", "visibility")


def _string(description: str, max_length: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "string", "description": description}
    if max_length:
        out["maxLength"] = max_length
    return out


def namespace_schema() -> dict[str, Any]:
    """The JSON schema of one namespace (``/v2/schemas/metadefs/namespace``), the fields of
    Glance's; python-glanceclient builds its namespace objects from it before any listing."""
    stamp = {"type": "string", "readOnly": True, "format": "date-time"}
    association = {
        "type": "object",
        "properties": {
            "name": _string("Resource type names should be aligned with Heat.", 80),
            "prefix": _string("Prefix for properties on this resource type.", 80),
            "properties_target": _string("Where the properties apply.", 80),
            "created_at": stamp,
            "updated_at": stamp,
        },
    }
    return {
        "name": "namespace",
        "properties": {
            "namespace": _string("The unique namespace text.", 80),
            "display_name": _string("The user friendly name for the namespace.", 80),
            "description": _string("Provides a user friendly description.", 500),
            "visibility": {
                "type": "string",
                "description": "Scope of namespace accessibility.",
                "enum": ["public", "private"],
            },
            "protected": {"type": "boolean", "description": "If true, it cannot be deleted."},
            "owner": _string("Owner of the namespace.", 255),
            "created_at": stamp,
            "updated_at": stamp,
            "schema": {"type": "string", "readOnly": True},
            "self": {"type": "string", "readOnly": True},
            "resource_type_associations": {"type": "array", "items": association},
            "properties": {"type": "object", "additionalProperties": {"type": "object"}},
            "objects": {"type": "array", "items": {"type": "object"}},
            "tags": {
                "type": "array",
                "items": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
        },
        "additionalProperties": False,
        "required": ["namespace"],
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


@routes.get("/v2/schemas/metadefs/namespace")
def schema_namespace(call: Call) -> Response:
    return json_response(namespace_schema())


@routes.get("/v2/schemas/metadefs/namespaces")
def schema_namespaces(call: Call) -> Response:
    return json_response(schemas.collection_schema("namespaces", namespace_schema()))


@routes.get("/v2/metadefs/namespaces")
def namespaces(call: Call) -> Response:
    limit = call.query.get("limit")
    if limit is not None:
        try:
            value = int(limit)
        except ValueError:
            raise bad_request("limit param must be an integer") from None
        if value < 0:
            raise bad_request("limit param must be positive")
    direction = call.query.get("sort_dir", "desc")
    if direction not in ("asc", "desc"):
        raise bad_request(f"Invalid sort direction: {direction}")
    key = call.query.get("sort_key", "created_at")
    if key not in SORT_KEYS:
        raise bad_request(f"Invalid sort key: {key}")
    visibility = call.query.get("visibility")
    if visibility is not None and visibility not in ("public", "private"):
        raise bad_request(
            f"Invalid visibility value: {visibility}"  # Glance's wording for this filter
        )
    # "first" repeats the query's filters, as Glance builds it (without the marker).
    kept = [(k, v) for k, v in call.query.multi_items() if k != "marker"]
    first = "/v2/metadefs/namespaces" + (f"?{urlencode(kept)}" if kept else "")
    return json_response(
        {"namespaces": [], "first": first, "schema": "/v2/schemas/metadefs/namespaces"}
    )


def _schema_route(kind: str) -> None:
    """GET /v2/schemas/metadefs/<kind>: one of metadef_schemas.SCHEMAS."""
    build = metadef_schemas.SCHEMAS[kind]

    def handler(call: Call) -> Response:
        return json_response(build())

    handler.__name__ = f"schema_{kind}"
    routes.add("GET", f"/v2/schemas/metadefs/{kind}", handler)


for _kind in metadef_schemas.SCHEMAS:
    _schema_route(_kind)
