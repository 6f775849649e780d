"""The partner ledger records every partner release of a year, and refuses to record one that
was audited without a release recorded meanwhile."""

from __future__ import annotations

import pytest

from infra.ledgers.partner import PartnerLedger, PartnerLedgerConflict
from privacy.partner_ledger import PartnerReleases, partner_ledger_id

CELLS = [("by_gender", ("female",), 3, True), ("by_gender", ("total",), 9, False)]


def record(ledger: PartnerLedger, seen: int | None, release_id: str, as_of: str) -> None:
    ledger.record(
        2012,
        seen,
        release_id=release_id,
        released_by="tester",
        released_at="2013-02-01T00:00:00+00:00",
        as_of=as_of,
        threshold=5,
        protection=5.0,
        cells=CELLS,
    )


def test_releases_are_recorded_with_their_cells_in_order() -> None:
    ledger = PartnerLedger()
    assert ledger.year(2012) is None
    record(ledger, None, "first", "2013-01-31")
    year = ledger.year(2012)
    assert year is not None and year.id == partner_ledger_id(2012)
    record(ledger, year.version, "second", "2013-06-30")
    stored = ledger.year(2012)
    assert stored is not None
    assert [(r["release_id"], r["as_of"], r["released_by"]) for r in stored.releases] == [
        ("first", "2013-01-31", "tester"),
        ("second", "2013-06-30", "tester"),
    ]
    assert PartnerReleases.cells_of(stored.releases[1]) == CELLS


def test_a_release_audited_before_another_was_recorded_is_refused() -> None:
    ledger = PartnerLedger()
    record(ledger, None, "first", "2013-01-31")
    with pytest.raises(PartnerLedgerConflict):
        record(ledger, None, "late", "2013-06-30")  # audited as if the year had no release
    year = ledger.year(2012)
    assert year is not None
    stale = year.version
    record(ledger, stale, "second", "2013-06-30")
    with pytest.raises(PartnerLedgerConflict):
        record(ledger, stale, "third", "2013-07-31")
    year = ledger.year(2012)
    assert year is not None and [r["release_id"] for r in year.releases] == ["first", "second"]


def test_a_release_id_is_recorded_once() -> None:
    ledger = PartnerLedger()
    record(ledger, None, "first", "2013-01-31")
    year = ledger.year(2012)
    assert year is not None
    with pytest.raises(ValueError, match="already recorded"):
        record(ledger, year.version, "first", "2013-06-30")
