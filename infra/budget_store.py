"""The privacy budget ledger's store: an eventsourcing ``Application`` over ``PrivacyBudget``.

Configured like the event store (``Settings.eventsourcing_env()``), except that on SQLite the
ledger lives in its own file, ``data_dir/budget.sqlite3``, so the event projections never see
budget events; on PostgreSQL eventsourcing names the tables after the application
(``budgetledger_events``), which keeps them apart in the same database.

Spending is load, check, record, save. Two processes that spend at once both load version
``n`` and both try to write version ``n + 1``; the store's unique key on (aggregate id,
version) lets one win and raises eventsourcing's ``IntegrityError`` for the other, which
reloads (now seeing the winner's spend) and checks again. So concurrent releases cannot
overspend together. The same holds for two processes that both open a year's ledger.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, PersistenceError

from infra.settings import Settings
from privacy.budget import BudgetError, PrivacyBudget, budget_id

BUDGET_SQLITE_FILE = "budget.sqlite3"
MAX_ATTEMPTS = 50
OPEN_ATTEMPTS = 10


class BudgetContention(BudgetError):
    """Too many concurrent spends in a row; nothing was recorded. Try again."""


class BudgetNotAllocated(BudgetError):
    """No budget exists for the year and none was given to allocate."""


class BudgetAlreadyAllocated(BudgetError):
    """The year already has a different allocation; allocations are never changed."""


@dataclass(frozen=True, slots=True)
class Allocation:
    """A year's budget to open the ledger with, if it does not exist yet."""

    total: float
    weights: Mapping[str, float]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class BudgetLedger(Application[UUID]):
    name = "BudgetLedger"

    def budget(self, year: int) -> PrivacyBudget | None:
        """The year's ledger as stored now, or None if no budget was allocated."""
        try:
            found: object = self.repository.get(budget_id(year))
        except AggregateNotFoundError:
            return None
        assert isinstance(found, PrivacyBudget)
        return found

    def allocate(self, year: int, allocation: Allocation, allocated_by: str) -> PrivacyBudget:
        """Open the year's ledger. Idempotent for the same total and weights; a different
        allocation of an existing year is refused (a budget is never raised after the fact)."""
        for _ in range(MAX_ATTEMPTS):
            existing = self.budget(year)
            if existing is not None:
                if existing.total != float(allocation.total) or existing.weights != {
                    t: float(w) for t, w in allocation.weights.items()
                }:
                    raise BudgetAlreadyAllocated(
                        f"the {year} privacy budget is already allocated "
                        f"(epsilon {existing.total:g}, by {existing.allocated_by} "
                        f"at {existing.allocated_at}); it cannot be changed"
                    )
                return existing
            budget = PrivacyBudget.allocate(
                year, allocation.total, allocation.weights, allocated_by, _now()
            )
            try:
                self.save(budget)
            except IntegrityError:
                continue
            return budget
        raise BudgetContention(f"could not open the {year} budget: too much contention")

    def spend(
        self,
        year: int,
        tables: Mapping[str, float],
        *,
        release_id: str,
        released_by: str,
        released_at: str | None = None,
        allocation: Allocation | None = None,
    ) -> PrivacyBudget:
        """Record that ``release_id`` spends ``tables`` (table -> epsilon) of ``year``'s budget,
        opening the ledger with ``allocation`` if it does not exist. Raises ``BudgetExceeded``
        (nothing recorded) if it would overspend. Call it before drawing any noise."""
        at = released_at or _now()
        for attempt in range(MAX_ATTEMPTS):
            budget = self.budget(year)
            if budget is None:
                if allocation is None:
                    raise BudgetNotAllocated(f"no privacy budget is allocated for {year}")
                budget = PrivacyBudget.allocate(
                    year, allocation.total, allocation.weights, released_by, at
                )
            budget.spend(release_id, released_by, at, tables)
            try:
                self.save(budget)
            except IntegrityError:
                # Another process recorded first: reload, and check again against its spend.
                time.sleep(0.002 * (attempt + 1))
                continue
            return budget
        raise BudgetContention(
            f"release {release_id} could not record its spend: too much contention"
        )


def budget_env(settings: Settings) -> dict[str, str]:
    """The ledger's eventsourcing environment: the settings' store, but on SQLite its own
    file ``data_dir/budget.sqlite3``."""
    env = settings.eventsourcing_env()
    if settings.store == "sqlite":
        env["SQLITE_DBNAME"] = str(settings.data_dir / BUDGET_SQLITE_FILE)
    return env


def open_ledger(settings: Settings, **extra: Any) -> BudgetLedger:
    """The budget ledger of the configured store.

    Several processes opening a new ledger at once race to create it: on SQLite to switch the
    file to WAL mode, which answers the losers "database is locked" at once (the busy timeout
    does not cover the journal-mode switch); on PostgreSQL ``CREATE TABLE IF NOT EXISTS`` can
    collide in the catalogue. So opening is retried a few times."""
    env = budget_env(settings)
    env.update({k: str(v) for k, v in extra.items()})
    for attempt in range(OPEN_ATTEMPTS):
        try:
            return BudgetLedger(env=env)
        except (sqlite3.OperationalError, PersistenceError):
            if attempt == OPEN_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def memory_ledger() -> BudgetLedger:
    """A fresh in-memory ledger (tests, dry runs)."""
    return BudgetLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
