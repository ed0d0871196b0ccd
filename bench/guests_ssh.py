"""Guests you can SSH into: boot -> login, 100 guests at once, 100 concurrent sessions.

Targets (issue 10), instant pace:
- boot -> SSH login ready (``server create`` through openstacksdk until ``lab.ssh`` runs a
  command in the guest, host key trusted from the console log): median < 300 ms;
- 100 guests up at once: report the time until every guest's sshd answers, and the sim's RSS
  and open file descriptors (RSS < 600 MiB);
- 100 concurrent SSH sessions (paramiko through the sim's gateway), each running one
  command: report p50 and p95.

There is no real counterpart on this machine (a real guest under TCG takes minutes to boot
and reach sshd), so the figures are the sim's alone.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import yaml

from bench.common import free_port, latency, load_note, process_cpu_seconds, repo_env
from labkit.lab import Lab
from labkit.sim import nc

GUESTS = 100


def _env(folder: Path) -> Path:
    """The sim env with bigger hosts and a guest pool wide enough for 100 guests."""
    env = yaml.safe_load(repo_env("sim").read_text())
    for host in env["hosts"]:
        host.update(cpus=32, ram_gb=128, disk_gb=2000)
    env["management_network"]["guest_pool"] = ["10.64.0.20", "10.64.0.250"]
    path = folder / "sim-guests.yaml"
    path.write_text(yaml.safe_dump(env))
    return path


def _prepare(lab: Lab) -> tuple[Any, Path]:
    """As demo: tcp/22 open in the default group, the learner's key imported."""
    conn = lab.connect("demo")
    admin = lab.connect("admin")
    admin.compute.update_quota_set(conn.current_project_id, instances=-1, cores=-1, ram=-1)
    admin.network.update_quota(conn.current_project_id, port=-1)
    group = conn.network.find_security_group("default", project_id=conn.current_project_id)
    conn.network.create_security_group_rule(
        security_group_id=group.id,
        direction="ingress",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="0.0.0.0/0",
    )
    key = lab.ssh_key()
    conn.compute.create_keypair(name="bench", public_key=key.with_suffix(".pub").read_text())
    return conn, key


def boot_to_login(lab: Lab, conn: Any, key: Path, count: int = 10) -> tuple[list[float], float]:
    """Boot -> ``lab.ssh(...)`` ran ``hostname``, one server after the other (each deleted
    after). Returns the latencies in ms and the sim's CPU ms per boot-to-login (the deletes
    included): on a busy machine the CPU figure is the one that stays put."""
    flavor = conn.compute.find_flavor("m1.nano")
    image = conn.image.find_image("cirros")
    pid = lab.sim.health()["pid"]
    cpu_before = process_cpu_seconds(pid)
    samples = []
    for n in range(count):
        started = time.perf_counter()
        server = conn.compute.create_server(
            name=f"login-{n}",
            flavor_id=flavor.id,
            image_id=image.id,
            key_name="bench",
            networks="auto",
        )
        while conn.compute.get_server(server.id).status != "ACTIVE":
            time.sleep(0.002)
        output = lab.ssh(server.id, key=key, command="hostname", timeout=10)
        samples.append((time.perf_counter() - started) * 1000)
        assert getattr(output, "ok", False), output
        conn.compute.delete_server(server)
    return samples, (process_cpu_seconds(pid) - cpu_before) * 1000 / count


def _answers(gateway: tuple[str, int], address: str) -> bool:
    try:
        sock = nc.open_connection(gateway, address, 22, timeout=2)
    except Exception:
        return False
    try:
        sock.settimeout(2)
        return sock.recv(8).startswith(b"SSH-")
    except OSError:
        return False
    finally:
        sock.close()


def many_guests(lab: Lab, conn: Any, key: Path) -> None:
    flavor = conn.compute.find_flavor("m1.nano")
    image = conn.image.find_image("cirros")
    sim = psutil.Process(lab.sim.health()["pid"])
    rss_before = sim.memory_info().rss
    started = time.perf_counter()
    conn.compute.create_server(
        name="many",
        flavor_id=flavor.id,
        image_id=image.id,
        key_name="bench",
        networks="auto",
        min_count=GUESTS,
        max_count=GUESTS,
    )
    deadline = time.monotonic() + 300
    servers: list[Any] = []
    while time.monotonic() < deadline:
        servers = [s for s in conn.compute.servers(details=True) if s.name.startswith("many")]
        if len(servers) == GUESTS and all(s.status in ("ACTIVE", "ERROR") for s in servers):
            break
        time.sleep(0.2)
    active = [s for s in servers if s.status == "ACTIVE"]
    addresses = [a["addr"] for s in active for net in s.addresses.values() for a in net]
    gateway = nc.gateway_address(lab.paths.root)
    waiting = set(addresses)
    while waiting and time.monotonic() < deadline:
        waiting = {a for a in waiting if not _answers(gateway, a)}
    took = time.perf_counter() - started
    rss = sim.memory_info().rss
    print(
        f"{GUESTS} guests at once: {len(active)} ACTIVE, {len(addresses) - len(waiting)} sshd "
        f"answering after {took:.1f} s; sim RSS {rss / 2**20:.0f} MiB "
        f"(+{(rss - rss_before) / 2**20:.0f} MiB for the guests; "
        f"{rss / 2**20 / 600:.2f}x of the 600 MiB limit), {sim.num_fds()} open fds"
    )

    failures: list[str] = []
    targets = [lab.access.target(server.id) for server in active]
    for target in targets:  # host keys recorded first: the sessions measure SSH itself
        lab.access.trust_host_keys(target)

    def session(target: Any) -> float:
        """One login and one command over SSH, as a client on the learner's machine does
        it: through the gateway, strict host keys, the key pair's private key."""
        import paramiko

        t0 = time.perf_counter()
        client = paramiko.SSHClient()
        try:
            client.load_host_keys(str(lab.access.known_hosts))
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
            sock = nc.open_connection(gateway, target.address, 22, timeout=30)
            client.connect(
                target.address,
                username=target.user,
                key_filename=str(key),
                sock=sock,
                allow_agent=False,
                look_for_keys=False,
                timeout=30,
                banner_timeout=30,
                auth_timeout=30,
            )
            _, stdout, _ = client.exec_command("uptime", timeout=30)
            if stdout.channel.recv_exit_status() != 0:
                failures.append(f"{target.address}: uptime failed")
        except Exception as exc:  # a bench reports, it does not stop
            failures.append(f"{target.address}: {exc}")
        finally:
            client.close()
        return (time.perf_counter() - t0) * 1000

    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        t0 = time.perf_counter()
        samples = list(pool.map(session, targets))
        wall = time.perf_counter() - t0
    print(
        latency(samples).line(f"{len(samples)} concurrent SSH sessions (login + 1 cmd)")
        + f"; all done in {wall:.1f} s, sim fds {sim.num_fds()}, {len(failures)} failed"
    )
    for failure in failures[:5]:
        print(f"  failed: {failure.splitlines()[0]}")


def run() -> None:
    print(load_note())
    with tempfile.TemporaryDirectory(prefix="bench-guests-") as tmp:
        root = Path(tmp)
        lab = Lab.from_env(str(_env(root)), state_root=root / "state", sim_port=free_port())
        lab.ensure("nova-compute")
        try:
            conn, key = _prepare(lab)
            samples, cpu_ms = boot_to_login(lab, conn, key)
            median = statistics.median(samples)
            print(
                f"boot -> SSH login ready (instant pace, n={len(samples)}): median "
                f"{median:.0f} ms, max {max(samples):.0f} ms, sim CPU {cpu_ms:.0f} ms a boot "
                f"({median / 300:.2f}x of the 300 ms target)",
                flush=True,
            )
            many_guests(lab, conn, key)
        finally:
            from labkit.sim import process

            process.stop(lab.paths)
