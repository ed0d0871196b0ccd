"""The files labkit writes into a local lab host's root (pure renderers).

Each returns the file's text; :mod:`labkit.hosts.rootfs` writes them. Kept apart so tests can
read exactly what a host gets.
"""

from __future__ import annotations

from labkit.envs import SshEnv
from labkit.hosts.aptsources import AptSource

HEADER = (
    "# Written by labkit (local lab host {host} of env {env}); `labkit hosts up` rewrites it.\n"
)


def etc_hosts(env: SshEnv, host: str) -> str:
    """All the env's hosts by name: RabbitMQ's node name needs the short hostname to
    resolve, and every service finds the controller as ``controller``."""
    lines = [
        HEADER.format(host=host, env=env.name).rstrip("\n"),
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
        "",
    ]
    for h in env.hosts:
        names = [h.name]
        if "controller" in h.roles and h.name != "controller":
            names.append("controller")
        lines.append(f"{h.address}\t{' '.join(names)}")
    return "\n".join(lines) + "\n"


def hostname(host: str) -> str:
    return f"{host}\n"


def resolv_conf(env: SshEnv, host: str) -> str:
    # No DNS server on the lab network: lookups of names not in /etc/hosts fail at once
    # (nothing answers on 127.0.0.1:53) instead of hanging for timeouts.
    return HEADER.format(host=host, env=env.name) + (
        "# No name server: lab names are in /etc/hosts; apt reaches mirrors through the\n"
        "# apt proxy on the gateway, which resolves them.\n"
    )


def apt_proxy(proxy_url: str) -> str:
    return (
        "// Written by labkit: apt reaches the machine's mirrors through labkit's caching\n"
        "// proxy on the lab gateway (no NAT: this host has no other way out).\n"
        f'Acquire::http::Proxy "{proxy_url}";\n'
    )


def dpkg_unsafe_io() -> str:
    """dpkg without an fsync per unpacked file. A lab host's root is thrown away by
    ``hosts down`` and made again from the cached tarball, so a crash mid-install loses
    nothing worth the wait, while the fsyncs make dpkg wait on the disk for each of the
    tens of thousands of files the OpenStack packages unpack."""
    return (
        "# Written by labkit: lab host roots are disposable; skip dpkg's per-file fsync.\n"
        "force-unsafe-io\n"
    )


def apt_sources(sources: list[AptSource]) -> str:
    """deb822 sources with http URIs (the proxy upgrades to https where the machine does)."""
    stanzas = []
    for src in sources:
        lines = [
            "Types: deb",
            f"URIs: {src.http_uri}",
            f"Suites: {' '.join(src.suites)}",
            f"Components: {' '.join(src.components)}",
        ]
        if src.signed_by and "\n" not in src.signed_by:
            lines.append(f"Signed-By: {src.signed_by}")
        stanzas.append("\n".join(lines))
    return "# Written by labkit: the machine's mirrors, reached through the apt proxy.\n" + (
        "\n\n".join(stanzas) + "\n"
    )


def sshd_config(address: str, port: int) -> str:
    """sshd drop-in: the lab's key only, on the host's management address only."""
    return (
        "# Written by labkit: only the lab's key logs in, on the management address.\n"
        f"ListenAddress {address}:{port}\n"
        "HostKey /etc/ssh/ssh_host_ed25519_key\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UseDNS no\n"
        "PidFile /run/sshd.pid\n"
    )


def authorized_keys(public_line: str) -> str:
    return f"{public_line.strip()}\n"
