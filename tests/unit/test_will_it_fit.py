"""``lab.will_it_fit``'s arithmetic (labkit.lab.fit): Nova's quota count and its 403 text,
Placement's room per host, the scheduler's spread -- pure, no cloud."""

from __future__ import annotations

from labkit.lab import fit

TINY = fit.Flavor.of("m1.tiny", 1, 512, 1)
LARGE = fit.Flavor.of("m1.large", 4, 8192, 80)


def _quota(instances=(5, 0), cores=(10, 0), ram=(8192, 0), flavor=TINY) -> list[fit.QuotaLine]:
    return [
        fit.QuotaLine("instances", instances[0], instances[1], 0, 1),
        fit.QuotaLine("cores", cores[0], cores[1], 0, flavor.vcpus),
        fit.QuotaLine("ram", ram[0], ram[1], 0, flavor.ram_mb),
    ]


def _host(name: str, ram_used: int = 0, vcpu_used: int = 0, **kw: object) -> fit.Host:
    inventories = {
        "VCPU": fit.Inventory(8, allocation_ratio=4.0, used=vcpu_used),
        "MEMORY_MB": fit.Inventory(16384, reserved=512, used=ram_used),
        "DISK_GB": fit.Inventory(250),
    }
    return fit.Host(name, inventories, **kw)  # type: ignore[arg-type]


def test_a_flavor_asks_placement_for_root_ephemeral_and_swap_disk() -> None:
    f = fit.Flavor.of("odd", 2, 1024, 10, ephemeral_gb=5, swap_mb=1500)
    assert f.resources() == {"VCPU": 2, "MEMORY_MB": 1024, "DISK_GB": 17}
    assert fit.Flavor.of("diskless", 1, 64, 0).resources() == {"VCPU": 1, "MEMORY_MB": 64}


def test_quota_room_is_the_tightest_resource() -> None:
    lines = _quota(instances=(5, 3), cores=(10, 3), ram=(8192, 1536))
    assert [line.room() for line in lines] == [2, 7, 13]
    assert fit.FitPrediction("p", TINY, 1, lines).quota_room == 2


def test_unlimited_quota_allows_any_count() -> None:
    lines = _quota(instances=(-1, 50), cores=(-1, 9), ram=(-1, 0))
    assert fit.nova_refusal(lines, 1000) == ""
    assert fit.FitPrediction("p", TINY, 1, lines).quota_room is None


def test_nova_names_every_resource_over_sorted_in_one_message() -> None:
    lines = _quota(instances=(10, 3), cores=(10, 3), ram=(8192, 1536))
    assert fit.nova_refusal(lines, 7) == ""
    assert fit.nova_refusal(lines, 8) == (
        "Quota exceeded for cores, instances: Requested 8, 8, but already used 3, 3 of "
        "10, 10 cores, instances"
    )


def test_one_resource_over_reads_as_nova_words_it() -> None:
    medium = fit.Flavor.of("m1.medium", 2, 4096, 40)
    lines = _quota(instances=(5, 3), cores=(10, 3), ram=(8192, 1536), flavor=medium)
    assert fit.nova_refusal(lines, 2) == (
        "Quota exceeded for ram: Requested 8192, but already used 1536 of 8192 ram"
    )


def test_the_port_quota_is_asked_first() -> None:
    lines = [*_quota(instances=(5, 4)), fit.QuotaLine("port", 10, 10, 0, 1, "neutron")]
    assert fit.nova_refusal(lines, 2) == "Maximum number of ports exceeded"


def test_placement_refuses_past_capacity_and_max_unit() -> None:
    inv = fit.Inventory(16384, reserved=512, allocation_ratio=1.5, max_unit=16384)
    assert inv.capacity == 23808
    assert inv.refuses(8192, 15616) == ""
    assert inv.refuses(8192, 15617) == "8191 free < 8192"
    assert inv.refuses(16385, 0) == "max_unit 16384 < 16385"
    assert fit.Inventory(10, step_size=4).refuses(6, 0) == "step_size 4 does not divide 6"


def test_equal_hosts_tie_and_the_first_name_wins_then_they_alternate() -> None:
    placed, left_out = fit.place(TINY, 4, [_host("worker1"), _host("controller")])
    assert placed == ["controller", "worker1", "controller", "worker1"]
    assert left_out == {}


def test_the_host_with_more_free_ram_and_cpu_goes_first() -> None:
    placed, _ = fit.place(TINY, 2, [_host("controller", ram_used=4096, vcpu_used=4), _host("w1")])
    assert placed[0] == "w1"


def test_the_multipliers_change_who_wins() -> None:
    hosts = [_host("a", ram_used=4096), _host("b", vcpu_used=20)]
    assert fit.place(TINY, 1, hosts)[0] == ["a"]  # a: more CPU; b: more RAM -> tie, a
    assert fit.place(TINY, 1, hosts, {"ram": 2.0})[0] == ["b"]
    assert fit.place(TINY, 1, hosts, {"ram": -1.0})[0] == ["a"]


def test_down_or_disabled_computes_are_filtered_out() -> None:
    hosts = [_host("a", state="down"), _host("b", status="disabled"), _host("c")]
    placed, left_out = fit.place(TINY, 2, hosts)
    assert placed == ["c", "c"]
    assert left_out == {
        "a": "ComputeFilter: nova-compute is down",
        "b": "ComputeFilter: nova-compute is disabled",
    }


def test_a_host_without_room_for_one_is_never_offered() -> None:
    placed, left_out = fit.place(LARGE, 1, [_host("full", ram_used=15000), _host("free")])
    assert placed == ["free"]
    assert left_out["full"].startswith("MEMORY_MB: ")


def test_the_request_fails_whole_when_one_server_finds_no_host() -> None:
    hosts = [_host("controller", ram_used=1024), _host("worker1", ram_used=512)]
    quota = _quota(instances=(15, 0), cores=(30, 0), ram=(24576, 0), flavor=LARGE)
    p = fit.predict("project2", LARGE, 3, quota, hosts)
    assert p.quota_ok is True
    assert p.capacity_ok is False and p.fits is False
    assert p.capacity_room == 2
    assert p.blocking_class == "MEMORY_MB"
    assert p.limiting == "capacity: MEMORY_MB on the hosts (room for 2 more)"
    assert p.refusal.startswith("No valid host was found")
    assert "then ERROR" in p.outcome


def test_a_fit_names_the_hosts_and_the_next_limit() -> None:
    quota = _quota(instances=(5, 0))
    p = fit.predict("project1", TINY, 3, quota, [_host("controller"), _host("worker1")])
    assert p.fits is True
    assert p.placed == ["controller", "worker1", "controller"]
    assert p.host_counts() == {"controller": 2, "worker1": 1}
    assert p.limiting == "quota: instances (room for 5 more)"
    assert p.capacity_room == 62 and p.capacity_exact  # 15872 MB / 512 per host


def test_a_quota_refusal_creates_nothing() -> None:
    medium = fit.Flavor.of("m1.medium", 2, 4096, 40)
    quota = _quota(instances=(5, 3), cores=(10, 3), ram=(8192, 1536), flavor=medium)
    p = fit.predict("project1", medium, 2, quota, [_host("controller")])
    assert p.fits is False and p.quota_ok is False
    assert p.outcome == "refused by nova-api (403): nothing is created"
    assert p.limiting == "quota: ram (MB) (room for 1 more)"


def test_without_placement_only_the_quota_is_judged() -> None:
    p = fit.predict("p", TINY, 2, _quota(), None, notes=["no Placement"])
    assert p.fits is None and p.capacity_ok is None
    assert "capacity unknown" in p.outcome
    text = str(p)
    assert "Gate 2" not in text and "note:     no Placement" in text


def test_views_show_both_gates() -> None:
    p = fit.predict("project1", TINY, 3, _quota(), [_host("controller"), _host("worker1")])
    text = str(p)
    assert text.startswith("Will 3 x m1.tiny (1 vCPU, 512 MB RAM, 1 GB disk) fit in project1? yes")
    assert "2 (#1, #3)" in text and "1 (#2)" in text
    html = p._repr_html_()
    assert "<table>" in html and "Gate 1" in html and "Gate 2" in html


def test_a_tie_allows_either_spread_and_names_the_tied_hosts() -> None:
    p = fit.predict("project1", TINY, 3, _quota(), [_host("worker1"), _host("controller")])
    assert p.ties == [["controller", "worker1"], ["worker1"], ["controller", "worker1"]]
    assert p.spreads == {
        (("controller", 2), ("worker1", 1)),
        (("controller", 1), ("worker1", 2)),
    }
    assert p.spreads_complete
    assert p.allows({"controller": 1, "worker1": 2})  # the tie went the other way
    assert not p.allows({"controller": 3})  # the second server must go to the emptier host
    assert "#1: controller = worker1 (equal weights: either may take it)" in str(p)


def test_the_weighers_read_the_compute_nodes_figures_not_placements() -> None:
    # Placement sees two empty hosts; the compute nodes say worker1's disk is fuller (local
    # hosts sharing one filesystem, measured a minute apart): DiskWeigher breaks the tie.
    disk = {"controller": 61.0, "worker1": 60.0}
    hosts = [
        fit.Host(h.name, h.inventories, weighed={"DISK_GB": disk[h.name]})
        for h in (_host("worker1"), _host("controller"))
    ]
    p = fit.predict("project1", TINY, 3, _quota(), hosts)
    # #1 controller (more disk); #2 worker1 (more RAM and CPU now, the disks equal); #3 the
    # controller again: RAM and CPU equal, and worker1's disk is one GB below. No tie at all.
    assert p.placed == ["controller", "worker1", "controller"]
    assert p.ties == [["controller"], ["worker1"], ["controller"]]
    assert p.spreads == {(("controller", 2), ("worker1", 1))}
    swapped = [
        fit.Host(h.name, h.inventories, weighed={"DISK_GB": 60.0 + (h.name == "worker1")})
        for h in hosts
    ]
    assert fit.place(TINY, 1, swapped)[0] == ["worker1"]
    # Room is still Placement's: a weighed figure never makes a full host take a server.
    full = [fit.Host("a", _host("a", ram_used=15872).inventories, weighed={"MEMORY_MB": 9e9})]
    assert fit.place(TINY, 1, full)[0] == []


def test_a_spread_the_scheduler_could_not_make_is_refused() -> None:
    hosts = [_host("controller", ram_used=4096, vcpu_used=4), _host("worker1")]
    p = fit.predict("project1", TINY, 2, _quota(), hosts)
    assert p.ties == [["worker1"], ["worker1"]]  # worker1 stays the emptier after one
    assert p.spreads == {(("worker1", 2),)}
    assert p.allows({"worker1": 2}) and not p.allows({"controller": 1, "worker1": 1})
