"""Local lab hosts for real: up, strict SSH, names, apt through the proxy, isolation, down.

Runs as root on a Linux machine that can debootstrap (``make test-real``). The env is the
shipped ``envs/lab-local.yaml``, brought up into a temporary state folder; the rootfs and apt
cache are the usual shared ones (LABKIT_CACHE_DIR or the default state root's cache), so only
the first run ever pays for debootstrap.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from labkit.envs import SshEnv, load_env
from labkit.hosts import local, netns, preflight
from labkit.hosts.errors import HostKeyUnknown
from labkit.hosts.layout import LocalLayout, default_cache_dir, layout
from labkit.hosts.rootfs import mounts_under
from labkit.hosts.ssh import HostConnection, trust

pytestmark = pytest.mark.real

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Lab:
    env: SshEnv
    state_root: Path
    lay: LocalLayout
    kvm_before: tuple[int, int, int] | None
    ip_forward_before: str


def _kvm() -> tuple[int, int, int] | None:
    try:
        st = os.stat("/dev/kvm")
    except FileNotFoundError:
        return None
    return st.st_mode, st.st_uid, st.st_gid


def _ip_forward() -> str:
    return Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()


def _steps(timings: list[tuple[str, float]]) -> str:
    return "; ".join(f"{title} {took:.1f} s" for title, took in timings if took >= 0.05)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, real_timings: list[str]) -> Iterator[Lab]:
    env = load_env(REPO / "envs" / "lab-local.yaml")
    assert isinstance(env, SshEnv) and env.local
    state_root = tmp_path_factory.mktemp("real-hosts")
    cache = default_cache_dir()
    kvm, forward = _kvm(), _ip_forward()
    started = time.monotonic()
    report = local.up(env, state_root=state_root, cache_dir=cache)
    real_timings.append(f"first up: {time.monotonic() - started:.1f} s ({_steps(report.timings)})")
    lab = Lab(env, state_root, layout(env, state_root, cache), kvm, forward)
    yield lab
    if local.leftovers(env, state_root=state_root, cache_dir=cache):  # a test failed early
        local.down(env, state_root=state_root, cache_dir=cache)


def _conn(lab: Lab, host: str) -> HostConnection:
    return HostConnection.for_host(lab.env, host, state_root=lab.state_root)


def test_second_up_finds_the_hosts_running(lab: Lab, real_timings: list[str]) -> None:
    started = time.monotonic()
    report = local.up(lab.env, state_root=lab.state_root, cache_dir=lab.lay.cache)
    real_timings.append(f"second up: {time.monotonic() - started:.1f} s")
    titles = [title for title, _ in report.timings]
    # No host is unpacked, debootstrapped or booted again ("bootable guest images" is the
    # guest images' cache lookup, which every up makes).
    assert not [t for t in titles if re.search(r"\b(unpack|boot|debootstrap)\b", t)], titles
    assert [h.state for h in report.hosts] == ["running", "running"]


def test_each_host_has_its_name_and_debian_12(lab: Lab) -> None:
    for host in lab.env.hosts:
        with _conn(lab, host.name) as conn:
            assert conn.run("hostname").stdout.strip() == host.name
            os_release = conn.read_file("/etc/os-release")
            assert 'VERSION_ID="12"' in os_release and "ID=debian" in os_release
            assert conn.run("cat /proc/1/cmdline").stdout.startswith("/usr/bin/python3")


def test_an_unknown_key_is_refused_by_a_real_host(lab: Lab, tmp_path: Path) -> None:
    conn = _conn(lab, "controller")
    conn.target = dataclasses.replace(conn.target, known_hosts=tmp_path / "empty")
    with pytest.raises(HostKeyUnknown, match="labkit hosts trust"):
        conn.connect()


def test_worker_resolves_and_reaches_controller(lab: Lab) -> None:
    with _conn(lab, "worker1") as conn:
        assert conn.run("getent hosts controller").stdout.split()[0] == "10.64.0.2"
        conn.run("ping -c 1 -W 2 controller")
        reach = "python3 -c \"import socket; socket.create_connection(('controller', 22), 3)\""
        conn.run(reach)


def test_apt_works_through_the_proxy(lab: Lab, real_timings: list[str]) -> None:
    lines: list[str] = []
    for host in lab.env.hosts:
        with _conn(lab, host.name) as conn:
            assert "10.64.0.1:3142" in conn.run("apt-config dump Acquire::http::Proxy").stdout
            started = time.monotonic()
            conn.run("apt-get update", timeout=300, on_output=lambda _s, line: lines.append(line))
            real_timings.append(
                f"apt-get update on {host.name}: {time.monotonic() - started:.1f} s"
            )
            # a small package end to end: index, download through the proxy, install
            conn.run("DEBIAN_FRONTEND=noninteractive apt-get install -y -q hello", timeout=300)
            assert "Hello, world!" in conn.run("hello").stdout
    assert any("InRelease" in line for line in lines)
    assert any(lab.lay.apt_cache.rglob("hello_*.deb"))


def test_packages_come_without_docs_and_byte_compiled_once(lab: Lab) -> None:
    """A python3 package installed by apt (one the root's tarball does not have): its docs
    left out but its copyright kept, its modules byte-compiled (by the queue apt runs after
    dpkg, not by its postinst), the queue empty afterwards; py3compile called by hand is
    Debian's."""

    def compiled() -> str:
        listing = "ls /usr/lib/python3/dist-packages/idna/__pycache__ 2>/dev/null"
        return str(conn.run(listing, check=False).stdout)

    with _conn(lab, "controller") as conn:
        conn.run(
            "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "
            "python3-idna",
            timeout=300,
        )
        assert conn.run("ls /usr/share/doc/python3-idna").stdout.split() == ["copyright"]
        assert "core.cpython-3" in compiled()
        queue = conn.run("cat /var/lib/labkit/py3compile.queue", check=False)
        assert queue.exit_code != 0 or not queue.stdout.strip()
        assert conn.run("command -v py3compile").stdout.strip() == "/usr/bin/py3compile"
        # The postinst's call goes to the queue: reinstalled by an apt whose hook is
        # cleared, the module stays uncompiled and the call waits in the queue, until the
        # hook runs.
        conn.write_file("/tmp/no-hook.conf", "#clear DPkg::Post-Invoke;\n")
        conn.run(
            "py3clean -p python3-idna && DEBIAN_FRONTEND=noninteractive apt-get -c "
            "/tmp/no-hook.conf install -y -q --reinstall python3-idna",
            timeout=300,
        )
        assert "core.cpython-3" not in compiled()
        assert "-p python3-idna" in conn.run("cat /var/lib/labkit/py3compile.queue").stdout
        conn.run("/usr/local/sbin/labkit-py3compile-queued", timeout=300)
        assert "core.cpython-3" in compiled()
        assert conn.run("cat /var/lib/labkit/py3compile.queue", check=False).exit_code != 0


def test_hosts_have_no_way_out_but_the_proxy(lab: Lab) -> None:
    with _conn(lab, "controller") as conn:
        direct = conn.run("curl -sS -m 3 -o /dev/null http://151.101.2.132/", check=False)
        assert direct.exit_code != 0  # no NAT: the machine does not forward
    assert _ip_forward() == lab.ip_forward_before


def test_hosts_are_isolated_from_the_machine(lab: Lab) -> None:
    assert mounts_under(lab.state_root) == []  # every host mount is in its own namespace
    assert _kvm() == lab.kvm_before
    with _conn(lab, "controller") as conn:
        devices = set(conn.run("ls /dev").stdout.split())
        assert devices == {
            "fd",
            "full",
            "net",
            "null",
            "ptmx",
            "pts",
            "random",
            "shm",
            "stderr",
            "stdin",
            "stdout",
            "tty",
            "urandom",
            "zero",
        }
        assert conn.run("echo 1 > /proc/sys/vm/swappiness", check=False).exit_code != 0
        status = conn.read_file("/proc/self/status")
        bounding = int(status.split("CapBnd:")[1].split()[0], 16)
        assert not bounding & (1 << 16)  # CAP_SYS_MODULE: no kernel modules for the machine
        assert not bounding & (1 << 25)  # CAP_SYS_TIME: the machine's clock stays its own


def test_sudo_user_behind_a_jump_host(lab: Lab) -> None:
    """worker1 as a sudoer reached through the controller, as envs/lab-2node.yaml does."""
    with _conn(lab, "worker1") as conn:
        conn.run(
            "id debian >/dev/null 2>&1 || useradd -m -s /bin/bash debian; "
            "install -d -o debian -m 700 ~debian/.ssh; "
            "install -o debian -m 600 /root/.ssh/authorized_keys ~debian/.ssh/; "
            "echo 'debian ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/lab; "
            "chmod 440 /etc/sudoers.d/lab"
        )
    worker = lab.env.host("worker1")
    ssh = worker.ssh.model_copy(update={"user": "debian", "jump": "root@10.64.0.2"})
    hosts = (lab.env.controller, worker.model_copy(update={"ssh": ssh}))
    env = lab.env.model_copy(update={"hosts": hosts})
    assert [row.status for row in trust(env, state_root=lab.state_root)] == ["same"] * 3
    with HostConnection.for_host(env, "worker1", state_root=lab.state_root) as conn:
        assert conn.target.jump is not None
        assert conn.run("id -u").stdout.strip() == "0"  # through sudo -n
        assert conn.run("id -un", user="debian").stdout.strip() == "debian"
        conn.write_file("/etc/labkit-sudo-test", "written through sudo\n", 0o600)
        assert conn.read_file("/etc/labkit-sudo-test") == "written through sudo\n"


def test_preflight_has_no_failure(lab: Lab) -> None:
    rows = preflight.check(lab.env, state_root=lab.state_root)
    assert not preflight.failed(rows), [r for r in rows if r.status == "fail"]
    assert {r.check for r in rows} >= {
        "reachable",
        "host key known",
        "os release",
        "clock",
        "resolves controller",
        "port 5000",
    }


def test_down_leaves_nothing(lab: Lab, real_timings: list[str]) -> None:
    started = time.monotonic()
    timings = local.down(lab.env, state_root=lab.state_root, cache_dir=lab.lay.cache)
    real_timings.append(f"down: {time.monotonic() - started:.1f} s ({_steps(timings)})")
    assert local.leftovers(lab.env, state_root=lab.state_root, cache_dir=lab.lay.cache) == []
    assert not [n for n in netns.netns_names() if n.startswith(lab.lay.prefix)]
    assert netns.links_with_prefix(lab.lay.prefix) == []
    assert not lab.lay.base.exists()
    assert mounts_under(lab.state_root) == []
    assert _kvm() == lab.kvm_before
