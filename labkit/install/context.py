"""What a plan needs to know about where it installs: hosts, addresses, endpoint URLs.

On real hosts the services listen where the Install Guide puts them (``controller:5000``,
``controller:9292``). In the sim every service shares one loopback port under DevStack-style
paths, so the URLs registered in the catalog are the sim's.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit import config
from labkit.envs import Host, SimEnv, SshEnv


@dataclass(frozen=True)
class PlanContext:
    env_name: str
    kind: str  # "sim" | "ssh"
    controller: Host
    hosts: tuple[Host, ...]
    region: str
    network_cidr: str
    identity_url: str  # what bootstrap registers, e.g. http://controller:5000/v3/
    image_url: str
    placement_url: str  # the catalog's placement endpoint
    compute_url: str  # the catalog's compute endpoint (v2.1, no project id)
    network_url: str  # the catalog's network endpoint (sdk appends /v2.0)
    hash_rounds: int | None  # keystone.conf [identity] password_hash_rounds, when set
    local: bool = False  # local lab hosts (labkit hosts up): no CAP_SYS_TIME, shared clock
    # The flat provider network guests use: the management network's router, the addresses
    # Neutron may hand out, and the hosts' interface on that network: ``eth0`` on the sim's
    # hosts (envs do not name interfaces yet), ``eth1`` on local lab hosts, which get a
    # second, address-less interface on the lab's bridge (the Install Guide's management +
    # provider layout; see labkit.hosts.netns.ensure_host_net).
    network_gateway: str = "10.64.0.1"
    guest_pool: tuple[str, str] = ("10.64.0.100", "10.64.0.199")
    provider_interface: str = "eth0"

    @property
    def workers(self) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if "worker" in h.roles)

    @classmethod
    def for_env(cls, env: SimEnv | SshEnv, sim_port: int | None = None) -> PlanContext:
        if isinstance(env, SimEnv):
            base = f"http://127.0.0.1:{config.sim_port(sim_port, env.sim.port)}"
            identity, image = f"{base}/identity/v3/", f"{base}/image"
            placement, compute = f"{base}/placement", f"{base}/compute/v2.1"
            network = f"{base}/networking"
            rounds: int | None = env.sim.password_hash_rounds
        else:
            # The Install Guide registers http://controller:5000; labkit registers the
            # controller's address so that a laptop reaches every endpoint without an
            # /etc/hosts entry for "controller".
            address = env.controller.address
            identity, image = f"http://{address}:5000/v3/", f"http://{address}:9292"
            placement, compute = f"http://{address}:8778", f"http://{address}:8774/v2.1"
            network = f"http://{address}:9696"
            rounds = None
        return cls(
            env_name=env.name,
            kind=env.kind,
            controller=env.controller,
            hosts=env.hosts,
            region=env.region,
            network_cidr=env.management_network.cidr,
            identity_url=identity,
            image_url=image,
            placement_url=placement,
            compute_url=compute,
            network_url=network,
            hash_rounds=rounds,
            local=isinstance(env, SshEnv) and env.local,
            network_gateway=env.management_network.gateway,
            guest_pool=env.management_network.guest_pool,
            provider_interface="eth1" if isinstance(env, SshEnv) and env.local else "eth0",
        )
