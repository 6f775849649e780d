"""The privacy budget ledger's store: ``privacy.budget`` kept in the event store itself.

Built on ``infra.ledgers.base.StoredLedger``: on SQLite the ledger is a table of the
events file (``events.sqlite3``), on PostgreSQL a table of the events database. So deleting
or replacing any other file of the data directory cannot reset a year's budget, and a copy of
the event store carries what was spent from it.

Earlier versions kept the ledger in a file of its own, ``data_dir/budget.sqlite3``. Opening
the ledger imports such a file (its allocations and spends, as they were; an allocation above
today's maximum is refused) and renames it to ``budget.sqlite3.imported``, so it is read
once and can no longer stand in for the ledger. On PostgreSQL the table is the one earlier
versions used (``budgetledger_events``), so there is nothing to import.

Every write is load, check, record, save. Two processes that write at once both load version
``n`` and both try to save version ``n + 1``; the store's unique key on (aggregate id,
version) lets one win and raises eventsourcing's ``IntegrityError`` for the other, which
reloads (now seeing the winner's record) and checks again. So concurrent releases cannot
overspend together, and a release's measurements are recorded once.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from infra.ledgers.base import StoredLedger
from privacy.budget import BudgetError, PrivacyBudget, budget_id

LEGACY_FILE = "budget.sqlite3"
LEGACY_IMPORTED = "budget.sqlite3.imported"
MAX_ATTEMPTS = 50

T = TypeVar("T")


class BudgetContention(BudgetError):
    """Too many concurrent writes in a row; nothing was recorded. Try again."""


class BudgetNotAllocated(BudgetError):
    """No budget is allocated for the year: publishing never opens one."""


class LegacyLedgerUnreadable(BudgetError):
    """A ``budget.sqlite3`` beside the store cannot be read as an earlier version's ledger."""


class BudgetAlreadyAllocated(BudgetError):
    """The year already has a different allocation; allocations are never changed."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class BudgetLedger(StoredLedger):
    name = "BudgetLedger"

    def budget(self, year: int) -> PrivacyBudget | None:
        """The year's ledger as stored now, or None if no budget was allocated."""
        try:
            found: object = self.repository.get(budget_id(year))
        except AggregateNotFoundError:
            return None
        assert isinstance(found, PrivacyBudget)
        return found

    def _retry(self, what: str, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` (load, change, save) until no other process saved in between."""
        for n in range(MAX_ATTEMPTS):
            try:
                return attempt()
            except IntegrityError:
                # Another process saved first: load again, and check against its record.
                time.sleep(0.002 * (n + 1))
        raise BudgetContention(f"could not {what}: too many concurrent writes, try again")

    def allocate(
        self,
        year: int,
        total: float,
        allocated_by: str,
        *,
        maximum: float,
        allocated_at: str | None = None,
    ) -> PrivacyBudget:
        """Open ``year`` with ``total`` epsilon. Idempotent for the same total; a different
        total for an open year is refused (a budget is never raised after the fact), and so is
        one above ``maximum``."""

        def attempt() -> PrivacyBudget:
            existing = self.budget(year)
            if existing is not None:
                if existing.total != float(total):
                    raise BudgetAlreadyAllocated(
                        f"the {year} privacy budget is already allocated "
                        f"(epsilon {existing.total:g}, by {existing.allocated_by} "
                        f"at {existing.allocated_at}); it cannot be changed"
                    )
                return existing
            budget = PrivacyBudget.allocate(
                year, total, allocated_by, allocated_at or _now(), maximum=maximum
            )
            self.save(budget)
            return budget

        return self._retry(f"open the {year} budget", attempt)

    def _year(self, year: int) -> PrivacyBudget:
        budget = self.budget(year)
        if budget is None:
            raise BudgetNotAllocated(
                f"no privacy budget is allocated for {year}: open the year first with "
                f"`cmm budget allocate --year {year} --epsilon E`"
            )
        return budget

    def spend(
        self,
        year: int,
        tables: Mapping[str, float],
        *,
        release_id: str,
        released_by: str,
        released_at: str | None = None,
        request: Mapping[str, Any] | None = None,
    ) -> PrivacyBudget:
        """Record that ``release_id`` spends ``tables`` (table -> epsilon) of ``year``'s
        budget. Raises ``BudgetNotAllocated`` if the year is not open and ``BudgetExceeded``
        (nothing recorded) if it would overspend. Call it before drawing any noise."""
        at = released_at or _now()

        def attempt() -> PrivacyBudget:
            budget = self._year(year)
            budget.spend(release_id, released_by, at, tables, request)
            self.save(budget)
            return budget

        return self._retry(f"record the spend of release {release_id}", attempt)

    def record_measurements(
        self, year: int, release_id: str, measurements: Mapping[str, Sequence[int]]
    ) -> dict[str, list[int]]:
        """Keep a paid release's noisy measurements and return the stored ones: if another
        process recorded this release's measurements first, theirs are the release's and
        ``measurements`` are discarded unpublished."""

        def attempt() -> dict[str, list[int]]:
            budget = self._year(year)
            stored = budget.release(release_id)["measurements"]
            if stored is not None:
                return {k: list(v) for k, v in stored.items()}
            budget.record_measurements(release_id, measurements)
            self.save(budget)
            return {k: [int(v) for v in vs] for k, vs in measurements.items()}

        return self._retry(f"record the measurements of release {release_id}", attempt)

    def mark_written(self, year: int, release_id: str) -> None:
        def attempt() -> None:
            budget = self._year(year)
            if budget.release(release_id)["written_at"] is None:
                budget.mark_written(release_id, _now())
                self.save(budget)

        self._retry(f"record that release {release_id} is written", attempt)

    def import_legacy(self, budgets: Sequence[PrivacyBudget], maximum: float) -> int:
        """Copy the years and spends of an earlier version's ledger; returns how many spends
        were new. A year open here keeps its allocation; a spend is copied once."""
        copied = 0
        for old in budgets:

            def attempt(old: PrivacyBudget = old) -> int:
                budget = self.budget(old.year)
                if budget is None:
                    budget = PrivacyBudget.allocate(
                        old.year,
                        old.total,
                        old.allocated_by or "imported",
                        old.allocated_at,
                        maximum=maximum,
                    )
                new = sum(budget.import_spend(s) for s in old.spends)
                self.save(budget)  # nothing to save is a no-op
                return new

            copied += self._retry(f"import the {old.year} budget", attempt)
        return copied


class _LegacyBudgetFile(Application[UUID]):
    """An earlier version's ledger file: an ordinary eventsourcing SQLite application."""

    name = "BudgetLedger"


def _legacy_budgets(path: Path) -> list[PrivacyBudget]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT DISTINCT originator_id FROM stored_events").fetchall()
    ids = {str(row[0]) for row in rows}
    years = {str(budget_id(y)).replace("-", ""): y for y in range(1900, 2200)}
    years |= {str(budget_id(y)): y for y in range(1900, 2200)}
    app = _LegacyBudgetFile(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    )
    try:
        out = []
        for found_id in sorted(ids):
            year = years.get(found_id) or years.get(found_id.replace("-", ""))
            if year is None:
                continue
            found: object = app.repository.get(budget_id(year))
            assert isinstance(found, PrivacyBudget)
            out.append(found)
        return out
    finally:
        app.close()


def import_legacy_file(ledger: BudgetLedger, data_dir: Path, maximum: float) -> None:
    """Import an earlier version's ledger file from ``data_dir`` into ``ledger``, if there is
    one, and rename it so it is read once (see the module docstring). Only the SQLite store
    ever had one: :func:`infra.composition.open_budget_ledger` calls this for it alone."""
    legacy = data_dir / LEGACY_FILE
    if not legacy.exists():
        return
    try:
        found = _legacy_budgets(legacy)
    except (sqlite3.DatabaseError, ValueError, TypeError, KeyError) as error:
        # Fail closed: it may hold spends, and nothing may be released without them.
        raise LegacyLedgerUnreadable(
            f"refused: {LEGACY_FILE} in the data directory is not a budget ledger this "
            f"version can read ({type(error).__name__}); move it away if it is not one"
        ) from None
    ledger.import_legacy(found, maximum)
    with contextlib.suppress(FileNotFoundError):  # another process imported it meanwhile
        legacy.replace(data_dir / LEGACY_IMPORTED)
    for suffix in ("-wal", "-shm"):
        Path(f"{legacy}{suffix}").unlink(missing_ok=True)


def memory_ledger() -> BudgetLedger:
    """A fresh in-memory ledger (tests, benchmarks)."""
    return BudgetLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
