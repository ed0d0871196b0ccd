"""Keystone's Fernet token format and key repository rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgpack
import pytest
from cryptography.fernet import Fernet

from labkit.sim.keystone import fernet

NOW = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture()
def keys(tmp_path: Path) -> fernet.KeyRepository:
    repo = fernet.KeyRepository(tmp_path / "fernet-keys")
    assert repo.setup() is True
    return repo


def test_setup_makes_a_staged_and_a_primary_key_with_private_modes(
    keys: fernet.KeyRepository,
) -> None:
    assert keys.key_numbers() == [1, 0]
    assert oct(keys.path.stat().st_mode & 0o777) == "0o700"
    assert all(oct((keys.path / str(n)).stat().st_mode & 0o777) == "0o600" for n in (0, 1))
    assert keys.setup() is False  # a second setup leaves the keys alone


def test_rotation_promotes_the_staged_key_and_keeps_max_active(keys: fernet.KeyRepository) -> None:
    staged = (keys.path / "0").read_bytes()
    assert keys.rotate() == [2, 1, 0]
    assert (keys.path / "2").read_bytes() == staged
    assert keys.rotate() == [3, 2, 0]  # three active keys at most: 1 goes


def test_project_token_round_trip_and_length(keys: fernet.KeyRepository) -> None:
    payload = fernet.TokenPayload(
        user_id=uuid.uuid4().hex,
        methods=["password"],
        expires_at=NOW + timedelta(hours=1),
        audit_ids=["AbCdEfGhIjKlMnOpQrStUv"],
        project_id=uuid.uuid4().hex,
    )
    token = fernet.encode(payload, keys.crypto(), NOW)
    assert len(token) == 183 and not token.endswith("=")
    back = fernet.decode(token, keys.crypto())
    assert back.user_id == payload.user_id and back.project_id == payload.project_id
    assert back.methods == ["password"] and back.issued_at == NOW
    assert back.expires_at == payload.expires_at and back.payload_name == "ProjectScopedPayload"


def test_payload_layout_is_keystones(keys: fernet.KeyRepository) -> None:
    user, project = uuid.uuid4(), uuid.uuid4()
    payload = fernet.TokenPayload(
        user_id=user.hex,
        methods=["password", "token"],
        expires_at=NOW,
        audit_ids=["AAAAAAAAAAAAAAAAAAAAAA"],
        project_id=project.hex,
    )
    token = fernet.encode(payload, keys.crypto(), NOW)
    fields = msgpack.unpackb(Fernet(keys.keys()[1]).decrypt(fernet.restore_padding(token)))
    assert fields == [
        2,
        [True, user.bytes],
        6,
        [True, project.bytes],
        NOW.timestamp(),
        [b"\x00" * 16],
    ]


def test_unscoped_domain_and_system_payloads(keys: fernet.KeyRepository) -> None:
    base = {
        "user_id": "admin-user-not-a-uuid",
        "methods": ["password"],
        "expires_at": NOW,
        "audit_ids": ["AAAAAAAAAAAAAAAAAAAAAA"],
    }
    for extra, version in (({}, 0), ({"domain_id": "default"}, 1), ({"system": "all"}, 8)):
        token = fernet.encode(fernet.TokenPayload(**base, **extra), keys.crypto(), NOW)
        back = fernet.decode(token, keys.crypto())
        assert back.version == version and back.user_id == "admin-user-not-a-uuid"


def test_tokens_from_an_old_primary_still_decrypt_after_rotation(
    keys: fernet.KeyRepository,
) -> None:
    payload = fernet.TokenPayload(
        user_id=uuid.uuid4().hex,
        methods=["password"],
        expires_at=NOW,
        audit_ids=["AAAAAAAAAAAAAAAAAAAAAA"],
    )
    token = fernet.encode(payload, keys.crypto(), NOW)
    keys.rotate()
    assert fernet.decode(token, keys.crypto()).user_id == payload.user_id


def test_tampered_or_foreign_tokens_are_not_recognized(
    keys: fernet.KeyRepository, tmp_path: Path
) -> None:
    payload = fernet.TokenPayload(
        user_id=uuid.uuid4().hex,
        methods=["password"],
        expires_at=NOW,
        audit_ids=["AAAAAAAAAAAAAAAAAAAAAA"],
    )
    token = fernet.encode(payload, keys.crypto(), NOW)
    with pytest.raises(fernet.TokenNotRecognized):
        fernet.decode(token[:-4] + "AAAA", keys.crypto())
    other = fernet.KeyRepository(tmp_path / "other")
    other.setup()
    with pytest.raises(fernet.TokenNotRecognized):
        fernet.decode(token, other.crypto())
    with pytest.raises(fernet.TokenNotRecognized):
        fernet.decode("not a token", keys.crypto())


def test_methods_bitmask_uses_keystones_order() -> None:
    assert fernet.methods_to_int(["password"]) == 2
    assert fernet.methods_to_int(["token", "password"]) == 6
    assert fernet.int_to_methods(6) == ["password", "token"]
