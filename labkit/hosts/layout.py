"""Names and paths of an env's local lab hosts (pure: computing them touches nothing).

Every kernel object labkit makes for an env carries the prefix ``lk<tag>``, where ``tag`` is
derived from the env's state folder. So two envs -- or the same env file brought up in two
state folders, as the real tests do -- never share a name, ``down`` can find everything by
prefix even if its records were lost, and all names fit Linux's 15-character limit
(IFNAMSIZ): bridge ``lk<tag>br``, machine side of host i's veth ``lk<tag>v<i>`` (the host's eth0,
management) and ``lk<tag>p<i>`` (the host's eth1, provider), host i's network namespace
``lk<tag>n<i>``.

Folders: ``<state root>/<env>/hosts/<host>/root`` is a host's Debian root; the cache
(``LABKIT_CACHE_DIR`` or ``<state root>/cache``) keeps the rootfs tarball and the apt proxy's
.deb files, shared by every env and kept by ``down``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from labkit.config import StatePaths, default_state_root
from labkit.envs import SshEnv

IFNAMSIZ = 15  # usable characters of a Linux interface name
PROXY_PORT = 3142  # apt-cacher-ng's port: what people expect an apt proxy on


@dataclass(frozen=True)
class LocalHost:
    name: str
    index: int
    address: str
    netns: str
    veth: str  # the machine's end of the host's veth pair, enslaved to the bridge
    base: Path  # <state>/<env>/hosts/<name>
    # The machine's end of the host's second veth pair: the host's ``eth1``, its provider
    # interface (no address; Neutron's Linux bridge agent plugs guests into it).
    provider_veth: str = ""

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def console_log(self) -> Path:
        """What the host's init and sshd print: the first place to look when a host fails."""
        return self.base / "console.log"


@dataclass(frozen=True)
class LocalLayout:
    env_name: str
    tag: str
    bridge: str
    gateway: str
    cidr: str
    prefixlen: int
    hosts: tuple[LocalHost, ...]
    base: Path  # <state>/<env>/hosts
    cache: Path

    @property
    def prefix(self) -> str:
        return f"lk{self.tag}"

    @property
    def proxy_port(self) -> int:
        return PROXY_PORT

    @property
    def proxy_url(self) -> str:
        return f"http://{self.gateway}:{PROXY_PORT}/"

    @property
    def proxy_name(self) -> str:
        """Marker on the proxy's command line, so ``down`` finds it without its pid file."""
        return f"{self.prefix}-apt-proxy"

    @property
    def proxy_pidfile(self) -> Path:
        return self.base / "apt-proxy.pid"

    @property
    def proxy_log(self) -> Path:
        return self.base / "apt-proxy.log"

    @property
    def rootfs_cache(self) -> Path:
        return self.cache / "rootfs"

    @property
    def apt_cache(self) -> Path:
        return self.cache / "apt"

    def host(self, name: str) -> LocalHost:
        return next(h for h in self.hosts if h.name == name)


def default_cache_dir(state_root: Path | None = None) -> Path:
    if os.environ.get("LABKIT_CACHE_DIR"):
        return Path(os.environ["LABKIT_CACHE_DIR"]).expanduser()
    return (state_root or default_state_root()) / "cache"


def tag_for(state_folder: Path) -> str:
    """Six hex characters derived from the env's state folder (stable across runs)."""
    return hashlib.sha256(str(state_folder.resolve()).encode()).hexdigest()[:6]


def layout(
    env: SshEnv, state_root: Path | None = None, cache_dir: Path | None = None
) -> LocalLayout:
    paths = StatePaths.for_env(env.name, state_root)
    tag = tag_for(paths.root)
    net = ipaddress.ip_network(env.management_network.cidr)
    base = paths.root / "hosts"
    hosts = tuple(
        LocalHost(
            name=h.name,
            index=i,
            address=h.address,
            netns=f"lk{tag}n{i}",
            veth=f"lk{tag}v{i}",
            base=base / h.name,
            provider_veth=f"lk{tag}p{i}",
        )
        for i, h in enumerate(env.hosts)
    )
    out = LocalLayout(
        env_name=env.name,
        tag=tag,
        bridge=f"lk{tag}br",
        gateway=env.management_network.gateway,
        cidr=str(net),
        prefixlen=net.prefixlen,
        hosts=hosts,
        base=base,
        cache=cache_dir or default_cache_dir(state_root),
    )
    for name in [
        out.bridge,
        *(h.veth for h in hosts),
        *(h.provider_veth for h in hosts),
        *(h.netns for h in hosts),
    ]:
        assert len(name) <= IFNAMSIZ, name
    return out
