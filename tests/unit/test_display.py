"""Aliases, relative times and tables: the building blocks of stable notebook output."""

from __future__ import annotations

from datetime import UTC, datetime

from labkit.display import Aliases, Table, Text, parse_time, relative_time

NOW = "2030-01-01T09:01:00Z"


def test_aliases_are_name_based_and_stable() -> None:
    a = Aliases()
    assert a.add("ff04f52c2b4a49b3aecc63e7b5d237a3", "demo", "project") == "project:demo"
    assert a.add("99691104b9024ae193ef9532547f7c90", "demo", "user") == "user:demo"
    assert a("ff04f52c2b4a49b3aecc63e7b5d237a3") == "project:demo"
    # the first alias given wins; a second name for the same id changes nothing
    assert a.add("ff04f52c2b4a49b3aecc63e7b5d237a3", "other", "project") == "project:demo"


def test_aliases_number_unnamed_ids_in_order_seen() -> None:
    a = Aliases()
    assert a("aaa", "user") == "user-1"
    assert a("bbb", "user") == "user-2"
    assert a("aaa", "user") == "user-1"
    assert a(None) == "-"


def test_aliases_disambiguate_equal_names() -> None:
    a = Aliases()
    a.add("1", "demo", "project")
    assert a.add("2", "demo", "project") == "project:demo#2"


def test_aliases_replace_ids_in_text() -> None:
    a = Aliases()
    a.add("99691104b9024ae193ef9532547f7c90", "admin", "user")
    assert a.replace_in("user_id | 99691104b9024ae193ef9532547f7c90") == "user_id | user:admin"


def test_relative_time_future_past_and_now() -> None:
    assert relative_time("2030-01-01T10:00:00.000000Z", NOW) == "in 59 min"
    assert relative_time("2030-01-01T09:00:57+00:00", NOW) == "3 s ago"
    assert relative_time(NOW, NOW) == "now"
    assert relative_time("2030-01-02T12:01:00+0000", NOW) == "in 27 h"
    assert relative_time("2030-01-05T09:01:00Z", NOW) == "in 4 days"


def test_parse_time_accepts_openstack_formats() -> None:
    expected = datetime(2030, 1, 1, 10, 1, tzinfo=UTC)
    for text in (
        "2030-01-01T10:01:00Z",
        "2030-01-01T10:01:00.000000Z",
        "2030-01-01T10:01:00+0000",
        "2030-01-01T10:01:00+00:00",
        "2030-01-01T10:01:00",
    ):
        assert parse_time(text) == expected


def test_table_text_is_aligned_and_html_escaped() -> None:
    t = Table(["host", "ram"], title="Hosts")
    t.add("controller", "16 GB", mark="ok")
    t.add("<w>", None)
    assert str(t).splitlines() == [
        "Hosts",
        "host        ram",
        "----------  -----",
        "controller  16 GB",
        "<w>         -",
    ]
    assert "&lt;w&gt;" in t._repr_html_()
    assert "background:#e8f5e9" in t._repr_html_()


def test_text_block_is_preformatted_in_html() -> None:
    assert Text("a < b", title="T")._repr_html_() == "<b>T</b><pre>a &lt; b</pre>"
