"""The year's differentially private release (open data), paid for in the budget ledger.

Order of a publish (each step recorded before the next, so a failure anywhere leaves the
budget spent once and a rerun finishes the same release):

1. Check the output folder (empty or new, writable, path not too long, room) and make a
   staging folder beside it (``Adapters.stage``). Nothing is spent if this fails.
2. Load the read model's inputs as of the cut-off and build and check every measurement.
3. Spend: ``BudgetSpent`` in the year's ledger, in the event store. Refused, with nothing
   drawn, if the year is not open (``cmm budget allocate``) or it would overspend.
4. Draw the noise and record it: ``MeasurementsRecorded``.
5. Post-process and write the package into the staging folder; rename it into place.
6. ``ReleaseWritten``.

A release paid for but not written (a kill, a full disk, a rename that lost a race) is
*pending*. The next publish of the year with the same cut-off and parameters finishes it:
from the recorded measurements, or, if it was stopped before they were recorded (no noise
was kept, so none was published), by drawing them once under the recorded spend. No new
release of the year can spend while one is pending.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

from application.ports import Adapters, BudgetLedger, ProgressCallback
from privacy.budget import BudgetError
from privacy.model import Release
from privacy.params import PrivacyParams
from privacy.release import ReportInputs, prepare_release, release_from_measurements


class PendingRelease(BudgetError):
    """Another release of the year is paid for but not written; it must be finished first."""


class YearNotOpen(BudgetError):
    """No privacy budget is allocated for the year: nothing can be released with DP."""


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

    Privacy contract: as :func:`privacy.release.release_dp`. The ledger refuses the spend
    (``BudgetError``: the year is not open, or it would overspend) before anything is drawn.
    ``after_spend`` is called with the release id once the spend is recorded (tests use it
    to fail there)."""
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
    adapters: Adapters, ledger: BudgetLedger, year: int, pending: Mapping[str, Any]
) -> Release:
    """The release of a pending spend: from its recorded measurements, or measured now."""
    request = pending["request"]
    rid = pending["release_id"]
    params = _finishable(pending, year)
    noisy = pending["measurements"]
    if noisy is None:
        # Stopped between the spend and the record: whatever it drew was never kept or
        # published, so this draw is the release's one measurement, under the same spend.
        inputs = adapters.load_report_inputs(request["as_of"], None)
        prepared = prepare_release(inputs, year, params)
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
    adapters: Adapters,
    year: int,
    as_of: str,
    out_dir: Path,
    params: PrivacyParams | None = None,
    released_by: str | None = None,
    *,
    after_spend: Callable[[str], None] | None = None,
    progress: ProgressCallback | None = None,
) -> Release:
    """Release every public table of ``year`` with differential privacy and write the
    package into ``out_dir``.

    Privacy contract: as :func:`privacy.release.release_dp`: unit one person (one call for
    the hotline tables, one counted unit for outreach activity), pure DP with
    ``params.epsilon_total`` split by ``params.weights`` (see :mod:`privacy.params`),
    discrete Laplace noise from OpenDP, threshold ``params.threshold`` on the noisy
    post-processed values; code lists, year, cut-off, epsilons and scales are public. The
    release spends from the year's allocation and never sets it: a year that is not open
    raises :class:`YearNotOpen`, an overspend ``BudgetExceeded``, an unusable ``out_dir``
    the staging adapter's refusal; nothing is spent or drawn then. ``progress``: how far
    bringing the read model up to date is. A pending release of the
    year (see the module docstring) is finished instead of a new one when the cut-off and
    parameters match, and refused with :class:`PendingRelease` otherwise.
    """
    params = params or PrivacyParams()
    who = released_by or getpass.getuser()
    ledger = adapters.open_budget_ledger()
    budget = ledger.budget(year)
    if budget is None:
        raise YearNotOpen(
            f"refused: no privacy budget is allocated for {year}; open the year first with "
            f"`cmm budget allocate --year {year} --epsilon E` (at most "
            f"{adapters.max_year_epsilon:g})"
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
        release = _finish(adapters, ledger, year, first)
        ledger.mark_written(year, first["release_id"])
        return release
    staging = adapters.stage(Path(out_dir))
    try:
        if first is not None:
            release = _finish(adapters, ledger, year, first)
        else:
            inputs = adapters.load_report_inputs(as_of, progress)
            release = release_with_budget(
                inputs,
                year,
                params,
                ledger,
                released_by=who,
                as_of=as_of,
                after_spend=after_spend,
            )
        staging.commit(lambda folder: adapters.write_release(release, folder))
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
