"""Preflight verdicts from command output (no hosts needed)."""

from __future__ import annotations

from labkit.hosts import preflight as pf

BOOKWORM = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
JAMMY = 'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nID=ubuntu\nVERSION_ID="22.04"\n'


def test_debian_12_matches_the_profile() -> None:
    assert pf.eval_os(BOOKWORM, "debian-12-zed") == ("ok", "Debian GNU/Linux 12 (bookworm)")


def test_other_os_fails_and_says_so() -> None:
    status, detail = pf.eval_os(JAMMY, "debian-12-zed")
    assert status == "fail" and "Ubuntu 22.04.4 LTS" in detail and "Debian 12" in detail


def test_ram_levels() -> None:
    assert pf.eval_ram(16)[0] == "ok"
    assert pf.eval_ram(4)[0] == "warn"
    assert pf.eval_ram(2)[0] == "fail"


def test_ram_of_local_hosts_is_shared() -> None:
    status, detail = pf.eval_ram(12, shared_by=2)
    assert status == "warn" and "6.0 GB per host" in detail and "shared by 2" in detail


def test_meminfo_and_df_parsing() -> None:
    assert round(pf.parse_meminfo_gb("MemTotal:       24637380 kB\nMemFree: 1 kB\n"), 1) == 23.5
    df = (
        "Filesystem 1024-blocks Used Available Capacity Mounted on\n"
        "/dev/vda 263174212 24000000 83886080 22% /\n"
    )
    total, free = pf.parse_df_gb(df)
    assert round(total) == 251 and round(free) == 80


def test_disk_levels() -> None:
    assert pf.eval_disk(300, 200)[0] == "ok"
    assert pf.eval_disk(100, 50)[0] == "warn"
    assert pf.eval_disk(300, 3)[0] == "fail"


def test_disk_of_local_hosts_is_reported_as_the_machines() -> None:
    status, detail = pf.eval_disk(300, 200, local=True)
    assert status == "warn" and "this machine's disk" in detail


def test_resolution_of_controller() -> None:
    assert pf.eval_resolution("10.64.0.2       controller\n", "10.64.0.2")[0] == "ok"
    assert pf.eval_resolution("", "10.64.0.2")[0] == "fail"
    status, detail = pf.eval_resolution("127.0.1.1 controller\n", "10.64.0.2")
    assert status == "fail" and "127.0.1.1" in detail


def test_clock_offset_uses_the_round_trip_midpoint() -> None:
    assert pf.eval_clock(1000.5, 1000.0, 1001.0)[0] == "ok"
    assert pf.eval_clock(1010.0, 1000.0, 1000.2)[0] == "warn"
    status, detail = pf.eval_clock(1100.0, 1000.0, 1000.2)
    assert status == "fail" and "+99.90 s" in detail


SS = """\
LISTEN 0 80   10.64.0.2:3306  0.0.0.0:* users:(("mariadbd",pid=812,fd=21))
LISTEN 0 4096 0.0.0.0:5000 0.0.0.0:* users:(("uwsgi_python311",pid=900,fd=3),("uwsgi",pid=901,fd=3))
LISTEN 0 128  0.0.0.0:9292    0.0.0.0:* users:(("nginx",pid=77,fd=6))
LISTEN 0 128  [::]:22         [::]:*
"""


def test_listeners_are_parsed_with_owners() -> None:
    listeners = pf.parse_listeners(SS)
    assert listeners[3306] == [("mariadbd", 812)]
    assert [pid for _, pid in listeners[5000]] == [900, 901]
    assert listeners[22] == []


def test_free_port_is_ok() -> None:
    assert pf.eval_port(5672, None, {}) == ("ok", "free (for RabbitMQ)")


def test_port_taken_by_its_own_service_is_ok_and_says_installed() -> None:
    listeners = pf.parse_listeners(SS)
    cmd = {900: "uwsgi_python311 --http-socket :5000 --ini /etc/keystone/keystone-uwsgi.ini"}
    status, detail = pf.eval_port(5000, listeners[5000], cmd)
    assert status == "ok" and "Keystone itself (installed already)" in detail
    assert pf.eval_port(3306, listeners[3306], {})[0] == "ok"


def test_port_taken_by_something_else_fails() -> None:
    listeners = pf.parse_listeners(SS)
    status, detail = pf.eval_port(9292, listeners[9292], {77: "nginx: master process"})
    assert status == "fail" and "nginx" in detail and "Glance" in detail


def test_failed_only_counts_fail_rows() -> None:
    rows = [pf.CheckRow("c", "disk", "warn", ""), pf.CheckRow("c", "ram", "ok", "")]
    assert not pf.failed(rows)
    assert pf.failed([*rows, pf.CheckRow("w", "reachable", "fail", "")])
