"""The privacy budget ledger: allocation, spends, the release steps, refusals, arithmetic."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.ledgers.budget import BudgetAlreadyAllocated, BudgetNotAllocated, memory_ledger
from infra.publish import budget_summary, render_budget
from privacy.budget import (
    AllocationRefused,
    BudgetExceeded,
    InvalidSpend,
    PrivacyBudget,
    budget_id,
)
from privacy.params import PrivacyParams

MAXIMUM = 10.0
REQUEST = {"as_of": "2013-01-31", "epsilon_total": 1.0}


def _budget(total: float = 4.0) -> PrivacyBudget:
    return PrivacyBudget.allocate(
        2012, total, "alice", "2013-02-01T00:00:00+00:00", maximum=MAXIMUM
    )


def test_allocation_opens_the_year_with_a_total() -> None:
    budget = _budget()
    assert budget.id == budget_id(2012) != budget_id(2013)
    assert budget.total == 4.0 and budget.allocated_by == "alice"
    assert budget.remaining_total() == 4
    events = budget.collect_events()
    assert [type(e).__name__ for e in events] == ["BudgetAllocated"]


@pytest.mark.parametrize(
    ("total", "message"),
    [
        (10.5, r"^refused: epsilon 10\.5 for 2012 is above the maximum of 10 a year"),
        (200.0, r"^refused: epsilon 200 for 2012 is above the maximum of 10 a year"),
        (-1.0, r"^the year's epsilon must be a positive finite number, not -1\.0$"),
        (0.0, r"^the year's epsilon must be a positive finite number, not 0\.0$"),
        (float("inf"), r"^the year's epsilon must be a positive finite number, not inf$"),
    ],
)
def test_allocation_is_validated_and_bounded(total: float, message: str) -> None:
    with pytest.raises(AllocationRefused, match=message):
        PrivacyBudget.allocate(2012, total, "alice", "t", maximum=MAXIMUM)


def test_the_maximum_itself_is_allowed() -> None:
    assert PrivacyBudget.allocate(2012, MAXIMUM, "alice", "t", maximum=MAXIMUM).total == 10.0


def test_spend_records_who_when_which_tables_how_much_and_what_was_asked() -> None:
    budget = _budget()
    budget.collect_events()
    budget.spend("r1", "bob", "2013-02-02T10:00:00+00:00", {"a": 0.5, "b": 1.5}, REQUEST)
    (event,) = budget.collect_events()
    assert type(event).__name__ == "BudgetSpent"
    assert event.release_id == "r1"  # type: ignore[attr-defined]
    assert event.released_by == "bob"  # type: ignore[attr-defined]
    assert event.released_at == "2013-02-02T10:00:00+00:00"  # type: ignore[attr-defined]
    assert event.tables == {"a": 0.5, "b": 1.5}  # type: ignore[attr-defined]
    assert event.total == 2.0  # type: ignore[attr-defined]
    assert event.request == REQUEST  # type: ignore[attr-defined]
    assert budget.spent() == {"a": Fraction(1, 2), "b": Fraction(3, 2)}
    assert budget.remaining_total() == 2
    assert [p["release_id"] for p in budget.pending()] == ["r1"]


def test_overspend_is_refused_and_changes_nothing() -> None:
    budget = _budget(1.0)
    budget.spend("r1", "bob", "t", {"a": 1.0})
    version = budget.version
    with pytest.raises(
        BudgetExceeded,
        match=r"^refused: the release would overspend the 2012 privacy budget: "
        r"it needs 0\.1 but 0 of 1 remains$",
    ):
        budget.spend("r2", "bob", "t", {"b": 0.1})
    assert budget.version == version
    assert budget.release_ids() == {"r1"}


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ({}, r"^a spend must name at least one table$"),
        ({"a": 0.0}, r"^epsilon of table 'a' must be a positive finite number, not 0\.0$"),
        ({"a": float("nan")}, r"^epsilon of table 'a' must be a positive finite number, not nan$"),
        ({"a": True}, r"^epsilon of table 'a' must be a positive finite number, not True$"),
    ],
)
def test_malformed_spends_are_refused(tables: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidSpend, match=message):
        _budget().spend("r1", "bob", "t", tables)


def test_a_release_spends_once() -> None:
    budget = _budget()
    budget.spend("r1", "bob", "t", {"a": 0.1})
    with pytest.raises(InvalidSpend, match=r"^release r1 has already spent from this budget$"):
        budget.spend("r1", "bob", "t", {"a": 0.1})


def test_a_full_default_release_fits_its_budget_exactly() -> None:
    """Float rounding of the per-table shares never refuses the release they were made for."""
    params = PrivacyParams()
    budget = _budget(params.epsilon_total)
    budget.spend("r1", "bob", "t", params.epsilon_by_table())
    assert budget.remaining_total() == 0
    with pytest.raises(BudgetExceeded):
        budget.spend("r2", "bob", "t", {"by_gender": 1e-6})


def test_measurements_are_recorded_once_for_what_was_paid() -> None:
    budget = _budget()
    budget.spend("r1", "bob", "t", {"a": 0.5}, REQUEST)
    with pytest.raises(InvalidSpend, match=r"^release r1 did not pay for measurement\(s\) b$"):
        budget.record_measurements("r1", {"a": [1, 2], "b": [3]})
    with pytest.raises(InvalidSpend, match=r"^release r1 has no measurements to have written$"):
        budget.mark_written("r1", "t2")
    budget.record_measurements("r1", {"a": [1, -2]})
    with pytest.raises(InvalidSpend, match=r"^release r1 has its measurements already$"):
        budget.record_measurements("r1", {"a": [5, 5]})
    assert budget.release("r1")["measurements"] == {"a": [1, -2]}
    assert [p["release_id"] for p in budget.pending()] == ["r1"]
    budget.mark_written("r1", "t2")
    assert budget.pending() == []
    with pytest.raises(InvalidSpend, match=r"^release r1 has its measurements already$"):
        budget.record_measurements("r1", {"a": [0, 0]})


def test_a_release_never_changes_the_allocation() -> None:
    budget = _budget(4.0)
    budget.spend("r1", "bob", "t", {"a": 0.5}, REQUEST)
    budget.record_measurements("r1", {"a": [3]})
    budget.mark_written("r1", "t2")
    names = [type(e).__name__ for e in budget.collect_events()]
    assert names == ["BudgetAllocated", "BudgetSpent", "MeasurementsRecorded", "ReleaseWritten"]
    assert budget.total == 4.0 and budget.remaining_total() == Fraction(7, 2)


def test_imported_spends_are_copied_once_and_unchecked() -> None:
    budget = _budget(1.0)
    old = {"release_id": "old", "released_by": "x", "released_at": "t", "tables": {"a": 3.0}}
    assert budget.import_spend({**old, "total": 3.0}) is True
    assert budget.import_spend({**old, "total": 3.0}) is False
    assert budget.spent_total() == 3 and budget.remaining_total() == 0
    assert budget.pending() == []  # an imported spend is history, not a release to finish


amounts = st.floats(min_value=1e-4, max_value=2.0, allow_nan=False)


@settings(max_examples=150)
@given(
    total=st.floats(min_value=0.1, max_value=10.0),
    spends=st.lists(st.dictionaries(st.sampled_from(["a", "b"]), amounts, min_size=1), max_size=12),
)
def test_accepted_spends_never_exceed_the_allocation(
    total: float, spends: list[dict[str, float]]
) -> None:
    budget = _budget(total)
    accepted: list[dict[str, float]] = []
    for i, tables in enumerate(spends):
        before = (budget.version, budget.spent())
        try:
            budget.spend(f"r{i}", "bob", "t", tables)
        except BudgetExceeded:
            assert (budget.version, budget.spent()) == before
        else:
            accepted.append(tables)
    slack = 1 + Fraction(1, 10**9)
    asked = sum((Fraction(e) for s in accepted for e in s.values()), Fraction(0))
    assert asked == sum(budget.spent().values())
    assert asked <= Fraction(total) * slack and budget.spent_total() <= Fraction(total) * slack
    assert budget.spent_total() + budget.remaining_total() >= Fraction(total) * (
        1 - 2 * (slack - 1)
    )


@settings(max_examples=100)
@given(total=st.floats(min_value=0.1, max_value=10.0), parts=st.integers(min_value=1, max_value=9))
def test_equal_parts_that_fill_the_budget_are_all_accepted(total: float, parts: int) -> None:
    budget = _budget(total)
    for i in range(parts):
        budget.spend(f"r{i}", "bob", "t", {"a": total / parts})
    with pytest.raises(BudgetExceeded):
        budget.spend("one-more", "bob", "t", {"a": total / parts})


# ----------------------------------------------------------------------------------------------
# The application (in memory)


def test_ledger_round_trip_and_report() -> None:
    ledger = memory_ledger()
    assert ledger.budget(2012) is None
    with pytest.raises(BudgetNotAllocated, match=r"^no privacy budget is allocated for 2012"):
        ledger.spend(2012, {"a": 0.1}, release_id="r0", released_by="bob")
    with pytest.raises(AllocationRefused, match=r"above the maximum of 10"):
        ledger.allocate(2012, 11.0, "alice", maximum=MAXIMUM)
    assert ledger.budget(2012) is None
    ledger.allocate(2012, 4.0, "alice", maximum=MAXIMUM)
    ledger.allocate(2012, 4.0, "alice", maximum=MAXIMUM)  # idempotent
    with pytest.raises(BudgetAlreadyAllocated, match=r"^the 2012 privacy budget is already"):
        ledger.allocate(2012, 9.0, "alice", maximum=MAXIMUM)
    ledger.spend(2012, {"a": 0.25, "b": 1.0}, release_id="r1", released_by="bob", request=REQUEST)
    with pytest.raises(BudgetExceeded):
        ledger.spend(2012, {"a": 3.0}, release_id="r2", released_by="carol")
    first = ledger.record_measurements(2012, "r1", {"a": [4], "b": [1, 2]})
    # A second process that drew its own noise for r1 gets the recorded one back.
    assert ledger.record_measurements(2012, "r1", {"a": [9], "b": [9, 9]}) == first
    stored = ledger.budget(2012)
    assert stored is not None and stored.version == 3 and stored.total == 4.0
    summary = budget_summary(stored, 2012)
    assert summary["spent_total"] == 1.25
    assert summary["remaining_total"] == 2.75
    assert summary["tables"]["a"] == {"spent": 0.25}
    assert [(r["release_id"], r["state"]) for r in summary["releases"]] == [("r1", "pending")]
    text = render_budget(summary)
    assert "Allocated: 4.0000 by alice" in text and "PENDING" in text
    assert "r1" in text and "by bob" in text and "Remaining: 2.7500" in text
    ledger.mark_written(2012, "r1")
    assert budget_summary(ledger.budget(2012), 2012)["releases"][0]["state"] == "written"
    assert "No privacy budget" in render_budget(budget_summary(None, 2013))
