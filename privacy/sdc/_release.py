"""The partner release: every table of the year, and every earlier partner release of it,
protected and audited as one system (:mod:`privacy.sdc_joint`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from domain.codes import CODE_LIST_VERSION, Aggregation, OutreachMeasure
from privacy import sdc_joint
from privacy.model import (
    ASSESSED_VICTIMS,
    SUPPRESSED,
    TABLES,
    VALUE_COLUMNS,
    CellRef,
    Release,
    TableSpec,
)
from privacy.sdc._frames import _published_frame, _with_margins, default_margins
from privacy.sdc._params import DEFAULT_THRESHOLD, SDCParams


def _margins_of(spec: TableSpec | None, dims: list[str]) -> tuple[tuple[str, ...], ...]:
    return spec.margins if spec is not None else default_margins(dims)


@dataclass(frozen=True)
class EarlierRelease:
    """An earlier partner release of the same year, as the partner ledger recorded it: every
    cell's exact count (``cells``: table -> key -> count, keys as text) and which were hidden.
    Sensitive (exact counts of hidden cells): it lives only in the event store."""

    release_id: str
    cells: Mapping[str, Mapping[tuple[str, ...], int]]
    hidden: frozenset[CellRef]


def exact_cells(
    tables: Mapping[str, pd.DataFrame], year: object = None
) -> dict[str, dict[tuple[str, ...], int]]:
    """Every cell of the release to be made, interior and margins, keyed by text: the exact
    counts that :func:`release_sdc` protects (and the partner ledger records)."""
    prepared = {name: _prepare(name, table, year) for name, table in tables.items()}
    out: dict[str, dict[tuple[str, ...], int]] = {}
    for name, table in prepared.items():
        dims = _dims_of(name, table)
        keys, values = _with_margins(table, dims, _margins_of(TABLES.get(name), dims))
        out[name] = {tuple(str(v) for v in k): int(x) for k, x in zip(keys, values, strict=True)}
    return out


def _dims_of(name: str, table: pd.DataFrame) -> list[str]:
    spec = TABLES.get(name)
    dims = spec.dimension_names if spec else [c for c in table.columns if c != "count"]
    if not dims:
        raise ValueError(f"table {name!r} has no dimension columns")
    return dims


def release_sdc(
    tables: Mapping[str, pd.DataFrame],
    threshold: int = DEFAULT_THRESHOLD,
    protection: float | None = None,
    metadata: Mapping[str, Any] | None = None,
    earlier: Sequence[EarlierRelease] = (),
) -> Release:
    """Suppress, audit and package exact counts for partners under agreement.

    ``tables`` maps table names (see :data:`privacy.model.TABLES`) to exact counts: the
    dimension columns and ``count``, no margin rows. ``earlier`` lists the partner releases of
    the same year already made (from the partner ledger). Every table and every earlier
    release is protected and audited as one system (:mod:`privacy.sdc_joint`).

    Privacy: unit = the person (the call for hotline tables); no epsilon (exact counts);
    mechanism = primary and secondary cell suppression chosen jointly over all tables;
    small-cell threshold = ``threshold``; protection = for every cell ``0 < x < threshold``
    and every change ``0 < |d| < threshold`` against an earlier release, the reader's
    whole-number solutions reach ``x + p`` and ``max(floor, x - p)`` (``p`` = ``protection``,
    default ``threshold``; the floor is 1, or more where the published zeros force it), and no
    hidden cell is pinned; public = the published cells and margins, the tables' structure and
    relations, the code lists, these parameters and the earlier partner releases.

    Raises :class:`ProtectionError` if that cannot be proved, and ValueError if tables that
    must agree do not.
    """
    params = SDCParams(threshold, protection)
    meta_in = dict(metadata or {})
    year = meta_in.get("year")
    prepared = {name: _prepare(name, table, year) for name, table in tables.items()}
    cells = exact_cells(prepared, year)
    year_int = _year_of(year, prepared)
    new = sdc_joint.build_block(cells, year_int)
    old = [sdc_joint.build_block(e.cells, year_int, e.hidden) for e in earlier]
    outcome = sdc_joint.protect(new, old, params.threshold, params.protection_level)
    published: dict[str, pd.DataFrame] = {}
    for name, table in prepared.items():
        dims = _dims_of(name, table)
        keys, values = _with_margins(table, dims, _margins_of(TABLES.get(name), dims))
        hidden = np.array(
            [
                bool(outcome.hidden[new.index[CellRef(name, tuple(str(v) for v in k))]])
                for k in keys
            ],
            dtype=bool,
        )
        published[name] = _published_frame(keys, dims, values, hidden)
    meta: dict[str, Any] = dict(meta_in)
    meta.update(
        method="suppression",
        threshold=params.threshold,
        privacy=params.describe(),
        audit={
            "hidden_cells": int(
                sum(int((f["status"] == SUPPRESSED).sum()) for f in published.values())
            ),
            "sensitive_quantities": outcome.requirements,
            "earlier_releases": [e.release_id for e in earlier],
            "proved": "every sensitive quantity meets its protection levels",
        },
        code_list_version=meta.get("code_list_version", CODE_LIST_VERSION),
        released_at=meta.get("released_at", datetime.now(UTC).isoformat(timespec="seconds")),
        release_id=meta.get("release_id", str(uuid.uuid4())),
    )
    meta.setdefault("released_by", None)
    return Release(tables=published, metadata=meta)


def _year_of(year: object, tables: Mapping[str, pd.DataFrame]) -> int | None:
    if year is not None:
        return int(str(year))
    by_year = tables.get("victims_by_year")
    if by_year is not None and len(by_year) == 1:
        return int(by_year["year"].iloc[0])
    return None


def _prepare(name: str, table: pd.DataFrame, year: object) -> pd.DataFrame:
    """The exact counts to protect, from a read-model table.

    ``outreach_activity`` counts in ``value``; measures that are not sums (the per-person
    minimum and maximum describe one person, which no threshold rule protects) are withheld,
    as in the DP release, and places where a measure was not logged are left out rather than
    shown as 0. ``victims_by_year`` is cut to the release year, as in the DP release. The
    support-status dimension is renamed ``support_status`` (``status`` is the cell status).
    """
    frame = table
    if "count" not in frame.columns and "value" in frame.columns:
        frame = frame.rename(columns={"value": "count"})
    if "count" not in frame.columns:
        raise ValueError(f"table {name!r} has no count column: {list(table.columns)}")
    if name == "outreach_activity" and "measure" in frame.columns:
        additive = {m.value for m in OutreachMeasure if m.aggregation is Aggregation.SUM}
        keep = frame["measure"].isin(additive | {ASSESSED_VICTIMS}) & frame["count"].notna()
        frame = frame[keep]
    if name == "status_at_cutoff" and "status" in frame.columns:
        # The read model calls the dimension ``status``; in a release that is the cell status.
        frame = frame.rename(columns={"status": "support_status"})
    if name == "victims_by_year" and year is not None and "year" in frame.columns:
        frame = frame[frame["year"].astype("int64") == int(str(year))]
    spec = TABLES.get(name)
    dims = spec.dimension_names if spec else [c for c in frame.columns if c not in VALUE_COLUMNS]
    frame = frame[[*dims, "count"]].reset_index(drop=True)
    return frame.astype({"count": "int64"})
