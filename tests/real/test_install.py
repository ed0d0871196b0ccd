"""The installers for real: local lab hosts, then every layer over SSH -- base, Keystone,
Glance, Placement, Neutron (provider network, Linux bridge, DHCP and metadata agents), the
Nova controller and nova-compute on the controller and worker1.

Checks real results -- a token from the real Keystone, the same `openstack` commands as on
the sim, an active image in the real Glance, Nova's services and Neutron's agents up, a
server booted by real Nova on worker1 that got its address from the real dnsmasq -- then
that nothing changed on the machine outside the lab, that a second run changes nothing, that
the notebooks run against the real lab with papermill, and that `down` leaves nothing.
Timings per layer go to the session summary (``make test-real``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit import install
from labkit.envs import SshEnv, load_env
from labkit.hosts import local
from labkit.hosts.layout import default_cache_dir
from labkit.install.runner import CHANGED, DONE, VERIFIED
from labkit.lab import Lab

# Real installs take minutes per layer (apt, services starting on a shared 2-core machine):
# the suite's 300 s per test does not fit all seven layers in one test.
pytestmark = [pytest.mark.real, pytest.mark.timeout(2400)]

REPO = Path(__file__).resolve().parents[2]
ENV_FILE = REPO / "envs" / "lab-local.yaml"
ALL_LAYERS = (
    "base",
    "keystone",
    "glance",
    "placement",
    "networking",
    "nova-controller",
    "nova-compute",
)
LAYERS = [name for name in ALL_LAYERS if name in install.names()]
MACHINE: dict[str, object] = {}  # what the machine looked like before `hosts up`


# Links Neutron's agents and libvirt make; in the machine's own namespace they would be leaks.
LAB_LINK_PREFIXES = ("brq", "tap", "ns-", "vnet", "virbr", "qbr", "qvo", "qvb")


def _machine_state() -> dict[str, object]:
    """What the lab must not change outside its own namespaces: /dev/kvm and /dev/net/tun
    (owner and mode: a package script once chowned /dev/kvm through a bind mount), the
    machine's routes (beyond the lab bridge's), and no link of the kinds Neutron's agents
    and libvirt make. Other helpers' links are not compared: the machine is shared."""
    devices = {}
    for path in ("/dev/kvm", "/dev/net/tun"):
        if os.path.exists(path):
            st = os.stat(path)
            devices[path] = (st.st_mode, st.st_uid, st.st_gid, st.st_rdev)
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    routes = subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
    names = [line.split(":")[1].strip().split("@")[0] for line in links.splitlines()]
    return {
        "devices": devices,
        "lab-like links": sorted(n for n in names if n.startswith(LAB_LINK_PREFIXES)),
        "routes": sorted(r for r in routes.splitlines() if " dev lk" not in r),
    }


@pytest.fixture(scope="module")
def real_lab(tmp_path_factory: pytest.TempPathFactory, real_timings: list[str]) -> Iterator[Lab]:
    env = load_env(ENV_FILE)
    assert isinstance(env, SshEnv) and env.local
    state_root = tmp_path_factory.mktemp("real-install")
    # The machine's shared rootfs/apt cache, fixed before LABKIT_STATE_DIR moves to a temp
    # folder (the default cache lives under the state root); notebook kernels inherit it.
    os.environ.setdefault("LABKIT_CACHE_DIR", str(default_cache_dir()))
    os.environ["LABKIT_STATE_DIR"] = str(state_root)
    MACHINE.update(_machine_state())
    started = time.monotonic()
    local.up(env, state_root=state_root, cache_dir=default_cache_dir(), say=lambda _: None)
    real_timings.append(f"hosts up: {time.monotonic() - started:.1f} s")
    lab = Lab(env, state_root)
    lab.started = started  # type: ignore[attr-defined]
    yield lab
    if local.leftovers(env, state_root=state_root, cache_dir=default_cache_dir()):
        local.down(env, state_root=state_root, cache_dir=default_cache_dir())


def _install(real_lab: Lab, real_timings: list[str], layers: list[str]) -> None:
    for layer in layers:
        started = time.monotonic()
        results = real_lab.install(layer, show=False)
        real_timings.append(
            f"install {layer}: {time.monotonic() - started:.1f} s "
            f"({sum(r.status == CHANGED for r in results)} steps changed)"
        )
        assert all(r.status in (CHANGED, DONE, VERIFIED) for r in results)


def test_installers_run_layer_by_layer(real_lab: Lab, real_timings: list[str]) -> None:
    """Base, Keystone and Glance: what notebooks 01-03 build on."""
    _install(real_lab, real_timings, LAYERS[: LAYERS.index("glance") + 1])
    real_timings.append(f"hosts up -> glance: {time.monotonic() - real_lab.started:.1f} s")  # type: ignore[attr-defined]


def test_a_token_from_the_real_keystone(real_lab: Lab) -> None:
    conn = real_lab.connect("admin")
    access = conn.session.auth.get_access(conn.session)
    assert access.project_name == "admin" and "admin" in access.role_names
    assert access.auth_token.startswith("gAAAAA")


def _osc(real_lab: Lab, command: str, cloud: str = "lab-admin") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_CLIENT_CONFIG_FILE=str(real_lab.paths.clouds_yaml), OS_CLOUD=cloud)
    return subprocess.run(
        [str(Path(sys.executable).parent / "openstack"), *command.split()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_same_cli_commands_as_on_the_sim(real_lab: Lab) -> None:
    token = json.loads(_osc(real_lab, "token issue -f json").stdout)
    assert token["id"].startswith("gAAAAA")
    projects = {p["Name"] for p in json.loads(_osc(real_lab, "project list -f json").stdout)}
    assert {"admin", "service", "demo"} <= projects
    catalog = json.loads(_osc(real_lab, "catalog list -f json").stdout)
    assert "identity" in {c["Type"] for c in catalog}
    assignments = json.loads(_osc(real_lab, "role assignment list --names -f json").stdout)
    assert any(a["User"] == "demo@Default" and a["Role"] == "member" for a in assignments)
    denied = _osc(real_lab, "user create --password x evil", cloud="lab-demo")
    assert denied.returncode == 1
    assert "identity:create_user" in denied.stderr


NOTEBOOKS = REPO / "notebooks"
# What each notebook must show against the real lab, beyond finishing without an error.
REAL_EXPECTED = {
    "01-hosts": ["controller  mariadb", "bind-address = 10.64.0.2"],
    "02-keystone": ["| id         | gAAAAA", "ProjectScopedPayload, decrypted with key file"],
    "03-glance": [
        "trusty: queued -> importing -> active",
        "All match: the bytes Glance stored are the bytes the publisher signed off.",
        "/var/lib/glance/images/",
        "| trusty | active |",
    ],
}


def _outputs(nb: object) -> str:
    parts: list[str] = []
    for cell in nb.cells:  # type: ignore[attr-defined]
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out["text"])
            elif "data" in out:
                parts.append(str(out["data"].get("text/plain", "")))
    return "\n".join(parts)


def _papermill(
    real_lab: Lab,
    name: str,
    tmp_path: Path,
    real_timings: list[str],
    expected: list[str],
    env_file: Path = ENV_FILE,
) -> str:
    """Run notebook ``name`` with papermill against the real lab (its parameters cell
    selects the env); every ``expected`` text must be in its outputs."""
    import papermill

    # The kernel inherits LABKIT_STATE_DIR (set by the fixture): the notebooks use this
    # lab's state folder, secrets and known_hosts, not the default one.
    assert os.environ["LABKIT_STATE_DIR"] == str(real_lab.paths.root.parent)
    started = time.monotonic()
    nb = papermill.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(tmp_path / f"{name}.out.ipynb"),
        parameters={"env": str(env_file)},
        cwd=str(NOTEBOOKS),
        kernel_name="python3",
        progress_bar=False,
        execution_timeout=900,
    )
    real_timings.append(f"papermill {name}: {time.monotonic() - started:.1f} s")
    text = _outputs(nb)
    for want in expected:
        assert want in text, f"{name}: {want!r} not in the outputs"
    assert nb.metadata.papermill.exception is not True
    return text


@pytest.mark.parametrize("name", list(REAL_EXPECTED))
def test_notebooks_run_against_the_real_lab(
    real_lab: Lab, name: str, tmp_path: Path, real_timings: list[str]
) -> None:
    _papermill(real_lab, name, tmp_path, real_timings, REAL_EXPECTED[name])


def test_installers_for_placement_networking_and_nova(
    real_lab: Lab, real_timings: list[str]
) -> None:
    """The layers after Glance, once notebooks 01-03 ran against base, Keystone and Glance
    alone (as a learner meets them)."""
    _install(real_lab, real_timings, LAYERS[LAYERS.index("glance") + 1 :])
    real_timings.append(f"hosts up -> all layers: {time.monotonic() - real_lab.started:.1f} s")  # type: ignore[attr-defined]


def _json(real_lab: Lab, command: str) -> list[dict[str, object]]:
    done = _osc(real_lab, command + " -f json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _eventually(probe: object, timeout: float, interval: float = 3.0) -> object:
    """Call ``probe`` until it returns something truthy (bounded); return the last answer."""
    deadline = time.monotonic() + timeout
    answer = probe()  # type: ignore[operator]
    while not answer and time.monotonic() < deadline:
        time.sleep(interval)
        answer = probe()  # type: ignore[operator]
    return answer


def test_compute_services_are_up(real_lab: Lab) -> None:
    wanted = {
        ("nova-conductor", "controller"),
        ("nova-scheduler", "controller"),
        ("nova-compute", "controller"),
        ("nova-compute", "worker1"),
    }

    def up() -> set[tuple[str, str]]:
        rows = _json(real_lab, "compute service list")
        return {(str(r["Binary"]), str(r["Host"])) for r in rows if r["State"] == "up"}

    have = _eventually(lambda: wanted <= up() and up(), 90)
    assert have and wanted <= have, f"up: {have}"  # type: ignore[operator]
    hypervisors = {str(h["Hypervisor Hostname"]) for h in _json(real_lab, "hypervisor list")}
    assert len(hypervisors) == 2, hypervisors


def test_network_agents_are_alive(real_lab: Lab) -> None:
    wanted = {
        ("Linux bridge agent", "controller"),
        ("Linux bridge agent", "worker1"),
        ("DHCP agent", "controller"),
        ("Metadata agent", "controller"),
    }

    def alive() -> set[tuple[str, str]]:
        rows = _json(real_lab, "network agent list")
        return {
            (str(r["Agent Type"]), str(r["Host"]))
            for r in rows
            if r["Alive"] in (True, ":-)") and r["State"] in (True, "UP")
        }

    have = _eventually(lambda: wanted <= alive() and alive(), 90)
    assert have and wanted <= have, f"alive: {have}"  # type: ignore[operator]
    networks = _json(real_lab, "network list --long")
    assert any(n["Name"] == "provider" for n in networks), networks


def _controller(real_lab: Lab) -> object:
    from labkit.hosts.ssh import HostConnection

    return HostConnection.for_host(
        real_lab.env,  # type: ignore[arg-type]
        "controller",
        state_root=real_lab.paths.root.parent,
    )


def test_a_server_boots_on_worker1_and_gets_a_dhcp_lease(
    real_lab: Lab, real_timings: list[str]
) -> None:
    from labkit.hosts import tiny_guest

    started = time.monotonic()
    with _controller(real_lab) as conn:  # type: ignore[attr-defined]
        built = conn.run(tiny_guest.build_script(), timeout=600)
    assert built.exit_code == 0, built.stdout + built.stderr
    real_timings.append(f"tiny guest image built and uploaded: {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    created = _osc(
        real_lab,
        "server create --flavor m1.tiny --image tiny --network provider "
        "--availability-zone nova:worker1 --wait -f json tiny-1",
    )
    assert created.returncode == 0, created.stderr
    server = json.loads(created.stdout)
    real_timings.append(f"server create -> ACTIVE: {time.monotonic() - started:.1f} s")
    assert server["status"] == "ACTIVE"
    assert server["OS-EXT-SRV-ATTR:host"] == "worker1"
    addresses = server["addresses"]
    text = json.dumps(addresses)
    assert "provider" in text and "10.64.0." in text, addresses
    address = text.split("10.64.0.", 1)[1].split('"', 1)[0]
    address = f"10.64.0.{address}"

    def console() -> str:
        done = _osc(real_lab, "console log show tiny-1")
        return done.stdout if tiny_guest.LEASE in done.stdout else ""

    log = _eventually(console, 120, interval=5)
    real_timings.append(
        f"server create -> DHCP lease in its console: {time.monotonic() - started:.1f} s"
    )
    assert log, _osc(real_lab, "console log show tiny-1").stdout[-3000:]
    assert tiny_guest.BOOTED in str(log)
    assert f"{tiny_guest.LEASE} {address}/" in str(log), str(log)[-2000:]

    # The metadata path: guest -> haproxy in qdhcp-* -> metadata agent -> nova-api-metadata.
    def metadata() -> str:
        done = _osc(real_lab, "console log show tiny-1")
        return done.stdout if tiny_guest.METADATA in done.stdout else ""

    log = _eventually(metadata, 60, interval=5)
    assert f'{tiny_guest.METADATA} "uuid": "{server["id"]}"' in str(log), str(log)[-2000:]
    # The DHCP agent's dnsmasq knows the guest's MAC and address (its hosts file).
    ports = _json(real_lab, f"port list --server {server['id']}")
    with _controller(real_lab) as conn:  # type: ignore[attr-defined]
        hosts = conn.run("cat /var/lib/neutron/dhcp/*/host", timeout=30).stdout
    assert str(ports[0]["MAC Address"]) in hosts and address in hosts, hosts
    # The notebooks after this test must find no server of ours (06/07 check they left none).
    deleted = _osc(real_lab, "server delete --wait tiny-1")
    assert deleted.returncode == 0, deleted.stderr


def _port_group(real_lab: Lab, server_id: str) -> str:
    """The security group of the server's port (admin sees every project's ``default``:
    the name alone is ambiguous)."""
    ports = list(real_lab.connect("admin").network.ports(device_id=server_id))
    assert ports and ports[0].security_group_ids, ports
    return str(ports[0].security_group_ids[0])


def _ssh_until(real_lab: Lab, server: str, key: Path, command: str, timeout: float) -> object:
    """lab.ssh(...) until the connection is let in (the agent applies a new rule within
    seconds); the last error is raised when it never is."""
    from labkit.errors import GuestConnectFailed

    deadline = time.monotonic() + timeout
    while True:
        try:
            return real_lab.ssh(server, key=key, command=command, timeout=5)
        except GuestConnectFailed:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_ssh_into_a_real_guest_is_filtered_until_the_rule_exists(
    real_lab: Lab, real_timings: list[str]
) -> None:
    """The lab's bootable guest image (web-downloaded from the lab's mirror as ``cirros``)
    booted by real Nova on worker1 with a keypair: from this machine, over the lab bridge,
    its tcp/22 is filtered by the Linux bridge agent's iptables in worker1's namespace until
    the default group has the rule; then lab.ssh logs in, trusting only the host keys the
    console printed."""
    import socket

    from labkit import guestkeys

    key = real_lab.ssh_key()
    keypair = _osc(real_lab, f"keypair create --public-key {key}.pub guestkey -f json")
    assert keypair.returncode == 0, keypair.stderr
    images = {i["Name"]: i for i in _json(real_lab, "image list --long")}
    assert images["cirros"]["Status"] == "active", images
    started = time.monotonic()
    created = _osc(
        real_lab,
        "server create --flavor m1.tiny --image cirros --network provider --key-name guestkey "
        "--availability-zone nova:worker1 --wait -f json guest-1",
    )
    assert created.returncode == 0, created.stderr
    server = json.loads(created.stdout)
    assert server["status"] == "ACTIVE" and server["OS-EXT-SRV-ATTR:host"] == "worker1"
    real_timings.append(f"guest: server create -> ACTIVE: {time.monotonic() - started:.1f} s")
    address = real_lab.server_address("guest-1")
    assert address.startswith("10.64.0."), address

    def host_keys() -> object:
        return guestkeys.parse_console(real_lab.access.console(server["id"])).trusted

    assert _eventually(host_keys, 180, interval=2), real_lab.access.console(server["id"])[-3000:]
    real_timings.append(
        f"guest: server create -> host keys on the console: {time.monotonic() - started:.1f} s"
    )
    # Filtered: the SYN is dropped in worker1's namespace, nothing answers (no reset).
    with pytest.raises(TimeoutError):
        socket.create_connection((address, 22), timeout=5).close()
    diagnosis = real_lab.why_no_ssh("guest-1", key=key)
    assert diagnosis.failed is not None, str(diagnosis)
    assert diagnosis.failed.hop == "a security group lets tcp/22 in", str(diagnosis)
    assert "--protocol tcp --dst-port 22" in diagnosis.failed.fix

    group = _port_group(real_lab, server["id"])
    rule = _osc(real_lab, f"security group rule create --protocol tcp --dst-port 22 {group}")
    assert rule.returncode == 0, rule.stderr
    out = _ssh_until(real_lab, "guest-1", key, "id -un; cat /proc/cmdline", timeout=60)
    real_timings.append(f"guest: server create -> SSH works: {time.monotonic() - started:.1f} s")
    assert out.exit_code == 0 and out.stdout.splitlines()[0] == "cirros", repr(out)  # type: ignore[attr-defined]
    assert "console=ttyS0" in out.stdout  # type: ignore[attr-defined]
    # The host key labkit accepted is the one the console showed, now in known_hosts.
    known = real_lab.access.known_hosts.read_text()
    trusted = guestkeys.parse_console(real_lab.access.console(server["id"])).trusted
    assert any(k.blob in known for k in trusted), known  # type: ignore[attr-defined]
    assert real_lab.why_no_ssh("guest-1", key=key).ok, str(real_lab.why_no_ssh("guest-1", key=key))
    for command in (
        f"security group rule delete {_rule_id(real_lab, group)}",
        "server delete --wait guest-1",
        "keypair delete guestkey",
    ):
        done = _osc(real_lab, command)
        assert done.returncode == 0, f"{command}: {done.stderr}"


def _rule_id(real_lab: Lab, group: str) -> str:
    rules = _json(real_lab, f"security group rule list {group} --protocol tcp")
    assert len(rules) == 1, rules
    return str(rules[0]["ID"])


def test_the_seeds_cli_flow_against_the_real_cloud(real_lab: Lab, real_timings: list[str]) -> None:
    """The seed's commands, modernized, as demo: rules for ping and SSH in the default
    group, a key pair from the learner's public key, a server, and a shell on it with the
    system ssh (``labkit ssh`` records the console's host keys first)."""
    key = real_lab.ssh_key()
    demo = "lab-demo"
    for command in (
        "security group rule create --protocol icmp default",
        "security group rule create --protocol tcp --dst-port 22 default",
        f"keypair create --public-key {key}.pub mykey",
    ):
        done = _osc(real_lab, command, cloud=demo)
        assert done.returncode == 0, f"{command}: {done.stderr}"
    started = time.monotonic()
    created = _osc(
        real_lab,
        "server create --flavor m1.tiny --image cirros --network provider --key-name mykey "
        "--wait -f json seed-1",
        cloud=demo,
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["status"] == "ACTIVE"
    # `labkit ssh` records the console's host keys in the lab's known_hosts, then becomes
    # the system ssh with StrictHostKeyChecking=yes (the kernel's LABKIT_STATE_DIR is ours).
    command = [
        str(Path(sys.executable).parent / "labkit"),
        "ssh",
        "--env",
        str(ENV_FILE),
        "seed-1",
        "-i",
        str(key),
        "--",
        "hostname; ping -c 1 -W 5 10.64.0.1 >/dev/null && echo pong",
    ]

    def login() -> subprocess.CompletedProcess[str] | None:
        done = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
        )
        return done if done.returncode == 0 else None

    done = _eventually(login, 90, interval=3)
    assert done, subprocess.run(command, capture_output=True, text=True, timeout=120).stderr
    real_timings.append(
        f"seed flow: server create -> ssh hostname: {time.monotonic() - started:.1f} s"
    )
    assert done.stdout.split() == ["seed-1", "pong"], done.stdout  # type: ignore[union-attr]
    assert _osc(real_lab, "server delete --wait seed-1", cloud=demo).returncode == 0
    assert _osc(real_lab, "keypair delete mykey", cloud=demo).returncode == 0
    for protocol in ("tcp", "icmp"):
        listed = _osc(
            real_lab, f"security group rule list default --protocol {protocol} -f json", demo
        )
        for rule in json.loads(listed.stdout):
            assert _osc(real_lab, f"security group rule delete {rule['ID']}", demo).returncode == 0


# Notebooks 04-07 on real hosts: the same cells as on the sim; what each must show here.
LATER_EXPECTED = {
    "04-nova": [
        "nova-compute    worker1     nova      enabled  up",
        "client -> nova-api: POST /v2.1/servers -> 202",  # the boot drawn from the real logs
        "nova-scheduler -> placement-api: GET /allocation_candidates -> 200",
        "nova-conductor -> nova-compute: build_and_run_instance",
        "== nova-compute on ",  # the request id's lines, collected from the hosts over SSH
        "No valid host was found.",  # the drill: both nova-computes stopped for 61 real s
        "Filter ComputeFilter returned 0 hosts",
    ],
    "05-access": [
        "fails at: a security group lets tcp/22 in",  # filtered on the real Linux bridge
        "every hop checks out",
        "Welcome to server1, booted by the lab.",  # user data's write_files, in a real guest
        "runcmd ran",
        "64 bytes from 10.64.0.1",  # the guest pings the lab's router
        "http://10.64.0.2/horizon/",  # the dashboard on the real controller's Apache
        "One load of /project/instances/ as demo",  # its requests read from the API logs
    ],
}


@pytest.mark.parametrize("name", list(LATER_EXPECTED))
def test_notebooks_04_and_05_run_against_the_real_lab(
    real_lab: Lab, name: str, tmp_path: Path, real_timings: list[str]
) -> None:
    """Nova's notebook (a server, its boot traced from the real logs, the computes-down
    drill) and the access notebook (rules, a key, SSH into a real guest, why_no_ssh, the
    dashboard) with papermill, the same cells as on the sim."""
    _papermill(real_lab, name, tmp_path, real_timings, LATER_EXPECTED[name])


def test_the_dashboard_walk_through_on_the_real_controller(
    real_lab: Lab, real_timings: list[str], browser: object, page: object, screenshot: object
) -> None:
    """The browser walk-through of tests/browser/test_dashboard.py against Debian's
    openstack-dashboard behind the controller's Apache, reached over the lab bridge: log
    in, import a key, launch through the wizard (m1.tiny: the guest image needs 128 MB),
    Active with an address, the console log, the tcp/22 rule, delete; admin's views."""
    from tests.browser.test_dashboard import walk_through
    from tests.horizon.fixtures import Login

    started = time.monotonic()
    results = real_lab.install("horizon", show=False)  # notebook 05 installed it already
    assert all(r.status in (CHANGED, DONE, VERIFIED) for r in results)
    real_timings.append(f"install horizon (again): {time.monotonic() - started:.1f} s")
    url = real_lab.dashboard()
    assert url == f"http://{real_lab.env.controller.address}/horizon/", url  # type: ignore[union-attr]
    users = {}
    for user in ("admin", "demo"):
        credentials: object = real_lab.backend.credentials(user)
        users[user] = Login(user, credentials.password, credentials.project)  # type: ignore[attr-defined]
    seconds = walk_through(
        browser,  # type: ignore[arg-type]
        page,  # type: ignore[arg-type]
        screenshot,  # type: ignore[arg-type]
        url.rstrip("/"),
        users,
        real_lab,
        flavor="m1.tiny",
        active_within=180,
    )
    real_timings.append(f"dashboard walk-through (real Horizon): {seconds:.1f} s")


def _env_with_worker2(real_lab: Lab, folder: Path) -> Path:
    """The env file with a third host, worker2 (same name, so the same state folder):
    what a learner adds under hosts: before `labkit hosts up` makes it."""
    import yaml

    data = yaml.safe_load(ENV_FILE.read_text())
    data["hosts"].append({"name": "worker2", "address": "10.64.0.4", "roles": ["worker"]})
    path = folder / "lab-local.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_notebooks_06_and_07_run_against_the_real_lab(
    real_lab: Lab, tmp_path: Path, real_timings: list[str]
) -> None:
    """Projects and quotas (domains, projects, quotas, will_it_fit then the boots, the
    isolation table), then scale-out: worker2 made as a third local lab host and given the
    same nova-compute and networking layers by notebook 07's lab.add_worker, discovered,
    and taking servers."""
    text = _papermill(
        real_lab,
        "06-projects-quotas",
        tmp_path,
        real_timings,
        [
            "The prediction held.",  # will_it_fit, read from the real Placement and computes
            "403 Quota exceeded for ram",  # the quota exceeded on purpose, Nova's words
            "403 Forbidden: Policy doesn't allow os_compute_api:os-quota-sets:update",
            "Clean up",
        ],
    )
    # Both boots (3 x m1.tiny, 3 x m1.large) went where will_it_fit said they would.
    assert text.count("The prediction held.") == 2, text
    assert "The prediction did NOT hold." not in text
    env_file = _env_with_worker2(real_lab, tmp_path)
    env3 = load_env(env_file)
    assert isinstance(env3, SshEnv)
    started = time.monotonic()
    local.up(
        env3,
        state_root=real_lab.paths.root.parent,
        cache_dir=default_cache_dir(),
        say=lambda _: None,
    )
    real_timings.append(f"hosts up worker2: {time.monotonic() - started:.1f} s")
    real_lab.env = env3  # `hosts down` must take all three down
    real_lab.backend.env = env3  # type: ignore[union-attr]
    _papermill(
        real_lab,
        "07-scale-out",
        tmp_path,
        real_timings,
        [
            "nova-compute    worker2     nova      enabled  up",
            "worker2",
        ],
        env_file=env_file,
    )
    hosts = {str(h["Hypervisor Hostname"]) for h in _json(real_lab, "hypervisor list")}
    assert hosts == {"controller", "worker1", "worker2"}, hosts
    left = _json(real_lab, "server list --all-projects")
    assert left == [], left  # notebooks 04-07 clean up after themselves


def test_nothing_changed_on_the_machine(real_lab: Lab) -> None:
    """The lab's packages, iptables rules and libvirt stay inside its namespaces."""
    assert _machine_state() == MACHINE
    root = real_lab.paths.root / "hosts" / "controller" / "root"
    # The machine has no iptables of its own: run the controller's binaries (chroot) in the
    # MACHINE's network namespace -- this process's -- to list the machine's rules.
    for save in (
        "iptables-save",
        "ip6tables-save",
        "iptables-legacy-save",
        "ip6tables-legacy-save",
        "ebtables-save",
    ):
        done = subprocess.run(["chroot", str(root), save], capture_output=True, text=True)
        assert done.returncode == 0, f"{save}: {done.stderr}"
        rules = [line for line in done.stdout.splitlines() if not line.startswith("#")]
        assert rules == [], f"{save} in the machine's namespace: {rules}"
    with _controller(real_lab) as conn:  # type: ignore[attr-defined]
        inside = conn.run("iptables-save | grep -c neutron", timeout=30).stdout.strip()
    assert int(inside or 0) > 0  # the agent's rules are there, in the host's namespace


def test_a_second_run_changes_nothing(real_lab: Lab, real_timings: list[str]) -> None:
    started = time.monotonic()
    installed = real_lab.installed_layers()
    for layer in [*LAYERS, *[x for x in ("horizon",) if x in installed]]:  # from notebook 05
        results = real_lab.install(layer, show=False)
        changed = [r.step.title for r in results if r.status == CHANGED]
        assert changed == [], f"{layer}: a second run changed {changed}"
    real_timings.append(f"second run of all layers: {time.monotonic() - started:.1f} s")


def test_down_leaves_nothing(real_lab: Lab, real_timings: list[str]) -> None:
    assert isinstance(real_lab.env, SshEnv)
    root = real_lab.paths.root.parent
    started = time.monotonic()
    namespaces = local.recorded_pid_namespaces(
        local.layout(real_lab.env, root, default_cache_dir())
    )
    assert len(namespaces) == len(real_lab.env.hosts)
    local.down(real_lab.env, state_root=root, cache_dir=default_cache_dir())
    real_timings.append(f"hosts down: {time.monotonic() - started:.1f} s")
    assert local.leftovers(real_lab.env, state_root=root, cache_dir=default_cache_dir()) == []
    # Nothing of any host's PID namespace: no qemu, libvirtd, dnsmasq, haproxy, agents.
    assert local.processes_in_pid_namespaces(namespaces) == []
    assert _machine_state() == MACHINE
