"""What one sim process is: its folder, port, clock and the hosts it pretends to be.

``labkit sim up`` writes this as ``sim-config.json`` into the state folder and the server
process reads it back, so both sides agree without a long command line.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SimHost:
    name: str
    address: str
    roles: tuple[str, ...]
    cpus: int
    ram_gb: float
    disk_gb: float


@dataclass(frozen=True)
class SimConfig:
    state_dir: Path
    port: int
    env_name: str = "sim"
    bind: str = "127.0.0.1"
    region: str = "RegionOne"
    deterministic: bool = False
    seed: int = 2015
    password_hash_rounds: int = 4
    pace: float = 0.0  # seconds between a boot's steps (0 = instant)
    admin_password: str = "ADMIN_PASS"
    demo_password: str = "DEMO_PASS"
    network_cidr: str = "10.64.0.0/24"
    network_gateway: str = "10.64.0.1"
    guest_pool: tuple[str, str] = ("10.64.0.100", "10.64.0.199")
    hosts: tuple[SimHost, ...] = field(default_factory=tuple)

    @property
    def base_url(self) -> str:
        return f"http://{self.bind}:{self.port}"

    @property
    def controller(self) -> SimHost:
        return next(h for h in self.hosts if "controller" in h.roles)

    def to_json(self) -> str:
        data = asdict(self)
        data["state_dir"] = str(self.state_dir)
        return json.dumps(data, indent=2)

    @classmethod
    def from_json(cls, text: str) -> SimConfig:
        data: dict[str, Any] = json.loads(text)
        data["state_dir"] = Path(data["state_dir"])
        data["hosts"] = tuple(
            SimHost(**{**h, "roles": tuple(h["roles"])}) for h in data.get("hosts", [])
        )
        data["guest_pool"] = tuple(data.get("guest_pool", cls.guest_pool))
        return cls(**data)

    @classmethod
    def load(cls, state_dir: Path) -> SimConfig:
        return cls.from_json((state_dir / "sim-config.json").read_text())

    def save(self) -> Path:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.state_dir / "sim-config.json"
        path.write_text(self.to_json())
        return path
