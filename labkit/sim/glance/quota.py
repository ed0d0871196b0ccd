"""Per-project quotas the way Zed enforces them with ``use_keystone_limits = True``.

Glance asks oslo.limit whether ``usage + delta > limit`` for one of four resources
(``image_count_total``, ``image_count_uploading``, ``image_size_total`` and
``image_stage_total``, sizes in MiB) and answers 413 with oslo.limit's text inside its own.
The sim reads the limits from glance-api.conf (see :mod:`.config`); a resource with no limit
at all is limited to 0, as oslo.limit treats a missing registered limit. Checks happen where
Zed makes them: a new image counts itself (delta 1), an upload is refused only when the
project is *already* over its size limit (delta 0) -- so the upload that crosses it succeeds.
"""

from __future__ import annotations

from labkit.sim.glance.config import GlanceConf
from labkit.sim.glance.errors import LimitExceeded
from labkit.sim.glance.policy import Context
from labkit.sim.glance.repo import Tx


def limit_for(conf: GlanceConf, ctx: Context, name: str) -> int:
    for key in (ctx.project_id, ctx.project_name):
        if key and name in conf.limits.get(key, {}):
            return conf.limits[key][name]
    return conf.limits.get("", {}).get(name, 0)


def enforce(conf: GlanceConf, tx: Tx, ctx: Context, name: str, delta: int = 0) -> None:
    """Raise Glance's LimitExceeded when the caller's project would be over ``name``."""
    if not conf.use_keystone_limits:
        return
    limit = limit_for(conf, ctx, name)
    usage = tx.usage(ctx.owner)[name]
    if usage + delta > limit:
        raise LimitExceeded(
            f"Project {ctx.owner} is over a limit for [Resource {name} is over limit of "
            f"{limit} due to current usage {usage} and delta {delta}]"
        )


def usage_report(conf: GlanceConf, tx: Tx, ctx: Context) -> dict[str, dict[str, int]]:
    """``GET /v2/info/usage``: usage and limit per resource (empty without unified limits)."""
    if not conf.use_keystone_limits:
        return {}
    usage = tx.usage(ctx.owner)
    return {
        name: {"usage": value, "limit": limit_for(conf, ctx, name)} for name, value in usage.items()
    }
