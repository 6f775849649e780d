"""The releases' adapters: the DP release of a year and the budget ledger, bound to the
settings, and the writing of a release's package.

The logic is the use cases' (:mod:`application.publish_dp`, :mod:`application.budget`);
these functions bind them to the configured store for callers that hold settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from application.budget import budget_summary, partner_summary, render_budget
from application.publish_dp import PendingRelease, YearNotOpen, release_with_budget
from infra.ledgers.budget import BudgetNotAllocated
from infra.settings import Settings
from privacy.budget import PrivacyBudget
from privacy.model import Release
from privacy.params import PrivacyParams

__all__ = [
    "PendingRelease",
    "allocate_budget",
    "budget_json",
    "budget_report",
    "budget_summary",
    "partner_summary",
    "publish_dp",
    "release_with_budget",
    "render_budget",
    "write_release",
]


def publish_dp(
    settings: Settings,
    year: int,
    as_of: str,
    out_dir: Path,
    params: PrivacyParams | None = None,
    released_by: str | None = None,
    *,
    after_spend: Callable[[str], None] | None = None,
) -> Release:
    """:func:`application.publish_dp.publish_dp` on the configured store. Privacy contract:
    as that function's. A year that is not open raises ``BudgetNotAllocated``."""
    from application import publish_dp as use_case
    from infra.wiring import adapters

    # This module's write_release, looked up at each call: the failure tests replace it.
    ports = replace(adapters(settings), write_release=lambda r, f: write_release(r, f))
    try:
        return use_case.publish_dp(
            ports, year, as_of, out_dir, params, released_by, after_spend=after_spend
        )
    except YearNotOpen as closed:
        raise BudgetNotAllocated(str(closed)) from None


def write_release(release: Release, out_dir: Path) -> Path:
    """Write the release's data package (``privacy.package.write_package``). Post-processing
    only: publishes exactly the release's cells."""
    from privacy.package import write_package

    return write_package(release, out_dir)


def allocate_budget(
    settings: Settings,
    year: int,
    epsilon: float,
    allocated_by: str | None = None,
) -> PrivacyBudget:
    """:func:`application.budget.allocate_budget` on the configured store."""
    from application.budget import allocate_budget as use_case
    from infra.wiring import adapters

    return use_case(adapters(settings), year, epsilon, allocated_by)


def budget_json(settings: Settings, year: int) -> dict[str, Any]:
    """:func:`application.budget.budget_of_year` on the configured store."""
    from application.budget import budget_of_year
    from infra.wiring import adapters

    return budget_of_year(adapters(settings), year)


def budget_report(settings: Settings, year: int) -> str:
    """What was allocated for ``year``, spent (by which release) and remains, as text."""
    return render_budget(budget_json(settings, year))
