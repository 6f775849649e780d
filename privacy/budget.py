"""The privacy budget ledger: one event-sourced aggregate per reporting year.

A year is opened explicitly (``BudgetAllocated``: the year's total epsilon, who opened it and
when); nothing else ever sets or raises it. Every DP release of the year then goes through
three recorded steps:

1. ``BudgetSpent``: the release's epsilons are paid for, before any noise is drawn. The
   aggregate refuses a spend that would take the year over its allocation.
2. ``MeasurementsRecorded``: the noisy measurements the release drew. They are differentially
   private outputs already, so storing them costs nothing more, and a release that fails
   after this point is written again from them: no new noise, no second spend.
3. ``ReleaseWritten``: the package is in place. A release spent but not yet written is
   *pending*; the publish layer finishes it before it lets the year spend again.

Arithmetic: epsilons are floats in the events (plain JSON). Sums and comparisons use exact
rationals of those floats (``fractions.Fraction``), with a relative slack of ``SLACK`` so a
release that spends exactly its float-rounded share is not refused for the last bit. The
slack is a billionth of the budget: far below any meaningful privacy difference.

The allocation is checked against the year's total only: every table's epsilon counts
against it, whatever its privacy unit, so the total bounds any one unit's loss. (Ledgers
written by earlier versions also carry per-table weights; they are kept as history and not
used.)

Imports only the standard library and ``eventsourcing.domain`` (STYLE: the domain knows no
infrastructure).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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
    """The spend would take the year over its allocation; nothing was recorded."""


class InvalidSpend(BudgetError, ValueError):
    """The spend itself is malformed (unknown table, non-positive epsilon, reused id)."""


class AllocationRefused(BudgetError, ValueError):
    """The allocation is malformed or above the configured maximum; nothing was recorded."""


class UnknownRelease(BudgetError, KeyError):
    """No spend of this year has that release id."""


def _epsilon(value: Any, what: str, error: type[BudgetError] = InvalidSpend) -> Fraction:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise error(f"{what} must be a positive finite number, not {value!r}")
    return Fraction(value)


def _within(used: Fraction, allowed: Fraction) -> bool:
    return used <= allowed * (1 + SLACK)


def _left(allowed: Fraction, used: Fraction) -> Fraction:
    """What remains, 0 when within the rounding slack."""
    rest = allowed - used
    return rest if rest > allowed * SLACK else Fraction(0)


class PrivacyBudget(Aggregate):
    """A reporting year's privacy budget (pure DP, epsilon) and the releases paid from it."""

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
        self.weights = dict(weights)  # history of earlier versions; not used
        self.allocated_by = allocated_by
        self.allocated_at = allocated_at
        self.spends: list[dict[str, Any]] = []

    @classmethod
    def allocate(
        cls,
        year: int,
        total: float,
        allocated_by: str,
        allocated_at: str,
        *,
        maximum: float,
    ) -> PrivacyBudget:
        """Open ``year`` with ``total`` epsilon; refused above ``maximum``."""
        if isinstance(year, bool) or not isinstance(year, int):
            raise AllocationRefused(f"year must be an integer, not {year!r}")
        amount = _epsilon(total, "the year's epsilon", AllocationRefused)
        if amount > Fraction(maximum):
            raise AllocationRefused(
                f"refused: epsilon {total:g} for {year} is above the maximum of {maximum:g} "
                "a year; a larger budget would publish counts that are close to exact"
            )
        if not allocated_by:
            raise AllocationRefused("an allocation must say who made it")
        return cls(
            year=year,
            total=float(total),
            weights={},
            allocated_by=allocated_by,
            allocated_at=allocated_at,
        )

    # ------------------------------------------------------------------------------------------
    # Reading the ledger

    def spent(self) -> dict[str, Fraction]:
        """Epsilon spent on each table, over every release."""
        out: dict[str, Fraction] = {}
        for spend in self.spends:
            for table, epsilon in spend["tables"].items():
                out[table] = out.get(table, Fraction(0)) + Fraction(epsilon)
        return out

    def spent_total(self) -> Fraction:
        return sum((Fraction(s["total"]) for s in self.spends), Fraction(0))

    def remaining_total(self) -> Fraction:
        return _left(Fraction(self.total), self.spent_total())

    def release_ids(self) -> set[str]:
        return {s["release_id"] for s in self.spends}

    def release(self, release_id: str) -> dict[str, Any]:
        for spend in self.spends:
            if spend["release_id"] == release_id:
                return spend
        raise UnknownRelease(f"no release {release_id} was paid for from the {self.year} budget")

    def pending(self) -> list[dict[str, Any]]:
        """Releases paid for but not written yet, oldest first."""
        return [s for s in self.spends if s.get("written_at") is None and s.get("request")]

    # ------------------------------------------------------------------------------------------
    # Spending

    def check(self, tables: Mapping[str, float], release_id: str = "") -> None:
        """Raise if spending ``tables`` (table -> epsilon) would overspend; change nothing."""
        if not tables:
            raise InvalidSpend("a spend must name at least one table")
        if release_id and release_id in self.release_ids():
            raise InvalidSpend(f"release {release_id} has already spent from this budget")
        amounts = {t: _epsilon(e, f"epsilon of table {t!r}") for t, e in tables.items()}
        asked = sum(amounts.values(), Fraction(0))
        if not _within(self.spent_total() + asked, Fraction(self.total)):
            raise BudgetExceeded(
                f"refused: the release would overspend the {self.year} privacy budget: it "
                f"needs {float(asked):.6g} but {float(self.remaining_total()):.6g} of "
                f"{self.total:.6g} remains"
            )

    def spend(
        self,
        release_id: str,
        released_by: str,
        released_at: str,
        tables: Mapping[str, float],
        request: Mapping[str, Any] | None = None,
    ) -> None:
        """Record a release's spend, or raise :class:`BudgetExceeded` and record nothing.

        ``request`` is what the release was asked for (cut-off, parameters): enough to write
        it again from its measurements. Without it the spend is only an amount (imports of
        earlier ledgers, tests of the arithmetic)."""
        self.check(tables, release_id)
        clean = {str(t): float(e) for t, e in tables.items()}
        self._spent(
            release_id=release_id,
            released_by=released_by,
            released_at=released_at,
            tables=clean,
            total=float(sum((Fraction(e) for e in clean.values()), Fraction(0))),
            request=dict(request) if request else None,
        )

    def import_spend(self, spend: Mapping[str, Any]) -> bool:
        """Copy a spend from an earlier version's ledger file as it was, without checking it
        against the allocation (it happened). False if the release is here already."""
        if spend["release_id"] in self.release_ids():
            return False
        self._spent(
            release_id=str(spend["release_id"]),
            released_by=str(spend["released_by"]),
            released_at=str(spend["released_at"]),
            tables={str(t): float(e) for t, e in spend["tables"].items()},
            total=float(spend["total"]),
            request=None,
        )
        return True

    @event("BudgetSpent")
    def _spent(
        self,
        release_id: str,
        released_by: str,
        released_at: str,
        tables: dict[str, float],
        total: float,
        request: dict[str, Any] | None = None,
    ) -> None:
        self.spends.append(
            {
                "release_id": release_id,
                "released_by": released_by,
                "released_at": released_at,
                "tables": dict(tables),
                "total": total,
                "request": request,
                "measurements": None,
                "written_at": None if request else released_at,
            }
        )

    # ------------------------------------------------------------------------------------------
    # Finishing a release

    def record_measurements(
        self, release_id: str, measurements: Mapping[str, Sequence[int]]
    ) -> None:
        """Keep the noisy measurements of a paid release; they are drawn once, ever."""
        spend = self.release(release_id)
        if spend["measurements"] is not None:
            raise InvalidSpend(f"release {release_id} has its measurements already")
        if spend["written_at"] is not None:
            raise InvalidSpend(f"release {release_id} is written already")
        clean = {str(k): [int(v) for v in values] for k, values in measurements.items()}
        unpaid = sorted(set(clean) - set(spend["tables"]))
        if unpaid:
            raise InvalidSpend(
                f"release {release_id} did not pay for measurement(s) {', '.join(unpaid)}"
            )
        self._measured(release_id=release_id, measurements=clean)

    @event("MeasurementsRecorded")
    def _measured(self, release_id: str, measurements: dict[str, list[int]]) -> None:
        self.release(release_id)["measurements"] = {k: list(v) for k, v in measurements.items()}

    def mark_written(self, release_id: str, written_at: str) -> None:
        spend = self.release(release_id)
        if spend["measurements"] is None:
            raise InvalidSpend(f"release {release_id} has no measurements to have written")
        if spend["written_at"] is None:
            self._written(release_id=release_id, written_at=written_at)

    @event("ReleaseWritten")
    def _written(self, release_id: str, written_at: str) -> None:
        self.release(release_id)["written_at"] = written_at
