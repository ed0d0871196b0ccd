"""The request schemas Placement validates bodies and query strings with, per microversion.

Written for the sim from Placement's API reference; the names of properties, their types
and limits are the API's, so jsonschema's messages read as Placement's do.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from labkit.sim.placement.standards import CUSTOM_PATTERN, NAME_PATTERN

MAX_INT = 0x7FFFFFFF
SQL_FLOAT_MAX = 3.40282e38
UUID_PATTERN = "^[0-9a-fA-F-]{36}$"
CONSUMER_TYPE_PATTERN = NAME_PATTERN
Schema = dict[str, Any]


def _with(schema: Schema, **properties: Any) -> Schema:
    out = copy.deepcopy(schema)
    out["properties"].update(properties)
    return out


_UUID: Schema = {"type": "string", "format": "uuid"}
_NULLABLE_UUID: Schema = {"anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}]}

# ---- resource providers ---------------------------------------------------------------------
PROVIDER_POST: Schema = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 200}, "uuid": _UUID},
    "required": ["name"],
    "additionalProperties": False,
}
PROVIDER_POST_1_14 = _with(PROVIDER_POST, parent_provider_uuid=_NULLABLE_UUID)
PROVIDER_PUT: Schema = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 200}},
    "required": ["name"],
    "additionalProperties": False,
}
PROVIDER_PUT_1_14 = _with(PROVIDER_PUT, parent_provider_uuid=_NULLABLE_UUID)

PROVIDERS_QUERY: Schema = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "uuid": _UUID},
    "additionalProperties": False,
}
PROVIDERS_QUERY_1_3 = _with(PROVIDERS_QUERY, member_of={"type": "string"})
PROVIDERS_QUERY_1_4 = _with(PROVIDERS_QUERY_1_3, resources={"type": "string"})
PROVIDERS_QUERY_1_14 = _with(PROVIDERS_QUERY_1_4, in_tree=_UUID)
PROVIDERS_QUERY_1_18 = _with(PROVIDERS_QUERY_1_14, required={"type": "string"})

# ---- inventories ------------------------------------------------------------------------------
_INVENTORY_FIELDS: Schema = {
    "resource_provider_generation": {"type": "integer"},
    "total": {"type": "integer", "maximum": MAX_INT, "minimum": 1},
    "reserved": {"type": "integer", "maximum": MAX_INT, "minimum": 0},
    "min_unit": {"type": "integer", "maximum": MAX_INT, "minimum": 1},
    "max_unit": {"type": "integer", "maximum": MAX_INT, "minimum": 1},
    "step_size": {"type": "integer", "maximum": MAX_INT, "minimum": 1},
    "allocation_ratio": {"type": "number", "maximum": SQL_FLOAT_MAX},
}
INVENTORY: Schema = {
    "type": "object",
    "properties": copy.deepcopy(_INVENTORY_FIELDS),
    "required": ["total", "resource_provider_generation"],
    "additionalProperties": False,
}
INVENTORY_POST = _with(INVENTORY, resource_class={"type": "string", "pattern": NAME_PATTERN})
INVENTORY_POST["required"] = ["total", "resource_class"]
_INVENTORY_RECORD = copy.deepcopy(INVENTORY)
_INVENTORY_RECORD["required"] = ["total"]
INVENTORIES: Schema = {
    "type": "object",
    "properties": {
        "resource_provider_generation": {"type": "integer"},
        "inventories": {
            "type": "object",
            "patternProperties": {NAME_PATTERN: _INVENTORY_RECORD},
            # Placement's schema stops here, so a key outside the pattern with a non-object
            # value passes it and then fails in make_inventory_object (a 500, an upstream
            # bug); the sim asks for an object there, a 400 in the schema's words.
            "additionalProperties": {"type": "object"},
        },
    },
    "required": ["resource_provider_generation", "inventories"],
    "additionalProperties": False,
}

# ---- resource classes and traits --------------------------------------------------------------
RESOURCE_CLASS: Schema = {
    "type": "object",
    "properties": {"name": {"type": "string", "pattern": CUSTOM_PATTERN, "maxLength": 255}},
    "required": ["name"],
    "additionalProperties": False,
}
CUSTOM_TRAIT: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": CUSTOM_PATTERN,
}
PROVIDER_TRAITS: Schema = {
    "type": "object",
    "properties": {
        "traits": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 255}},
        "resource_provider_generation": {"type": "integer"},
    },
    "required": ["traits", "resource_provider_generation"],
    "additionalProperties": False,
}
TRAITS_QUERY: Schema = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "associated": {"type": "string"}},
    "additionalProperties": False,
}

# ---- aggregates -------------------------------------------------------------------------------
_AGGREGATE_LIST: Schema = {"type": "array", "items": _UUID, "uniqueItems": True}
AGGREGATES_1_1: Schema = copy.deepcopy(_AGGREGATE_LIST)
AGGREGATES_1_19: Schema = {
    "type": "object",
    "properties": {
        "aggregates": copy.deepcopy(_AGGREGATE_LIST),
        "resource_provider_generation": {"type": "integer"},
    },
    "required": ["aggregates", "resource_provider_generation"],
    "additionalProperties": False,
}

# ---- allocations ------------------------------------------------------------------------------
_AMOUNTS: Schema = {
    "type": "object",
    "minProperties": 1,
    "patternProperties": {NAME_PATTERN: {"type": "integer", "minimum": 1}},
    "additionalProperties": False,
}
_OWNER: Schema = {"type": "string", "minLength": 1, "maxLength": 255}
ALLOCATIONS_1_0: Schema = {
    "type": "object",
    "properties": {
        "allocations": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "resource_provider": {
                        "type": "object",
                        "properties": {"uuid": _UUID},
                        "additionalProperties": False,
                        "required": ["uuid"],
                    },
                    "resources": _AMOUNTS,
                },
                "required": ["resource_provider", "resources"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["allocations"],
    "additionalProperties": False,
}
ALLOCATIONS_1_8 = _with(ALLOCATIONS_1_0, project_id=_OWNER, user_id=_OWNER)
ALLOCATIONS_1_8["required"] = ["allocations", "project_id", "user_id"]
ALLOCATIONS_1_12: Schema = {
    "type": "object",
    "properties": {
        "allocations": {
            "type": "object",
            "minProperties": 1,
            "patternProperties": {
                UUID_PATTERN: {
                    "type": "object",
                    "properties": {"generation": {"type": "integer"}, "resources": _AMOUNTS},
                    "required": ["resources"],
                    "additionalProperties": False,
                }
            },
            "additionalProperties": False,
        },
        "project_id": _OWNER,
        "user_id": _OWNER,
    },
    "additionalProperties": False,
    "required": ["allocations", "project_id", "user_id"],
}
_DELETABLE = copy.deepcopy(ALLOCATIONS_1_12)
_DELETABLE["properties"]["allocations"]["minProperties"] = 0
_GENERATION: Schema = {"type": ["integer", "null"], "additionalProperties": False}
ALLOCATIONS_1_28 = _with(_DELETABLE, consumer_generation=_GENERATION)
ALLOCATIONS_1_28["required"].append("consumer_generation")
_MAPPINGS: Schema = {
    "type": "object",
    "minProperties": 1,
    "patternProperties": {"[a-zA-Z0-9_-]{1,64}": {"type": "array", "minItems": 1, "items": _UUID}},
}
ALLOCATIONS_1_34 = _with(ALLOCATIONS_1_28, mappings=_MAPPINGS)
ALLOCATIONS_1_38 = _with(
    ALLOCATIONS_1_34,
    consumer_type={
        "type": "string",
        "pattern": CONSUMER_TYPE_PATTERN,
        "minLength": 1,
        "maxLength": 255,
    },
)
ALLOCATIONS_1_38["required"].append("consumer_type")


def _post(per_consumer: Schema) -> Schema:
    return {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "patternProperties": {UUID_PATTERN: per_consumer},
    }


POST_ALLOCATIONS_1_13 = _post(_DELETABLE)
_DELETABLE_1_28 = _with(_DELETABLE, consumer_generation=_GENERATION)
_DELETABLE_1_28["required"].append("consumer_generation")
POST_ALLOCATIONS_1_28 = _post(_DELETABLE_1_28)
POST_ALLOCATIONS_1_34 = _post(ALLOCATIONS_1_34)
POST_ALLOCATIONS_1_38 = _post(ALLOCATIONS_1_38)

# ---- usages and allocation candidates ---------------------------------------------------------
USAGES_QUERY: Schema = {
    "type": "object",
    "properties": {"project_id": _OWNER, "user_id": _OWNER},
    "required": ["project_id"],
    "additionalProperties": False,
}
USAGES_QUERY_1_38 = _with(
    USAGES_QUERY,
    consumer_type={
        "type": "string",
        "pattern": f"{CONSUMER_TYPE_PATTERN}|^all|^unknown$",
        "minLength": 1,
        "maxLength": 255,
    },
)


@functools.cache
def candidates_query(v_minor: int) -> Schema:
    """GET /allocation_candidates' query schema at microversion 1.v_minor (1.10 up); one
    object per microversion, so its checked validator is reused (``_helpers._validate``)."""
    props: Schema = {"resources": {"type": "string"}}
    schema: Schema = {
        "type": "object",
        "properties": props,
        "required": ["resources"],
        "additionalProperties": False,
    }
    if v_minor >= 16:
        props["limit"] = {
            "type": ["integer", "string"],
            "pattern": "^[1-9][0-9]*$",
            "minimum": 1,
            "minLength": 1,
        }
    if v_minor >= 17:
        props["required"] = {"type": ["string"]}
    if v_minor >= 21:
        props["member_of"] = {"type": ["string"]}
    if v_minor < 25:
        return schema
    for key in ("resources", "required", "member_of"):
        props.pop(key, None)
    del schema["required"]
    suffix = "[a-zA-Z0-9_-]{1,64}" if v_minor >= 33 else "[1-9][0-9]*"
    kinds = ["resources", "required", "member_of"] + (["in_tree"] if v_minor >= 31 else [])
    schema["patternProperties"] = {f"^{k}({suffix})?$": {"type": "string"} for k in kinds}
    props["group_policy"] = {"type": "string", "enum": ["none", "isolate"]}
    if v_minor >= 35:
        props["root_required"] = {"type": ["string"]}
    if v_minor >= 36:
        props["same_subtree"] = {"type": ["string"]}
    return schema
