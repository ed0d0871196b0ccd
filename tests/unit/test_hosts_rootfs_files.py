"""What a local lab host's root gets: /etc/hosts, apt through the proxy, sshd, boot script."""

from __future__ import annotations

from pathlib import Path

from labkit.envs import SshEnv, load_env, parse_env
from labkit.hosts import aptsources, files
from labkit.hosts.boot import BOOT_SCRIPT, launch_command
from labkit.hosts.layout import layout
from labkit.hosts.rootfs import PACKAGES, tarball_name

REPO = Path(__file__).resolve().parents[2]

MACHINE_SOURCES = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: https://security.example.org/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
"""


def _env() -> SshEnv:
    env = load_env(REPO / "envs" / "lab-local.yaml")
    assert isinstance(env, SshEnv)
    return env


def test_etc_hosts_names_every_host_and_controller() -> None:
    text = files.etc_hosts(_env(), "worker1")
    assert "10.64.0.2\tcontroller\n" in text
    assert "10.64.0.3\tworker1\n" in text
    assert "127.0.0.1\tlocalhost\n" in text


def test_etc_hosts_adds_the_controller_alias_when_named_otherwise() -> None:
    env = parse_env(
        {
            "kind": "ssh",
            "hosts": [
                {"name": "ctl", "address": "10.64.0.2", "roles": ["controller"]},
                {"name": "w1", "address": "10.64.0.3", "roles": ["worker"]},
            ],
        },
        "x.yaml",
    )
    assert isinstance(env, SshEnv)
    assert "10.64.0.2\tctl controller\n" in files.etc_hosts(env, "w1")


def test_deb822_parsing_keeps_binary_entries_only() -> None:
    sources = aptsources.parse_deb822(MACHINE_SOURCES)
    assert [(s.uri, s.suites) for s in sources] == [
        ("http://deb.debian.org/debian", ("bookworm", "bookworm-updates")),
        ("https://security.example.org/debian-security", ("bookworm-security",)),
    ]
    assert sources[0].signed_by == "/usr/share/keyrings/debian-archive-keyring.gpg"


def test_one_line_parsing_skips_options() -> None:
    text = "deb [arch=amd64 signed-by=/k.gpg] http://mirror/debian bookworm main contrib\n"
    (src,) = aptsources.parse_one_line(text + "# deb http://x bookworm main\n")
    assert (src.uri, src.suites, src.components) == (
        "http://mirror/debian",
        ("bookworm",),
        ("main", "contrib"),
    )


def test_sources_for_a_host_use_http_and_the_proxy_knows_the_scheme() -> None:
    sources = aptsources.for_suite(aptsources.parse_deb822(MACHINE_SOURCES), "bookworm")
    assert aptsources.main_mirror(sources, "bookworm") == "http://deb.debian.org/debian"
    assert aptsources.upstreams(sources) == {
        "deb.debian.org": "http",
        "security.example.org": "https",
    }
    text = files.apt_sources(sources)
    assert "URIs: http://security.example.org/debian-security\n" in text
    assert "https://" not in text


def test_machine_without_debian_sources_falls_back_to_deb_debian_org() -> None:
    sources = aptsources.for_suite([], "bookworm")
    assert aptsources.main_mirror(sources, "bookworm") == aptsources.DEFAULT_MIRROR


def test_apt_goes_through_the_proxy() -> None:
    lay = layout(_env(), Path("/state"))
    assert files.apt_proxy(lay.proxy_url).endswith(
        'Acquire::http::Proxy "http://10.64.0.1:3142/";\n'
    )


def test_sshd_accepts_keys_only_on_the_management_address() -> None:
    text = files.sshd_config("10.64.0.2", 22)
    assert "ListenAddress 10.64.0.2:22\n" in text
    assert "PasswordAuthentication no\n" in text
    assert "PermitRootLogin prohibit-password\n" in text


def test_boot_script_never_binds_the_machines_dev() -> None:
    lines = [ln.strip() for ln in BOOT_SCRIPT.splitlines()]
    binds = [ln for ln in lines if "--bind" in ln or "--rbind" in ln]
    assert binds and all('"$root' in ln.split("--bind", 1)[1].split()[0] for ln in binds)
    assert not any(" /dev" in ln and "--bind" in ln for ln in lines)
    assert 'mount -t tmpfs -o mode=755,nosuid,size=1m labkit-dev "$root/dev"' in lines
    assert any("devpts" in ln and "newinstance" in ln for ln in lines)
    assert "ln -s pts/ptmx ptmx" in lines


def test_boot_script_mounts_proc_sys_run_and_pivots() -> None:
    for needle in (
        "mount -t proc",
        "mount -t sysfs -o ro",
        'labkit-run "$root/run"',
        "pivot_root . .labkit-oldroot",
        'hostname "$name"',
    ):
        assert needle in BOOT_SCRIPT


def test_launch_uses_the_hosts_netns_and_new_namespaces(tmp_path: Path) -> None:
    host = layout(_env(), tmp_path).hosts[0]
    cmd = launch_command(host)
    assert cmd[:2] == ["nsenter", f"--net=/run/netns/{host.netns}"]
    assert {"--mount", "--uts", "--pid", "--fork", "--kill-child"} <= set(cmd)
    assert cmd[-2:] == [str(host.root), "controller"]


def test_tarball_name_changes_with_packages() -> None:
    a = tarball_name("bookworm", "http://m/debian", PACKAGES, "amd64")
    b = tarball_name("bookworm", "http://m/debian", (*PACKAGES, "vim"), "amd64")
    assert a != b and a.startswith("debian-bookworm-amd64-minbase-") and a.endswith(".tar.zst")
