"""Nova's quotas (the DB driver): per-project limits over defaults, usage counted in cells."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

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
}


def limits(cells: NovaCells, project_id: str) -> dict[str, int]:
    out = dict(DEFAULTS)
    with cells.api.read() as s:
        for row in s.scalars(select(m.Quota).where(m.Quota.project_id == project_id)):
            out[row.resource] = row.hard_limit
    return out


def usage(cells: NovaCells, project_id: str) -> dict[str, int]:
    used = instances.count_usage(cells, project_id)
    with cells.api.read() as s:
        used["server_groups"] = len(
            list(s.scalars(select(m.InstanceGroup).where(m.InstanceGroup.project_id == project_id)))
        )
    return used


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
    """How many of ``max_count`` servers fit the project's quota (at least ``min_count``), or
    Nova's 403 naming the first resource that does not fit."""
    allowed = limits(cells, project_id)
    used = instances.count_usage(cells, project_id)
    per = {"instances": 1, "cores": flavor.vcpus, "ram": flavor.memory_mb}
    fits = max_count
    for resource, each in per.items():
        limit = allowed[resource]
        if limit < 0 or each == 0:
            continue
        fits = min(fits, (limit - used[resource]) // each)
    if fits >= min_count:
        return fits
    for resource, each in per.items():
        limit = allowed[resource]
        if limit >= 0 and used[resource] + each * min_count > limit:
            raise quota_exceeded(resource, each * min_count, used[resource], limit)
    raise quota_exceeded("instances", min_count, used["instances"], allowed["instances"])
