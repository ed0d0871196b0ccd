"""``/etc/keystone/keystone.conf`` as the sim's Keystone reads it at start.

Only the options the sim acts on are read; each keeps Zed's default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labkit.sim.core.conf import ConfFile

CONF_PATH = "/etc/keystone/keystone.conf"


@dataclass(frozen=True)
class KeystoneConf:
    database_connection: str
    key_repository: str = "/etc/keystone/fernet-keys/"
    token_expiration: int = 3600
    password_hash_rounds: int = 12
    token_provider: str = "fernet"

    @classmethod
    def read(cls, path: Path) -> KeystoneConf:
        conf = ConfFile.read(path)
        return cls(
            database_connection=conf.get("database", "connection"),
            key_repository=conf.get(
                "fernet_tokens", "key_repository", "/etc/keystone/fernet-keys/"
            ),
            token_expiration=conf.get_int("token", "expiration", 3600),
            password_hash_rounds=conf.get_int("identity", "password_hash_rounds", 12),
            token_provider=conf.get("token", "provider", "fernet") or "fernet",
        )
