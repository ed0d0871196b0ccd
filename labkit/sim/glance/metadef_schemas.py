"""The JSON schemas Glance serves for metadata definitions' objects, properties, tags and
resource type associations (``/v2/schemas/metadefs/...``), as Zed builds them
(``glance/api/v2/metadef_*.py`` with ``glance.schema``): one item's schema, and the
collection around it. python-glanceclient reads them before any metadefs call.
"""

from __future__ import annotations

from typing import Any

from labkit.sim.glance.schemas import collection_schema

Schema = dict[str, Any]

_TYPES = ["array", "boolean", "integer", "number", "object", "string", None]
_STAMP_DESCRIPTIONS = {
    "object": ("Date and time of object creation", "Date and time of the last object modification"),
    "tag": ("Date and time of tag creation", "Date and time of the last tag modification"),
    "resource_type": (
        "Date and time of resource type association",
        "Date and time of the last resource type association modification",
    ),
}


def _stamps(kind: str) -> Schema:
    created, updated = _STAMP_DESCRIPTIONS[kind]
    return {
        name: {"type": "string", "readOnly": True, "description": text, "format": "date-time"}
        for name, text in (("created_at", created), ("updated_at", updated))
    }


def _definitions(min_items: bool) -> Schema:
    """positiveInteger, positiveIntegerDefault0 and stringArray (a property's own schema
    asks for at least one item in its arrays; a namespace's or an object's does not)."""
    string_array: Schema = {"type": "array", "items": {"type": "string"}}
    if min_items:
        string_array["minItems"] = 1
    string_array["uniqueItems"] = True
    return {
        "positiveInteger": {"type": "integer", "minimum": 0},
        "positiveIntegerDefault0": {
            "allOf": [{"$ref": "#/definitions/positiveInteger"}, {"default": 0}]
        },
        "stringArray": string_array,
    }


def property_fields() -> Schema:
    """What one property definition may say (its JSON-schema-like keywords)."""
    return {
        "name": {"type": "string", "maxLength": 80},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "operators": {"type": "array", "items": {"type": "string"}},
        "type": {"type": "string", "enum": list(_TYPES)},
        "required": {"$ref": "#/definitions/stringArray"},
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
        "maxLength": {"$ref": "#/definitions/positiveInteger"},
        "minLength": {"$ref": "#/definitions/positiveIntegerDefault0"},
        "pattern": {"type": "string", "format": "regex"},
        "enum": {"type": "array"},
        "readonly": {"type": "boolean"},
        "default": {},
        "items": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": list(_TYPES)},
                "enum": {"type": "array"},
            },
        },
        "maxItems": {"$ref": "#/definitions/positiveInteger"},
        "minItems": {"$ref": "#/definitions/positiveIntegerDefault0"},
        "uniqueItems": {"type": "boolean", "default": False},
        "additionalItems": {"type": "boolean"},
    }


def _namespace_definitions() -> Schema:
    """The definitions an object's schema carries: the three above and ``property``, a map
    of property definitions each needing a title and a type."""
    return {
        **_definitions(min_items=False),
        "property": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["title", "type"],
                "properties": property_fields(),
            },
        },
    }


def _item(name: str, properties: Schema, required: list[str], definitions: Schema | None) -> Schema:
    """glance.schema.Schema.raw(): no other properties allowed."""
    out: Schema = {"name": name, "properties": properties, "additionalProperties": False}
    if definitions:
        out["definitions"] = definitions
    if required:
        out["required"] = required
    return out


def object_schema() -> Schema:
    read_only = {"readOnly": True, "type": "string"}
    properties = {
        "name": {"type": "string", "maxLength": 80},
        "description": {"type": "string"},
        "required": {"$ref": "#/definitions/stringArray"},
        "properties": {"$ref": "#/definitions/property"},
        "schema": read_only,
        "self": dict(read_only),
        **_stamps("object"),
    }
    return _item("object", properties, ["name"], _namespace_definitions())


def objects_schema() -> Schema:
    return collection_schema("objects", object_schema())


def property_schema(require_name: bool = True) -> Schema:
    required = ["title", "type"] + (["name"] if require_name else [])
    return _item("property", property_fields(), required, _definitions(min_items=True))


def properties_schema() -> Schema:
    """A map of property name to definition: the name is the key, not a required field."""
    return collection_schema("properties", property_schema(require_name=False), as_map=True)


def tag_schema() -> Schema:
    properties = {"name": {"type": "string", "maxLength": 80}, **_stamps("tag")}
    return _item("tag", properties, ["name"], None)


def tags_schema() -> Schema:
    return collection_schema("tags", tag_schema())


def resource_type_schema() -> Schema:
    properties = {
        "name": {
            "type": "string",
            "description": (
                "Resource type names should be aligned with Heat resource types whenever "
                "possible: https://docs.openstack.org/heat/latest/template_guide/openstack.html"
            ),
            "maxLength": 80,
        },
        "prefix": {
            "type": "string",
            "description": (
                "Specifies the prefix to use for the given resource type. Any properties in "
                "the namespace should be prefixed with this prefix when being applied to the "
                "specified resource type. Must include prefix separator (e.g. a colon :)."
            ),
            "maxLength": 80,
        },
        "properties_target": {
            "type": "string",
            "description": (
                "Some resource types allow more than one key / value pair per instance.  For "
                "example, Cinder allows user and image metadata on volumes. Only the image "
                "properties metadata is evaluated by Nova (scheduling or drivers). This "
                "property allows a namespace target to remove the ambiguity."
            ),
            "maxLength": 80,
        },
        **_stamps("resource_type"),
    }
    return _item("resource_type_association", properties, ["name"], None)


def resource_types_schema() -> Schema:
    return collection_schema("resource_type_associations", resource_type_schema())


# path under /v2/schemas/metadefs/ -> the schema it serves
SCHEMAS = {
    "object": object_schema,
    "objects": objects_schema,
    "property": property_schema,
    "properties": properties_schema,
    "tag": tag_schema,
    "tags": tags_schema,
    "resource_type": resource_type_schema,
    "resource_types": resource_types_schema,
}
