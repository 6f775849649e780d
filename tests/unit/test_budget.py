"""The privacy budget ledger: allocation, spends, refusals and their arithmetic."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.budget_store import (
    Allocation,
    BudgetAlreadyAllocated,
    BudgetNotAllocated,
    memory_ledger,
)
from infra.publish import budget_summary, render_budget
from privacy.budget import (
    BudgetExceeded,
    InvalidSpend,
    PrivacyBudget,
    budget_id,
)
from privacy.params import PrivacyParams

WEIGHTS = {"a": 1.0, "b": 3.0}


def _budget(total: float = 4.0) -> PrivacyBudget:
    return PrivacyBudget.allocate(2012, total, WEIGHTS, "alice", "2013-02-01T00:00:00+00:00")


def test_allocation_splits_by_weights() -> None:
    budget = _budget()
    assert budget.id == budget_id(2012) != budget_id(2013)
    assert budget.allocated() == {"a": Fraction(1), "b": Fraction(3)}
    assert budget.remaining_total() == 4
    events = budget.collect_events()
    assert [type(e).__name__ for e in events] == ["BudgetAllocated"]


def test_spend_records_who_when_which_tables_and_how_much() -> None:
    budget = _budget()
    budget.collect_events()
    budget.spend("r1", "bob", "2013-02-02T10:00:00+00:00", {"a": 0.5, "b": 1.5})
    (event,) = budget.collect_events()
    assert type(event).__name__ == "BudgetSpent"
    assert event.release_id == "r1"  # type: ignore[attr-defined]
    assert event.released_by == "bob"  # type: ignore[attr-defined]
    assert event.released_at == "2013-02-02T10:00:00+00:00"  # type: ignore[attr-defined]
    assert event.tables == {"a": 0.5, "b": 1.5}  # type: ignore[attr-defined]
    assert event.total == 2.0  # type: ignore[attr-defined]
    assert budget.spent() == {"a": Fraction(1, 2), "b": Fraction(3, 2)}
    assert budget.remaining_total() == 2


def test_overspend_is_refused_and_changes_nothing() -> None:
    budget = _budget()
    budget.spend("r1", "bob", "t", {"a": 1.0})
    version = budget.version
    with pytest.raises(
        BudgetExceeded,
        match=r"^refused: the release would overspend the 2012 privacy budget: "
        r"a needs 0\.1 but 0 of 1 remains$",
    ):
        budget.spend("r2", "bob", "t", {"a": 0.1})
    assert budget.version == version
    assert budget.release_ids() == {"r1"}


def test_year_total_is_enforced_too() -> None:
    budget = PrivacyBudget.allocate(2012, 1.0, {"a": 1.0}, "alice", "t")
    with pytest.raises(BudgetExceeded, match=r"the release needs 1\.5 but 1 of 1 remains"):
        budget.spend("r1", "bob", "t", {"a": 1.5})


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ({}, r"^a spend must name at least one table$"),
        ({"c": 0.1}, r"^no budget is allocated for table\(s\) c in 2012$"),
        ({"a": 0.0}, r"^epsilon of table 'a' must be a positive finite number, not 0\.0$"),
        ({"a": float("nan")}, r"^epsilon of table 'a' must be a positive finite number, not nan$"),
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


def test_allocation_is_validated() -> None:
    with pytest.raises(InvalidSpend, match=r"^total must be a positive finite number, not -1$"):
        PrivacyBudget.allocate(2012, -1, WEIGHTS, "alice", "t")
    with pytest.raises(InvalidSpend, match=r"^weights must name at least one table$"):
        PrivacyBudget.allocate(2012, 1.0, {}, "alice", "t")


def test_a_full_default_release_fits_its_budget_exactly() -> None:
    """Float rounding of the per-table shares never refuses the release they were made for."""
    params = PrivacyParams()
    budget = PrivacyBudget.allocate(2012, params.epsilon_total, params.weights, "a", "t")
    budget.spend("r1", "bob", "t", params.epsilon_by_table())
    assert budget.remaining_total() == 0
    assert all(v == 0 for v in budget.remaining().values())
    with pytest.raises(BudgetExceeded):
        budget.spend("r2", "bob", "t", {"by_gender": 1e-6})


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
    allocated = budget.allocated()
    slack = 1 + Fraction(1, 10**9)
    for table in ("a", "b"):
        spent = sum((Fraction(s.get(table, 0.0)) for s in accepted), Fraction(0))
        assert spent == budget.spent()[table]
        assert spent <= allocated[table] * slack
        assert budget.remaining()[table] <= allocated[table]
    assert budget.spent_total() <= Fraction(total) * slack
    assert budget.spent_total() + budget.remaining_total() >= Fraction(total) * (
        1 - 2 * (slack - 1)
    )


@settings(max_examples=100)
@given(total=st.floats(min_value=0.1, max_value=10.0), parts=st.integers(min_value=1, max_value=9))
def test_equal_parts_that_fill_the_budget_are_all_accepted(total: float, parts: int) -> None:
    budget = PrivacyBudget.allocate(2012, total, {"a": 1.0}, "alice", "t")
    for i in range(parts):
        budget.spend(f"r{i}", "bob", "t", {"a": total / parts})
    with pytest.raises(BudgetExceeded):
        budget.spend("one-more", "bob", "t", {"a": total / parts})


# ----------------------------------------------------------------------------------------------
# The application (in memory)


def test_ledger_round_trip_and_report() -> None:
    ledger = memory_ledger()
    assert ledger.budget(2012) is None
    with pytest.raises(BudgetNotAllocated, match=r"^no privacy budget is allocated for 2012$"):
        ledger.spend(2012, {"a": 0.1}, release_id="r0", released_by="bob")
    ledger.allocate(2012, Allocation(4.0, WEIGHTS), "alice")
    ledger.allocate(2012, Allocation(4.0, WEIGHTS), "alice")  # idempotent
    with pytest.raises(BudgetAlreadyAllocated, match=r"^the 2012 privacy budget is already"):
        ledger.allocate(2012, Allocation(9.0, WEIGHTS), "alice")
    ledger.spend(2012, {"a": 0.25, "b": 1.0}, release_id="r1", released_by="bob")
    with pytest.raises(BudgetExceeded):
        ledger.spend(2012, {"a": 1.0}, release_id="r2", released_by="carol")
    stored = ledger.budget(2012)
    assert stored is not None and stored.version == 2
    summary = budget_summary(stored, 2012)
    assert summary["spent_total"] == 1.25
    assert summary["remaining_total"] == 2.75
    assert summary["tables"]["a"] == {
        "weight": 1.0,
        "allocated": 1.0,
        "spent": 0.25,
        "remaining": 0.75,
    }
    assert [r["release_id"] for r in summary["releases"]] == ["r1"]
    text = render_budget(summary)
    assert "Allocated: 4.0000 by alice" in text
    assert "r1" in text and "by bob" in text and "Remaining: 2.7500" in text
    assert "No privacy budget" in render_budget(budget_summary(None, 2013))
