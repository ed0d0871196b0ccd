"""Debian roots for local lab hosts: debootstrap once, cache a tarball, unpack per host.

``debootstrap --variant=minbase`` plus the few packages every later layer needs takes ~45 s
and ~300 MB; the result is cached as a zstd tarball (name = hash of suite, mirror and
package list, so changing any of them rebuilds it), and each host's root is unpacked from it
in a few seconds. debootstrap itself runs in private mount/PID/UTS namespaces: the proc and
sys it mounts in the target, and any daemon a package script might start, vanish with it.
It creates its own device nodes with mknod -- the machine's /dev is never bind-mounted.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from labkit.envs import SshEnv
from labkit.hosts import files
from labkit.hosts.aptsources import AptSource
from labkit.hosts.errors import LocalHostsError
from labkit.hosts.keys import KeyPair, new_ed25519
from labkit.hosts.layout import LocalHost, LocalLayout

ROOTFS_FORMAT = 1  # bump when the scrubbing or the tarball's layout changes
SUITES = {"debian-12-zed": "bookworm"}
PACKAGES = (
    # reach and run the host
    "openssh-server",
    "sudo",
    "python3",
    "procps",
    "iproute2",
    "iputils-ping",
    "netbase",
    # what the installers and learners use on every host
    "crudini",
    "curl",
    "ca-certificates",
    "less",
)
INIT_PATH = "usr/local/sbin/labkit-init"
DEBOOTSTRAP_TIMEOUT = 1200.0


def debian_arch() -> str:
    machine = platform.machine()
    return {
        "x86_64": "amd64",
        "aarch64": "arm64",
        "armv7l": "armhf",
        "ppc64le": "ppc64el",
        "s390x": "s390x",
        "i686": "i386",
    }.get(machine, machine)


def tarball_name(suite: str, mirror: str, packages: tuple[str, ...], arch: str) -> str:
    digest = hashlib.sha256(
        "\n".join([str(ROOTFS_FORMAT), suite, mirror, arch, *sorted(packages)]).encode()
    ).hexdigest()[:10]
    return f"debian-{suite}-{arch}-minbase-{digest}.tar.zst"


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path`` in this machine's mount table."""
    prefix = str(path.resolve())
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mount_point = line.split()[4].replace("\\040", " ")
        if mount_point == prefix or mount_point.startswith(prefix + "/"):
            found.append(mount_point)
    return found


def remove_tree(path: Path) -> None:
    """``rm -rf`` that refuses to run when anything is mounted below ``path``.

    A root with the machine's /dev or /proc still mounted in it must never be deleted
    recursively; ``--one-file-system`` is a second guard.
    """
    if not path.exists() and not path.is_symlink():
        return
    mounted = mounts_under(path)
    if mounted:
        raise LocalHostsError(
            f"Not deleting {path}: something is still mounted below it: {', '.join(mounted)}",
            "Unmount it (`umount -l PATH`), then run `labkit hosts down ENV` again.",
        )
    subprocess.run(["rm", "-rf", "--one-file-system", "--", str(path)], check=True)


def _tail_file(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def ensure_tarball(
    lay: LocalLayout,
    env: SshEnv,
    mirror: str,
    say: Callable[[str], None],
) -> tuple[Path, bool]:
    """The cached rootfs tarball, building it if missing. Returns ``(path, built_now)``."""
    suite = SUITES[env.distro]
    arch = debian_arch()
    target = lay.rootfs_cache / tarball_name(suite, mirror, PACKAGES, arch)
    if target.is_file():
        return target, False
    lay.rootfs_cache.mkdir(parents=True, exist_ok=True)
    work = lay.rootfs_cache / f".build-{os.getpid()}"
    remove_tree(work)
    log = lay.rootfs_cache / "debootstrap.log"
    say(
        f"debootstrap {suite} ({arch}, minbase + {len(PACKAGES)} packages) from {mirror}; "
        f"log: {log}"
    )
    cmd = [
        "unshare",
        "--mount",
        "--uts",
        "--pid",
        "--fork",
        "--kill-child",
        "--propagation",
        "private",
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        f"--arch={arch}",
        suite,
        str(work),
        mirror,
    ]
    try:
        with log.open("w") as fh:
            done = subprocess.run(
                cmd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=DEBOOTSTRAP_TIMEOUT,
            )
        if done.returncode != 0:
            raise LocalHostsError(
                f"debootstrap failed (exit {done.returncode}); last lines of {log}:\n"
                f"{_tail_file(log)}",
                f"Check that this machine reaches {mirror} (`apt-get update` works?); "
                "then run `labkit hosts up ENV` again.",
            )
        _scrub(work)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        subprocess.run(
            [
                "tar",
                "--numeric-owner",
                "--xattrs",
                "--xattrs-include=*",
                "-I",
                _compressor(),
                "-C",
                str(work),
                "-cf",
                str(tmp),
                ".",
            ],
            check=True,
        )
        tmp.replace(target)
    finally:
        remove_tree(work)
    return target, True


def _compressor() -> str:
    if not shutil.which("zstd"):
        raise LocalHostsError(
            "zstd is missing on this machine (it compresses the root cache).",
            "Install it: `apt-get install -y zstd`.",
        )
    return "zstd -T0 -3 -q"


def _scrub(root: Path) -> None:
    """Remove what must differ per host or only bloats the cache."""
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()  # every host gets its own keys, made by labkit
    for deb in (root / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    lists = root / "var/lib/apt/lists"
    for item in lists.iterdir() if lists.is_dir() else []:
        if item.is_file() and item.name != "lock":
            item.unlink()
    for name in ("etc/hostname", "etc/resolv.conf"):
        (root / name).unlink(missing_ok=True)


def extract(tarball: Path, host: LocalHost) -> None:
    host.base.mkdir(parents=True, exist_ok=True)
    tmp = host.base / ".root.tmp"
    remove_tree(tmp)
    tmp.mkdir(mode=0o755)
    subprocess.run(
        [
            "tar",
            "--numeric-owner",
            "--xattrs",
            "--xattrs-include=*",
            "-I",
            "zstd -q",
            "-C",
            str(tmp),
            "-xpf",
            str(tarball),
        ],
        check=True,
    )
    tmp.replace(host.root)


def _put(root: Path, rel: str, content: str | bytes, mode: int) -> None:
    """Write a file inside ``root`` without ever following a symlink out of it."""
    dest = root / rel
    parent = dest.parent
    parent.mkdir(parents=True, exist_ok=True)
    if not parent.resolve().is_relative_to(root.resolve()):
        raise LocalHostsError(
            f"{parent} leads outside the host's root {root}; not writing.",
            "Remove the host (`labkit hosts down ENV`) and bring it up again.",
        )
    if dest.is_symlink():
        dest.unlink()
    data = content.encode() if isinstance(content, str) else content
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(dest, mode)


def configure(
    root: Path,
    env: SshEnv,
    host: LocalHost,
    lay: LocalLayout,
    sources: list[AptSource],
    lab_public_key: str,
    init_program: str,
    ssh_port: int,
) -> str:
    """Write the host's identity, network, apt and ssh files; returns its host key line.

    The host key is made once per root (kept when a stopped host is brought up again).
    """
    _put(root, "etc/hostname", files.hostname(host.name), 0o644)
    _put(root, "etc/hosts", files.etc_hosts(env, host.name), 0o644)
    _put(root, "etc/resolv.conf", files.resolv_conf(env, host.name), 0o644)
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    _put(root, "etc/apt/sources.list.d/debian.sources", files.apt_sources(sources), 0o644)
    _put(root, "etc/apt/apt.conf.d/01labkit-proxy", files.apt_proxy(lay.proxy_url), 0o644)
    _put(root, "etc/dpkg/dpkg.cfg.d/01labkit-unsafe-io", files.dpkg_unsafe_io(), 0o644)
    _put(root, "etc/dpkg/dpkg.cfg.d/02labkit-no-docs", files.dpkg_no_docs(), 0o644)
    # Python modules byte-compiled once per apt run instead of once per package.
    _put(root, files.PY3COMPILE_SHIM, files.py3compile_shim(), 0o755)
    _put(root, files.PY3COMPILE_RUN, files.py3compile_queued(), 0o755)
    _put(root, files.PY3COMPILE_HOOK, files.apt_py3compile_hook(), 0o644)
    _put(
        root, "etc/ssh/sshd_config.d/labkit.conf", files.sshd_config(host.address, ssh_port), 0o644
    )
    (root / "root/.ssh").mkdir(mode=0o700, exist_ok=True)
    _put(root, "root/.ssh/authorized_keys", files.authorized_keys(lab_public_key), 0o600)
    _put(root, INIT_PATH, init_program, 0o755)
    key_file = root / "etc/ssh/ssh_host_ed25519_key"
    pub_file = root / "etc/ssh/ssh_host_ed25519_key.pub"
    if key_file.is_file() and pub_file.is_file() and not pub_file.is_symlink():
        return pub_file.read_text().strip()
    pair: KeyPair = new_ed25519(f"root@{host.name}")
    _put(root, "etc/ssh/ssh_host_ed25519_key", pair.private_openssh, 0o600)
    _put(root, "etc/ssh/ssh_host_ed25519_key.pub", pair.public_line + "\n", 0o644)
    return pair.public_line
