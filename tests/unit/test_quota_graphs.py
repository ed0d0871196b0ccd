"""The quota bars and the seed's picture of domains, projects and users (notebook 06): pure
graph building, its text, and drawing without errors."""

from __future__ import annotations

from typing import Any

import pytest
from matplotlib.figure import Figure

from labkit.diagrams import Diagram, graphs
from labkit.diagrams.render import draw


def _row(project: str, domain: str, resource: str, limit: int, in_use: int, reserved: int = 0):
    service = "network" if resource in ("port", "security_group") else "compute"
    return {
        "domain": domain,
        "project": project,
        "service": service,
        "resource": resource,
        "limit": limit,
        "in_use": in_use,
        "reserved": reserved,
    }


ROWS = [
    _row("project1", "domain1", "cores", 10, 3),
    _row("project1", "domain1", "ram", 8192, 1536),
    _row("project1", "domain1", "port", 10, 3, reserved=1),
    _row("project2", "domain1", "cores", 30, 12),
    _row("project2", "domain1", "ram", 24576, 24576),
    _row("project2", "domain1", "port", -1, 4),
    _row("tenant1", "domain2", "cores", 10, 11),
    _row("tenant1", "domain2", "ram", 8192, 0),
    _row("tenant1", "domain2", "port", 10, 0),
]


def _bars(g: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (group["label"], bar["resource"]): bar
        for group, bars in graphs.quota_groups(g)
        for bar in bars
    }


def test_each_project_gets_a_bar_per_resource_with_free_what_is_left() -> None:
    bars = _bars(graphs.quotas(ROWS))
    assert len(bars) == 9
    cores = bars["project1", "cores"]
    assert (cores["limit"], cores["in_use"], cores["reserved"], cores["free"]) == (10, 3, 0, 7)
    port = bars["project1", "port"]
    assert port["free"] == 10 - 3 - 1  # reserved is taken too
    assert bars["project2", "ram"]["free"] == 0


def test_unlimited_has_no_free_and_is_never_over() -> None:
    port = _bars(graphs.quotas(ROWS))["project2", "port"]
    assert port["limit"] == -1
    assert port["free"] is None
    assert port["over"] is False


def test_usage_past_the_limit_is_marked_over() -> None:
    bars = _bars(graphs.quotas(ROWS))
    assert bars["tenant1", "cores"]["over"] is True
    assert bars["tenant1", "cores"]["free"] == 0
    assert bars["project2", "ram"]["over"] is False  # exactly at the limit is allowed


def test_the_domain_view_sums_its_projects() -> None:
    g = graphs.quotas(ROWS, by="domain")
    bars = _bars(g)
    assert set(bars) == {(d, r) for d in ("domain1", "domain2") for r in ("cores", "ram", "port")}
    cores = bars["domain1", "cores"]
    assert (cores["limit"], cores["in_use"], cores["free"]) == (40, 15, 25)
    groups = {group["label"]: group for group, _ in graphs.quota_groups(g)}
    assert groups["domain1"]["projects"] == ["project1", "project2"]


def test_one_unlimited_project_makes_its_domains_sum_unlimited() -> None:
    port = _bars(graphs.quotas(ROWS, by="domain"))["domain1", "port"]
    assert port["limit"] == -1
    assert port["in_use"] == 3 + 4
    assert port["reserved"] == 1


def test_groups_and_bars_keep_the_order_they_came_in() -> None:
    g = graphs.quotas(ROWS)
    order = [
        (group["label"], [b["resource"] for b in bars]) for group, bars in graphs.quota_groups(g)
    ]
    assert order == [
        ("project1", ["cores", "ram", "port"]),
        ("project2", ["cores", "ram", "port"]),
        ("tenant1", ["cores", "ram", "port"]),
    ]


def test_quota_text_says_what_each_bar_holds() -> None:
    text = graphs.describe(graphs.quotas(ROWS))
    assert text.splitlines()[0].startswith("Quotas per project")
    assert "project1 (domain domain1)" in text
    assert "cores                10: 3 in use + 0 reserved + 7 free (30% taken)" in text
    assert "ram                  8192 MB: 1536 in use + 0 reserved + 6656 free (19% taken)" in text
    assert "unlimited: 4 in use, 0 reserved" in text
    over = [line for line in text.splitlines() if line.rstrip().endswith("OVER")]
    assert len(over) == 1 and "11 in use" in over[0]


def test_domain_text_names_the_projects_summed() -> None:
    text = graphs.describe(graphs.quotas(ROWS, by="domain"))
    assert "Quotas per domain" in text
    assert "domain1 (project1, project2)" in text
    assert "domain2 (tenant1)" in text


def test_an_unknown_grouping_is_refused() -> None:
    with pytest.raises(ValueError, match="by must be"):
        graphs.quotas(ROWS, by="region")


def test_quota_bars_draw() -> None:
    for by in ("project", "domain"):
        figure = draw(graphs.quotas(ROWS, by=by))
        assert isinstance(figure, Figure)
        width, height = figure.get_size_inches()
        assert width > 7 and height > 2
    assert Diagram(graphs.quotas([])).png().startswith(b"\x89PNG")


# ---- the seed's picture ------------------------------------------------------------------------

STATE = {
    "domains": [
        {
            "name": "domain1",
            "projects": [
                {"name": "project1", "quota": {"cores": 10, "ram": 8192}},
                {"name": "project2", "quota": {"cores": 30, "ram": 24576}},
            ],
        },
        {"name": "domain2", "projects": [{"name": "tenant1", "quota": {"cores": 10, "ram": 512}}]},
    ],
    "users": [
        {"name": "alice", "domain": "domain1", "roles": [("project1", "member")]},
        {"name": "carol", "domain": "domain1", "roles": [("project1", "reader")]},
        {"name": "dave", "domain": "domain2", "roles": [("tenant1", "member")]},
        {"name": "eve", "domain": "domain2", "roles": []},
    ],
}


def test_domains_own_projects_and_users_hold_roles_on_projects() -> None:
    g = graphs.projects(STATE)
    assert g.edges["domain:domain1", "project:project2"]["relation"] == "owns"
    assert g.edges["domain:domain2", "user:dave"]["relation"] == "home of"
    assert g.edges["user:carol", "project:project1"]["relation"] == "reader"
    assert not list(g.successors("user:eve"))
    assert g.nodes["project:project2"]["quota"] == {"cores": 30, "ram": 24576}


def test_a_role_on_a_project_not_drawn_is_left_out() -> None:
    state = {**STATE, "users": [{"name": "x", "domain": "domain1", "roles": [("p9", "member")]}]}
    g = graphs.projects(state)
    assert list(g.successors("user:x")) == []


def test_the_seeds_picture_reads_as_text() -> None:
    text = graphs.describe(graphs.projects(STATE))
    assert text.splitlines() == [
        "Domains, projects and users:",
        "  domain domain1",
        "    project project1  (10 vCPU, 8 GB RAM)",
        "    project project2  (30 vCPU, 24 GB RAM)",
        "    user alice: member of project1",
        "    user carol: reader of project1",
        "  domain domain2",
        "    project tenant1  (10 vCPU, 512 MB RAM)",
        "    user dave: member of tenant1",
        "    user eve: no role",
    ]


def test_the_seeds_picture_draws() -> None:
    figure = draw(graphs.projects(STATE))
    assert isinstance(figure, Figure)
    assert figure.get_size_inches()[0] >= 6
