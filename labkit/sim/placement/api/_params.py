"""Placement's query-string mini-languages (``placement.util``): ``resources=VCPU:1,...``,
``required=HW_CPU_X86_AVX,!CUSTOM_X`` (and ``in:A,B`` from 1.39), ``member_of=in:agg1,agg2``
(``!`` from 1.32), ``in_tree=uuid`` -- with Placement's 400 texts."""

from __future__ import annotations

from labkit.sim.core.http import Call
from labkit.sim.placement.api._helpers import is_uuid_like, version
from labkit.sim.placement.errors import bad_request

_RESOURCES_FORM = (
    "Badly formed resources parameter. Expected resources query string parameter in form: "
    "?resources=VCPU:2,MEMORY_MB:1024. Got: {}."
)


def resources(value: str) -> dict[str, int]:
    if not value.strip():
        raise bad_request(_RESOURCES_FORM.format("empty string"))
    out: dict[str, int] = {}
    for item in value.split(","):
        parts = item.split(":")
        if len(parts) != 2:
            raise bad_request(_RESOURCES_FORM.format(item))
        name, raw = parts
        try:
            amount = int(raw)
        except ValueError:
            raise bad_request(
                f"Requested resource {name} expected positive integer amount. Got: {raw}."
            ) from None
        if amount < 1:
            raise bad_request(f"Requested resource {name} requires amount >= 1. Got: {amount}.")
        out[name] = amount
    return out


def traits(call: Call, key: str = "required") -> tuple[list[set[str]], set[str]]:
    """(required: each set any-of, forbidden) from every ``key`` parameter (1.39) or the
    last one (before)."""
    v = version(call)
    allow_forbidden, allow_any = v.at_least(22), v.at_least(39)
    values = call.query.getlist(key)
    if not allow_any:
        values = values[-1:]
    required: list[set[str]] = []
    forbidden: set[str] = set()
    for value in values:
        got_required, got_forbidden = _one_traits(value, allow_forbidden, allow_any)
        required += got_required
        forbidden |= got_forbidden
    return required, forbidden


def _one_traits(
    value: str, allow_forbidden: bool, allow_any: bool
) -> tuple[list[set[str]], set[str]]:
    if value.startswith("in:"):
        if not allow_any:
            raise bad_request(
                "Invalid query string parameters: The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' "
                f"only supported since microversion 1.39. Got: {value}"
            )
        any_of = {item.strip() for item in value[3:].split(",")}
        if not all(any_of):
            raise bad_request(
                "Invalid query string parameters: Expected 'required' parameter value of the "
                f"form: in:HW_CPU_X86_VMX,CUSTOM_MAGIC. Got an empty trait in: {value}"
            )
        if any(t.startswith("!") for t in any_of):
            raise bad_request(
                "Invalid query string parameters: The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' "
                f"does not support forbidden traits. Got: {value}"
            )
        return [any_of], set()
    items = [item.strip() for item in value.split(",")]
    forbidden = {t.lstrip("!") for t in items if t.startswith("!")}
    if not all(items) or not all(forbidden):
        form = "HW_CPU_X86_VMX,!CUSTOM_MAGIC" if allow_forbidden else "HW_CPU_X86_VMX,CUSTOM_MAGIC"
        raise bad_request(
            "Invalid query string parameters: Expected 'required' parameter value of the form: "
            f"{form}. Got an empty trait in: {value}"
        )
    if forbidden and not allow_forbidden:
        raise bad_request(
            "Invalid query string parameters: Expected 'required' parameter value of the form: "
            f"HW_CPU_X86_VMX,CUSTOM_MAGIC. Got: {value}"
        )
    return [{t} for t in items if not t.startswith("!")], forbidden


def member_of(call: Call, key: str = "member_of") -> tuple[list[set[str]], set[str]]:
    v = version(call)
    values = call.query.getlist(key)
    suffix = key.removeprefix("member_of")
    if not v.at_least(24) and len(values) > 1:
        raise bad_request(f"Multiple member_of{suffix} parameters are not supported")
    required: list[set[str]] = []
    forbidden: set[str] = set()
    for value in values:
        if "," in value and not value.startswith(("in:", "!in:")):
            raise bad_request(
                "Multiple values for 'member_of' must be prefixed with the 'in:' or '!in:' "
                f"keyword using the valid microversion. Got: {value}"
            )
        wanted: set[str] = set()
        refused: set[str] = set()
        if value.startswith("!in:"):
            refused = set(value[4:].split(","))
        elif value.startswith("!"):
            refused = {value[1:]}
        elif value.startswith("in:"):
            wanted = set(value[3:].split(","))
        else:
            wanted = {value}
        for agg in sorted(wanted | refused):
            if not is_uuid_like(agg):
                raise bad_request(
                    "Invalid query string parameters: Expected 'member_of' parameter to "
                    f"contain valid UUID(s). Got: {agg}"
                )
        if refused and not v.at_least(32):
            raise bad_request(
                f"Forbidden member_of{suffix} parameters are not supported in the specified "
                "microversion"
            )
        if wanted:
            required.append(wanted)
        forbidden |= refused
    return required, forbidden


def in_tree(value: str) -> str:
    found = value.strip()
    if not is_uuid_like(found):
        raise bad_request(
            "Invalid query string parameters: Expected 'in_tree' parameter to be a format of "
            f"uuid. Got: {value}"
        )
    return found
