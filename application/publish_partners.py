"""The exact release for partners under agreement, with cell suppression, audited jointly.

Order of a partner release: refuse an output folder that cannot take the package (not empty,
not writable, too long a path, no room: ``Adapters.stage``), before anything else; load the
read model's inputs as of the cut-off; load the year's partner ledger; choose and prove the
suppression pattern over every table together with every earlier partner release of the
year (``privacy.sdc.release_sdc``); record the release in the ledger (refused, and audited
again, if another release of the year was recorded meanwhile); write the package into a
staging folder and rename it into place. A release whose protection cannot be proved raises
``ProtectionError`` and writes and records nothing. A release is recorded before it is
written, so any package a partner can hold is in the ledger (a write that fails after the
record leaves a recorded release that later releases are audited against: the safe side).
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

from application.ports import Adapters, LedgerConflict, ProgressCallback
from privacy.model import SUPPRESSED, TABLES, CellRef, Release, dimensions_of
from privacy.partner_ledger import Cell, PartnerReleases
from privacy.sdc import EarlierRelease, SDCParams, exact_cells, release_sdc

RECORD_ATTEMPTS = 5


class PartnerReleaseContention(RuntimeError):
    """Other partner releases of the year kept being recorded first; nothing was released."""


def earlier_releases(ledger: PartnerReleases | None) -> list[EarlierRelease]:
    """The year's recorded partner releases, as the joint audit needs them."""
    if ledger is None:
        return []
    out = []
    for recorded in ledger.releases:
        cells: dict[str, dict[tuple[str, ...], int]] = {}
        hidden = set()
        for table, key, value, is_hidden in PartnerReleases.cells_of(recorded):
            cells.setdefault(table, {})[key] = value
            if is_hidden:
                hidden.add(CellRef(table, key))
        out.append(EarlierRelease(recorded["release_id"], cells, frozenset(hidden)))
    return out


def release_cells(release: Release, exact: dict[str, dict[tuple[str, ...], int]]) -> list[Cell]:
    """Every cell of ``release`` with its exact count and whether it is hidden."""
    out: list[Cell] = []
    for name, frame in release.tables.items():
        dims = dimensions_of(name, frame)
        for row in frame[[*dims, "status"]].itertuples(index=False, name=None):
            key = tuple(str(v) for v in row[:-1])
            out.append((name, key, exact[name][key], row[-1] == SUPPRESSED))
    return out


def publish_sdc(
    adapters: Adapters,
    year: int,
    as_of: str,
    out_dir: Path,
    threshold: int = 5,
    protection: float | None = None,
    released_by: str | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> Release:
    """Exact counts for partners under agreement, written as a package into ``out_dir``.

    Privacy contract: as :func:`privacy.sdc.release_sdc`: unit one person (one call for the
    hotline tables); no privacy loss parameter, because nothing is randomised. Every cell
    ``0 < x < threshold``, and every change of fewer than ``threshold`` against an earlier
    partner release of the year, is protected by upper and lower protection levels
    ``protection`` (default: the threshold), proved by integer programming over all tables
    and all of the year's partner releases, with suppressed cells known to be at least 1.
    Public to the partners: the published cells and margins, the table structure and
    relations, the code lists, these parameters and the earlier partner releases. Raises
    ``privacy.sdc.ProtectionError`` (nothing written, nothing recorded) if protection cannot
    be proved. No DP budget is spent: this release is not differentially private.
    """
    if threshold < 3:
        raise ValueError(f"threshold must be at least 3, not {threshold}")
    params = SDCParams(threshold, protection)
    staging = adapters.stage(Path(out_dir))
    try:
        release = _audited_and_recorded(adapters, year, as_of, params, released_by, progress)
        staging.commit(lambda folder: adapters.write_release(release, folder))
    except BaseException:
        staging.discard()
        raise
    return release


def _audited_and_recorded(
    adapters: Adapters,
    year: int,
    as_of: str,
    params: SDCParams,
    released_by: str | None,
    progress: ProgressCallback | None,
) -> Release:
    from projections.report import report_tables

    threshold, protection = params.threshold, params.protection
    inputs = adapters.load_report_inputs(as_of, progress)
    report = report_tables(inputs.facts, inputs.hotline, inputs.outreach, year, inputs.contacts)
    # Only the public tables: the analysts' extra tables (age extremes, returns) stay inside.
    tables = {name: table for name, table in report.items() if name in TABLES}
    exact = exact_cells(tables, year)
    who = released_by or getpass.getuser()
    ledger = adapters.open_partner_ledger()
    release_id = str(uuid4())
    for _ in range(RECORD_ATTEMPTS):
        record = ledger.year(year)
        metadata: dict[str, Any] = {
            "year": year,
            "as_of": as_of,
            "released_by": who,
            "released_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "release_id": release_id,
        }
        release = release_sdc(
            tables, threshold, protection, metadata=metadata, earlier=earlier_releases(record)
        )
        try:
            ledger.record(
                year,
                None if record is None else record.version,
                release_id=release_id,
                released_by=who,
                released_at=metadata["released_at"],
                as_of=as_of,
                threshold=threshold,
                protection=params.protection_level,
                cells=release_cells(release, exact),
            )
        except LedgerConflict:
            continue
        break
    else:
        raise PartnerReleaseContention(
            f"other partner releases of {year} kept being recorded first; nothing released"
        )
    return release
