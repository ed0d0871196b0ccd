"""The SSH runner reads and writes a whole ini step with one crudini each."""

from __future__ import annotations

from labkit.install.ssh_runner import crudini_lines, merge_input


def test_crudini_lines_parses_values_sections_and_empty_values() -> None:
    # As crudini 0.9.4 (Debian 12) prints a file with a key before any section, a value
    # holding " = ", and empty values.
    text = (
        "[ DEFAULT ] a = 1\n"
        "[ DEFAULT ] b = x y\n"
        "[ DEFAULT ] c\n"
        "[ s1 ] k = v = w\n"
        "[ keystone_authtoken ] www_authenticate_uri = http://10.64.0.2:5000\n"
    )
    assert crudini_lines(text) == {
        ("DEFAULT", "a"): "1",
        ("DEFAULT", "b"): "x y",
        ("DEFAULT", "c"): "",
        ("s1", "k"): "v = w",
        ("keystone_authtoken", "www_authenticate_uri"): "http://10.64.0.2:5000",
    }


def test_crudini_lines_ignores_what_is_not_a_setting() -> None:
    assert crudini_lines("crudini: error\n\n[ s ]\n") == {}


def test_merge_input_groups_settings_by_section_in_order() -> None:
    settings = (
        ("DEFAULT", "my_ip", "10.64.0.2"),
        ("database", "connection", "mysql+pymysql://nova:NOVA_DBPASS@controller/nova"),
        ("DEFAULT", "service_plugins", ""),
        ("database", "connection", "sqlite://"),
    )
    assert merge_input(settings) == (
        "[DEFAULT]\nmy_ip = 10.64.0.2\nservice_plugins = \n[database]\nconnection = sqlite://\n"
    )
