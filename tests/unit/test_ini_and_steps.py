"""The crudini-like ini editor and install steps as data."""

from __future__ import annotations

from labkit.install import steps as st
from labkit.sim.core import ini

CONF = "# keep me\n[DEFAULT]\ndebug = false\n\n[database]\nconnection = sqlite:////x\n\n[x]\n"


def test_set_replaces_in_place_and_keeps_comments() -> None:
    out = ini.set_value(CONF, "database", "connection", "mysql+pymysql://k:p@controller/k")
    assert out.startswith("# keep me\n[DEFAULT]\ndebug = false\n")
    assert ini.get(out, "database", "connection") == "mysql+pymysql://k:p@controller/k"
    assert out.count("connection") == 1


def test_set_adds_keys_to_their_section_and_new_sections_at_the_end() -> None:
    out = ini.set_value(CONF, "DEFAULT", "log_dir", "/var/log/keystone")
    out = ini.set_value(out, "token", "provider", "fernet")
    assert out.index("log_dir") < out.index("[database]")
    assert out.rstrip().endswith("[token]\nprovider = fernet")


def test_keys_before_any_header_are_default() -> None:
    assert ini.get("a = 1\n[s]\nb = 2\n", "DEFAULT", "a") == "1"
    assert ini.get("a = 1\n[s]\nb = 2\n", "s", "a") is None


def test_steps_round_trip_as_json() -> None:
    plan = [
        st.Packages(title="p", host="controller", names=("keystone",)),
        st.IniSet(
            title="i",
            host="controller",
            path="/etc/k.conf",
            settings=(("database", "connection", "x"),),
        ),
        st.Command(
            title="c",
            host="controller",
            command="keystone-manage db_sync",
            user="keystone",
            done_when=st.Check("db-has-tables", "keystone"),
        ),
        st.IdentityObjects(title="o", host="controller", users=(("demo", "DEMO_PASS"),)),
    ]
    for step in plan:
        assert st.step_from_dict(step.to_dict()) == step


def test_commands_read_like_the_install_guide() -> None:
    db = st.Database(
        title="d", host="controller", name="keystone", user="keystone", password="KEYSTONE_DBPASS"
    )
    assert (
        "GRANT ALL PRIVILEGES ON keystone.* TO 'keystone'@'localhost' IDENTIFIED BY "
        "'KEYSTONE_DBPASS';" in db.commands()
    )
    cmd = st.Command(
        title="c", host="controller", command="keystone-manage db_sync", user="keystone"
    )
    assert cmd.commands() == ['su -s /bin/sh -c "keystone-manage db_sync" keystone']


def test_secrets_are_filled_by_name_only_and_masked_back() -> None:
    secrets = {"ADMIN_PASS": "s3cr3t-value", "KEYSTONE_DBPASS": "db-pass-1"}
    text = "--bootstrap-password ADMIN_PASS (not ADMIN_PASSWORD) KEYSTONE_DBPASS"
    filled = st.fill_secrets(text, secrets)
    assert filled == "--bootstrap-password s3cr3t-value (not ADMIN_PASSWORD) db-pass-1"
    assert st.mask_secrets(filled, secrets) == text


def test_the_coverage_table_is_up_to_date() -> None:
    from labkit.sim import coverage

    assert coverage.main(["--check"]) == 0, "run: python -m labkit.sim.coverage"
