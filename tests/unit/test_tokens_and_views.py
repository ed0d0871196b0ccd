"""Token anatomy (pure, with locally made keys) and the notebook views' text faces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet, MultiFernet

from labkit.install import steps as st
from labkit.sim.keystone import fernet as kf
from labkit.tokens import envelope, key_role, open_token, which_key
from labkit.widgets.hosts import requirements_table, services_table
from labkit.widgets.plan import PlanView
from labkit.widgets.token import keys_table

ISSUED = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
USER, PROJECT = "99691104b9024ae193ef9532547f7c90", "ff04f52c2b4a49b3aecc63e7b5d237a3"


def make_token(key: bytes) -> str:
    payload = kf.TokenPayload(
        user_id=USER,
        methods=["password"],
        project_id=PROJECT,
        expires_at=ISSUED + timedelta(hours=1),
        audit_ids=["0HXjF5rGcj5bSzg7zOMy3w"],
    )
    return kf.encode(payload, MultiFernet([Fernet(key)]), ISSUED)


def test_envelope_is_readable_without_a_key() -> None:
    env = envelope(make_token(Fernet.generate_key()))
    assert env.version == 0x80 and env.issued_at == ISSUED
    assert env.size == 1 + 8 + 16 + env.ciphertext_bytes + 32
    assert [p[1] for p in env.parts()] == ["version", "timestamp", "IV", "ciphertext", "HMAC"]


def test_envelope_shows_this_tokens_own_bytes() -> None:
    import base64

    token = make_token(Fernet.generate_key())
    raw = base64.urlsafe_b64decode(kf.restore_padding(token))
    rows = {part: (value, meaning) for _, part, value, meaning in envelope(token).parts("now")}
    assert rows["version"][0] == "80"
    assert rows["timestamp"][0] == raw[1:9].hex(" ")
    assert rows["timestamp"][1].startswith(
        f"{int(ISSUED.timestamp())} s after 1970 = 2030-01-01T09:00:00Z"
    )
    assert rows["timestamp"][1].endswith("(now)")
    assert rows["IV"][0] == raw[9:25].hex()
    assert rows["ciphertext"][0] == f"{len(raw) - 57} bytes ({(len(raw) - 57) // 16} AES blocks)"
    assert rows["HMAC"][0] == raw[-32:].hex() and len(rows["HMAC"][0]) == 64


def test_token_view_prints_the_bytes_and_the_payload() -> None:
    from labkit.widgets.token import TokenView

    key = Fernet.generate_key()
    token = make_token(key)
    env = envelope(token)
    opened = open_token(token, {1: key})
    assert opened is not None and 0 < opened.size <= env.ciphertext_bytes
    text = str(TokenView(token, env, "now", opened, "opened with a test key"))
    assert env.iv.hex() in text and env.hmac.hex() in text
    assert (
        f"ProjectScopedPayload, decrypted with key file 1: {opened.size} bytes of msgpack, "
        f"padded to {env.ciphertext_bytes} for AES"
    ) in text
    assert "[true, <16 bytes>]" in text


def test_envelope_refuses_what_is_not_fernet() -> None:
    import pytest

    with pytest.raises(ValueError, match="not a Fernet token"):
        envelope("aGVsbG8gd29ybGQgdGhpcyBpcyBub3QgYSB0b2tlbiBhdCBhbGwsIHJlYWxseSBub3QgYXQgYWxs")


def test_which_key_and_payload_fields() -> None:
    k0, k1 = Fernet.generate_key(), Fernet.generate_key()
    token = make_token(k1)
    assert which_key(token, {0: k0, 1: k1}) == 1
    assert which_key(token, {0: k0}) is None
    opened = open_token(
        token,
        {0: k0, 1: k1},
        name=lambda i: {USER: "user:admin"}.get(i, i),
        when=lambda t: t.strftime("%H:%M"),
    )
    assert opened is not None and opened.payload_name == "ProjectScopedPayload"
    fields = {f.name: f for f in opened.fields}
    assert list(fields) == [
        "version",
        "user_id",
        "methods",
        "project_id",
        "expires_at",
        "audit_ids",
    ]
    assert fields["user_id"].raw == "[true, <16 bytes>]"
    assert fields["user_id"].value == f"{USER} (user:admin)"
    assert fields["methods"].value.startswith("password")
    assert fields["expires_at"].value == "10:00"
    assert "'0HXjF5rGcj5bSzg7zOMy3w'" in fields["audit_ids"].value


def test_key_roles_follow_keystone() -> None:
    assert [key_role(n, [0, 1, 2]) for n in (0, 1, 2)] == ["staged", "secondary", "primary"]


def test_keys_table_tracks_a_rotation() -> None:
    a, b, c = b"key-a", b"key-b", b"key-c"
    text = str(keys_table({0: c, 1: b, 2: a}, before={0: a, 1: b}))
    assert "/etc/keystone/fernet-keys/2  primary    file 0" in text
    assert "/etc/keystone/fernet-keys/0  staged     new key" in text
    assert "key-" not in text  # key material never shown


def test_plan_view_shows_commands_with_placeholders() -> None:
    steps = [
        st.Database(
            title="Create the keystone database",
            host="controller",
            name="keystone",
            user="keystone",
            password="KEYSTONE_DBPASS",
        ),
        st.Packages(
            title="Install keystone",
            host="controller",
            names=("keystone",),
            why="The service itself.",
        ),
    ]
    text = str(PlanView("keystone", steps))
    assert text.splitlines()[0].startswith("keystone: 2 steps on controller")
    assert "    $ mysql" in text
    assert (
        "MariaDB [(none)]> GRANT ALL PRIVILEGES ON keystone.* TO 'keystone'@'%' "
        "IDENTIFIED BY 'KEYSTONE_DBPASS';" in text
    )
    assert "    why: The service itself." in text
    assert "<details>" in PlanView("keystone", steps)._repr_html_()


def test_requirements_table_verdicts() -> None:
    hosts = [
        {
            "name": "big",
            "address": "10.64.0.2",
            "roles": ["controller", "worker"],
            "cpus": 8,
            "ram_gb": 16,
            "disk_gb": 250,
        },
        {
            "name": "small",
            "address": "10.64.0.3",
            "roles": ["worker"],
            "cpus": 1,
            "ram_gb": 4,
            "disk_gb": 20,
        },
        {
            "name": "tiny",
            "address": "10.65.0.4",
            "roles": ["worker"],
            "cpus": 1,
            "ram_gb": 1,
            "disk_gb": 20,
        },
    ]
    table = requirements_table(hosts, "10.64.0.0/24")
    verdicts = [row[-1] for row in table.rows]
    assert verdicts == ["fits the seed's recipe", "enough for a small lab", "too small"]
    assert table.marks == ["ok", "warn", "fail"]
    assert "10.65.0.4 NOT in 10.64.0.0/24" in str(table)


def test_services_table_uses_the_clouds_clock() -> None:
    hosts = [
        {
            "name": "controller",
            "services": [
                {"name": "mariadb", "state": "running", "since": "2030-01-01T09:00:20+00:00"}
            ],
        },
        {"name": "worker1", "services": []},
    ]
    text = str(services_table(hosts, "2030-01-01T09:01:00+00:00"))
    assert "controller  mariadb     running  40 s ago" in text
    assert "worker1     (none yet)" in text
