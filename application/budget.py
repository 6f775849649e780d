"""The year's privacy budget: allocated once, spent by releases, and what remains."""

from __future__ import annotations

import getpass
import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from application.ports import Adapters
from privacy.budget import PrivacyBudget, budget_id


def allocate_budget(
    adapters: Adapters, year: int, epsilon: float, allocated_by: str | None = None
) -> PrivacyBudget:
    """Open ``year`` with ``epsilon``, at most ``adapters.max_year_epsilon``. Idempotent for
    the same epsilon; a different one for an open year is refused (``BudgetError``)."""
    ledger = adapters.open_budget_ledger()
    budget: PrivacyBudget = ledger.allocate(
        year, epsilon, allocated_by or getpass.getuser(), maximum=adapters.max_year_epsilon
    )
    return budget


def _f(value: Fraction | float) -> float:
    return float(value)


def budget_summary(budget: PrivacyBudget | None, year: int) -> dict[str, Any]:
    """The ledger as JSON-ready data: allocation, spends by release, and what remains."""
    if budget is None:
        return {
            "year": year,
            "ledger_id": str(budget_id(year)),
            "allocated": None,
            "releases": [],
            "tables": {},
        }
    return {
        "year": year,
        "ledger_id": str(budget.id),
        "version": budget.version,
        "allocated": {
            "total": budget.total,
            "by": budget.allocated_by,
            "at": budget.allocated_at,
        },
        "spent_total": _f(budget.spent_total()),
        "remaining_total": _f(budget.remaining_total()),
        "tables": {t: {"spent": _f(e)} for t, e in budget.spent().items()},
        "releases": [
            {
                "release_id": s["release_id"],
                "released_by": s["released_by"],
                "released_at": s["released_at"],
                "total": s["total"],
                "tables": dict(s["tables"]),
                "as_of": (s["request"] or {}).get("as_of"),
                "state": "written" if s["written_at"] is not None else "pending",
            }
            for s in budget.spends
        ],
    }


def partner_summary(ledger: Any) -> list[dict[str, Any]]:
    """The year's partner releases (suppression, exact counts): who, when, which cut-off,
    threshold and protection, how many cells and how many hidden. The exact counts the ledger
    keeps for its audits are never shown."""
    if ledger is None:
        return []
    out = []
    for recorded in ledger.releases:
        cells = ledger.cells_of(recorded)
        out.append(
            {
                "release_id": recorded["release_id"],
                "released_by": recorded["released_by"],
                "released_at": recorded["released_at"],
                "as_of": recorded["as_of"],
                "threshold": recorded["threshold"],
                "protection": recorded["protection"],
                "cells": len(cells),
                "hidden_cells": sum(1 for *_, hidden in cells if hidden),
            }
        )
    return out


def budget_of_year(adapters: Adapters, year: int) -> dict[str, Any]:
    """:func:`budget_summary` of the stored ledger, and the year's partner releases
    (:func:`partner_summary`)."""
    summary = budget_summary(adapters.open_budget_ledger().budget(year), year)
    summary["partner_releases"] = partner_summary(adapters.open_partner_ledger().year(year))
    return summary


def _eps(value: float) -> str:
    return "0" if math.isclose(value, 0.0, abs_tol=1e-12) else f"{value:.4f}"


def render_budget(summary: Mapping[str, Any]) -> str:
    """Plain-text report of :func:`budget_summary`."""
    year = summary["year"]
    if summary["allocated"] is None:
        lines = [
            f"No privacy budget is allocated for {year}, so nothing can be released with "
            f"differential privacy. Open the year with "
            f"`cmm budget allocate --year {year} --epsilon E`."
        ]
        return _with_partners(lines, summary)
    alloc = summary["allocated"]
    lines = [
        f"Privacy budget for {year} (pure DP, epsilon; ledger {summary['ledger_id']})",
        f"Allocated: {_eps(alloc['total'])} by {alloc['by']} at {alloc['at']}",
        f"Spent:     {_eps(summary['spent_total'])} in {len(summary['releases'])} release(s)",
        f"Remaining: {_eps(summary['remaining_total'])}",
        "",
    ]
    if summary["tables"]:
        lines.append(f"{'table':<28}{'spent':>9}")
        for table, row in summary["tables"].items():
            lines.append(f"{table:<28}{_eps(row['spent']):>9}")
        lines.append("")
    lines.append("Releases:" if summary["releases"] else "Releases: none")
    for r in summary["releases"]:
        state = "" if r["state"] == "written" else "  PENDING: paid for, not yet written"
        lines.append(
            f"  {r['release_id']}  {r['released_at']}  by {r['released_by']}: "
            f"epsilon {_eps(r['total'])} on {len(r['tables'])} table(s){state}"
        )
    return _with_partners(lines, summary)


def _with_partners(lines: list[str], summary: Mapping[str, Any]) -> str:
    partners = summary.get("partner_releases") or []
    lines.append("")
    lines.append(
        "Partner releases (suppression, exact counts, no budget):"
        if partners
        else "Partner releases (suppression): none"
    )
    for r in partners:
        lines.append(
            f"  {r['release_id']}  {r['released_at']}  by {r['released_by']}: as of "
            f"{r['as_of']}, threshold {r['threshold']}, {r['hidden_cells']} of {r['cells']} "
            "cells hidden"
        )
    return "\n".join(lines) + "\n"
