"""The privacy budget ledger: one event-sourced aggregate per reporting year.

A year's budget is allocated once (``BudgetAllocated``: the total epsilon and its split over
tables by weights). Every release spends from it (``BudgetSpent``: who released, when, which
tables and how much). The aggregate refuses a spend that would take any table, or the year,
over its allocation; the store saves the spend before any noise is drawn, and optimistic
concurrency on the aggregate's version makes concurrent spends serialise (see
``infra.budget_store``).

Arithmetic: epsilons are floats in the events (plain JSON). Sums and comparisons use exact
rationals of those floats (``fractions.Fraction``), with a relative slack of ``SLACK`` so a
release that spends exactly its float-rounded share is not refused for the last bit. The
slack is a billionth of the budget: far below any meaningful privacy difference.

Imports only the standard library and ``eventsourcing.domain`` (STYLE: the domain knows no
infrastructure).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

BUDGET_NAMESPACE = uuid5(NAMESPACE_URL, "urn:cmm-ledger:privacy-budget")
SLACK = Fraction(1, 10**9)


def budget_id(year: int) -> UUID:
    """The ledger of ``year``: name-based, so every process finds the same aggregate."""
    return uuid5(BUDGET_NAMESPACE, f"budget/{int(year)}")


class BudgetError(Exception):
    """Base class of budget refusals."""


class BudgetExceeded(BudgetError):
    """The spend would take a table or the year over its allocation; nothing was recorded."""


class InvalidSpend(BudgetError, ValueError):
    """The spend itself is malformed (unknown table, non-positive epsilon, reused id)."""


def _epsilon(value: Any, what: str) -> Fraction:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InvalidSpend(f"{what} must be a positive finite number, not {value!r}")
    return Fraction(value)


def _within(used: Fraction, allowed: Fraction) -> bool:
    return used <= allowed * (1 + SLACK)


def _left(allowed: Fraction, used: Fraction) -> Fraction:
    """What remains, 0 when within the rounding slack."""
    rest = allowed - used
    return rest if rest > allowed * SLACK else Fraction(0)


class PrivacyBudget(Aggregate):
    """A reporting year's privacy budget (pure DP, epsilon) and what was spent from it."""

    @staticmethod
    def create_id(year: int) -> UUID:
        return budget_id(year)

    @event("BudgetAllocated")
    def __init__(
        self,
        year: int,
        total: float,
        weights: dict[str, float],
        allocated_by: str,
        allocated_at: str,
    ) -> None:
        self.year = year
        self.total = total
        self.weights = dict(weights)
        self.allocated_by = allocated_by
        self.allocated_at = allocated_at
        self.spends: list[dict[str, Any]] = []

    @classmethod
    def allocate(
        cls,
        year: int,
        total: float,
        weights: Mapping[str, float],
        allocated_by: str,
        allocated_at: str,
    ) -> PrivacyBudget:
        """A new ledger for ``year`` with ``total`` split over tables by ``weights``."""
        if isinstance(year, bool) or not isinstance(year, int):
            raise InvalidSpend(f"year must be an integer, not {year!r}")
        _epsilon(total, "total")
        if not weights:
            raise InvalidSpend("weights must name at least one table")
        for table, weight in weights.items():
            _epsilon(weight, f"weight of table {table!r}")
        return cls(
            year=year,
            total=float(total),
            weights={str(t): float(w) for t, w in weights.items()},
            allocated_by=allocated_by,
            allocated_at=allocated_at,
        )

    # ------------------------------------------------------------------------------------------
    # Reading the ledger

    def allocated(self) -> dict[str, Fraction]:
        """Each table's share of the total: ``total * weight / sum(weights)``."""
        weights = {t: Fraction(w) for t, w in self.weights.items()}
        whole = sum(weights.values())
        return {t: Fraction(self.total) * w / whole for t, w in weights.items()}

    def spent(self) -> dict[str, Fraction]:
        out = {t: Fraction(0) for t in self.weights}
        for spend in self.spends:
            for table, epsilon in spend["tables"].items():
                out[table] += Fraction(epsilon)
        return out

    def remaining(self) -> dict[str, Fraction]:
        spent = self.spent()
        return {t: _left(a, spent[t]) for t, a in self.allocated().items()}

    def spent_total(self) -> Fraction:
        return sum((Fraction(s["total"]) for s in self.spends), Fraction(0))

    def remaining_total(self) -> Fraction:
        return _left(Fraction(self.total), self.spent_total())

    def release_ids(self) -> set[str]:
        return {s["release_id"] for s in self.spends}

    # ------------------------------------------------------------------------------------------
    # Spending

    def check(self, tables: Mapping[str, float], release_id: str = "") -> None:
        """Raise if spending ``tables`` (table -> epsilon) would overspend; change nothing."""
        if not tables:
            raise InvalidSpend("a spend must name at least one table")
        if release_id and release_id in self.release_ids():
            raise InvalidSpend(f"release {release_id} has already spent from this budget")
        amounts = {t: _epsilon(e, f"epsilon of table {t!r}") for t, e in tables.items()}
        unknown = sorted(set(amounts) - set(self.weights))
        if unknown:
            raise InvalidSpend(
                f"no budget is allocated for table(s) {', '.join(unknown)} in {self.year}"
            )
        allocated, spent = self.allocated(), self.spent()
        over = [
            f"{t} needs {float(e):.6g} but {float(_left(allocated[t], spent[t])):.6g} "
            f"of {float(allocated[t]):.6g} remains"
            for t, e in amounts.items()
            if not _within(spent[t] + e, allocated[t])
        ]
        asked = sum(amounts.values(), Fraction(0))
        if not _within(self.spent_total() + asked, Fraction(self.total)):
            over.append(
                f"the release needs {float(asked):.6g} but {float(self.remaining_total()):.6g} "
                f"of {self.total:.6g} remains"
            )
        if over:
            raise BudgetExceeded(
                f"refused: the release would overspend the {self.year} privacy budget: "
                + "; ".join(over)
            )

    def spend(
        self,
        release_id: str,
        released_by: str,
        released_at: str,
        tables: Mapping[str, float],
    ) -> None:
        """Record a release's spend, or raise :class:`BudgetExceeded` and record nothing."""
        self.check(tables, release_id)
        clean = {str(t): float(e) for t, e in tables.items()}
        self._spent(
            release_id=release_id,
            released_by=released_by,
            released_at=released_at,
            tables=clean,
            total=float(sum((Fraction(e) for e in clean.values()), Fraction(0))),
        )

    @event("BudgetSpent")
    def _spent(
        self,
        release_id: str,
        released_by: str,
        released_at: str,
        tables: dict[str, float],
        total: float,
    ) -> None:
        self.spends.append(
            {
                "release_id": release_id,
                "released_by": released_by,
                "released_at": released_at,
                "tables": dict(tables),
                "total": total,
            }
        )
