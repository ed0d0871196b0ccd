"""Glance's JSON schemas (``/v2/schemas/*``) and request validation with Glance's messages.

The image schema is Zed's base properties (``glance/api/v2/images.py``) merged with the
custom properties Debian ships in ``/etc/glance/schema-image.json``; it must match
``parity/glance-schemas-image-200.json``. A body that does not validate gets jsonschema's own
text -- as rendered by the jsonschema of Debian 12 (sorted keys), whatever version runs here.
"""

from __future__ import annotations

import copy
import textwrap
from collections.abc import Sequence
from pprint import pformat
from typing import Any

import jsonschema

from labkit.sim.glance.errors import Invalid

DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
_UUID = "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
_PROPERTY_KEYS_DOC = "https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html"


def _read_only(kind: Any, description: str, **more: Any) -> dict[str, Any]:
    return {"type": kind, "readOnly": True, "description": description, **more}


def base_properties(
    disk_formats: Sequence[str] = DISK_FORMATS, container_formats: Sequence[str] = CONTAINER_FORMATS
) -> dict[str, Any]:
    """Glance's own image properties, in Zed's order."""
    validation_data = {
        "description": "Values to be used to populate the corresponding image properties. If "
        "the image status is not 'queued', values must exactly match those "
        "already contained in the image properties.",
        "type": "object",
        "writeOnly": True,
        "additionalProperties": False,
        "properties": {
            "checksum": {"type": "string", "minLength": 32, "maxLength": 32},
            "os_hash_algo": {"type": "string", "maxLength": 64},
            "os_hash_value": {"type": "string", "maxLength": 128},
        },
        "required": ["os_hash_algo", "os_hash_value"],
    }
    return {
        "id": {"type": "string", "description": "An identifier for the image", "pattern": _UUID},
        "name": {
            "type": ["null", "string"],
            "description": "Descriptive name for the image",
            "maxLength": 255,
        },
        "status": _read_only(
            "string",
            "Status of the image",
            enum=[
                "queued",
                "saving",
                "active",
                "killed",
                "deleted",
                "uploading",
                "importing",
                "pending_delete",
                "deactivated",
            ],
        ),
        "visibility": {
            "type": "string",
            "description": "Scope of image accessibility",
            "enum": ["community", "public", "private", "shared"],
        },
        "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
        "os_hidden": {
            "type": "boolean",
            "description": "If true, image will not appear in default image list response.",
        },
        "checksum": _read_only(["null", "string"], "md5 hash of image contents.", maxLength=32),
        "os_hash_algo": _read_only(
            ["null", "string"], "Algorithm to calculate the os_hash_value", maxLength=64
        ),
        "os_hash_value": _read_only(
            ["null", "string"],
            "Hexdigest of the image contents using the algorithm specified by the os_hash_algo",
            maxLength=128,
        ),
        "owner": {
            "type": ["null", "string"],
            "description": "Owner of the image",
            "maxLength": 255,
        },
        "size": _read_only(["null", "integer"], "Size of image file in bytes"),
        "virtual_size": _read_only(["null", "integer"], "Virtual size of image in bytes"),
        "container_format": {
            "type": ["null", "string"],
            "description": "Format of the container",
            "enum": [None, *container_formats],
        },
        "disk_format": {
            "type": ["null", "string"],
            "description": "Format of the disk",
            "enum": [None, *disk_formats],
        },
        "created_at": _read_only("string", "Date and time of image registration"),
        "updated_at": _read_only("string", "Date and time of the last image modification"),
        "tags": {
            "type": "array",
            "description": "List of strings related to the image",
            "items": {"type": "string", "maxLength": 255},
        },
        "direct_url": _read_only("string", "URL to access the image file kept in external store"),
        "min_ram": {
            "type": "integer",
            "description": "Amount of ram (in MB) required to boot image.",
        },
        "min_disk": {
            "type": "integer",
            "description": "Amount of disk space (in GB) required to boot image.",
        },
        "self": _read_only("string", "An image self url"),
        "file": _read_only("string", "An image file url"),
        "stores": _read_only(
            "string",
            "Store in which image data resides.  Only present when "
            "the operator has enabled multiple stores.  May be a "
            "comma-separated list of store identifiers.",
        ),
        "schema": _read_only("string", "An image schema url"),
        "locations": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "url": {"type": "string", "maxLength": 255},
                    "metadata": {"type": "object"},
                    "validation_data": validation_data,
                },
                "required": ["url", "metadata"],
            },
            "description": "A set of URLs to access the image file kept in external store",
        },
    }


def _custom(description: str, **more: Any) -> dict[str, Any]:
    return {"description": description, "type": "string", **more}


# Debian's /etc/glance/schema-image.json; served with "is_base": false added.
CUSTOM_PROPERTIES: dict[str, dict[str, Any]] = {
    "kernel_id": {
        "type": ["null", "string"],
        "pattern": _UUID,
        "description": "ID of image stored in Glance that should be used as the "
        "kernel when booting an AMI-style image.",
    },
    "ramdisk_id": {
        "type": ["null", "string"],
        "pattern": _UUID,
        "description": "ID of image stored in Glance that should be used as the "
        "ramdisk when booting an AMI-style image.",
    },
    "instance_uuid": {
        "type": "string",
        "description": "Metadata which can be used to record which instance this "
        "image is associated with. (Informational only, does not "
        "create an instance snapshot.)",
    },
    "architecture": _custom(f"Operating system architecture as specified in {_PROPERTY_KEYS_DOC}"),
    "os_distro": _custom(
        f"Common name of operating system distribution as specified in {_PROPERTY_KEYS_DOC}"
    ),
    "os_version": _custom("Operating system version as specified by the distributor."),
    "description": _custom("A human-readable string describing this image."),
    "cinder_encryption_key_id": _custom(
        "Identifier in the OpenStack Key Management Service for the encryption key for the "
        "Block Storage Service to use when mounting a volume created from this image"
    ),
    "cinder_encryption_key_deletion_policy": _custom(
        "States the condition under which the Image Service will delete the object associated "
        "with the 'cinder_encryption_key_id' image property.  If this property is missing, the "
        "Image Service will take no action",
        enum=["on_image_deletion", "do_not_delete"],
    ),
}

_IMAGE_LINKS = [
    {"rel": "self", "href": "{self}"},
    {"rel": "enclosure", "href": "{file}"},
    {"rel": "describedby", "href": "{schema}"},
]

_MEMBER_PROPERTIES: dict[str, Any] = {
    "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
    "image_id": {"type": "string", "description": "An identifier for the image", "pattern": _UUID},
    "created_at": {"type": "string", "description": "Date and time of image member creation"},
    "updated_at": {
        "type": "string",
        "description": "Date and time of last modification of image member",
    },
    "status": {
        "type": "string",
        "description": "The status of this image member",
        "enum": ["pending", "accepted", "rejected"],
    },
    "schema": {"readOnly": True, "type": "string"},
}


def image_schema(
    disk_formats: Sequence[str] = DISK_FORMATS, container_formats: Sequence[str] = CONTAINER_FORMATS
) -> dict[str, Any]:
    """``GET /v2/schemas/image``: a permissive schema (extra properties must be strings)."""
    properties = base_properties(disk_formats, container_formats)
    for name, value in CUSTOM_PROPERTIES.items():
        properties[name] = {**copy.deepcopy(value), "is_base": False}
    return {
        "name": "image",
        "properties": properties,
        "additionalProperties": {"type": "string"},
        "links": copy.deepcopy(_IMAGE_LINKS),
    }


def collection_schema(name: str, item: dict[str, Any], *, as_map: bool = False) -> dict[str, Any]:
    """glance.schema.CollectionSchema.raw() around ``item`` (a list of items), or
    DictCollectionSchema's (a map of them): the item's definitions move up to the collection."""
    item = dict(item)
    definitions = item.pop("definitions", None)
    container: dict[str, Any] = (
        {"type": "object", "additionalProperties": item}
        if as_map
        else {"type": "array", "items": item}
    )
    out: dict[str, Any] = {
        "name": name,
        "properties": {
            name: container,
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }
    if definitions:
        out["definitions"] = definitions
    return out


def images_schema(item: dict[str, Any]) -> dict[str, Any]:
    """``GET /v2/schemas/images``: Glance's CollectionSchema around the image schema."""
    return collection_schema("images", item)


def member_schema() -> dict[str, Any]:
    """``GET /v2/schemas/member`` (Glance serves the *minimal* form: no additionalProperties)."""
    return {"name": "member", "properties": copy.deepcopy(_MEMBER_PROPERTIES)}


def members_schema() -> dict[str, Any]:
    return {
        "name": "members",
        "properties": {
            "members": {"type": "array", "items": member_schema()},
            "schema": {"type": "string"},
        },
        "links": [{"rel": "describedby", "href": "{schema}"}],
    }


# ---- validation -----------------------------------------------------------------------------


def _index(container: str, indices: Sequence[Any]) -> str:
    if not indices:
        return container
    return f"{container}[{']['.join(repr(index) for index in indices)}]"


def describe(error: jsonschema.ValidationError) -> str:
    """jsonschema 4.10's ``str(error)`` (Debian 12): the failing sub-schema pretty-printed with
    sorted keys. Newer jsonschema keeps insertion order, so the text is rebuilt here."""

    def block(value: Any) -> str:
        return textwrap.indent(pformat(value, width=72), "    ")

    schema_path = _index("schema", list(error.relative_schema_path)[:-1])
    instance_path = _index("instance", list(error.relative_path))
    return (
        f"{error.message}\n\nFailed validating {error.validator!r} in {schema_path}:\n"
        f"{block(error.schema)}\n\nOn {instance_path}:\n{block(error.instance)}"
    )


DB_INT_MAX = 2**31 - 1  # a MySQL INTEGER column's largest value
_INT_COLUMNS = ("min_ram", "min_disk")


def _out_of_column(schema: dict[str, Any], instance: Any) -> bool:
    properties = schema.get("properties", {})
    return isinstance(instance, dict) and any(
        key in properties
        and isinstance(instance.get(key), int)
        and not -DB_INT_MAX - 1 <= instance[key] <= DB_INT_MAX
        for key in _INT_COLUMNS
    )


def validate(schema: dict[str, Any], name: str, instance: Any) -> None:
    """Raise :class:`Invalid` with Glance's ``InvalidObject`` text when ``instance`` fails."""
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is None and _out_of_column(schema, instance):
        # min_ram and min_disk are INTEGER columns: Glance's schema has no maximum, so a
        # bigger number passes it and fails in the database (a 500 from Zed). The sim
        # answers with the schema's words, as if it had the column's maximum.
        bounded = copy.deepcopy(schema)
        for key in _INT_COLUMNS:
            bounded["properties"][key]["maximum"] = DB_INT_MAX
        validator = jsonschema.Draft202012Validator(bounded)
        error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise Invalid(f"Provided object does not match schema '{name}': {describe(error)}")
