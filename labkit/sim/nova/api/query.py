"""Nova's query-string validation (``nova/api/validation`` ``query_schema``), for every list
and show that has one.

Nova checks a query string against a JSON Schema (Draft 4) before the handler runs -- after
the token and the microversion, before policy and before looking anything up. The query is
seen as WebOb's ``req.GET.dict_of_lists()``: every parameter a list of its values, so that
``?limit=1&limit=2`` is ``{"limit": ["1", "2"]}``. Three things follow:

- a *known* parameter with a bad value is a 400 at every microversion: ``limit=abc`` says
  ``Invalid input for query parameters limit. Value: abc. 'abc' does not match
  '^[0-9]*$'`` (the parameter's name, then the offending value, then jsonschema's words);
- an *unknown* parameter is ignored (stripped) up to 2.74; from **2.75** most schemas say
  ``additionalProperties: False`` and it is a 400 whose message is jsonschema's alone (the
  error is at the top of the object, so Nova has no field to name):
  ``Additional properties are not allowed ('foo' was unexpected)``, several sorted and
  joined: ``('a', 'b' were unexpected)``. The server list's schema also has
  ``patternProperties: {"^_": ...}``, and jsonschema words the same error differently
  there: ``'foo' does not match any of the regexes: '^_'``;
- a query string that is not UTF-8 once percent-decoded is ``Query string is not UTF-8
  encoded``.

Some schemas were strict from the microversion that introduced them (hypervisors from 2.53,
instance actions from 2.58). The keypair routes check their own query (``keypairs.py``).

The table :data:`SCHEMAS` maps a route to its schemas by microversion; the API face calls
:func:`check` for every authenticated request (``api_service.py``).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote_to_bytes

import jsonschema

from labkit.sim.core.http import Call
from labkit.sim.nova.errors import bad_request
from labkit.sim.nova.microversions import Version

Schema = dict[str, Any]

# ---- parameter types (nova/api/validation/parameter_types.py) --------------------------------


def multi(item: Schema) -> Schema:
    """A parameter that may be given several times: a list of values."""
    return {"type": "array", "items": item}


def single(item: Schema) -> Schema:
    """A parameter given at most once (``?limit=1&limit=2`` is ``['1', '2'] is too long``)."""
    return {"type": "array", "items": item, "maxItems": 1}


STRING = multi({"type": "string"})
REGEX = multi({"type": "string", "format": "regex"})
DATE_TIME: Schema = {"type": "string", "format": "date-time"}
NON_NEGATIVE_INT: Schema = {
    "type": ["integer", "string"],
    "pattern": "^[0-9]*$",
    "minimum": 0,
    "minLength": 1,
}
PAGINATION: Schema = {"limit": multi(NON_NEGATIVE_INT), "marker": STRING}
BOOLEAN: Schema = {
    "type": ["boolean", "string"],
    "enum": [
        True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
        False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no",
    ],
}  # fmt: skip
FQDN: Schema = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[a-zA-Z0-9-._]*$"}


def obj(properties: Schema, strict: bool, **more: Any) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "additionalProperties": not strict,
        **more,
    }


# ---- the schemas (nova/api/openstack/compute/schemas/*.py, Zed) ------------------------------

# servers.py: sort keys. Up to 2.74 some keys were accepted and ignored; 2.73 made 'locked'
# a real one; 2.75 refuses the ignored ones.
_SORT_KEYS = [
    "access_ip_v4", "access_ip_v6", "auto_disk_config", "availability_zone", "config_drive",
    "created_at", "display_description", "display_name", "host", "hostname", "image_ref",
    "instance_type_id", "kernel_id", "key_name", "launch_index", "launched_at", "locked_by",
    "node", "power_state", "progress", "project_id", "ramdisk_id", "root_device_name",
    "task_state", "terminated_at", "updated_at", "user_id", "uuid", "vm_state",
]  # fmt: skip
_IGNORED_SORT_KEYS = [
    "architecture", "cell_name", "cleaned", "default_ephemeral_device",
    "default_swap_device", "deleted", "deleted_at", "disable_terminate", "ephemeral_gb",
    "ephemeral_key_uuid", "id", "key_data", "launched_on", "locked", "memory_mb", "os_type",
    "reservation_id", "root_gb", "shutdown_terminate", "user_data", "vcpus", "vm_mode",
]  # fmt: skip
_IGNORED_SORT_KEYS_273 = [k for k in _IGNORED_SORT_KEYS if k != "locked"]


def _sort_key(keys: list[str]) -> Schema:
    return multi({"type": "string", "enum": keys})


_SERVER_PARAMS: Schema = {
    "user_id": STRING, "project_id": STRING, "tenant_id": STRING, "launch_index": STRING,
    "image_ref": STRING, "image": STRING, "kernel_id": REGEX, "ramdisk_id": REGEX,
    "hostname": REGEX, "key_name": REGEX, "power_state": REGEX, "vm_state": STRING,
    "task_state": STRING, "host": STRING, "node": REGEX, "flavor": REGEX,
    "reservation_id": REGEX, "launched_at": REGEX, "terminated_at": REGEX,
    "availability_zone": REGEX, "name": REGEX, "display_name": REGEX, "description": REGEX,
    "display_description": REGEX, "locked_by": REGEX, "uuid": STRING,
    "root_device_name": REGEX, "config_drive": REGEX, "access_ip_v4": REGEX,
    "access_ip_v6": REGEX, "auto_disk_config": REGEX, "progress": REGEX,
    "sort_key": _sort_key(_SORT_KEYS + _IGNORED_SORT_KEYS), "sort_dir": STRING,
    "all_tenants": STRING, "soft_deleted": STRING, "deleted": STRING, "status": STRING,
    "changes-since": multi(DATE_TIME), "ip": REGEX, "ip6": REGEX, "created_at": REGEX,
    # joined tables: kept so that the API can refuse them itself
    "block_device_mapping": STRING, "services": STRING, "metadata": STRING,
    "system_metadata": STRING, "info_cache": STRING, "security_groups": STRING,
    "pci_devices": STRING,
    **PAGINATION,
}  # fmt: skip
_SERVERS_226 = {
    **_SERVER_PARAMS,
    "tags": REGEX,
    "tags-any": REGEX,
    "not-tags": REGEX,
    "not-tags-any": REGEX,
}
_SERVERS_266 = {**_SERVERS_226, "changes-before": multi(DATE_TIME)}
_SERVERS_273 = {
    **_SERVERS_266,
    "sort_key": _sort_key(["locked", *_SORT_KEYS, *_IGNORED_SORT_KEYS_273]),
    "locked": STRING,
}
_SERVERS_275 = {**_SERVERS_273, "sort_key": _sort_key(["locked", *_SORT_KEYS])}
_UNDERSCORE = {"patternProperties": {"^_": STRING}}  # internal attributes: the API refuses
SERVERS: list[tuple[str, Schema]] = [
    ("2.1", obj(_SERVER_PARAMS, False, **_UNDERSCORE)),
    ("2.26", obj(_SERVERS_226, False, **_UNDERSCORE)),
    ("2.66", obj(_SERVERS_266, False, **_UNDERSCORE)),
    ("2.73", obj(_SERVERS_273, False, **_UNDERSCORE)),
    ("2.75", obj(_SERVERS_275, True, **_UNDERSCORE)),
]

_FLAVOR_SORT_KEYS = [
    "created_at", "description", "disabled", "ephemeral_gb", "flavorid", "id", "is_public",
    "memory_mb", "name", "root_gb", "rxtx_factor", "swap", "updated_at", "vcpu_weight",
    "vcpus",
]  # fmt: skip
_FLAVORS: Schema = {
    **PAGINATION,
    "is_public": STRING,
    "minRam": STRING,
    "minDisk": STRING,
    "sort_key": multi({"type": "string", "enum": _FLAVOR_SORT_KEYS}),
    "sort_dir": multi({"type": "string", "enum": ["asc", "desc"]}),
}


def _until_275(properties: Schema) -> list[tuple[str, Schema]]:
    """The common case: the same parameters, unknown ones refused from 2.75."""
    return [("2.1", obj(properties, False)), ("2.75", obj(properties, True))]


FLAVORS = _until_275(_FLAVORS)
LIMITS = _until_275({"tenant_id": STRING})
QUOTA_SETS = _until_275({"user_id": STRING})
SERVER_GROUPS = _until_275(
    {"all_projects": STRING, "limit": multi(NON_NEGATIVE_INT), "offset": multi(NON_NEGATIVE_INT)}
)
SERVICES = _until_275({"host": STRING, "binary": STRING})
VOLUME_ATTACHMENTS = _until_275(
    {"limit": multi(NON_NEGATIVE_INT), "offset": multi(NON_NEGATIVE_INT)}
)
_USAGE_SHOW = {"start": STRING, "end": STRING}
_USAGE_INDEX = {**_USAGE_SHOW, "detailed": STRING}
USAGE_INDEX = [
    ("2.1", obj(_USAGE_INDEX, False)),
    ("2.40", obj({**_USAGE_INDEX, **PAGINATION}, False)),
    ("2.75", obj({**_USAGE_INDEX, **PAGINATION}, True)),
]
USAGE_SHOW = [
    ("2.1", obj(_USAGE_SHOW, False)),
    ("2.40", obj({**_USAGE_SHOW, **PAGINATION}, False)),
    ("2.75", obj({**_USAGE_SHOW, **PAGINATION}, True)),
]
HYPERVISOR_LIST = [
    ("2.33", obj(PAGINATION, False)),
    (
        "2.53",
        obj(
            {
                "limit": single(NON_NEGATIVE_INT),
                "marker": single({"type": "string"}),
                "hypervisor_hostname_pattern": single(FQDN),
                "with_servers": single(BOOLEAN),
            },
            True,
        ),
    ),
]
HYPERVISOR_SHOW = [("2.53", obj({"with_servers": single(BOOLEAN)}, True))]
_ACTIONS_258 = {
    "limit": single(NON_NEGATIVE_INT),
    "marker": single({"type": "string"}),
    "changes-since": single(DATE_TIME),
}
INSTANCE_ACTIONS = [
    ("2.58", obj(_ACTIONS_258, True)),
    ("2.66", obj({**_ACTIONS_258, "changes-before": single(DATE_TIME)}, True)),
]

# (method, route template) -> schemas by the microversion they start at (ascending).
SCHEMAS: dict[tuple[str, str], list[tuple[str, Schema]]] = {
    ("GET", "/v2.1/servers"): SERVERS,
    ("GET", "/v2.1/servers/detail"): SERVERS,
    ("GET", "/v2.1/flavors"): FLAVORS,
    ("GET", "/v2.1/flavors/detail"): FLAVORS,
    ("GET", "/v2.1/limits"): LIMITS,
    ("GET", "/v2.1/os-quota-sets/{project_id}"): QUOTA_SETS,
    ("GET", "/v2.1/os-quota-sets/{project_id}/detail"): QUOTA_SETS,
    ("PUT", "/v2.1/os-quota-sets/{project_id}"): QUOTA_SETS,
    ("DELETE", "/v2.1/os-quota-sets/{project_id}"): QUOTA_SETS,
    ("GET", "/v2.1/os-server-groups"): SERVER_GROUPS,
    ("GET", "/v2.1/os-services"): SERVICES,
    ("GET", "/v2.1/os-simple-tenant-usage"): USAGE_INDEX,
    ("GET", "/v2.1/os-simple-tenant-usage/{project_id}"): USAGE_SHOW,
    ("GET", "/v2.1/servers/{server_id}/os-volume_attachments"): VOLUME_ATTACHMENTS,
    ("GET", "/v2.1/os-hypervisors"): HYPERVISOR_LIST,
    ("GET", "/v2.1/os-hypervisors/detail"): HYPERVISOR_LIST,
    ("GET", "/v2.1/os-hypervisors/{hypervisor_id}"): HYPERVISOR_SHOW,
    ("GET", "/v2.1/servers/{server_id}/os-instance-actions"): INSTANCE_ACTIONS,
}


# ---- formats (nova/api/validation/validators.py) -----------------------------------------------

# iso8601's grammar, which oslo's parse_isotime uses: YYYY, YYYY-MM, YYYY-MM-DD, then
# optionally a T or space, hh[:mm[:ss[.fff]]] and Z or +hh[:mm].
_ISO8601 = re.compile(
    r"^(?P<year>[0-9]{4})((-(?P<monthdash>[0-9]{1,2})|(?P<month>[0-9]{2})(?!$))"
    r"((-(?P<daydash>[0-9]{1,2})|(?P<day>[0-9]{2}))"
    r"(([ T])(?P<hour>[0-9]{2})(:?(?P<minute>[0-9]{2}))?"
    r"(:?(?P<second>[0-9]{1,2})([.,](?P<fraction>[0-9]+))?)?"
    r"(Z|(?P<sign>[-+])(?P<tzh>[0-9]{2}):?(?P<tzm>[0-9]{2})?)?)?)?)?$"
)


def parse_isotime(value: str) -> datetime.datetime | None:
    """``timeutils.parse_isotime`` or None: iso8601's grammar, then the datetime it builds
    (an impossible date such as month 13 fails there); no zone means UTC."""
    found = _ISO8601.match(value)
    if found is None:
        return None
    parts = found.groupdict()
    zone = datetime.UTC
    if parts["sign"]:
        offset = datetime.timedelta(hours=int(parts["tzh"]), minutes=int(parts["tzm"] or 0))
        zone = datetime.timezone(-offset if parts["sign"] == "-" else offset)
    try:
        return datetime.datetime(
            int(parts["year"]),
            int(parts["monthdash"] or parts["month"] or 1),
            int(parts["daydash"] or parts["day"] or 1),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            tzinfo=zone,
        )
    except ValueError:
        return None


def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or parse_isotime(value) is not None


def _is_regex(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        re.compile(value)
    except (re.error, RecursionError, OverflowError):
        return False
    return True


_FORMATS = jsonschema.FormatChecker(formats=())
_FORMATS.checks("date-time")(_is_date_time)
_FORMATS.checks("regex")(_is_regex)
_VALIDATORS: dict[int, jsonschema.protocols.Validator] = {}


def _validator(schema: Schema) -> Any:
    found = _VALIDATORS.get(id(schema))
    if found is None:
        found = jsonschema.Draft4Validator(schema, format_checker=_FORMATS)
        _VALIDATORS[id(schema)] = found
    return found


# ---- reading the query as WebOb does ------------------------------------------------------------


def dict_of_lists(raw: bytes) -> dict[str, list[str]]:
    """``req.GET.dict_of_lists()``: pairs split on ``&`` *and* ``;``, ``+`` a space, names and
    values percent-decoded and then decoded as UTF-8 (strictly: ``UnicodeDecodeError``)."""
    found: dict[str, list[str]] = {}
    for chunk in raw.replace(b"+", b" ").split(b"&"):
        for pair in chunk.split(b";"):
            if not pair:
                continue
            name, _, value = pair.partition(b"=")
            key = unquote_to_bytes(name).decode("utf-8")
            found.setdefault(key, []).append(unquote_to_bytes(value).decode("utf-8"))
    return found


def schema_for(schemas: Sequence[tuple[str, Schema]], version: Version) -> Schema | None:
    """The schema for ``version``: the last one whose first microversion it reaches."""
    chosen = None
    for first, schema in schemas:
        if version.at_least(first):
            chosen = schema
    return chosen


def validate(schema: Schema, query: dict[str, list[str]]) -> None:
    """Nova's ``_SchemaValidator.validate`` for a query: the first error jsonschema finds
    (Nova's ``validate`` raises the first of ``iter_errors``), worded as Nova words it."""
    error = next(iter(_validator(schema).iter_errors(query)), None)
    if error is None:
        return
    # Zed's jsonschema (4.14) said "is too short" where newer releases say "should be
    # non-empty" (minLength 1).
    message = error.message.replace(" should be non-empty", " is too short")
    if not error.path:
        raise bad_request(message)
    raise bad_request(
        f"Invalid input for query parameters {error.path[0]}. Value: {error.instance}. {message}"
    )


def check(call: Call, method: str, template: str, version: Version) -> None:
    """Validate the query of a request to ``template`` as Nova would at ``version`` (a 400
    :class:`~labkit.sim.nova.errors.NovaError`); routes without a schema pass."""
    schemas = SCHEMAS.get((method if method != "HEAD" else "GET", template))
    if schemas is None:
        return
    schema = schema_for(schemas, version)
    if schema is None:
        return
    raw = call.request.scope.get("query_string") or b""
    try:
        query = dict_of_lists(raw)
    except UnicodeDecodeError:
        raise bad_request("Query string is not UTF-8 encoded") from None
    validate(schema, query)
    if schemas is SERVERS:
        _server_filters(
            call, {k: v for k, v in query.items() if k in schema["properties"] or k.startswith("_")}
        )


# What the server list refuses after its schema (``servers.py`` ``_get_servers``).
_JOINED_TABLES = frozenset(
    {
        "block_device_mapping",
        "services",
        "metadata",
        "system_metadata",
        "info_cache",
        "security_groups",
        "pci_devices",
    }
)


def _server_filters(call: Call, query: dict[str, list[str]]) -> None:
    """An admin (``allow_all_filters``) may filter on anything, but not on a joined table
    or an internal ``_`` attribute (a member's unknown filters were dropped before this:
    ``remove_invalid_options``); ``changes-before`` may not precede ``changes-since``."""
    if getattr(call.auth, "is_admin", False):
        for name in query:
            if name in _JOINED_TABLES or name.startswith("_"):
                raise bad_request(f"Invalid filter field: {name}.")
    # webob's req.GET[name] is the last value
    since = query.get("changes-since", [])[-1:]
    before = query.get("changes-before", [])[-1:]
    if since and before:  # (before 2.66 the schema strips changes-before)
        first, last = parse_isotime(since[0]), parse_isotime(before[0])
        if first is not None and last is not None and last < first:
            raise bad_request(
                "The value of changes-since must be less than or equal to changes-before."
            )
