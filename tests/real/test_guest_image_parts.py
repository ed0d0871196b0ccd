"""The guest image's parts that need no qemu, no root and no download (default suite).

The archive format, the ELF and qcow2 readers/writers, the cache name, and the awk programs
the guest runs (here with this machine's awk; the real tier runs them in the guest's
BusyBox awk by booting the image).
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from labkit.hosts import guest_image
from labkit.hosts import guest_image_files as gf
from labkit.hosts.guest_image_cpio import Archive
from labkit.sim.guests.cloudinit import DISABLE_ROOT_OPTS, _table
from labkit.sim.mirror.qcow2 import CLUSTER


def _read_cpio(data: bytes) -> dict[str, tuple[int, int, int, bytes]]:
    """path -> (mode, uid, gid, data): a reader written from the format's description."""
    out = {}
    at = 0
    while True:
        assert data[at : at + 6] == b"070701", f"bad magic at {at}"
        fields = [int(data[at + 6 + 8 * n : at + 14 + 8 * n], 16) for n in range(13)]
        mode, uid, gid, size, namesize = fields[1], fields[2], fields[3], fields[6], fields[11]
        name = data[at + 110 : at + 110 + namesize - 1].decode()
        at += 110 + namesize
        at += -at % 4
        body = data[at : at + size]
        at += size
        at += -at % 4
        if name == "TRAILER!!!":
            return out
        out[name] = (mode, uid, gid, body)


def test_cpio_members_and_parents() -> None:
    archive = Archive()
    archive.file("usr/lib/x/run", b"#!/bin/sh\n", 0o755)
    archive.directory("home/cirros", 0o750, 1000, 1000)
    archive.symlink("bin/sh", "busybox")
    archive.char_device("dev/console", 5, 1)
    members = _read_cpio(archive.to_bytes())
    assert list(members) == sorted(members)  # every directory before its contents
    assert members["usr/lib/x/run"] == (0o100755, 0, 0, b"#!/bin/sh\n")
    assert members["usr/lib"][0] == 0o40755  # parents made
    assert members["home/cirros"][:3] == (0o40750, 1000, 1000)
    assert members["bin/sh"] == (0o120777, 0, 0, b"busybox")
    assert members["dev/console"][0] == 0o20600
    assert archive.gzipped() == archive.gzipped()  # reproducible: no timestamps


def test_needed_libraries_of_this_python() -> None:
    needed = guest_image.needed_libraries(Path(sys.executable).resolve().read_bytes())
    assert "libc.so.6" in needed or not needed  # a static python needs nothing
    assert guest_image.needed_libraries(b"#!/bin/sh\n") == []


def test_qcow2_maps_every_cluster_in_order(tmp_path: Path) -> None:
    raw = tmp_path / "disk.img"
    data = bytes(range(256)) * (3 * CLUSTER // 256)
    raw.write_bytes(data)
    out = tmp_path / "disk.qcow2"
    guest_image.to_qcow2(raw, out)
    image = out.read_bytes()
    magic, version = struct.unpack_from(">4sI", image, 0)
    virtual_size, = struct.unpack_from(">Q", image, 24)  # fmt: skip
    l1_offset, = struct.unpack_from(">Q", image, 40)  # fmt: skip
    assert (magic, version, virtual_size) == (b"QFI\xfb", 3, len(data))
    l2 = struct.unpack_from(">Q", image, l1_offset)[0] & ((1 << 62) - 1)
    for cluster in range(3):
        offset = struct.unpack_from(">Q", image, l2 + 8 * cluster)[0] & ((1 << 62) - 1)
        assert image[offset : offset + CLUSTER] == data[cluster * CLUSTER : (cluster + 1) * CLUSTER]


def test_cache_name_follows_the_inputs() -> None:
    name = guest_image.image_name()
    assert name == guest_image.image_name()
    assert name.startswith("labkit-guest-cirros-amd64-") and name.endswith(".qcow2")
    assert guest_image.image_name("debian") != name


def test_glance_arguments() -> None:
    image = guest_image.GuestImage(Path("/x.qcow2"))
    args = image.glance_create_args("cirros")
    assert args[:4] == ["--disk-format", "qcow2", "--container-format", "bare"]
    assert "os_admin_user=cirros" in args and args[-1] == "cirros"


def test_root_is_told_which_user_to_log_in_as() -> None:
    """Same options and words as the sim's cloud-init, quotes spelled for Dropbear."""
    ours = gf.root_key_options("cirros")
    sims = DISABLE_ROOT_OPTS.format(user="cirros").strip()
    assert ours.split("command=")[0] == sims.split("command=")[0]
    printed = subprocess.run(
        ["sh", "-c", ours.split('command="')[1].rstrip('"').replace("sleep 10;", "")],
        capture_output=True,
        text=True,
    )
    assert printed.returncode == 142
    assert printed.stdout == 'Please login as the user "cirros" rather than the user "root".\n\n'


# ---- the guest's awk programs, with this machine's awk -----------------------------------------


def _awk(program: str, text: str, tmp_path: Path) -> str:
    awk = shutil.which("awk")
    if awk is None:
        pytest.skip("no awk on this machine")
    script = tmp_path / "program.awk"
    script.write_text(program)
    return subprocess.run(
        [awk, "-f", str(script)], input=text, capture_output=True, text=True, check=True
    ).stdout


def test_json_fields_reads_nova_meta_data(tmp_path: Path) -> None:
    meta = {
        "uuid": "6f0d1c2e-1b5a-4a57-9b61-2f4f0a9c3d11",
        "meta": {"hostname": "not-this-one"},
        "hostname": "server1.novalocal",
        "name": 'a "quoted" name',
        "launch_index": 0,
        "public_keys": {"k1": "ssh-ed25519 AAAAC3Nz one\n", "k2": "ssh-rsa AAAAB3 two"},
        "keys": [{"name": "k1", "type": "ssh", "data": "ssh-ed25519 AAAAC3Nz one"}],
    }
    out = _awk(gf.JSON_FIELDS, json.dumps(meta, indent=2), tmp_path)
    lines = out.splitlines()
    assert "uuid\t6f0d1c2e-1b5a-4a57-9b61-2f4f0a9c3d11" in lines
    assert "hostname\tserver1.novalocal" in lines  # the top-level one only
    assert 'name\ta "quoted" name' in lines
    assert "launch_index\t0" in lines
    keys = [line.split("\t", 1)[1] for line in lines if line.startswith("public_key\t")]
    assert keys == ["ssh-ed25519 AAAAC3Nz one", "ssh-rsa AAAAB3 two"]


def test_ci_table_is_the_sims_layout(tmp_path: Path) -> None:
    """Title, rules and centred cells as the sim's cloud-init prints them."""
    fields = ["Device", "Up", "Address", "Hw-Address"]
    rows = [["eth0", "True", "10.0.0.5", "fa:16:3e:00:00:01"], ["lo", "True", "127.0.0.1", "."]]
    text = "Net device info\n" + "".join("\t".join(r) + "\n" for r in [fields, *rows])
    table = _table(fields, rows)
    expected = [f"{'Net device info':+^{len(table[0])}}", *table]
    assert _awk(gf.CI_TABLE, text, tmp_path).splitlines() == expected


def test_cloud_config_subset_becomes_a_script(tmp_path: Path) -> None:
    target = tmp_path / "etc" / "motd-lab"
    user_data = (
        "#cloud-config\n"
        "write_files:\n"
        f"  - path: {target}\n"
        "    permissions: '0600'\n"
        "    content: |\n"
        "      Welcome, it's 'quoted'.\n"
        "        indented\n"
        f"  - path: {tmp_path}/one-line\n"
        "    content: single\n"
        "runcmd:\n"
        f'  - echo "runcmd ran" > {tmp_path}/runcmd.txt\n'
        f"  - [touch, {tmp_path}/listed]\n"
        "packages: [htop]\n"
    )
    script = _awk(gf.CLOUD_CONFIG, user_data, tmp_path)
    assert "#unsupported packages" in script
    body = script.replace("#unsupported packages\n", "").replace("#runcmd\n", "")
    subprocess.run(["sh", "-e", "-c", body], check=True)
    assert target.read_text() == "Welcome, it's 'quoted'.\n  indented\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "one-line").read_text() == "single\n"
    assert (tmp_path / "runcmd.txt").read_text() == "runcmd ran\n"
    assert (tmp_path / "listed").exists()


# ---- the DHCP client's script, with a stand-in `ip` ----------------------------------------------


def _udhcpc_script(tmp_path: Path, event: str, lease: dict[str, str]) -> list[str]:
    """Run the guest's udhcpc script with ``ip`` replaced by a recorder; the calls made."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / "calls"
    fake = bin_dir / "ip"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    fake.chmod(0o755)
    script = tmp_path / "default.script"
    # resolv.conf goes to a scratch file, never to this machine's
    script.write_text(gf.UDHCPC_SCRIPT.replace("/etc/resolv.conf", str(tmp_path / "resolv")))
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "interface": "eth0", **lease}
    subprocess.run(["sh", str(script), event], env=env, check=True)
    return calls.read_text().splitlines() if calls.exists() else []


def test_dhcp_lease_with_neutrons_metadata_route(tmp_path: Path) -> None:
    """Neutron's DHCP agent (isolated metadata) sends option 121 with a host route to
    169.254.169.254 via its port, and the default route again: RFC 3442 says use those
    and ignore the router option."""
    calls = _udhcpc_script(
        tmp_path,
        "bound",
        {
            "ip": "10.64.0.23",
            "mask": "24",
            "router": "10.64.0.1",
            "mtu": "1450",
            "dns": "10.64.0.2 10.64.0.3",
            "domain": "openstacklocal",
            "staticroutes": "169.254.169.254/32 10.64.0.2 0.0.0.0/0 10.64.0.1",
        },
    )
    assert calls == [
        "link set eth0 mtu 1450",
        "-4 addr flush dev eth0",
        "addr add 10.64.0.23/24 dev eth0",
        "route replace 169.254.169.254/32 via 10.64.0.2 dev eth0",
        "route replace 0.0.0.0/0 via 10.64.0.1 dev eth0",
    ]
    assert (tmp_path / "resolv").read_text() == (
        "search openstacklocal\nnameserver 10.64.0.2\nnameserver 10.64.0.3\n"
    )


def test_dhcp_lease_without_static_routes(tmp_path: Path) -> None:
    calls = _udhcpc_script(
        tmp_path, "bound", {"ip": "192.168.5.9", "mask": "24", "router": "192.168.5.1"}
    )
    assert calls[-1] == "route replace default via 192.168.5.1 dev eth0"
    assert _udhcpc_script(tmp_path, "deconfig", {})[-2:] == [
        "-4 addr flush dev eth0",
        "link set eth0 up",
    ]
