"""labkit.hosts.netns's link deletion, with `ip` faked: the kernel's namespace clean-up
runs after `ip netns del` returns, so a veth can vanish between the check and the delete."""

from __future__ import annotations

import subprocess

import pytest

from labkit.hosts import netns
from labkit.hosts.errors import LocalHostsError


class FakeIp:
    """`ip link show` / `ip link del` against a set of links; `vanishing` links are gone by
    the time `del` runs (what a namespace clean-up finishing in between looks like)."""

    def __init__(self, links: set[str], vanishing: frozenset[str] = frozenset()) -> None:
        self.links = set(links)
        self.vanishing = set(vanishing)
        self.deleted: list[str] = []

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        name = args[-1]
        if args[:2] == ("link", "del"):
            self.links -= self.vanishing
            if name not in self.links:
                return self._done(1, f'Cannot find device "{name}"', check)
            if name == "busy0":
                return self._done(2, "RTNETLINK answers: Operation not permitted", check)
            self.links.discard(name)
            self.deleted.append(name)
            return self._done(0, "", check)
        raise AssertionError(f"unexpected ip {args}")

    @staticmethod
    def _done(code: int, err: str, check: bool) -> subprocess.CompletedProcess[str]:
        assert not check, "delete_link handles the failure itself"
        return subprocess.CompletedProcess(["ip"], code, "", err)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeIp:
    ip = FakeIp({"lkab12p1", "lkab12p2", "busy0"}, vanishing={"lkab12p2"})
    monkeypatch.setattr(netns, "ip", ip)
    monkeypatch.setattr(netns, "link_exists", lambda name: name in ip.links)
    return ip


def test_a_link_that_is_there_is_deleted(fake: FakeIp) -> None:
    netns.delete_link("lkab12p1")
    assert fake.deleted == ["lkab12p1"]


def test_a_link_gone_between_check_and_delete_is_not_an_error(fake: FakeIp) -> None:
    netns.delete_link("lkab12p2")
    assert "lkab12p2" not in fake.links and fake.deleted == []


def test_a_link_that_stays_after_a_failed_delete_is_reported(fake: FakeIp) -> None:
    with pytest.raises(LocalHostsError, match="Operation not permitted") as err:
        netns.delete_link("busy0")
    assert "labkit hosts down" in err.value.hint
