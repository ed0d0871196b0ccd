"""Nova's request-body checks for single fields (``nova/api/validation``), worded as Nova
words them.

Nova validates a whole body against a JSON Schema (Draft 4) before the handler runs, with
two changes of its own: ``minimum``/``maximum`` also read a number from a string (``"3"``
is at least 1), and its format checker knows ``ipv4``/``ipv6`` among others. The first
error found is the answer: ``Invalid input for field/attribute <field>. Value: <value>.
<jsonschema's message>``. The handlers here check field by field with the same schemas
(``parameter_types.py``), so a bad field is answered in exactly those words.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import jsonschema
import jsonschema.validators

from labkit.sim.nova.errors import bad_request

Schema = dict[str, Any]

# ---- parameter types (nova/api/validation/parameter_types.py, Zed) -----------------------------

POSITIVE_INTEGER: Schema = {
    "type": ["integer", "string"],
    "pattern": "^[0-9]*$",
    "minimum": 1,
    "minLength": 1,
}
ACCESS_IPV4: Schema = {"type": "string", "format": "ipv4"}
ACCESS_IPV6: Schema = {"type": "string", "format": "ipv6"}
DISK_CONFIG: Schema = {"type": "string", "enum": ["AUTO", "MANUAL"]}
ADMIN_PASSWORD: Schema = {"type": "string"}  # not stored, any length, any characters


def _number(value: Any) -> int | float | None:
    """``_SchemaValidator._number_from_str``: the number a value spells, or None."""
    if isinstance(value, bool):
        return int(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return float(value)
        except (TypeError, ValueError):
            return None


def _minimum(validator: Any, minimum: Any, instance: Any, schema: Schema) -> Any:
    number = _number(instance)
    if number is None:
        return None
    return jsonschema.Draft4Validator.VALIDATORS["minimum"](validator, minimum, number, schema)


def _is_ipv4(value: object) -> bool:
    if not isinstance(value, str):
        return True  # formats only judge strings
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def _is_ipv6(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


_FORMATS = jsonschema.FormatChecker(formats=())
_FORMATS.checks("ipv4")(_is_ipv4)
_FORMATS.checks("ipv6")(_is_ipv6)
_Validator = jsonschema.validators.extend(jsonschema.Draft4Validator, {"minimum": _minimum})
_VALIDATORS: dict[int, Any] = {}


def check(field: str, value: Any, schema: Schema) -> None:
    """A 400 in Nova's words when ``value`` of ``field`` does not fit ``schema``. Inside an
    object, the error names the innermost field and value at fault, as Nova's does."""
    validator = _VALIDATORS.get(id(schema))
    if validator is None:
        validator = _VALIDATORS[id(schema)] = _Validator(schema, format_checker=_FORMATS)
    error = next(iter(validator.iter_errors(value)), None)
    if error is None:
        return
    # Zed's jsonschema said "is too short" where newer releases say "should be non-empty".
    message = error.message.replace(" should be non-empty", " is too short")
    name = error.path[-1] if error.path else field
    raise bad_request(
        f"Invalid input for field/attribute {name}. Value: {error.instance}. {message}"
    )


def access_ips(body: dict[str, Any]) -> dict[str, str | None]:
    """``accessIPv4``/``accessIPv6`` of a create, update or rebuild body, checked, as the
    instance fields they set (``helpers.translate_attributes``): only those given."""
    out: dict[str, str | None] = {}
    for field, column, schema in (
        ("accessIPv4", "access_ip_v4", ACCESS_IPV4),
        ("accessIPv6", "access_ip_v6", ACCESS_IPV6),
    ):
        if field in body:
            check(field, body[field], schema)
            # the instance's IPAddress field keeps the address in its canonical spelling
            out[column] = str(ipaddress.ip_address(body[field]))
    return out


def disk_config(body: dict[str, Any]) -> bool | None:
    """``OS-DCF:diskConfig``, checked: AUTO is True, MANUAL False, not given None."""
    value = body.get("OS-DCF:diskConfig")
    if value is None:
        return None
    check("OS-DCF:diskConfig", value, DISK_CONFIG)
    return bool(value == "AUTO")


def admin_password(body: dict[str, Any]) -> str | None:
    """``adminPass`` as given (checked to be a string), or None."""
    if "adminPass" not in body:
        return None
    check("adminPass", body["adminPass"], ADMIN_PASSWORD)
    return str(body["adminPass"])


_TRUE = frozenset(("1", "t", "true", "on", "y", "yes"))


def image_disk_config(image: dict[str, Any], requested: bool | None) -> bool:
    """``API._inherit_properties_from_image``: the instance's ``auto_disk_config`` at create
    and rebuild. An image whose ``auto_disk_config`` property is ``disabled`` refuses AUTO
    (AutoDiskConfigDisabledByImage, 400); nothing requested takes the property as a boolean
    (``strutils.bool_from_string``: unset is False)."""
    raw = image.get("auto_disk_config")
    if isinstance(raw, str) and raw.strip().lower() == "disabled" and requested:
        raise bad_request(f"Requested image {image.get('id')} has automatic disk resize disabled.")
    if requested is None:
        return str(raw).strip().lower() in _TRUE if raw is not None else False
    return requested
