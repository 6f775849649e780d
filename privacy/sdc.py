"""Statistical disclosure control (SDC): exact counts for partners, protected by suppression.

``cmm publish --method suppression`` releases exact counts to partners under a data-sharing
agreement. There is no noise, so protection comes from hiding cells, and hiding a small cell is
not enough when totals are published: a single hidden cell in a row is its total minus the
other cells, and the tables of a year are linked (shared totals, subsets, margin tables).

:func:`release_sdc` (the release) protects every table of the year, and every earlier partner
release of that year, as one system: :mod:`privacy.sdc_joint` states the attacker model and
the guarantee (upper and lower protection levels around each small cell and each small
change, with hidden cells known to be at least 1 because zeros are always published), chooses
the secondary suppressions by MILP and proves the pattern by integer programming.

* **Primary suppression (threshold rule).** A cell (interior or margin) with
  ``0 < count < threshold`` is suppressed. Zeros are published and never suppressed, not even
  as secondaries: an empty cell describes nobody, hiding every zero would hide the shape of
  every sparse table, and a zero that is never hidden makes "a hidden cell is at least 1" a
  true, public bound that the audit must and does use. (The known cost: a published zero can
  tell that *all* of a group share a trait, e.g. "every victim of forced labour in
  construction was male"; the threshold rule accepts that, as statistical offices' do.)
* **Marker.** Every suppressed cell shows the same marker, ``..`` (confidential). A ``<5``
  marker on primary cells only would itself tell the reader that the cell lies in 1-4 and
  which hidden cells are secondary.
* **Margins.** Which totals are published is part of each table's spec
  (:attr:`privacy.model.TableSpec.margins`); a margin row carries ``total`` in the dimensions
  it sums over. Margins pass through the threshold rule like any other cell.

:func:`suppress` and :func:`audit` are the single-table method (feasible interval at least
``protection`` wide, LP over one table's margins, a greedy choice of complements). They are
kept for a table on its own and as a baseline; they are **not** safe for a set of linked
tables and the release does not use them.

Privacy contract of :func:`release_sdc`: the unit is the person (or the call for hotline
tables); there is no privacy-loss budget (epsilon is not defined: counts are exact); the
mechanism is cell suppression; the small-cell threshold is ``threshold``; what is public to
the partners is every published cell and margin, the table structure and relations, the code
lists, the parameters and the year's earlier partner releases.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import linprog

from domain.codes import CODE_LIST_VERSION, Aggregation, OutreachMeasure
from privacy import sdc_joint
from privacy.model import (
    ASSESSED_VICTIMS,
    PUBLISHED,
    SUPPRESSED,
    TABLES,
    TOTAL,
    VALUE_COLUMNS,
    CellRef,
    Release,
    TableSpec,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "MARKER",
    "EarlierRelease",
    "ProtectionError",
    "SDCParams",
    "audit",
    "default_margins",
    "exact_cells",
    "release_sdc",
    "suppress",
    "suppress_primary",
]

DEFAULT_THRESHOLD = 5
MARKER = ".."
"""What a reader sees in place of every suppressed count (see the module docstring for why
it is not ``<5``)."""

_TOLERANCE = 1e-6

Key = tuple[Hashable, ...]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


ProtectionError = sdc_joint.ProtectionError


@dataclass(frozen=True)
class SDCParams:
    """The parameters of a suppression release, validated on construction.

    ``threshold``: counts with ``0 < count < threshold`` are suppressed. ``protection``: the
    least width ``upper - lower`` of every suppressed cell's feasible interval; it defaults to
    the threshold.
    """

    threshold: int = DEFAULT_THRESHOLD
    protection: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int):
            raise TypeError(f"threshold must be an int, not {type(self.threshold).__name__}")
        if self.threshold < 1:
            raise ValueError(f"threshold must be at least 1, got {self.threshold}")
        if self.protection is not None and not (
            math.isfinite(self.protection) and self.protection > 0
        ):
            raise ValueError(f"protection must be a positive finite number, got {self.protection}")

    @property
    def protection_level(self) -> float:
        return float(self.threshold if self.protection is None else self.protection)

    def describe(self) -> dict[str, Any]:
        """The parameters and the guarantee, as published in the release metadata."""
        p = self.protection_level
        return {
            "mechanism": "cell_suppression",
            "threshold": self.threshold,
            "protection_level": p,
            "upper_protection_level": p,
            "lower_protection_level": p,
            "primary_rule": f"0 < count < {self.threshold}; zeros are always published, so "
            "every suppressed cell is at least 1",
            "protection_rule": (
                "for every cell x with 0 < x < threshold, and every change d of a cell against "
                "an earlier partner release of the year with 0 < |d| < threshold, the "
                "whole-number solutions consistent with everything published (all tables, "
                "their margins and relations, suppressed cells >= 1, earlier partner releases) "
                f"reach x + {p:g} upwards and max(floor, x - {p:g}) downwards, where floor is "
                "the least value the published zeros and grand totals allow (1 for a single "
                "cell); no suppressed cell is fixed by the published cells"
            ),
            "audit": "one joint system over all tables and earlier partner releases of the "
            "year; secondary suppressions chosen by MILP with capacity cuts, protection proved "
            "by integer programming (scipy.optimize.milp, HiGHS)",
            "marker": MARKER,
            "epsilon": None,
        }


# --------------------------------------------------------------------------- structure


@dataclass
class _Lattice:
    """Cells of a table with its margins, and the equations ``margin = sum(members)``."""

    dims: list[str]
    keys: list[Key]
    level: IntArray  # 0 interior, 1 partial margin, 2 grand total
    equations: list[tuple[int, IntArray]] = field(default_factory=list)
    coverage: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """For each margin, how many interior cells it sums (0 for interior cells)."""

    @property
    def size(self) -> int:
        return len(self.keys)

    def matrix(self) -> FloatArray:
        a = np.zeros((len(self.equations), self.size))
        for row, (margin, members) in enumerate(self.equations):
            a[row, margin] = -1.0
            a[row, members] = 1.0
        return a


def _build_lattice(keys: list[Key], dims: list[str]) -> _Lattice:
    """Equations for cells keyed by dimension values, ``TOTAL`` marking a summed dimension.

    Each margin equals the sum of the cells one level finer that agree with it on the
    dimensions it keeps: a region total is the sum of its countries, the grand total the sum
    of the region totals (and, in a two-way table, of the row totals and of the column
    totals). The feasible set is the same as "every margin sums its interior cells", but an
    equation in which one hidden cell is alone then points at the cells that can free it,
    which is what secondary suppression looks for. Only cells present in the table take part
    (absent combinations are structural zeros).
    """
    kept = [frozenset(i for i, v in enumerate(k) if not _is_total(v)) for k in keys]
    n_dims = len(dims)
    level = np.array(
        [0 if len(s) == n_dims else (2 if len(s) == 0 else 1) for s in kept], dtype=np.int64
    )
    levels = set(kept)
    groups: dict[tuple[frozenset[int], frozenset[int], Key], list[int]] = {}
    for i, k in enumerate(kept):
        for s in levels:
            if s < k:
                groups.setdefault((s, k, _project(keys[i], s)), []).append(i)
    lattice = _Lattice(dims=dims, keys=keys, level=level)
    coverage = np.zeros(len(keys), dtype=np.int64)
    full = frozenset(range(n_dims))
    for j, s in enumerate(kept):
        if s == full:
            continue
        finer = [k for k in levels if s < k]
        children = [k for k in finer if not any(s < m < k for m in finer)]
        projection = _project(keys[j], s)
        for k in sorted(children, key=sorted):
            members = groups.get((s, k, projection), [])
            lattice.equations.append((j, np.array(members, dtype=np.int64)))
        coverage[j] = len(groups.get((s, full, projection), []))
    lattice.coverage = coverage
    return lattice


def _project(key: Key, kept: frozenset[int]) -> Key:
    return tuple(key[d] for d in sorted(kept))


def _is_total(value: object) -> bool:
    return isinstance(value, str) and value == TOTAL


def default_margins(dims: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """The margins of a cross-classified table: the total for 1-D; row, column and grand
    totals for 2-D. Other shapes must say which totals they publish."""
    if len(dims) == 1:
        return ((),)
    if len(dims) == 2:
        return ((dims[0],), (dims[1],), ())
    raise ValueError(f"say which margins a {len(dims)}-dimensional table publishes")


def _with_margins(
    table: pd.DataFrame, dims: list[str], margins: Sequence[Sequence[str]]
) -> tuple[list[Key], IntArray]:
    """Interior cells, then each margin's groups, as keys and exact counts."""
    _check_input(table, dims, margins)
    counts = table["count"].astype("int64").to_numpy()
    keys: list[Key] = [tuple(row) for row in table[dims].itertuples(index=False, name=None)]
    values: list[int] = [int(c) for c in counts]
    for kept in margins:
        if list(kept):
            grouped = table.groupby(list(kept), sort=False, dropna=False)["count"].sum()
            for group, total in grouped.items():
                group_key = group if isinstance(group, tuple) else (group,)
                lookup = dict(zip(kept, group_key, strict=True))
                keys.append(tuple(lookup.get(d, TOTAL) for d in dims))
                values.append(int(total))
        else:
            keys.append(tuple(TOTAL for _ in dims))
            values.append(int(counts.sum()))
    return keys, np.array(values, dtype=np.int64)


def _check_input(table: pd.DataFrame, dims: list[str], margins: Sequence[Sequence[str]]) -> None:
    missing = [c for c in [*dims, "count"] if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks columns {missing}; it has {list(table.columns)}")
    for kept in margins:
        unknown = [d for d in kept if d not in dims]
        if unknown:
            raise ValueError(f"margin {tuple(kept)} names unknown dimensions {unknown}")
    count = table["count"]
    if count.isna().any():
        raise ValueError("exact counts are needed: the count column has missing values")
    if not pd.api.types.is_integer_dtype(count) and not (count == count.round()).all():
        raise ValueError("counts must be whole numbers")
    if (count < 0).any():
        raise ValueError("counts must be non-negative")
    if table.duplicated(subset=dims).any():
        raise ValueError(f"more than one row for the same {dims}")
    for d in dims:
        if table[d].map(_is_total).any():
            raise ValueError(f"dimension {d!r} uses the reserved value {TOTAL!r}")


# --------------------------------------------------------------------------- audit


def _intervals(
    lattice: _Lattice,
    values: FloatArray,
    suppressed: BoolArray,
    which: Collection[int],
) -> dict[int, tuple[float, float]]:
    """Feasible [lower, upper] of each cell in ``which`` (all suppressed), by LP.

    Published cells are moved to the right-hand side, so each LP has only the hidden cells as
    variables. ``values`` is read only where ``suppressed`` is False.
    """
    a = lattice.matrix()
    hidden = np.flatnonzero(suppressed)
    shown = np.flatnonzero(~suppressed)
    rhs = -a[:, shown] @ values[shown]
    a_hidden = a[:, hidden]
    active = np.any(a_hidden != 0, axis=1)
    if not np.allclose(rhs[~active], 0.0, atol=_TOLERANCE):
        raise ValueError("the published cells contradict the published margins")
    a_hidden, rhs = a_hidden[active], rhs[active]
    position = {int(cell): i for i, cell in enumerate(hidden)}
    bounds = [(0.0, None)] * len(hidden)
    result: dict[int, tuple[float, float]] = {}
    for cell in which:
        i = position[int(cell)]
        if a_hidden.shape[0] == 0 or not np.any(a_hidden[:, i] != 0):
            result[int(cell)] = (0.0, math.inf)
            continue
        bound = []
        for sign in (1.0, -1.0):
            objective = np.zeros(len(hidden))
            objective[i] = sign
            lp = linprog(objective, A_eq=a_hidden, b_eq=rhs, bounds=bounds, method="highs")
            if lp.status == 3:
                bound.append(-math.inf if sign > 0 else math.inf)
            elif lp.status == 0:
                bound.append(sign * float(lp.fun))
            elif lp.status == 2:
                raise ValueError("the published cells and margins have no non-negative solution")
            else:
                raise RuntimeError(f"the audit LP failed: {lp.message}")
        lower, upper = max(bound[0], 0.0), bound[1]
        result[int(cell)] = (lower, upper)
    return result


def _width(interval: tuple[float, float]) -> float:
    return interval[1] - interval[0]


def audit(
    table: pd.DataFrame, dims: Sequence[str], protection: float = DEFAULT_THRESHOLD
) -> pd.DataFrame:
    """The feasible interval of every suppressed cell of a *published* table.

    Uses only what a reader has: the published counts, which rows are margins (``total`` in
    a dimension), the table's rows, and non-negativity; the counts of suppressed rows are
    ignored even if present. Returns one row per suppressed cell: the dimensions, ``lower``,
    ``upper`` (``inf`` when unbounded), ``width = upper - lower`` and ``protected``
    (``width >= protection``).
    """
    dims = list(dims)
    keys: list[Key] = [tuple(row) for row in table[dims].itertuples(index=False, name=None)]
    lattice = _build_lattice(keys, dims)
    suppressed = (table["status"] == SUPPRESSED).to_numpy(dtype=bool)
    shown_counts = table["count"].where(~suppressed, 0)
    if shown_counts.isna().any():
        raise ValueError("a published cell has no count")
    values = np.asarray(shown_counts.astype("float64").to_numpy(), dtype=np.float64)
    hidden = [int(i) for i in np.flatnonzero(suppressed)]
    intervals = _intervals(lattice, values, suppressed, hidden)
    rows = []
    for i in hidden:
        lower, upper = intervals[i]
        width = upper - lower
        rows.append(
            {
                **dict(zip(dims, keys[i], strict=True)),
                "lower": lower,
                "upper": upper,
                "width": width,
                "protected": bool(width + _TOLERANCE >= protection),
            }
        )
    return pd.DataFrame(rows, columns=[*dims, "lower", "upper", "width", "protected"])


# --------------------------------------------------------------------------- suppression


def _published_frame(
    keys: list[Key], dims: list[str], values: IntArray, suppressed: BoolArray
) -> pd.DataFrame:
    frame = pd.DataFrame(keys, columns=dims)
    frame["count"] = pd.array(
        [pd.NA if s else int(v) for v, s in zip(values, suppressed, strict=True)], dtype="Int64"
    )
    frame["status"] = [SUPPRESSED if s else PUBLISHED for s in suppressed]
    frame["display"] = [
        MARKER if s else str(int(v)) for v, s in zip(values, suppressed, strict=True)
    ]
    frame["moe95"] = pd.Series([None] * len(keys), dtype=object)
    return frame


def _primary(values: IntArray, threshold: int) -> BoolArray:
    return (values > 0) & (values < threshold)


def suppress_primary(
    table: pd.DataFrame,
    dims: Sequence[str],
    threshold: int = DEFAULT_THRESHOLD,
    margins: Sequence[Sequence[str]] | None = None,
) -> pd.DataFrame:
    """The threshold rule alone, with margins published: the naive method.

    Not safe to release (a lone hidden cell in a row is its total minus the rest); it exists
    so that tests and partners can see what the audit catches. Same output shape as
    :func:`suppress`.
    """
    dims = list(dims)
    keys, values = _with_margins(table, dims, default_margins(dims) if margins is None else margins)
    return _published_frame(keys, dims, values, _primary(values, threshold))


def suppress(
    table: pd.DataFrame,
    dims: Sequence[str],
    threshold: int = DEFAULT_THRESHOLD,
    protection: float | None = None,
    margins: Sequence[Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Primary and secondary suppression of one table of exact counts, with its margins.

    ``table`` has the ``dims`` columns and an exact ``count``, one row per interior cell.
    ``margins`` says which totals are published (default: :func:`default_margins`).

    Returns the published table: the interior rows then the margin rows (``total`` in the
    summed dimensions), with ``count`` (``Int64``, ``<NA>`` when suppressed), ``status``,
    ``display`` (:data:`MARKER` when suppressed) and ``moe95`` (None: counts are exact).

    Privacy: unit = the person counted in the table; no epsilon (exact counts); mechanism =
    cell suppression; threshold = ``threshold``; every suppressed cell's feasible interval
    is at least ``protection`` (default ``threshold``) wide given everything published.
    Raises :class:`ProtectionError` when no choice of suppressions can achieve that (the
    protection level exceeds the published grand total).
    """
    params = SDCParams(threshold, protection)
    dims = list(dims)
    keys, values = _with_margins(table, dims, default_margins(dims) if margins is None else margins)
    lattice = _build_lattice(keys, dims)
    suppressed = _primary(values, params.threshold)
    # Grand totals are never hidden to protect another cell, nor is a margin that sums the
    # whole table (a one-row table's row total): it is the grand total under another name.
    n_interior = int(np.count_nonzero(lattice.level == 0))
    fixed = (lattice.level == 2) | ((lattice.level > 0) & (lattice.coverage == n_interior))
    p = params.protection_level
    as_float = values.astype("float64")
    cell_equations: list[list[int]] = [[] for _ in keys]
    for e, (margin, members) in enumerate(lattice.equations):
        for cell in (margin, *members.tolist()):
            cell_equations[int(cell)].append(e)
    to_check = {int(i) for i in np.flatnonzero(suppressed)}
    while to_check:
        intervals = _intervals(lattice, as_float, suppressed, sorted(to_check))
        narrow = sorted(
            (i for i, iv in intervals.items() if _width(iv) + _TOLERANCE < p),
            key=lambda i: (_width(intervals[i]), i),
        )
        if not narrow:
            break
        chosen = _complement(lattice, values, suppressed, fixed, cell_equations, narrow)
        if chosen is None:
            cell = dict(zip(dims, keys[narrow[0]], strict=True))
            lower, upper = intervals[narrow[0]]
            raise ProtectionError(
                f"cannot protect cell {cell}: its interval [{lower:g}, {upper:g}] is narrower "
                f"than the protection level {p:g} even with every cell that may be hidden "
                f"suppressed (the grand total stays published)"
            )
        suppressed[chosen] = True
        to_check = {*narrow, chosen}
    return _published_frame(keys, dims, values, suppressed)


def _complement(
    lattice: _Lattice,
    values: IntArray,
    suppressed: BoolArray,
    fixed: BoolArray,
    cell_equations: list[list[int]],
    narrow: list[int],
) -> int | None:
    """The next cell to suppress so that the narrow cells gain freedom."""
    candidates = ~suppressed & ~fixed
    if not candidates.any():
        return None
    equations = lattice.equations
    hidden_in = [int(np.count_nonzero(suppressed[[m, *mem.tolist()]])) for m, mem in equations]

    def cells_of(eqs: list[int]) -> set[int]:
        found: set[int] = set()
        for e in eqs:
            margin, members = equations[e]
            found.update(c for c in (margin, *members.tolist()) if candidates[c])
        return found

    # Cells in the equations (rows, columns, totals) of the narrow cells.
    own = [e for i in narrow for e in cell_equations[i]]
    pool = cells_of(own) or {int(c) for c in np.flatnonzero(candidates)}

    def preference(c: int) -> tuple[int, int, bool, int, int]:
        # A hidden cell alone in an equation is pinned by it; a cell in most such equations
        # frees most (it closes the row-column cycle a hidden cell needs to move). Then
        # interior cells before margins, non-zeros (a zero can only grow), the smallest.
        lonely = sum(1 for e in cell_equations[c] if hidden_in[e] == 1)
        return (-lonely, int(lattice.level[c]), bool(values[c] == 0), int(values[c]), c)

    return min(pool, key=preference)


# --------------------------------------------------------------------------- release


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
