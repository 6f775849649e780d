"""``cmm publish`` and ``cmm budget``: the DP release of a year, paid for in the budget ledger.

Order of a publish: load the read model's inputs as of the cut-off; build and check every
measurement; spend the budget in the ledger (refused, with nothing drawn, if it would
overspend); draw the noise; post-process; write the package. A spend is never undone: once
noise may have been drawn the budget is gone, even if writing the files fails afterwards.
"""

from __future__ import annotations

import csv
import getpass
import importlib
import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any
from uuid import uuid4

import pandas as pd

from infra.budget_store import Allocation, BudgetLedger, open_ledger
from infra.settings import Settings
from privacy.budget import PrivacyBudget, budget_id
from privacy.model import Release
from privacy.params import PrivacyParams
from privacy.release import ReportInputs, release_dp


def release_with_budget(
    inputs: ReportInputs,
    year: int,
    params: PrivacyParams,
    ledger: BudgetLedger,
    *,
    released_by: str,
    as_of: str | None = None,
    release_id: str | None = None,
    allocation: Allocation | None = None,
) -> Release:
    """:func:`privacy.release.release_dp`, with its epsilons spent in ``ledger`` before any
    noise is drawn. The year's ledger is opened with ``allocation`` (default: the params'
    total and weights) if it does not exist yet.

    Privacy contract: as :func:`privacy.release.release_dp` (unit one person / one call / one
    outreach unit; pure DP with ``params.epsilon_for(table)`` per table; discrete Laplace;
    threshold ``params.threshold``; code lists, year, epsilons and scales public). Raises
    ``privacy.budget.BudgetExceeded`` with nothing drawn if the spend would overspend.
    """
    rid = release_id or str(uuid4())
    at = datetime.now(UTC).isoformat(timespec="seconds")
    opening = allocation or Allocation(params.epsilon_total, params.weights)

    def spend(epsilons: Mapping[str, float]) -> None:
        ledger.spend(
            year,
            epsilons,
            release_id=rid,
            released_by=released_by,
            released_at=at,
            allocation=opening,
        )

    return release_dp(
        inputs,
        year,
        params,
        as_of=as_of,
        release_id=rid,
        released_by=released_by,
        released_at=at,
        before_noise=spend,
    )


def publish_dp(
    settings: Settings,
    year: int,
    as_of: str,
    out_dir: Path,
    params: PrivacyParams | None = None,
    released_by: str | None = None,
    *,
    year_budget: float | None = None,
) -> Release:
    """``cmm publish --year Y --as-of D --out DIR``: release every public table of ``year``
    with differential privacy and write the package into ``out_dir``.

    Privacy contract: as :func:`privacy.release.release_dp`: unit one person (one call for
    the hotline tables, one counted unit for outreach activity), pure DP with
    ``params.epsilon_total`` split by ``params.weights`` (default 5.0, see
    :mod:`privacy.params`), discrete Laplace noise from OpenDP, threshold
    ``params.threshold`` on the noisy post-processed values; code lists, year, cut-off,
    epsilons and scales are public. The spend is recorded in the year's budget ledger before
    any noise is drawn; a release that would overspend raises
    ``privacy.budget.BudgetExceeded`` and writes nothing. ``year_budget`` is the year's
    total budget if the ledger is opened by this release (default ``params.epsilon_total``).
    """
    from infra.readmodel import load_report_inputs

    params = params or PrivacyParams()
    who = released_by or getpass.getuser()
    inputs = load_report_inputs(settings, as_of)
    ledger = open_ledger(settings)
    allocation = Allocation(
        params.epsilon_total if year_budget is None else year_budget, params.weights
    )
    release = release_with_budget(
        inputs, year, params, ledger, released_by=who, as_of=as_of, allocation=allocation
    )
    write_release(release, Path(out_dir))
    return release


def write_release(release: Release, out_dir: Path) -> Path:
    """Write with ``privacy.package.write_package`` when it is available, else plain CSVs and
    ``metadata.json``. Post-processing only: publishes exactly the release's cells."""
    writer = _package_writer()
    if writer is not None:
        return writer(release, out_dir)
    return _write_plain(release, out_dir)


def _package_writer() -> Callable[[Release, Path], Path] | None:
    try:
        module = importlib.import_module("privacy.package")
    except ModuleNotFoundError as error:
        # Only a missing part of the package writer means "not there yet"; anything else is
        # a real error.
        if error.name and error.name.startswith("privacy."):
            return None
        raise
    writer: Callable[[Release, Path], Path] = module.write_package
    return writer


def _write_plain(release: Release, out_dir: Path) -> Path:
    """Fallback: one CSV per table (count empty where suppressed) and ``metadata.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, table in release.tables.items():
        with (out_dir / f"{name}.csv").open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(list(table.columns))
            for row in table.itertuples(index=False):
                writer.writerow(["" if _missing(v) else v for v in row])
    target = out_dir / "metadata.json"
    target.write_text(
        json.dumps(release.metadata, indent=2, ensure_ascii=False, default=str) + "\n",
        encoding="utf-8",
    )
    return target


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# ----------------------------------------------------------------------------------------------
# cmm budget


def allocate_budget(
    settings: Settings,
    year: int,
    total: float,
    weights: Mapping[str, float] | None = None,
    allocated_by: str | None = None,
) -> PrivacyBudget:
    """Open ``year``'s ledger with ``total`` epsilon split by ``weights`` (default: the
    release's default weights). Idempotent; a different allocation of an existing year is
    refused. Validated like :class:`PrivacyParams`."""
    params = PrivacyParams(epsilon_total=total, weights=weights or PrivacyParams().weights)
    return open_ledger(settings).allocate(
        year,
        Allocation(params.epsilon_total, params.weights),
        allocated_by or getpass.getuser(),
    )


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
    allocated, spent, remaining = budget.allocated(), budget.spent(), budget.remaining()
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
        "tables": {
            t: {
                "weight": budget.weights[t],
                "allocated": _f(allocated[t]),
                "spent": _f(spent[t]),
                "remaining": _f(remaining[t]),
            }
            for t in budget.weights
        },
        "releases": [
            {
                "release_id": s["release_id"],
                "released_by": s["released_by"],
                "released_at": s["released_at"],
                "total": s["total"],
                "tables": dict(s["tables"]),
            }
            for s in budget.spends
        ],
    }


def budget_json(settings: Settings, year: int) -> dict[str, Any]:
    """``cmm budget --year Y --json``: :func:`budget_summary` of the stored ledger."""
    return budget_summary(open_ledger(settings).budget(year), year)


def _eps(value: float) -> str:
    return "0" if math.isclose(value, 0.0, abs_tol=1e-12) else f"{value:.4f}"


def render_budget(summary: Mapping[str, Any]) -> str:
    """Plain-text report of :func:`budget_summary`."""
    year = summary["year"]
    if summary["allocated"] is None:
        return (
            f"No privacy budget is allocated for {year}: nothing has been released. The first "
            f"`cmm publish --year {year}` allocates the default budget.\n"
        )
    alloc = summary["allocated"]
    lines = [
        f"Privacy budget for {year} (pure DP, epsilon; ledger {summary['ledger_id']})",
        f"Allocated: {_eps(alloc['total'])} by {alloc['by']} at {alloc['at']}",
        f"Spent:     {_eps(summary['spent_total'])} in {len(summary['releases'])} release(s)",
        f"Remaining: {_eps(summary['remaining_total'])}",
        "",
        f"{'table':<28}{'weight':>8}{'allocated':>11}{'spent':>9}{'remaining':>11}",
    ]
    for table, row in summary["tables"].items():
        lines.append(
            f"{table:<28}{row['weight']:>8g}{_eps(row['allocated']):>11}"
            f"{_eps(row['spent']):>9}{_eps(row['remaining']):>11}"
        )
    lines.append("")
    lines.append("Releases:" if summary["releases"] else "Releases: none")
    for r in summary["releases"]:
        lines.append(
            f"  {r['release_id']}  {r['released_at']}  by {r['released_by']}: "
            f"epsilon {_eps(r['total'])} on {len(r['tables'])} table(s)"
        )
    return "\n".join(lines) + "\n"


def budget_report(settings: Settings, year: int) -> str:
    """``cmm budget --year Y``: what was allocated, spent (by which release) and remains."""
    return render_budget(budget_json(settings, year))


def publish_sdc(
    settings: Settings,
    year: int,
    as_of: str,
    out_dir: Path,
    threshold: int = 5,
    protection: float | None = None,
    released_by: str | None = None,
) -> Release:
    """``cmm publish --method suppression``: see :func:`infra.publish_partners.publish_sdc`."""
    from infra.publish_partners import publish_sdc as publish

    return publish(settings, year, as_of, out_dir, threshold, protection, released_by)
