"""The single-table method, kept for a table on its own and as a baseline (not safe for linked
tables; the release does not use it): margins as equations, LP intervals of the hidden cells,
and a greedy choice of complementary suppressions.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from privacy.model import SUPPRESSED
from privacy.sdc._frames import (
    BoolArray,
    FloatArray,
    IntArray,
    Key,
    _is_total,
    _published_frame,
    _with_margins,
    default_margins,
)
from privacy.sdc._params import DEFAULT_THRESHOLD, SDCParams
from privacy.sdc_joint import ProtectionError

_TOLERANCE = 1e-6


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
