"""Neutron's attribute maps and request-body preparation (neutron-lib's api definitions).

Every resource has an ordered map of attributes saying whether it may be set on POST or PUT,
its default, how its value is converted and validated, and whether it filters lists.
:func:`prepare` does what ``Controller.prepare_request_body`` does, in the same order and
with the same texts, so a bad body answers exactly what a real Neutron answers:

1. the project: ``project_id``/``tenant_id`` filled from the token, a mismatch or another
   project without admin refused;
2. unknown attributes: ``Unrecognized attribute(s) 'foo'``;
3. POST: attributes that may not be set, required ones that are missing, defaults filled;
   PUT: ``Cannot update read-only attribute status``;
4. values converted and validated in the map's order:
   ``Invalid input for cidr. Reason: '10.0.0.0/33' is not a valid IP subnet.``

All of these are ``HTTPBadRequest``; a converter that fails raises ``InvalidInput``
(``Invalid input for operation: 'maybe' cannot be converted to boolean.``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labkit.sim.neutron.errors import (
    NeutronError,
    default_already_exists,
    http_bad_request,
    invalid_cidr,
    invalid_ethertype,
    invalid_input,
    invalid_port_value,
    invalid_protocol,
)
from labkit.sim.neutron.policy import Context
from labkit.sim.neutron.rbac import convert_object_type


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NOT_SPECIFIED: Any = _Sentinel("ATTR_NOT_SPECIFIED")  # neutron_lib.constants.ATTR_NOT_SPECIFIED
REQUIRED: Any = _Sentinel("REQUIRED")  # no default: must be given on POST

Validator = Callable[[Any], "str | None"]  # the reason, or None when valid
Converter = Callable[[Any], Any]  # raises NeutronError (InvalidInput)


@dataclass(frozen=True)
class Attr:
    post: bool = False
    put: bool = False
    default: Any = NOT_SPECIFIED
    convert: Converter | None = None
    validate: Validator | None = None
    is_filter: bool = False
    filter_convert: Converter | None = None  # applied to each filter value


# ---- converters (neutron_lib.api.converters) -----------------------------------------------


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "t", "y"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "0", "no", "off", "f", "n"):
        return False
    raise invalid_input(f"'{value}' cannot be converted to boolean")


def to_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    try:
        return int(value)
    except (ValueError, TypeError, OverflowError):  # (OverflowError: JSON's Infinity)
        raise invalid_input(f"'{value}' is not an integer") from None


def to_int_or_none(value: Any) -> int | None:
    return None if value is None else to_int(value)


def none_to_empty_list(value: Any) -> Any:
    return [] if value is None else value


def kvp_to_dict(values: list[str]) -> dict[str, list[str]]:
    """convert_kvp_list_to_dict: ``["ip_address=10.0.0.5"]`` -> ``{"ip_address": [...]}``."""
    out: dict[str, list[str]] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise invalid_input(f"'{item}' is not of the form <key>=[value]")
        out.setdefault(key, []).append(value)
    return out


# ---- validators (neutron_lib.api.validators) -------------------------------------------------

_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)
_MAC = re.compile(r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$")


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and bool(_UUID.match(value))


def v_string(max_len: int | None = 255) -> Validator:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"'{value}' is not a valid string"
        if max_len is not None and len(value) > max_len:
            return f"'{value}' exceeds maximum length of {max_len}"
        return None

    return check


def v_string_or_none(max_len: int = 255) -> Validator:
    inner = v_string(max_len)
    return lambda value: None if value is None else inner(value)


def v_uuid(value: Any) -> str | None:
    return None if is_uuid(value) else f"'{value}' is not a valid UUID"


def v_uuid_or_none(value: Any) -> str | None:
    return None if value is None else v_uuid(value)


def v_values(*allowed: Any) -> Validator:
    """validate_values: the attribute maps pass no display text, so neutron-lib says
    ``valid_values`` literally (``Invalid input for direction. Reason: up is not in
    valid_values.``)."""

    def check(value: Any) -> str | None:
        try:
            if value in allowed:
                return None
        except TypeError:  # an unhashable value compared with the allowed ones
            pass
        return f"{value} is not in valid_values"

    return check


def v_ip_address(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"'{value}' is not a valid IP address"
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"'{value}' is not a valid IP address"
    return None


def v_ip_or_none(value: Any) -> str | None:
    return None if value is None else v_ip_address(value)


def v_subnet(value: Any) -> str | None:
    """validate_subnet: netaddr's IPNetwork keeps host bits (``10.0.0.5/24`` is valid, and
    the resource then keeps its network); a bare address or an IPv4 spelling netaddr would
    print otherwise is refused, with the network recommended."""
    if not isinstance(value, str) or value != value.strip() or " " in value:
        return f"'{value}' is not a valid IP subnet"
    try:
        iface = ipaddress.ip_interface(value)
    except ValueError:
        return f"'{value}' is not a valid IP subnet"
    if "/" not in value or (iface.version == 4 and str(iface) != value):
        return f"'{value}' isn't a recognized IP subnet cidr, '{iface.network}' is recommended"
    return None


def v_subnet_or_none(value: Any) -> str | None:
    return None if value is None else v_subnet(value)


def v_subnet_list(value: Any) -> str | None:
    """validate_subnet_list: a list of CIDRs without duplicates."""
    if not isinstance(value, list):
        return f"'{value}' is not a list"
    try:
        dupes = len(set(value)) != len(value)
    except TypeError:  # unhashable members: each is checked as a CIDR below
        dupes = False
    if dupes:
        return f"Duplicate items in the list: '{', '.join(str(v) for v in value)}'"
    for item in value:
        problem = v_subnet(item)
        if problem:
            return problem
    return None


def v_not_empty_string(max_len: int | None = None) -> Validator:
    inner = v_string(max_len)

    def check(value: Any) -> str | None:
        problem = inner(value)
        if problem:
            return problem
        if not value.strip():
            return f"'{value}' Blank strings are not permitted"
        return None

    return check


def v_mac(value: Any) -> str | None:
    if isinstance(value, str) and _MAC.match(value):
        return None
    return f"'{value}' is not a valid MAC address"


def v_non_negative(value: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return f"'{value}' is not an integer"
    return None if value >= 0 else f"'{value}' should be non-negative"


DB_INTEGER_MAX = 2147483647  # an INT column of MariaDB


def v_non_negative_column(value: Any) -> str | None:
    """validate_non_negative for a value stored in an INT column. Neutron hands a larger one
    to the database, which refuses it (a 500); the sim refuses it here."""
    problem = v_non_negative(value)
    if problem is None and value > DB_INTEGER_MAX:
        return f"'{value}' is too large - must be no larger than '{DB_INTEGER_MAX}'"
    return problem


def v_range(low: int, high: int) -> Validator:
    def check(value: Any) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return f"'{value}' is not an integer"
        if value < low:
            return f"'{value}' is too small - must be at least '{low}'"
        if value > high:
            return f"'{value}' is too large - must be no larger than '{high}'"
        return None

    return check


def v_dict_or_none(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict) else f"'{value}' is not a dictionary"


def v_list(value: Any) -> str | None:
    return None if isinstance(value, list) else f"'{value}' is not a list"


def _dict_keys(expected: list[str], data: dict[str, Any]) -> str | None:
    if set(expected) == set(data):
        return None
    return (
        "Validation of dictionary's keys failed. Expected keys: "
        f"{set(expected)} Provided keys: {set(data)}"
    )


def v_uuid_list(value: Any) -> str | None:
    if not isinstance(value, list):
        return f"'{value}' is not a list"
    for item in value:
        if not is_uuid(item):
            return f"'{item}' is not a valid UUID"
    dupes = sorted({str(i) for i in value if value.count(i) > 1})
    if dupes:
        return f"Duplicate items in the list: '{', '.join(dupes)}'"
    return None


def v_ip_pools(value: Any) -> str | None:
    if not isinstance(value, list):
        return f"Invalid data format for IP pool: '{value}'"
    for pool in value:
        if not isinstance(pool, dict):
            return f"Invalid data format for IP pool: '{pool}'"
        problem = _dict_keys(["start", "end"], pool)
        if problem:
            return problem
        for key in ("start", "end"):
            problem = v_ip_address(pool[key])
            if problem:
                return problem
    return None


def v_fixed_ips(value: Any) -> str | None:
    if not isinstance(value, list):
        return f"Invalid data format for fixed IP: '{value}'"
    seen: list[str] = []
    for fixed in value:
        if not isinstance(fixed, dict):
            return f"Invalid data format for fixed IP: '{fixed}'"
        if "ip_address" in fixed:
            address = fixed["ip_address"]
            if address in seen:
                return f"Duplicate IP address '{address}'"
            problem = v_ip_address(address)
            if problem:
                return problem
            seen.append(address)
        if "subnet_id" in fixed:
            problem = v_uuid(fixed["subnet_id"])
            if problem:
                return problem
    return None


def v_nameservers(value: Any) -> str | None:
    if not isinstance(value, list):
        return f"Invalid data format for nameserver: '{value}'"
    seen: list[Any] = []
    for host in value:
        problem = v_ip_address(host)
        if problem:
            return f"'{host}' is not a valid nameserver. {problem}"
        if host in seen:
            return f"Duplicate nameserver '{host}'"
        seen.append(host)
    return None


def v_hostroutes(value: Any) -> str | None:
    if not isinstance(value, list):
        return f"Invalid data format for hostroute: '{value}'"
    seen: list[Any] = []
    for route in value:
        if not isinstance(route, dict):
            return f"Invalid data format for hostroute: '{route}'"
        problem = _dict_keys(["destination", "nexthop"], route)
        if problem:
            return problem
        problem = v_subnet(route["destination"]) or v_ip_address(route["nexthop"])
        if problem:
            return problem
        if route in seen:
            return f"Duplicate hostroute '{route}'"
        seen.append(route)
    return None


def v_list_of_dicts(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
        return f"'{value}' is not a list"
    return None


def v_name_not_default(value: Any) -> str | None:
    """_validate_name_not_default: a string of at most 255 characters, and not ``default``
    in any case -- which the validator *raises* (409), not reports (400)."""
    problem = v_string(255)(value)
    if problem:
        return problem
    if value.lower() == "default":
        raise default_already_exists()
    return None


# ---- security group rule converters (neutron.extensions.securitygroup) -----------------------

# neutron-lib's IP_PROTOCOL_MAP, in its order: the names a rule's protocol may have.
IP_PROTOCOL_MAP: dict[str, int] = {
    "ah": 51,
    "dccp": 33,
    "egp": 8,
    "esp": 50,
    "gre": 47,
    "hopopt": 0,
    "icmp": 1,
    "igmp": 2,
    "ip": 0,
    "ipip": 4,
    "ipv6-encap": 41,
    "ipv6-frag": 44,
    "ipv6-icmp": 58,
    "icmpv6": 58,  # the legacy name, kept for backward compatibility
    "ipv6-nonxt": 59,
    "ipv6-opts": 60,
    "ipv6-route": 43,
    "ospf": 89,
    "pgm": 113,
    "rsvp": 46,
    "sctp": 132,
    "tcp": 6,
    "udp": 17,
    "udplite": 136,
    "vrrp": 112,
}
SG_PROTOCOLS: list[str | None] = [None, *IP_PROTOCOL_MAP]  # sg_supported_protocols
ETHERTYPES = ["IPv4", "IPv6"]  # sg_supported_ethertypes


def convert_protocol(value: Any) -> str | None:
    """A name (any case) or a number 0-255; numbers are kept as strings (bug 1381379).
    ``any`` is no protocol name: the CLI turns ``--protocol any`` into no protocol."""
    if value is None:
        return None
    if not isinstance(value, bool):
        try:
            number = int(value)
        except (ValueError, TypeError, OverflowError):  # (OverflowError: JSON's Infinity)
            number = None
        if number is not None:
            if 0 <= number <= 255:
                return value if isinstance(value, str) else str(number)
        elif isinstance(value, str) and value.lower() in IP_PROTOCOL_MAP:
            return value.lower()
    raise invalid_protocol(value, repr(SG_PROTOCOLS))


def convert_ethertype(value: Any) -> str:
    """``ipv4`` -> ``IPv4``; anything else is refused."""
    if isinstance(value, str):
        for ethertype in ETHERTYPES:
            if ethertype.lower() == value.lower():
                return ethertype
    raise invalid_ethertype(value, repr(ETHERTYPES))


def convert_port(value: Any) -> int | None:
    """convert_validate_port_value: None, or anything int() makes 0-65535 of."""
    if value is None:
        return None
    try:
        number = int(value)
    except (ValueError, TypeError, OverflowError):  # (OverflowError: JSON's Infinity)
        raise invalid_port_value(value) from None
    if not 0 <= number <= 65535:
        raise invalid_port_value(value)
    return number


def convert_ip_prefix(value: Any) -> str | None:
    """convert_ip_prefix_to_cidr: the prefix with its length added, host bits kept
    (``10.0.0.5`` -> ``10.0.0.5/32``, ``10.0.0.5/24`` stays); empty means none."""
    if not value:
        return None
    if not isinstance(value, str):
        raise invalid_cidr(value)
    try:
        return str(ipaddress.ip_interface(value.strip()))
    except ValueError:
        raise invalid_cidr(value) from None


# ---- the maps ---------------------------------------------------------------------------------

_NAME = Attr(post=True, put=True, default="", validate=v_string(255), is_filter=True)
_DESCRIPTION = Attr(post=True, put=True, default="", validate=v_string(255), is_filter=True)
_PROJECT = Attr(post=True, validate=v_string(255), is_filter=True)
_ID = Attr(validate=v_uuid, is_filter=True)


def _flag(post: bool = False, put: bool = False, default: Any = NOT_SPECIFIED) -> Attr:
    """A boolean attribute that also filters lists (``?shared=True``)."""
    return Attr(
        post=post,
        put=put,
        default=default,
        convert=to_bool if post or put else None,
        is_filter=True,
        filter_convert=to_bool,
    )


_STANDARD_FILTERS = {
    "revision_number": Attr(is_filter=True, filter_convert=to_int),
    "tags": Attr(is_filter=True),
    "tags-any": Attr(is_filter=True),
    "not-tags": Attr(is_filter=True),
    "not-tags-any": Attr(is_filter=True),
}


def _rbac_object_type(value: Any) -> Any:
    return None if value is None else convert_object_type(value)


# A settable, filterable integer of 0 or more: a network's mtu, a subnet pool's prefix lengths
_NON_NEGATIVE_INT = Attr(
    post=True,
    put=True,
    convert=to_int,
    validate=v_non_negative,
    is_filter=True,
    filter_convert=to_int,
)

# A required IP version, 4 or 6, that filters lists: a subnet's, an address scope's
_IP_VERSION = Attr(
    post=True,
    default=REQUIRED,
    convert=to_int,
    validate=v_values(4, 6),
    is_filter=True,
    filter_convert=to_int,
)

NETWORK: dict[str, Attr] = {
    "id": _ID,
    "name": _NAME,
    "subnets": Attr(default=[]),
    "admin_state_up": _flag(post=True, put=True, default=True),
    "status": Attr(is_filter=True),
    "tenant_id": _PROJECT,
    "project_id": _PROJECT,
    "shared": _flag(post=True, put=True, default=False),
    "router:external": _flag(post=True, put=True),
    "provider:network_type": Attr(post=True, put=True, validate=v_string(255), is_filter=True),
    "provider:physical_network": Attr(post=True, put=True, validate=v_string(64), is_filter=True),
    "provider:segmentation_id": Attr(
        post=True, put=True, convert=to_int, is_filter=True, filter_convert=to_int
    ),
    "segments": Attr(post=True, put=True, validate=v_list_of_dicts),
    "mtu": _NON_NEGATIVE_INT,
    "port_security_enabled": Attr(post=True, put=True, default=True, convert=to_bool),
    "availability_zone_hints": Attr(post=True, default=[], validate=v_list),
    "availability_zones": Attr(),
    "ipv4_address_scope": Attr(),
    "ipv6_address_scope": Attr(),
    "description": _DESCRIPTION,
    **_STANDARD_FILTERS,
}

SUBNET: dict[str, Attr] = {
    "id": _ID,
    "name": _NAME,
    "ip_version": _IP_VERSION,
    "network_id": Attr(post=True, default=REQUIRED, validate=v_uuid, is_filter=True),
    "subnetpool_id": Attr(post=True, validate=v_uuid_or_none, is_filter=True),
    "prefixlen": Attr(post=True, convert=to_int),
    "cidr": Attr(post=True, validate=v_subnet_or_none, is_filter=True),
    "gateway_ip": Attr(post=True, put=True, validate=v_ip_or_none, is_filter=True),
    "allocation_pools": Attr(post=True, put=True, validate=v_ip_pools),
    "dns_nameservers": Attr(
        post=True, put=True, convert=none_to_empty_list, validate=v_nameservers
    ),
    "host_routes": Attr(post=True, put=True, convert=none_to_empty_list, validate=v_hostroutes),
    "tenant_id": _PROJECT,
    "project_id": _PROJECT,
    "enable_dhcp": _flag(post=True, put=True, default=True),
    "ipv6_ra_mode": Attr(
        post=True,
        validate=v_values(None, "dhcpv6-stateful", "dhcpv6-stateless", "slaac"),
        is_filter=True,
    ),
    "ipv6_address_mode": Attr(
        post=True,
        validate=v_values(None, "dhcpv6-stateful", "dhcpv6-stateless", "slaac"),
        is_filter=True,
    ),
    "shared": Attr(),
    "service_types": Attr(post=True, put=True, validate=v_list, is_filter=True),
    "use_default_subnetpool": Attr(post=True, default=False, convert=to_bool),
    "description": _DESCRIPTION,
    **_STANDARD_FILTERS,
}

PORT: dict[str, Attr] = {
    "id": _ID,
    "name": _NAME,
    "network_id": Attr(post=True, default=REQUIRED, validate=v_uuid, is_filter=True),
    "admin_state_up": _flag(post=True, put=True, default=True),
    "mac_address": Attr(post=True, put=True, validate=v_mac, is_filter=True),
    "fixed_ips": Attr(
        post=True, put=True, validate=v_fixed_ips, is_filter=True, filter_convert=None
    ),
    "device_id": Attr(post=True, put=True, default="", validate=v_string(255), is_filter=True),
    "device_owner": Attr(post=True, put=True, default="", validate=v_string(255), is_filter=True),
    "tenant_id": _PROJECT,
    "project_id": _PROJECT,
    "status": Attr(is_filter=True),
    # neutron-lib gives HOST_ID no validator, so a non-string reaches the database (a 500
    # in Neutron, an upstream gap); the sim validates it as the string column it fills.
    "binding:host_id": Attr(post=True, put=True, validate=v_string(255), is_filter=True),
    "binding:vnic_type": Attr(
        post=True,
        put=True,
        default="normal",
        validate=v_values(
            "normal",
            "direct",
            "macvtap",
            "baremetal",
            "direct-physical",
            "virtio-forwarder",
            "smart-nic",
            "accelerator-direct",
            "accelerator-direct-physical",
            "vdpa",
        ),
        is_filter=True,
    ),
    "binding:profile": Attr(post=True, put=True, validate=v_dict_or_none),
    "binding:vif_type": Attr(is_filter=True),
    "binding:vif_details": Attr(),
    "security_groups": Attr(
        post=True, put=True, convert=none_to_empty_list, validate=v_uuid_list, is_filter=True
    ),
    "port_security_enabled": Attr(post=True, put=True, convert=to_bool),
    "allowed_address_pairs": Attr(post=True, put=True, validate=v_list_of_dicts),
    "extra_dhcp_opts": Attr(post=True, put=True, validate=v_list_of_dicts),
    "numa_affinity_policy": Attr(
        post=True, put=True, validate=v_values(None, "required", "preferred", "legacy", "socket")
    ),
    "device_profile": Attr(post=True, default=None, validate=v_string_or_none(255)),
    "ip_address_substr": Attr(is_filter=True),
    "description": _DESCRIPTION,
    **_STANDARD_FILTERS,
}

SUBNETPOOL: dict[str, Attr] = {
    "id": _ID,
    "name": Attr(
        post=True, put=True, default=REQUIRED, validate=v_not_empty_string(), is_filter=True
    ),
    "tenant_id": _PROJECT,
    "project_id": _PROJECT,
    "prefixes": Attr(post=True, put=True, default=REQUIRED, validate=v_subnet_list),
    "default_quota": Attr(
        post=True,
        put=True,
        convert=to_int,
        validate=v_non_negative_column,
        is_filter=True,
        filter_convert=to_int,
    ),
    "ip_version": Attr(is_filter=True, filter_convert=to_int),
    "default_prefixlen": _NON_NEGATIVE_INT,
    "min_prefixlen": _NON_NEGATIVE_INT,
    "max_prefixlen": _NON_NEGATIVE_INT,
    "is_default": _flag(post=True, put=True, default=False),
    "shared": _flag(post=True, default=False),
    "address_scope_id": Attr(post=True, put=True, validate=v_uuid_or_none, is_filter=True),
    "description": _DESCRIPTION,
    **_STANDARD_FILTERS,
}

# rbac-policies (neutron.extensions.rbac): no standard attributes, no tags; object_type is
# converted by the extension (an unknown type is InvalidInput), the action checked per type.
RBAC_POLICY: dict[str, Attr] = {
    "id": _ID,
    "object_type": Attr(post=True, default=None, convert=_rbac_object_type, is_filter=True),
    "object_id": Attr(post=True, default=REQUIRED, validate=v_uuid, is_filter=True),
    "target_tenant": Attr(
        post=True, put=True, default=REQUIRED, validate=v_string(255), is_filter=True
    ),
    "tenant_id": _PROJECT,
    "project_id": _PROJECT,
    "action": Attr(post=True, default=REQUIRED, validate=v_string(255), is_filter=True),
}

# address-scope: no standard attributes (no description, tags or timestamps).
ADDRESS_SCOPE: dict[str, Attr] = {
    "id": _ID,
    "name": _NAME,
    "tenant_id": _PROJECT,
    "project_id": _PROJECT,
    "shared": _flag(post=True, put=True, default=False),
    "ip_version": _IP_VERSION,
}

# address-group: ``addresses`` only on create (then the add/remove actions); a 1024-long
# description (LONG_DESCRIPTION_FIELD_SIZE); ``shared`` is neither set nor shown.
ADDRESS_GROUP: dict[str, Attr] = {
    "id": _ID,
    "name": _NAME,
    "description": Attr(post=True, put=True, default="", validate=v_string(1024), is_filter=True),
    "project_id": _PROJECT,
    "tenant_id": _PROJECT,
    "addresses": Attr(post=True, convert=none_to_empty_list, validate=v_subnet_list),
}

# network-ip-availability: read-only; ip_version filters but is not shown.
NETWORK_IP_AVAILABILITY: dict[str, Attr] = {
    "network_id": Attr(is_filter=True),
    "network_name": Attr(is_filter=True),
    "tenant_id": Attr(is_filter=True),
    "project_id": Attr(is_filter=True),
    "ip_version": Attr(is_filter=True, filter_convert=to_int),
}

# flavors (the flavors service plugin): admin-made, no standard attributes. neutron-lib
# gives metainfo no validator (a non-string reaches the database: a 500); the sim checks it.
_ENABLED = Attr(
    post=True,
    put=True,
    default=True,
    convert=lambda v: None if v is None else to_bool(v),
    is_filter=True,
    filter_convert=to_bool,
)
_LONG_DESCRIPTION = Attr(
    post=True, put=True, default="", validate=v_string_or_none(1024), is_filter=True
)
FLAVOR: dict[str, Attr] = {
    "id": _ID,
    "name": _NAME,
    "description": _LONG_DESCRIPTION,
    "service_type": Attr(post=True, default=REQUIRED, validate=v_string(255), is_filter=True),
    "service_profiles": Attr(post=True, put=True, default=[], validate=v_uuid_list),
    "enabled": _ENABLED,
}
SERVICE_PROFILE: dict[str, Attr] = {
    "id": _ID,
    "description": _LONG_DESCRIPTION,
    "driver": Attr(post=True, put=True, default="", validate=v_string(1024), is_filter=True),
    "metainfo": Attr(post=True, put=True, default="", validate=v_string(4096)),
    "enabled": _ENABLED,
}

# service-type: read-only, and served by the ServiceTypeManager, which has no filter
# validation -- any query parameter filters (and an unknown one matches nothing).
SERVICE_PROVIDER: dict[str, Attr] = {
    "service_type": Attr(is_filter=True),
    "name": Attr(is_filter=True),
    "default": Attr(is_filter=True, filter_convert=to_bool),
}

SECURITY_GROUP: dict[str, Attr] = {
    "id": _ID,
    "name": Attr(post=True, put=True, default="", validate=v_name_not_default, is_filter=True),
    "description": _DESCRIPTION,
    "tenant_id": _PROJECT,
    "project_id": _PROJECT,
    "security_group_rules": Attr(),
    # stateful-security-group: settable, but (in Zed) no filter
    "stateful": Attr(post=True, put=True, default=True, convert=to_bool),
    "shared": _flag(),
    **_STANDARD_FILTERS,
}

SECURITY_GROUP_RULE: dict[str, Attr] = {
    "id": _ID,
    # type:string of a UUID's length, not type:uuid: an unknown id is a 404 further on
    "security_group_id": Attr(post=True, default=REQUIRED, validate=v_string(36), is_filter=True),
    "remote_group_id": Attr(post=True, default=None, is_filter=True),
    "remote_address_group_id": Attr(post=True, default=None, is_filter=True),
    "direction": Attr(
        post=True, default=REQUIRED, validate=v_values("ingress", "egress"), is_filter=True
    ),
    "protocol": Attr(post=True, default=None, convert=convert_protocol, is_filter=True),
    "port_range_min": Attr(
        post=True, default=None, convert=convert_port, is_filter=True, filter_convert=to_int
    ),
    "port_range_max": Attr(
        post=True, default=None, convert=convert_port, is_filter=True, filter_convert=to_int
    ),
    "ethertype": Attr(
        post=True,
        default="IPv4",
        convert=convert_ethertype,
        validate=v_values(*ETHERTYPES),
        is_filter=True,
    ),
    "remote_ip_prefix": Attr(post=True, default=None, convert=convert_ip_prefix, is_filter=True),
    "normalized_cidr": Attr(is_filter=True),
    "tenant_id": _PROJECT,
    "project_id": _PROJECT,
    "description": _DESCRIPTION,
    "revision_number": Attr(is_filter=True, filter_convert=to_int),
}

AGENT: dict[str, Attr] = {
    "id": _ID,
    "agent_type": Attr(is_filter=True),
    "binary": Attr(is_filter=True),
    "topic": Attr(is_filter=True),
    "host": Attr(is_filter=True),
    "admin_state_up": _flag(put=True),
    "created_at": Attr(),
    "started_at": Attr(),
    "heartbeat_timestamp": Attr(),
    "alive": Attr(is_filter=True, filter_convert=to_bool),
    "configurations": Attr(),
    "description": Attr(put=True, validate=v_string_or_none(255), is_filter=True),
    "availability_zone": Attr(is_filter=True),
    "resources_synced": Attr(),
}

# Query parameters that are not filters (Neutron skips them).
NOT_FILTERS = ("fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse")


# ---- preparing a request body --------------------------------------------------------------


def _populate_project(body: dict[str, Any]) -> None:
    if "tenant_id" in body and "project_id" not in body:
        body["project_id"] = body["tenant_id"]
    elif "project_id" in body and "tenant_id" not in body:
        body["tenant_id"] = body["project_id"]
    if body.get("project_id") != body.get("tenant_id"):
        raise http_bad_request("'project_id' and 'tenant_id' do not match")


def unwrap(data: Any, resource: str) -> dict[str, Any]:
    """``{"network": {...}}`` -> the inner dict, with Neutron's texts when it is not there."""
    if not data:
        raise http_bad_request("Resource body required")
    if not isinstance(data, dict):
        raise http_bad_request("Body contains invalid data")
    if f"{resource}s" in data:
        raise http_bad_request("Bulk operation not supported")
    inner = data.get(resource)
    if inner is None:
        raise http_bad_request(f"Unable to find '{resource}' in request body")
    if not isinstance(inner, dict):
        raise http_bad_request(f"Object '{resource}' contains invalid data")
    return dict(inner)


def prepare_items(
    ctx: Context, data: Any, resource: str, attrs: dict[str, Attr]
) -> tuple[list[dict[str, Any]], bool]:
    """A POST body: one resource (``{"network": {...}}``) or a bulk list (``{"networks":
    [{...}, ...]}``, each member with or without its ``{"network": ...}`` wrapper), each
    prepared as :func:`prepare` does. Returns the items and whether the body was a list;
    the caller creates all of them in one transaction or none (Neutron's bulk create)."""
    collection = f"{resource}s"
    if not data or not isinstance(data, dict) or collection not in data:
        return [prepare(ctx, data, resource, attrs, True)], False
    members = data[collection]
    if not members:
        raise http_bad_request("Resources required")
    try:
        # prepare_request_body: ``item if resource in item else {resource: item}`` -- a
        # member that cannot be searched (a number) is the TypeError it catches
        wrapped = [item if resource in item else {resource: item} for item in members]
    except TypeError:
        raise http_bad_request("Body contains invalid data") from None
    return [prepare(ctx, item, resource, attrs, True) for item in wrapped], True


def prepare(
    ctx: Context, data: Any, resource: str, attrs: dict[str, Attr], is_create: bool
) -> dict[str, Any]:
    """The resource's attributes from a request body, defaults filled (POST), converted and
    validated. Raises NeutronError with Neutron's texts."""
    body = unwrap(data, resource)
    if "project_id" in attrs:
        _populate_project(body)
        if (
            "project_id" in body
            and body["project_id"] != ctx.project_id
            and not (ctx.is_admin or ctx.is_advsvc)
        ):
            raise http_bad_request(
                "Specifying 'project_id' or 'tenant_id' other than the authenticated project "
                "in request requires admin or advsvc privileges"
            )
        if is_create and "project_id" not in body:
            body["project_id"] = body["tenant_id"] = ctx.project_id
    unknown = sorted(set(body) - set(attrs))
    if unknown:
        raise http_bad_request(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    if is_create:
        for name, attr in attrs.items():
            if attr.post:
                if attr.default is REQUIRED and name not in body:
                    raise http_bad_request(
                        f"Failed to parse request. Required attribute '{name}' not specified"
                    )
                if name not in body and attr.default is not NOT_SPECIFIED:
                    value = attr.default
                    body[name] = list(value) if isinstance(value, list) else value
            elif name in body:
                raise http_bad_request(f"Attribute '{name}' not allowed in POST")
    else:
        for name, attr in attrs.items():
            if name in body and not attr.put:
                raise http_bad_request(f"Cannot update read-only attribute {name}")
    for name, attr in attrs.items():
        if name not in body or body[name] is NOT_SPECIFIED:
            continue
        if attr.convert is not None:
            body[name] = attr.convert(body[name])
        if attr.validate is not None:
            reason = attr.validate(body[name])
            if reason:
                raise http_bad_request(f"Invalid input for {name}. Reason: {reason}.")
    return body


def filters(
    query: list[tuple[str, str]], attrs: dict[str, Attr], extra_skips: tuple[str, ...] = ()
) -> dict[str, list[Any]]:
    """api_common.get_filters: ``?name=a&name=b`` -> ``{"name": ["a", "b"]}``, values converted,
    unknown keys refused (filter-validation is on in Zed)."""
    grouped: dict[str, list[str]] = {}
    for key, value in query:
        grouped.setdefault(key, []).append(value)
    out: dict[str, list[Any]] = {}
    invalid: list[str] = []
    for key, values in grouped.items():
        if key in NOT_FILTERS or key in extra_skips:
            continue
        attr = attrs.get(key)
        if attr is None or not attr.is_filter:
            invalid.append(key)
            continue
        kept: list[Any] = list(values)  # empty strings filter too (empty-string-filtering)
        if attr.filter_convert is not None:
            kept = [attr.filter_convert(v) for v in kept]
        out[key] = kept
    if invalid:
        raise http_bad_request(f"{invalid} is invalid attribute for filtering")
    if "tenant_id" in out and "project_id" in out:
        raise NeutronError(
            400,
            "TenantIdProjectIdFilterConflict",
            "Both tenant_id and project_id passed as filters.",
        )
    if "tenant_id" in out:
        out["project_id"] = out.pop("tenant_id")
    return out
