"""``cmm publish`` and ``cmm budget``: the DP release of a year, paid for in the budget ledger.

Order of a publish (each step recorded before the next, so a failure anywhere leaves the
budget spent once and a rerun finishes the same release):

1. Check ``--out`` (empty or new folder, writable, path not too long, room) and make a
   staging folder beside it: :mod:`infra.package_out`. Nothing is spent if this fails.
2. Load the read model's inputs as of the cut-off and build and check every measurement.
3. Spend: ``BudgetSpent`` in the year's ledger, in the event store. Refused, with nothing
   drawn, if the year is not open (``cmm budget allocate``) or it would overspend.
4. Draw the noise and record it: ``MeasurementsRecorded``.
5. Post-process and write the package into the staging folder; rename it into place.
6. ``ReleaseWritten``.

A release paid for but not written (a kill, a full disk, a rename that lost a race) is
*pending*. The next ``cmm publish`` of the year with the same cut-off and parameters
finishes it: from the recorded measurements, or, if it was stopped before they were recorded
(no noise was kept, so none was published), by drawing them once under the recorded spend.
No new release of the year can spend while one is pending.
"""

from __future__ import annotations

import getpass
import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any
from uuid import uuid4

from infra.composition import open_budget_ledger
from infra.ledgers.budget import BudgetLedger, BudgetNotAllocated
from infra.package_out import stage
from infra.settings import Settings
from privacy.budget import BudgetError, PrivacyBudget, budget_id
from privacy.model import Release
from privacy.params import PrivacyParams
from privacy.release import ReportInputs, prepare_release, release_from_measurements


class PendingRelease(BudgetError):
    """Another release of the year is paid for but not written; it must be finished first."""


def _request(params: PrivacyParams, as_of: str | None) -> dict[str, Any]:
    """What a release was asked for, as recorded with its spend (public parameters only)."""
    return {
        "as_of": as_of,
        "epsilon_total": params.epsilon_total,
        "weights": dict(params.weights),
        "threshold": params.threshold,
        "alpha": params.alpha,
    }


def _params(request: Mapping[str, Any]) -> PrivacyParams:
    return PrivacyParams(
        epsilon_total=request["epsilon_total"],
        weights=request["weights"],
        threshold=request["threshold"],
        alpha=request["alpha"],
    )


def release_with_budget(
    inputs: ReportInputs,
    year: int,
    params: PrivacyParams,
    ledger: BudgetLedger,
    *,
    released_by: str,
    as_of: str | None = None,
    release_id: str | None = None,
    after_spend: Callable[[str], None] | None = None,
) -> Release:
    """:func:`privacy.release.release_dp`, paid for in ``ledger`` before any noise is drawn,
    with its measurements recorded there before anything is post-processed.

    Privacy contract: as :func:`privacy.release.release_dp`. Raises
    ``infra.ledgers.budget.BudgetNotAllocated`` if the year is not open and
    ``privacy.budget.BudgetExceeded`` if the spend would overspend; nothing is drawn then.
    ``after_spend`` is called with the release id once the spend is recorded (tests use it to
    fail there)."""
    prepared = prepare_release(inputs, year, params)
    rid = release_id or str(uuid4())
    at = datetime.now(UTC).isoformat(timespec="seconds")
    ledger.spend(
        year,
        prepared.epsilons,
        release_id=rid,
        released_by=released_by,
        released_at=at,
        request=_request(params, as_of),
    )
    if after_spend is not None:
        after_spend(rid)
    noisy = ledger.record_measurements(year, rid, prepared.measure())
    return release_from_measurements(
        noisy,
        year,
        params,
        as_of=as_of,
        release_id=rid,
        released_by=released_by,
        released_at=at,
    )


def _finishable(pending: Mapping[str, Any], year: int) -> PrivacyParams:
    """The parameters of a pending release, if this version can finish it.

    A release paid for under another version's table layout (one that still measured
    victims_by_year, say) cannot be: its noise does not fit this version's joint fit, and
    drawing again would spend twice. That fails closed, saying so."""
    try:
        return _params(pending["request"])
    except ValueError as old:
        raise PendingRelease(
            f"refused: release {pending['release_id']} of {year} was paid for by an earlier "
            f"version that measured other tables ({old}); finish it with that version, or "
            "leave the year's budget spent"
        ) from old


def _finish(
    ledger: BudgetLedger,
    settings: Settings,
    year: int,
    pending: Mapping[str, Any],
) -> Release:
    """The release of a pending spend: from its recorded measurements, or measured now."""
    request = pending["request"]
    rid = pending["release_id"]
    params = _finishable(pending, year)
    noisy = pending["measurements"]
    if noisy is None:
        from infra.readmodel import load_report_inputs

        # Stopped between the spend and the record: whatever it drew was never kept or
        # published, so this draw is the release's one measurement, under the same spend.
        prepared = prepare_release(load_report_inputs(settings, request["as_of"]), year, params)
        if dict(prepared.epsilons) != pending["tables"]:
            raise PendingRelease(
                f"release {rid} of {year} was paid for other tables than this version "
                "measures; it cannot be finished"
            )
        noisy = ledger.record_measurements(year, rid, prepared.measure())
    return release_from_measurements(
        noisy,
        year,
        params,
        as_of=request["as_of"],
        release_id=rid,
        released_by=pending["released_by"],
        released_at=pending["released_at"],
    )


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
    """``cmm publish --year Y --as-of D --out DIR``: release every public table of ``year``
    with differential privacy and write the package into ``out_dir``.

    Privacy contract: as :func:`privacy.release.release_dp`: unit one person (one call for
    the hotline tables, one counted unit for outreach activity), pure DP with
    ``params.epsilon_total`` split by ``params.weights`` (see :mod:`privacy.params`),
    discrete Laplace noise from OpenDP, threshold ``params.threshold`` on the noisy
    post-processed values; code lists, year, cut-off, epsilons and scales are public. The
    release spends from the year's allocation and never sets it: a year that is not open
    (``cmm budget allocate``) raises ``BudgetNotAllocated``, an overspend ``BudgetExceeded``,
    an unusable ``out_dir`` ``OutputRefused``; nothing is spent or drawn then. A pending
    release of the year (see the module docstring) is finished instead of a new one when the
    cut-off and parameters match, and refused with ``PendingRelease`` otherwise.
    """
    from infra.readmodel import load_report_inputs

    params = params or PrivacyParams()
    who = released_by or getpass.getuser()
    ledger = open_budget_ledger(settings)
    budget = ledger.budget(year)
    if budget is None:
        raise BudgetNotAllocated(
            f"refused: no privacy budget is allocated for {year}; open the year first with "
            f"`cmm budget allocate --year {year} --epsilon E` (at most "
            f"{settings.max_year_epsilon:g})"
        )
    waiting = budget.pending()
    first = waiting[0] if waiting else None
    if first is not None:
        _finishable(first, year)
    if first is not None and first["request"] != _request(params, as_of):
        asked = first["request"]
        raise PendingRelease(
            f"refused: release {first['release_id']} of {year} (as of {asked['as_of']}, "
            f"epsilon {asked['epsilon_total']:g}, threshold {asked['threshold']}) is paid for "
            "but not written; run `cmm publish` with that cut-off and epsilon to write it "
            "before another release"
        )
    if (
        first is not None
        and first["measurements"] is not None
        and _package_release_id(Path(out_dir)) == first["release_id"]
    ):
        # Renamed into place, then stopped before the ledger heard of it.
        release = _finish(ledger, settings, year, first)
        ledger.mark_written(year, first["release_id"])
        return release
    staging = stage(Path(out_dir))
    try:
        if first is not None:
            release = _finish(ledger, settings, year, first)
        else:
            inputs = load_report_inputs(settings, as_of)
            release = release_with_budget(
                inputs,
                year,
                params,
                ledger,
                released_by=who,
                as_of=as_of,
                after_spend=after_spend,
            )
        staging.commit(lambda folder: write_release(release, folder))
    except BaseException:
        staging.discard()
        raise
    ledger.mark_written(year, str(release.metadata["release_id"]))
    return release


def _package_release_id(out_dir: Path) -> str | None:
    """The release id a package in ``out_dir`` says it holds, if any."""
    try:
        package = json.loads((out_dir / "datapackage.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found = package.get("version") if isinstance(package, dict) else None
    return found if isinstance(found, str) else None


def write_release(release: Release, out_dir: Path) -> Path:
    """Write the release's data package (``privacy.package.write_package``). Post-processing
    only: publishes exactly the release's cells."""
    from privacy.package import write_package

    return write_package(release, out_dir)


# ----------------------------------------------------------------------------------------------
# cmm budget


def allocate_budget(
    settings: Settings,
    year: int,
    epsilon: float,
    allocated_by: str | None = None,
) -> PrivacyBudget:
    """``cmm budget allocate --year Y --epsilon E``: open ``year`` with ``epsilon``, at most
    ``settings.max_year_epsilon``. Idempotent for the same epsilon; a different one for an
    open year is refused."""
    return open_budget_ledger(settings).allocate(
        year,
        epsilon,
        allocated_by or getpass.getuser(),
        maximum=settings.max_year_epsilon,
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


def budget_json(settings: Settings, year: int) -> dict[str, Any]:
    """``cmm budget --year Y --json``: :func:`budget_summary` of the stored ledger, and the
    year's partner releases (:func:`partner_summary`)."""
    from infra.composition import open_partner_ledger

    summary = budget_summary(open_budget_ledger(settings).budget(year), year)
    summary["partner_releases"] = partner_summary(open_partner_ledger(settings).year(year))
    return summary


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


def budget_report(settings: Settings, year: int) -> str:
    """``cmm budget --year Y``: what was allocated, spent (by which release) and remains."""
    return render_budget(budget_json(settings, year))
