"""``/etc/placement/placement.conf`` as the sim's Placement reads it at start.

Only the options the sim acts on, each with Zed's default. Debian's file (copied from
``/usr/share/placement-common/placement.conf`` when placement-common is installed) names no
database and says ``region_name = regionOne`` in ``[keystone_authtoken]``: the Install
Guide's edits fix the first, labkit's plan the second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from labkit.sim.core.authtoken import AuthTokenConf
from labkit.sim.core.conf import ConfError, ConfFile

CONF_PATH = "/etc/placement/placement.conf"
UWSGI_PATH = "/etc/placement/placement-api-uwsgi.ini"
MISSING_ID = "00000000-0000-0000-0000-000000000000"  # incomplete_consumer_*_id defaults


@dataclass(frozen=True)
class PlacementConf:
    database_connection: str = ""
    auth_strategy: str = "keystone"  # [api] auth_strategy: keystone | noauth2
    allocation_conflict_retry_count: int = 10
    randomize_allocation_candidates: bool = False
    incomplete_consumer_project_id: str = MISSING_ID
    incomplete_consumer_user_id: str = MISSING_ID
    authtoken: AuthTokenConf = field(default_factory=AuthTokenConf)

    @classmethod
    def read(cls, path: Path) -> PlacementConf:
        conf = ConfFile.read(path)
        strategy = conf.get("api", "auth_strategy", "keystone") or "keystone"
        if strategy not in ("keystone", "noauth2"):
            raise ConfError(
                f"placement.conf [api] auth_strategy: Value {strategy} is not in choices "
                "['keystone', 'noauth2']"
            )
        return cls(
            database_connection=conf.get("placement_database", "connection"),
            auth_strategy=strategy,
            allocation_conflict_retry_count=conf.get_int(
                "placement", "allocation_conflict_retry_count", 10
            ),
            randomize_allocation_candidates=conf.get_bool(
                "placement", "randomize_allocation_candidates", False
            ),
            incomplete_consumer_project_id=conf.get(
                "placement", "incomplete_consumer_project_id", MISSING_ID
            ),
            incomplete_consumer_user_id=conf.get(
                "placement", "incomplete_consumer_user_id", MISSING_ID
            ),
            authtoken=AuthTokenConf.from_conf(conf),
        )
