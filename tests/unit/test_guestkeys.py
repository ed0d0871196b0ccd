"""Reading a guest's host keys from its console log, as cloud-init prints them, and the other
lines ``why_no_ssh`` reads there (authorized keys, metadata failures)."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from labkit import guestkeys
from labkit.guestkeys import HostKey


def _public(private: object) -> str:
    data = private.public_key().public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return str(data.decode())


@pytest.fixture(scope="module")
def host_keys() -> list[HostKey]:
    lines = [
        _public(ed25519.Ed25519PrivateKey.generate()),
        _public(ec.generate_private_key(ec.SECP256R1())),
        _public(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    ]
    return [HostKey(*guestkeys.public_key_parts(line), "root@server1") for line in lines]


def _fingerprint_line(key: HostKey, bits: int, md5: bool = False) -> str:
    digest = key.md5 if md5 else key.sha256
    return f"{bits} {digest} root@server1 ({key.label})"


def console(keys: list[HostKey], fingerprinted: list[HostKey] | None = None, **kw: bool) -> str:
    """A console log like an Ubuntu cloud image's first boot (logger -t ec2 prefixes)."""
    prefix = "<14>Dec  2 20:41:07 ec2: "
    bits = {"ED25519": 256, "ECDSA": 256, "RSA": 2048}
    fps = [
        prefix + _fingerprint_line(k, bits[k.label], md5=kw.get("md5", False))
        for k in (keys if fingerprinted is None else fingerprinted)
    ]
    out = [
        "[    0.000000] Linux version 3.13.0-170-generic",
        "[   12.2] cloud-init[812]: Cloud-init v. 0.7.5 running 'modules:final'",
        prefix,
        prefix + "#" * 61,
        prefix + guestkeys.FINGERPRINTS_BEGIN,
        *fps,
        prefix + guestkeys.FINGERPRINTS_END,
        prefix + "#" * 61,
        guestkeys.KEYS_BEGIN,
        *(f"{k.type} {k.blob} root@server1\r" for k in keys),
        guestkeys.KEYS_END,
        "Ubuntu 14.04.6 LTS server1 ttyS0",
    ]
    return "\n".join(out) + "\n"


# ---- host keys ----------------------------------------------------------------------------------
def test_keys_vouched_for_by_the_fingerprints_are_trusted(host_keys: list[HostKey]) -> None:
    found = guestkeys.parse_console(console(host_keys))
    assert found.keys == tuple(host_keys)
    assert found.trusted == tuple(host_keys)
    assert [f.label for f in found.fingerprints] == ["ED25519", "ECDSA", "RSA"]
    assert found.unvouched == ()


def test_old_md5_fingerprints_vouch_too(host_keys: list[HostKey]) -> None:
    found = guestkeys.parse_console(console(host_keys, md5=True))
    assert found.trusted == tuple(host_keys)


def test_a_key_without_its_fingerprint_is_not_trusted(host_keys: list[HostKey]) -> None:
    found = guestkeys.parse_console(console(host_keys, fingerprinted=host_keys[:2]))
    assert found.trusted == tuple(host_keys[:2])
    assert found.unvouched == (host_keys[2],)
    assert not found.vouches_for(host_keys[2].type, host_keys[2].blob)
    assert found.vouches_for(host_keys[0].type, host_keys[0].blob)


def test_a_fingerprint_for_another_key_vouches_for_nothing(host_keys: list[HostKey]) -> None:
    # The only fingerprint printed is of another key (another type, too).
    text = console(host_keys[:1], fingerprinted=[host_keys[1]])
    assert guestkeys.parse_console(text).trusted == ()
    # The same type but another key: its digest does not match.
    other = HostKey(*guestkeys.public_key_parts(_public(ed25519.Ed25519PrivateKey.generate())))
    text = console(host_keys[:1], fingerprinted=[other])
    assert guestkeys.parse_console(text).trusted == ()


def test_fingerprints_alone_vouch_at_connect_time(host_keys: list[HostKey]) -> None:
    lines = [guestkeys.FINGERPRINTS_BEGIN, _fingerprint_line(host_keys[0], 256)]
    text = "\n".join([*lines, guestkeys.FINGERPRINTS_END])
    found = guestkeys.parse_console(text)
    assert found.keys == () and found.found
    assert found.vouches_for(host_keys[0].type, host_keys[0].blob)
    assert not found.vouches_for(host_keys[1].type, host_keys[1].blob)


def test_the_last_boot_wins_and_half_blocks_are_ignored(host_keys: list[HostKey]) -> None:
    first = console(host_keys[:1])
    rebuilt = console(host_keys[1:])
    cut = guestkeys.KEYS_BEGIN + "\n" + f"{host_keys[0].type} {host_keys[0].blob}\n"
    found = guestkeys.parse_console(first + rebuilt + cut)  # the third boot is still printing
    assert found.trusted == tuple(host_keys[1:])


def test_garbled_keys_are_never_trusted(host_keys: list[HostKey]) -> None:
    key = host_keys[0]
    wrong_type = f"ssh-rsa {key.blob} root@x"  # an ed25519 blob claimed as RSA
    text = "\n".join([guestkeys.KEYS_BEGIN, wrong_type, "ssh-ed25519 AAAA!!!", guestkeys.KEYS_END])
    assert guestkeys.parse_console(text).keys == ()
    assert not guestkeys.parse_console("no blocks at all").found


def test_fingerprints_agree_with_ssh_keygen(host_keys: list[HostKey], tmp_path: Path) -> None:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("no ssh-keygen here")
    for key in host_keys:
        pub = tmp_path / "k.pub"
        pub.write_text(f"{key.type} {key.blob} c\n")
        sha = subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True)
        md5 = subprocess.run(
            ["ssh-keygen", "-E", "md5", "-lf", str(pub)], capture_output=True, text=True
        )
        assert sha.stdout.split()[1] == key.sha256
        assert md5.stdout.split()[1] == "MD5:" + key.md5


def test_nova_md5_fingerprint_is_colon_hex_of_the_blob(host_keys: list[HostKey]) -> None:
    key = host_keys[0]
    expected = hashlib.md5(base64.b64decode(key.blob)).hexdigest()
    assert guestkeys.md5_fingerprint(key.blob).replace(":", "") == expected
    assert len(guestkeys.md5_fingerprint(key.blob)) == 47


# ---- known_hosts ---------------------------------------------------------------------------------
def test_record_replaces_only_this_address(host_keys: list[HostKey], tmp_path: Path) -> None:
    path = tmp_path / "state" / "known_hosts"
    path.parent.mkdir()
    path.write_text(
        "# lab hosts\n10.64.0.2 ssh-ed25519 AAAAcontroller\n10.64.0.105 ssh-rsa AAAAold\n"
        "[10.64.0.105]:2222 ssh-rsa AAAAother\n"
    )
    replaced = guestkeys.record_known_hosts(path, "10.64.0.105", tuple(host_keys[:2]))
    assert replaced == 1
    lines = path.read_text().splitlines()
    assert lines[:3] == [
        "# lab hosts",
        "10.64.0.2 ssh-ed25519 AAAAcontroller",
        "[10.64.0.105]:2222 ssh-rsa AAAAother",
    ]
    assert lines[3:] == [f"10.64.0.105 {k.type} {k.blob}" for k in host_keys[:2]]
    assert path.stat().st_mode & 0o777 == 0o600
    before = path.read_text()
    assert guestkeys.record_known_hosts(path, "10.64.0.105", tuple(host_keys[:2])) == 0
    assert path.read_text() == before
    assert list(path.parent.glob(".*tmp")) == []
    if shutil.which("ssh-keygen"):  # OpenSSH finds the recorded keys under the address
        found = subprocess.run(
            ["ssh-keygen", "-F", "10.64.0.105", "-f", str(path)], capture_output=True, text=True
        )
        keys = [ln for ln in found.stdout.splitlines() if not ln.startswith("#")]
        assert [ln.split()[1] for ln in keys] == [k.type for k in host_keys[:2]]


# ---- authorized keys and metadata ----------------------------------------------------------------
AUTHKEYS = """\
ci-info: ++++++++++Authorized keys from /home/ubuntu/.ssh/authorized_keys for user ubuntu++++++++++
ci-info: +---------+-------------------------------------------------+---------+---------+
ci-info: | Keytype |                Fingerprint (md5)                | Options | Comment |
ci-info: +---------+-------------------------------------------------+---------+---------+
ci-info: | {type} | {fp} |    -    |  mykey  |
ci-info: +---------+-------------------------------------------------+---------+---------+
ci-info: no authorized SSH keys fingerprints found for user cirros.
[   14.1] cloud-init[900]: Cloud-init v. 0.7.5 finished
"""


@pytest.mark.parametrize("hash_name", ["md5", "sha256"])
def test_authorized_keys_table(host_keys: list[HostKey], hash_name: str) -> None:
    key = host_keys[1]
    digest = hashlib.new(hash_name, base64.b64decode(key.blob)).digest()
    text = AUTHKEYS.format(type=key.type, fp=guestkeys.colon_hex(digest))
    found = guestkeys.authorized_keys(text)
    ubuntu = found.of("ubuntu")
    assert ubuntu is not None and len(ubuntu) == 1
    assert ubuntu[0].comment == "mykey"
    assert ubuntu[0].matches(key.type, key.blob)
    assert not ubuntu[0].matches(host_keys[0].type, host_keys[0].blob)
    assert found.of("cirros") == ()
    assert found.of("centos") is None


def test_metadata_failures() -> None:
    text = (
        "[  5.1] cloud-init[700]: 2024-01-01 10:00:00,000 - url_helper.py[WARNING]: Calling "
        "'http://169.254.169.254/2009-04-04/meta-data/instance-id' failed [0/120s]: "
        "request error [('Connection aborted.', error(113, 'No route to host'))]\n"
        "[  6.0] cloud-init[700]: 2024-01-01 10:02:00,000 - DataSourceEc2.py[CRITICAL]: "
        "Giving up on md from ['http://169.254.169.254/2009-04-04/meta-data/instance-id'] "
        "after 120 seconds\n"
        "ci-info: no authorized SSH keys fingerprints found for user ubuntu.\n"
    )
    failures = guestkeys.metadata_failures(text)
    assert len(failures) == 2
    assert "169.254.169.254" in failures[0]
    assert guestkeys.metadata_failures("all good\n") == []
