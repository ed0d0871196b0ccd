"""``GET /allocation_candidates`` (from 1.10), what Nova's scheduler asks at 1.36."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes
from labkit.sim.placement import candidates, errors, schemas
from labkit.sim.placement.api import _params
from labkit.sim.placement.api._helpers import (
    app,
    check_accept,
    enforce,
    ok,
    query,
    reading,
    since,
    version,
)
from labkit.sim.placement.errors import bad_request

routes = Routes()
_GROUP_KEY = re.compile(r"^(resources|required|member_of|in_tree)(.*)$")


def _groups(call: Call) -> list[candidates.Group]:
    """lib.RequestGroup.dict_from_request: one group per suffix, checked as Placement does."""
    v = version(call)
    by_suffix: dict[str, candidates.Group] = {}
    for key in call.query:
        found = _GROUP_KEY.match(key)
        if found is None:
            continue
        kind, suffix = found.groups()
        if suffix and not v.at_least(25):
            continue
        group = by_suffix.setdefault(suffix, candidates.Group(suffix))
        value = call.query.getlist(key)[-1]
        if kind == "resources":
            group.resources = _params.resources(value)
        elif kind == "required":
            group.required_traits, group.forbidden_traits = _params.traits(call, key)
        elif kind == "member_of":
            group.member_of, group.forbidden_aggs = _params.member_of(call, key)
        else:
            group.in_tree = _params.in_tree(value)
    orphans = [
        f"required{g.suffix}" for g in by_suffix.values() if g.required_traits and not g.resources
    ]
    if orphans:
        raise bad_request(
            "All traits parameters must be associated with resources.  Found the following "
            f"orphaned traits keys: {', '.join(orphans)}"
        )
    orphans = [
        f"member_of{g.suffix}"
        for g in by_suffix.values()
        if not g.resources and (g.member_of or g.forbidden_aggs)
    ]
    if orphans:
        raise bad_request(
            "All member_of parameters must be associated with resources. Found the following "
            f"orphaned member_of keys: {', '.join(orphans)}"
        )
    if not all(g.resources for g in by_suffix.values()):
        raise bad_request("All request groups must specify resources.")
    if not by_suffix:
        raise bad_request(
            "At least one request group (`resources` or `resources{$S}`) is required."
        )
    conflicts = sorted(
        f"required{g.suffix}: ({', '.join(sorted(any_of))})"
        for g in by_suffix.values()
        for any_of in g.required_traits
        if any_of <= g.forbidden_traits
    )
    if conflicts:
        raise bad_request(
            "Conflicting required and forbidden traits found in the following traits keys: "
            + ", ".join(conflicts)
        )
    return list(by_suffix.values())


def _request(call: Call, params: dict[str, str]) -> candidates.Request:
    groups = _groups(call)
    request = candidates.Request(
        groups=groups,
        limit=int(params["limit"]) if "limit" in params else None,
        group_policy=params.get("group_policy"),
        randomize=app(call).config.randomize_allocation_candidates,
    )
    if request.group_policy is None and len([g for g in groups if g.suffix]) > 1:
        raise bad_request(
            'The "group_policy" parameter is required when specifying more than one '
            '"resources{N}" parameter.'
        )
    roots = call.query.getlist("root_required")
    if roots:
        if len(roots) > 1:
            raise bad_request(
                "Query parameter 'root_required' may be specified only once.",
                errors.ILLEGAL_DUPLICATE_QUERYPARAM,
            )
        required, forbidden = _params.traits(call, "root_required")
        request.root_required = {t for any_of in required for t in any_of}
        request.root_forbidden = forbidden
        both = sorted(request.root_required & forbidden)
        if both:
            raise bad_request(
                "Conflicting required and forbidden traits found in root_required: "
                + ", ".join(both),
                errors.QUERYPARAM_BAD_VALUE,
            )
    return request


def _view(
    call: Call,
    found: list[candidates.Candidate],
    summaries: list[candidates.Summary],
    request: candidates.Request,
) -> dict[str, Any]:
    v = version(call)
    if v.at_least(12):
        a_reqs: list[dict[str, Any]] = []
        for c in found:
            entry: dict[str, Any] = {"allocations": {c.provider: {"resources": c.resources}}}
            if v.at_least(34):
                entry["mappings"] = {g: [c.provider] for g in c.by_group}
            a_reqs.append(entry)
    else:
        a_reqs = [
            {"allocations": [{"resource_provider": {"uuid": c.provider}, "resources": c.resources}]}
            for c in found
        ]
    asked = {name for g in request.groups for name in g.resources}
    p_sums: dict[str, Any] = {}
    for summary in summaries:
        entry = {
            "resources": {
                name: {"capacity": capacity, "used": used}
                for name, (capacity, used) in summary.resources.items()
                if v.at_least(27) or name in asked
            }
        }
        if v.at_least(17):
            entry["traits"] = summary.traits
        if v.at_least(29):
            entry["parent_provider_uuid"] = summary.provider.parent_provider_uuid
            entry["root_provider_uuid"] = summary.provider.root_provider_uuid
        p_sums[summary.provider.uuid] = entry
    return {"allocation_requests": a_reqs, "provider_summaries": p_sums}


@routes.get("/allocation_candidates")
def list_candidates(call: Call) -> Response:
    since(call, 10)
    check_accept(call)
    enforce(call, "placement:allocation_candidates:list")
    v = version(call)
    params = query(call, schemas.candidates_query(v.minor))
    request = _request(call, params)
    with reading(call) as s:
        try:
            found, summaries = candidates.find(s, request)
        except errors.ResourceClassNotFound as exc:
            raise bad_request(f"Invalid resource class in resources parameter: {exc}") from None
        except errors.TraitNotFound as exc:
            raise bad_request(str(exc)) from None
    return ok(call, _view(call, found, summaries, request))
