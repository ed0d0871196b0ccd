"""Placement's rules without a server: microversions, error details, capacity, claims."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.sim.core.store import Database
from labkit.sim.placement import allocations, candidates, errors, manage, microversion, providers
from labkit.sim.placement import models as m
from labkit.sim.placement.providers import InventoryRecord


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "1.0"),
        ("placement 1.36", "1.36"),
        ("compute 2.93, placement latest", "1.39"),
        ("placement 1.28, compute 2.1", "1.28"),
    ],
)
def test_microversion_header(header: str | None, expected: str) -> None:
    assert str(microversion.parse(header)) == expected


def test_microversion_refusals_use_microversion_parse_texts() -> None:
    with pytest.raises(
        microversion.UnacceptableVersion, match=r"Unacceptable version header: 1\.40"
    ):
        microversion.parse("placement 1.40")
    with pytest.raises(microversion.BadVersion, match=r"invalid version string: 1\.x; invalid"):
        microversion.parse("placement 1.x")


def test_error_details_are_webob_bodies_with_tags_stripped() -> None:
    assert errors.detail_text(404, "No such thing") == (
        "The resource could not be found.\n\n No such thing  "
    )
    assert errors.detail_text(405, "x", method="PATCH") == (
        "The method PATCH is not allowed for this resource. \n\n x"
    )
    assert errors.detail_text(406, "y", accept=None).startswith(
        "The resource could not be generated that was acceptable to your browser (content of "
        "type ${HTTP_ACCEPT}."
    )


def test_capacity_is_total_minus_reserved_times_ratio() -> None:
    rec = InventoryRecord(
        "VCPU", total=8, reserved=2, allocation_ratio=1.5, max_unit=4, step_size=2
    )
    assert rec.capacity == 9
    assert rec.fits(4, used=4)
    assert not rec.fits(4, used=6)  # over capacity
    assert not rec.fits(6, used=0)  # over max_unit
    assert not rec.fits(3, used=0)  # not a step


@pytest.fixture()
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "placement.db", m.Base.metadata)
    manage.db_sync(database, 0.0)
    yield database
    database.dispose()


def _provider(db: Database, name: str, total: int) -> str:
    uuid = f"00000000-0000-0000-0000-{len(name):04d}{total:08d}"
    with db.write() as s:
        providers.create(s, uuid, name, None, 0.0)
        providers.set_inventories(s, uuid, [InventoryRecord("VCPU", total)], 0.0)
    return uuid


def _claim(consumer: str, rp: str, vcpus: int) -> allocations.ConsumerWrite:
    return allocations.ConsumerWrite(
        uuid=consumer,
        allocations={rp: {"VCPU": vcpus}},
        project_id="p",
        user_id="u",
        check_generation=True,
    )


def test_claims_stop_at_capacity_and_bump_generations(db: Database) -> None:
    rp = _provider(db, "host", 2)
    with db.transaction() as tx:
        allocations.write(tx, [_claim("c1", rp, 2)], 0.0)
    with pytest.raises(errors.CapacityExceeded), db.transaction() as tx:
        allocations.write(tx, [_claim("c2", rp, 1)], 0.0)
    with db.read() as s:
        assert providers.get(s, rp).generation == 2
        assert allocations.of_consumer(s, "c1").generation == 1
        assert providers.usages(s, providers.get(s, rp).id) == {"VCPU": 2}


def test_candidates_skip_full_providers(db: Database) -> None:
    full, free = _provider(db, "full", 1), _provider(db, "free", 4)
    with db.transaction() as tx:
        allocations.write(tx, [_claim("c1", full, 1)], 0.0)
    request = candidates.Request(groups=[candidates.Group(resources={"VCPU": 1})])
    with db.read() as s:
        found, summaries = candidates.find(s, request)
    assert [c.provider for c in found] == [free]
    assert [x.resources for x in summaries] == [{"VCPU": (4, 0)}]


def test_upgrade_check_is_all_success_after_sync(db: Database) -> None:
    code, lines = manage.upgrade_check(db)
    assert code == 0
    assert lines[1] == "| Upgrade Check Results                     |"
    assert sum("Result: Success" in line for line in lines) == 3
    assert len({len(line) for line in lines}) == 1


def test_a_claim_whose_provider_moved_meanwhile_changes_nothing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write moves each provider's generation only from the one it read: had another
    writer moved it in between, the claim fails whole (409 placement.concurrent_update)."""
    rp = _provider(db, "host", 4)
    real = allocations._providers_of

    def stale(s: object, writes: object) -> object:
        rps, slots = real(s, writes)  # type: ignore[arg-type]
        return {uuid: (rp_id, gen - 1) for uuid, (rp_id, gen) in rps.items()}, slots

    monkeypatch.setattr(allocations, "_providers_of", stale)
    with pytest.raises(errors.ConcurrentUpdate), db.transaction() as tx:
        allocations.write(tx, [_claim("c1", rp, 1)], 0.0)
    monkeypatch.undo()
    with db.read() as s:
        assert providers.get(s, rp).generation == 1  # the inventory's bump only
        assert allocations.of_consumer(s, "c1").allocations == {}
        assert providers.usages(s, providers.get(s, rp).id) == {"VCPU": 0}


def test_a_claim_is_a_handful_of_statements(db: Database) -> None:
    """Nova's scheduler claims once per server: the consumer, its project and user, the
    providers with their inventories and usage are read in one query each, then written."""
    rp = _provider(db, "host", 4)
    seen: list[str] = []
    with db.transaction() as tx:
        tx.conn.set_trace_callback(seen.append)  # every statement SQLite runs, as run
        try:
            allocations.write(tx, [_claim("c1", rp, 1)], 0.0)
        finally:
            tx.conn.set_trace_callback(None)
    with db.transaction() as tx:  # the same consumer again, at its generation
        tx.conn.set_trace_callback(seen.append)
        try:
            again = _claim("c1", rp, 2)
            again.generation = 1
            allocations.write(tx, [again], 0.0)
        finally:
            tx.conn.set_trace_callback(None)
    reads = [q for q in seen if q.lstrip().upper().startswith("SELECT")]
    assert 0 < len(reads) <= 2 * 3 + 1  # consumers, ids, providers (x2)
    assert len(seen) > len(reads)  # and the writes themselves
    with db.read() as s:
        assert allocations.of_consumer(s, "c1").generation == 2
        assert providers.usages(s, providers.get(s, rp).id) == {"VCPU": 2}
