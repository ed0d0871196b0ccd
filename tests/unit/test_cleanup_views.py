"""The parts of notebook 99's clean-up that need no cloud: which rules count as notebook
05's, how the leftovers and the clean-up show (order, counts, marks, notes), and what
``labkit clean`` says on a lab where nothing is installed."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from labkit import cli
from labkit.config import StatePaths
from labkit.lab.cleanup import (
    KINDS,
    Thing,
    by_deletion,
    cleaned_table,
    is_recipe_rule,
    leftovers_table,
    summary,
)

REPO = Path(__file__).resolve().parents[2]


def rule(**kw: Any) -> SimpleNamespace:
    base = {
        "direction": "ingress",
        "ether_type": "IPv4",
        "protocol": "tcp",
        "port_range_min": 22,
        "port_range_max": 22,
        "remote_ip_prefix": "0.0.0.0/0",
        "remote_group_id": None,
    }
    return SimpleNamespace(**{**base, **kw})


@pytest.mark.parametrize(
    "kw, recipe, ours",
    [
        ({}, "tcp/22", True),
        ({"remote_ip_prefix": None}, "tcp/22", True),  # a client that sends no remote
        ({"remote_ip_prefix": "10.0.0.0/8"}, "tcp/22", False),
        ({"port_range_min": 80, "port_range_max": 80}, "tcp/22", False),
        ({"port_range_max": 23}, "tcp/22", False),
        ({"direction": "egress"}, "tcp/22", False),
        ({"ether_type": "IPv6", "remote_ip_prefix": "::/0"}, "tcp/22", False),
        ({"remote_group_id": "g", "remote_ip_prefix": None}, "tcp/22", False),
        ({}, "icmp", False),
        ({"protocol": "icmp", "port_range_min": None, "port_range_max": None}, "icmp", True),
        ({"protocol": "icmp", "port_range_min": 8, "port_range_max": 0}, "icmp", False),
    ],
)
def test_only_notebook_05s_exact_rules_count_as_the_labs(
    kw: dict[str, Any], recipe: str, ours: bool
) -> None:
    assert is_recipe_rule(rule(**kw), recipe) is ours


THINGS = [
    Thing("06-projects-quotas", "domain", "domain1", "Keystone", "d1"),
    Thing("03-glance", "image", "trusty", "public, project admin", "i1"),
    Thing("06-projects-quotas", "project", "project1", "domain domain1", "p1"),
    Thing("05-access", "rule", "tcp/22 from 0.0.0.0/0", "group default of project demo", "r1"),
    Thing("03-glance", "image", "cirros", "public, project admin", "i2"),
    Thing("05-access", "server", "server1", "project demo", "s1"),
]


def test_leftovers_are_listed_notebook_by_notebook_with_a_count() -> None:
    table = leftovers_table(THINGS, "left")
    assert [tuple(r) for r in table.rows] == [
        ("03-glance", "image", "cirros", "public, project admin"),
        ("03-glance", "image", "trusty", "public, project admin"),
        ("05-access", "server", "server1", "project demo"),
        ("05-access", "rule", "tcp/22 from 0.0.0.0/0", "group default of project demo"),
        ("06-projects-quotas", "project", "project1", "domain domain1"),
        ("06-projects-quotas", "domain", "domain1", "Keystone"),
    ]
    assert table.note == (
        "6 things from 3 notebooks: 1 server, 1 rule, 2 images, 1 project, 1 domain"
    )
    text = str(table)
    assert text.splitlines()[0] == "left"
    assert "ids" not in text and "i1" not in text  # ids are never shown: names only


def test_nothing_left_says_so() -> None:
    table = leftovers_table([], "left")
    assert table.rows == []
    assert table.note == "Nothing the lab made is left."
    assert str(table).endswith("Nothing the lab made is left.")


def test_deletion_order_puts_servers_first_and_domains_last() -> None:
    kinds = [t.kind for t in sorted(THINGS, key=by_deletion)]
    assert kinds == ["server", "rule", "image", "image", "project", "domain"]
    assert KINDS.index("server") < KINDS.index("port") < KINDS.index("security group")
    assert KINDS.index("server") < KINDS.index("server group")
    assert KINDS.index("keypair") < KINDS.index("user")  # Nova keeps a deleted user's keys
    assert KINDS.index("quota") < KINDS.index("project") < KINDS.index("domain")


def test_summary_plurals() -> None:
    one = [Thing("05-access", "keypair", "mykey", "user demo")]
    assert summary(one) == "1 thing from 1 notebook: 1 key pair"
    two = [*one, Thing("06-projects-quotas", "keypair", "bob-key", "user bob")]
    assert summary(two) == "2 things from 2 notebooks: 2 key pairs"
    groups = [Thing("06-projects-quotas", "security group", "default", "project p")] * 3
    assert summary(groups) == "3 things from 1 notebook: 3 security groups"


def test_the_clean_up_table_marks_each_outcome() -> None:
    server, port, domain, image = (
        Thing("05-access", "server", "server1", "project demo"),
        Thing("05-access", "port", "port of server1", "project demo"),
        Thing("06-projects-quotas", "domain", "domain1", "Keystone"),
        Thing("03-glance", "image", "trusty", "public, project admin"),
    )
    table = cleaned_table(
        [
            (server, "deleted"),
            (port, "went with its server"),
            (image, "failed: 409 Image is in use"),
            (domain, "deleted (disabled first)"),
        ]
    )
    assert table.marks == ["ok", "dim", "fail", "ok"]
    assert table.note == "1 of 4 not deleted: see the result column."
    assert "background:#ffebee" in table._repr_html_()  # the failure shows red in a notebook
    assert cleaned_table([(server, "deleted")]).note == "All 1 gone."
    assert cleaned_table([]).note == "Nothing to delete."


def test_labkit_clean_on_a_lab_with_nothing_installed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["--state-dir", str(tmp_path), "clean", str(REPO / "envs" / "sim.yaml")])
    out = capsys.readouterr().out
    assert code == 0
    assert "Nothing is installed in lab 'sim' yet: there is nothing to clean." in out
    assert not StatePaths.for_env("sim", tmp_path).sim_info.exists()  # no sim started for it


def test_labkit_clean_refuses_contradictory_or_impossible_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = str(REPO / "envs" / "sim.yaml")
    assert cli.main(["--state-dir", str(tmp_path), "clean", sim, "--dry-run", "--reset"]) == 1
    assert "contradict" in capsys.readouterr().err
    cloud = str(REPO / "envs" / "mycloud.yaml")
    assert cli.main(["--state-dir", str(tmp_path), "clean", cloud, "--reset"]) == 1
    assert "--reset wipes a sim's state" in capsys.readouterr().err
