"""Nova's quotas (the DB driver): per-project limits over defaults, usage counted in cells."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from labkit.sim.core.sql import Prepared
from labkit.sim.nova import instances
from labkit.sim.nova import models as m
from labkit.sim.nova.errors import forbidden, quota_exceeded
from labkit.sim.nova.service import NovaCells

# [quota] defaults in Zed.
DEFAULTS: dict[str, int] = {
    "instances": 10,
    "cores": 20,
    "ram": 51200,
    "metadata_items": 128,
    "key_pairs": 100,
    "server_groups": 10,
    "server_group_members": 10,
    "injected_files": 5,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
    # nova-network's quotas, kept (unlimited, counted nowhere) so that the API's answers
    # before 2.36 keep their shape: Nova's AbsoluteResource with no [quota] option is -1
    "fixed_ips": -1,
    "floating_ips": -1,
    "security_groups": -1,
    "security_group_rules": -1,
}


def class_limits(cells: NovaCells, quota_class: str) -> dict[str, int]:
    """A quota class's limits: its own where it has them, else the ``[quota]`` defaults
    (``get_class_quotas``)."""
    out = dict(DEFAULTS)
    for resource, hard_limit in _CLASS.all(cells.api, name=quota_class):
        out[resource] = hard_limit
    return out


def defaults(cells: NovaCells) -> dict[str, int]:
    """Every project's defaults: the ``default`` quota class over ``[quota]``."""
    return class_limits(cells, "default")


def limits(cells: NovaCells, project_id: str) -> dict[str, int]:
    out = defaults(cells)
    for resource, hard_limit in _LIMITS.all(cells.api, project=project_id):
        out[resource] = hard_limit
    return out


def usage(cells: NovaCells, project_id: str) -> dict[str, int]:
    used = instances.count_usage(cells, project_id)
    used["server_groups"] = len(_GROUPS.all(cells.api, project=project_id))
    return used


# a project's limits and server groups, read at every create (compiled once, core/sql.py)
_LIMITS = Prepared(
    select(m.Quota.resource, m.Quota.hard_limit).where(m.Quota.project_id == bindparam("project"))
)
_CLASS = Prepared(
    select(m.QuotaClass.resource, m.QuotaClass.hard_limit).where(
        m.QuotaClass.class_name == bindparam("name")
    )
)
_GROUPS = Prepared(
    select(m.InstanceGroup.id).where(m.InstanceGroup.project_id == bindparam("project"))
)


def key_pairs_in_use(session: Session, user_id: str) -> int:
    """Key pairs are counted per *user* (``_keypair_get_count_by_user``), not per project."""
    return len(list(session.scalars(select(m.KeyPair.id).where(m.KeyPair.user_id == user_id))))


def check_key_pairs(limit: int, in_use: int) -> None:
    """``KeypairAPI._check_key_pair_quotas``: one more key pair for a user who has ``in_use``
    against the ``key_pairs`` limit of the caller's *project* (-1: unlimited). Over it is
    KeypairLimitExceeded, an OverQuota the API answers with 403. Nova checks before it makes
    the key and checks again when it stores it ([quota] recheck_quota)."""
    if 0 <= limit < in_use + 1:
        raise forbidden("Quota exceeded, too many key pairs.")


def check_create(
    cells: NovaCells, project_id: str, flavor: m.Flavor, min_count: int, max_count: int
) -> int:
    """How many servers of ``flavor`` a create may make: ``max_count`` if the project's quota
    holds them all, else as many as it holds but at least ``min_count``; Nova's 403 if not
    even ``min_count`` fit (see :func:`servers_allowed`)."""
    return servers_allowed(
        limits(cells, project_id),
        instances.count_usage(cells, project_id),
        flavor.vcpus,
        flavor.memory_mb,
        min_count,
        max_count,
    )


def servers_allowed(
    allowed: dict[str, int],
    used: dict[str, int],
    vcpus: int,
    memory_mb: int,
    min_count: int,
    max_count: int,
) -> int:
    """``compute/utils.py check_num_instances_quota`` with the DB driver, step by step:

    1. Ask for all ``max_count`` at once: instances += max_count, cores += max_count x
       vcpus, ram += max_count x memory_mb. Each resource whose limit is not -1 and would be
       passed is *over*; none over: all ``max_count`` may be made.
    2. Otherwise work out the headroom (limit - used; an unlimited cores or ram gets the
       instances' headroom times the flavor's size) and how many servers it holds:
       ``allowed`` = the instances' headroom, lowered by cores // vcpus and ram //
       memory_mb.
    3. ``min_count <= allowed``: check again for ``allowed`` servers and make that many
       (a request for 1-5 where 3 fit makes 3). Else TooManyInstances, naming every
       resource over, sorted: ``Quota exceeded for cores, instances: Requested 8, 8, but
       already used 3, 3 of 10, 10 cores, instances``, where the instances asked for read
       ``min-max`` when they differ, and cores and ram are for ``max_count`` servers.

    As in Zed, an *unlimited* instances quota (-1) leaves a headroom of -1 - used, so
    when cores or ram are over, no smaller count is tried (the request is refused).
    """
    deltas = {"instances": max_count, "cores": max_count * vcpus, "ram": max_count * memory_mb}
    overs = sorted(r for r, delta in deltas.items() if 0 <= allowed[r] < used[r] + delta)
    if not overs:
        return max_count
    headroom = {r: allowed[r] - used[r] for r in deltas}
    for resource, size in (("cores", vcpus), ("ram", memory_mb)):
        if allowed[resource] == -1:  # get_headroom: follow the instances' headroom
            headroom[resource] = headroom["instances"] * size if size else headroom["instances"]
    fits = headroom["instances"]
    if vcpus:
        fits = min(fits, headroom["cores"] // vcpus)
    if memory_mb:
        fits = min(fits, headroom["ram"] // memory_mb)
    if fits > 0 and min_count <= fits <= max_count:
        return servers_allowed(allowed, used, vcpus, memory_mb, min_count, fits)
    asked: dict[str, object] = {
        "instances": str(min_count) if min_count == max_count else f"{min_count}-{max_count}",
        "cores": deltas["cores"],
        "ram": deltas["ram"],
    }
    raise quota_exceeded(
        overs,
        [asked[r] for r in overs],
        [allowed[r] - headroom[r] for r in overs],
        [allowed[r] for r in overs],
    )
