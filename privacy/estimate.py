"""From noisy measurements to released counts: one joint least-squares fit of every table,
integers that keep the sums, and margins of error that are true for what is published.

Everything here is post-processing: a function of the noisy measurements and of public
parameters (the code lists, the table definitions, the scales, alpha). Nothing here sees a
true count, and nothing published about accuracy depends on the data.

Why not project each table onto its total (what releases did before). On a sparse table
(``by_citizenship`` has 250 countries, nearly all empty) half the noise of the empty cells is
positive, so reaching the total took a large common shift that biased every large cell
downwards: over 300 releases a country with 22 victims averaged 17 and fell inside its stated
95% margin in only 85% of them. So:

1. **What is measured** (:data:`privacy.params.MEASURED_TABLES`). Every table except
   ``victims_by_year`` (the sum of any person table) and ``labour_by_industry`` (a margin of
   ``labour_by_industry_gender``): they are *derived*, post-processing of the others, and
   spend nothing. No epsilon is spent twice on the same people's counts in one hierarchy.
2. **Joint fit** (:func:`estimate`). The public tables are one stacked vector ``x`` tied by
   linear equalities ``C x = 0``: every person table sums to the year's total, each margin
   cell (``by_region``, ``labour_by_industry``) to its finer cells, the forced-labour tables
   to the forced-labour cell, police calls by reason to the police cell. The measured cells
   are ``y = A x + e`` with independent discrete Laplace noise of public variances ``V``. The
   estimate is the generalised least-squares fit under the constraints, ``x_hat = G y``: the
   best linear unbiased estimate. It is *unbiased* for every cell whatever the data
   (``E[x_hat] = x``), a derived table borrows strength from every table that sums to it, and
   it adds up exactly (``C x_hat = 0``).
3. **Integers that add up** (:func:`round_estimate`). Top-down largest remainder: the year
   total to the nearest integer, then each table's cells (each margin cell's finer cells) to
   floors or ceilings summing to the integer already chosen above them. Every released
   integer is within 1 of ``x_hat``.
4. **Non-negative** (:func:`release_values`). A negative integer is released as 0. For an
   empty cell that moves the value towards the truth; for a cell of 5 or more it is rare. It
   is the only non-linear step, and the only reason a table's published cells can add up to a
   little more than its total.

**Margins of error** (:func:`margin_of_error`). The error of a fitted cell is ``(G e)_i``, a
fixed linear combination of independent discrete Laplace variables with public coefficients
and scales. Its distribution is computed numerically (exact integer convolution of terms
with the same coefficient and scale, then a fine grid for the combination, the grid's
rounding added to the margin, so the margin errs only on the wide side). ``moe95`` is the
smallest integer ``m`` with ``P(|(G e)_i| < m) >= 1 - alpha`` (``<=`` for a cell that is its
own measurement: no rounding moves it). Rounding moves a value by at most 1 and the truth is
an integer, so ``|x_hat - x| < m`` implies ``|released - x| <= m``; clipping at 0 only moves a
value towards a non-negative truth. So for every cell and every data set, the published
interval covers the true count with probability at least ``1 - alpha``, and ``moe95`` depends
only on public parameters.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
from scipy.linalg import null_space
from scipy.signal import fftconvolve

from privacy.mechanisms import (
    KEY_SEPARATOR,
    HistogramSpec,
    discrete_laplace_variance,
    plan_table,
    table_specs,
)
from privacy.params import MARGIN_OF, MEASURED_TABLES, RELEASED_TABLES, PrivacyParams

__all__ = [
    "GRID",
    "Layout",
    "estimate",
    "layout",
    "margin_of_error",
    "release_values",
    "round_estimate",
]

GRID = 0.01
"""Step of the grid on which a weighted sum of noise terms is convolved. Each group of terms
is placed on the grid to within half a step; the margin adds the largest displacement of
every group, so the grid can only widen a margin, never narrow it."""

_TAIL = 1e-15
"""Probability mass below which the tails of a noise distribution are dropped (never added
back: the margin is computed from a sub-probability, which can only widen it)."""

_DIGITS = 12
"""Coefficients are grouped after rounding to this many digits; the rounding is added to the
margin."""


@dataclass(frozen=True)
class _Rounding:
    """How one group of cells is rounded: to integers summing to the value of the stacked
    cell ``parent`` (rounded earlier), to the group's own rounded sum (``parent == OWN``), or
    each on its own (``parent == ALONE``: cells that do not add up)."""

    cells: tuple[int, ...]
    parent: int


OWN = -1
ALONE = -2


@dataclass(frozen=True)
class Layout:
    """The public structure of a year's release: where each table's cells are in the stacked
    vector, the fit ``G``, the rounding order and every cell's margin of error. A function of
    public parameters only (cached per year and parameters)."""

    offsets: Mapping[str, tuple[int, int]]
    """Table -> (start, stop) of its cells in the stacked vector (every table)."""
    measured: tuple[str, ...]
    """The measured tables, in the order their cells are stacked in ``y``."""
    fit: npt.NDArray[np.float64]
    """``G``: stacked cells x measured cells."""
    rounding: tuple[_Rounding, ...]
    moe95: npt.NDArray[np.int64]
    """Every stacked cell's margin of error for what is released."""
    std: npt.NDArray[np.float64]
    """Every stacked cell's standard error before rounding (for ``--dry-run``)."""
    total_index: Mapping[str, int]
    """Table -> the stacked cell that is its released total (``parent`` rule)."""
    sum_moe95: Mapping[str, int]
    """Table -> margin of its total when the total is the sum of its cells (``sum`` rule)."""

    def cells(self, values: npt.NDArray[np.int64], table: str) -> list[int]:
        start, stop = self.offsets[table]
        return [int(v) for v in values[start:stop]]


def _offsets(specs: Mapping[str, HistogramSpec]) -> dict[str, tuple[int, int]]:
    offsets: dict[str, tuple[int, int]] = {}
    at = 0
    for name in RELEASED_TABLES:
        offsets[name] = (at, at + len(specs[name].cells))
        at += len(specs[name].cells)
    return offsets


def _coarse_index(fine: HistogramSpec, coarse: HistogramSpec) -> list[int]:
    """For each cell of ``fine``, the index of the ``coarse`` cell it falls in: the coarse
    table's key columns read from the fine cell's dimensions of the same name, through the
    coarse table's public recode (forms of exploitation into their groups) if it has one."""
    recode = {column: dict(pairs) for column, pairs in coarse.recode}
    index = {category: i for i, category in enumerate(coarse.categories)}
    out: list[int] = []
    for cell in fine.cells:
        values = dict(zip(fine.dims, cell, strict=True))
        parts = [recode.get(k, {}).get(values[k], values[k]) for k in coarse.keys]
        out.append(index[KEY_SEPARATOR.join(parts)])
    return out


def _constraints(
    specs: Mapping[str, HistogramSpec], offsets: Mapping[str, tuple[int, int]], n: int
) -> tuple[npt.NDArray[np.float64], list[_Rounding], dict[str, int]]:
    rows: list[npt.NDArray[np.float64]] = []
    rounding: list[_Rounding] = []
    total_index: dict[str, int] = {}
    # Each finer table -> its margin tables, in release order: the first is its rounding parent.
    coarse_of: dict[str, list[str]] = {}
    for margin in RELEASED_TABLES:
        for fine in MARGIN_OF.get(margin, ()):
            coarse_of.setdefault(fine, []).append(margin)

    def equal(members: Sequence[int], parent: int) -> None:
        row = np.zeros(n)
        row[list(members)] = 1.0
        row[parent] = -1.0
        rows.append(row)

    for name in RELEASED_TABLES:
        spec = specs[name]
        start, stop = offsets[name]
        cells = tuple(range(start, stop))
        rule = spec.total
        if rule.kind == "parent":
            total_index[name] = offsets[rule.table][0] + specs[rule.table].categories.index(
                rule.key
            )
        if name in coarse_of:
            # A finer table: each group of its cells adds up to one cell of each of its margin
            # tables (which add up to the total, so the finer table does too). It is rounded
            # within the cells of its first margin.
            for n_margin, coarse_name in enumerate(coarse_of[name]):
                coarse = specs[coarse_name]
                c_start = offsets[coarse.name][0]
                groups: dict[int, list[int]] = {}
                for i, j in enumerate(_coarse_index(spec, coarse)):
                    groups.setdefault(c_start + j, []).append(start + i)
                for parent_cell, members in groups.items():
                    equal(members, parent_cell)
                    if n_margin == 0:
                        rounding.append(_Rounding(tuple(members), parent_cell))
        elif rule.kind == "parent":
            equal(cells, total_index[name])
            rounding.append(_Rounding(cells, total_index[name]))
        elif rule.kind in ("own", "sum"):
            rounding.append(_Rounding(cells, OWN))
        else:
            rounding.append(_Rounding(cells, ALONE))
    return np.asarray(rows), rounding, total_index


@cache
def _layout(year: int, epsilons: tuple[tuple[str, float], ...], alpha: float) -> Layout:
    specs = table_specs(year)
    offsets = _offsets(specs)
    n = max(stop for _, stop in offsets.values())
    measured = tuple(name for name, _ in epsilons)
    # A: the measured cells, one row each; their noise scales.
    select: list[int] = []
    scales: list[float] = []
    for name, epsilon in epsilons:
        start, stop = offsets[name]
        select.extend(range(start, stop))
        scales.extend([plan_table(specs[name], epsilon, alpha).scale] * (stop - start))
    scale = np.asarray(scales)
    weight = 1.0 / np.asarray([discrete_laplace_variance(s) for s in scales])
    constraints, rounding, total_index = _constraints(specs, offsets, n)
    # Every x with C x = 0 is N z; the weighted least-squares z from y, then x = N z.
    basis = null_space(constraints)
    design = basis[select]  # A N
    normal = design.T @ (weight[:, None] * design)
    if np.linalg.matrix_rank(normal) < normal.shape[0]:
        raise RuntimeError("the release layout does not determine every cell")
    fit = basis @ np.linalg.solve(normal, design.T * weight[None, :])
    identity = [False] * n
    for row, cell in enumerate(select):
        coefficients = fit[cell]
        identity[cell] = bool(
            abs(coefficients[row] - 1.0) < 1e-12 and np.abs(coefficients).sum() < 1.0 + 1e-9
        )
    moe = np.asarray(
        [margin_of_error(fit[i], scale, alpha, exact=identity[i]) for i in range(n)],
        dtype="int64",
    )
    variances = 1.0 / weight
    std = np.sqrt((fit**2) @ variances)
    sum_moe: dict[str, int] = {}
    for name in RELEASED_TABLES:
        if specs[name].total.kind == "sum":
            start, stop = offsets[name]
            sum_moe[name] = margin_of_error(fit[start:stop].sum(axis=0), scale, alpha)
    return Layout(
        offsets=offsets,
        measured=measured,
        fit=fit,
        rounding=tuple(rounding),
        moe95=moe,
        std=std,
        total_index=total_index,
        sum_moe95=sum_moe,
    )


def layout(year: int, params: PrivacyParams) -> Layout:
    """The release structure of ``year`` under ``params`` (public parameters only)."""
    epsilons = tuple((t, params.epsilon_for(t)) for t in MEASURED_TABLES)
    return _layout(year, epsilons, params.alpha)


def estimate(plan: Layout, noisy: Mapping[str, Sequence[int]]) -> npt.NDArray[np.float64]:
    """The joint least-squares estimate ``G y`` of every stacked cell (reals, may be
    negative; unbiased)."""
    y = np.concatenate(
        [np.asarray([int(v) for v in noisy[name]], dtype="float64") for name in plan.measured]
    )
    fitted: npt.NDArray[np.float64] = plan.fit @ y
    return fitted


def _largest_remainder(values: npt.NDArray[np.float64], target: int) -> npt.NDArray[np.int64]:
    floors = np.floor(values)
    ups = int(min(max(target - int(floors.sum()), 0), len(values)))
    order = sorted(range(len(values)), key=lambda i: (-(values[i] - floors[i]), i))
    out = floors.astype("int64")
    for i in order[:ups]:
        out[i] += 1
    return out


def round_estimate(plan: Layout, fitted: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Integers, top-down, each within 1 of ``fitted``; each group sums to its rounded parent
    (see the module docstring, step 3). May be negative."""
    # Fitted values that should be whole numbers carry float noise of a few ulps.
    fitted = np.round(fitted, 9)
    out = np.zeros(len(fitted), dtype="int64")
    for group in plan.rounding:
        cells = list(group.cells)
        values = fitted[cells]
        if group.parent == ALONE:
            out[cells] = np.rint(values).astype("int64")
            continue
        target = round(float(values.sum())) if group.parent == OWN else int(out[group.parent])
        out[cells] = _largest_remainder(values, target)
    return out


def release_values(plan: Layout, noisy: Mapping[str, Sequence[int]]) -> npt.NDArray[np.int64]:
    """Steps 2-4: the non-negative integers released for every stacked cell."""
    rounded: npt.NDArray[np.int64] = np.maximum(round_estimate(plan, estimate(plan, noisy)), 0)
    return rounded


# ----------------------------------------------------------------------------------------------
# Margins of error


def _sum_pmf(scale: float, n: int) -> tuple[npt.NDArray[np.float64], int]:
    """The distribution of the sum of ``n`` independent discrete Laplace(``scale``) variables
    on the integers ``offset, offset + 1, ...`` (tails below ``_TAIL`` dropped)."""
    half = math.ceil(40 * scale) + 1
    k = np.arange(-half, half + 1)
    q = math.exp(-1.0 / scale)
    single = (1 - q) / (1 + q) * q ** np.abs(k)
    if n == 1:
        pmf, offset = single, -half
    else:
        size = n * (2 * half) + 1
        nfft = 1 << (size - 1).bit_length()
        pmf = np.fft.irfft(np.fft.rfft(single, nfft) ** n, nfft)[:size]
        offset = -n * half
    pmf = np.clip(pmf, 0.0, None)
    keep = np.nonzero(pmf > _TAIL)[0]
    return pmf[keep[0] : keep[-1] + 1], offset + int(keep[0])


@cache
def _margin(groups: tuple[tuple[tuple[float, float], int], ...], alpha: float, exact: bool) -> int:
    if exact:
        # One term of coefficient 1: the integer noise itself, as OpenDP states it.
        (((_, scale), _),) = groups
        pmf, offset = _sum_pmf(scale, 1)
        distance = np.abs(offset + np.arange(len(pmf)))
        order = np.argsort(distance, kind="stable")
        reach = int(np.searchsorted(np.cumsum(pmf[order]), 1.0 - alpha - 1e-12))
        return int(distance[order[reach]])
    total = np.ones(1)
    low = 0
    displacement = 0.0
    for (coefficient, scale), n in groups:
        pmf, offset = _sum_pmf(scale, n)
        support = offset + np.arange(len(pmf))
        exact_points = coefficient * support
        points = np.rint(exact_points / GRID).astype("int64")
        # How far this group's values moved to reach the grid, and the coefficient's rounding.
        displacement += float(np.abs(exact_points - points * GRID).max())
        displacement += 10.0**-_DIGITS * float(np.abs(support).max())
        base = int(points.min())
        placed = np.zeros(int(points.max()) - base + 1)
        np.add.at(placed, points - base, pmf)
        total = np.clip(fftconvolve(total, placed), 0.0, None)
        low += base
    distance = np.abs((low + np.arange(len(total))) * GRID)
    order = np.argsort(distance, kind="stable")
    mass = np.cumsum(total[order])
    # Numerical slack of the convolutions, on the safe side.
    reach = int(np.searchsorted(mass, 1.0 - alpha + 1e-9))
    if reach >= len(order):
        raise RuntimeError("margin of error: the noise distribution was truncated too far")
    # The smallest integer strictly above the quantile (plus every displacement).
    return math.floor(float(distance[order[reach]]) + displacement) + 1


def margin_of_error(
    coefficients: npt.NDArray[np.float64],
    scales: npt.NDArray[np.float64],
    alpha: float,
    *,
    exact: bool = False,
) -> int:
    """The smallest integer ``m`` (up to the grid, on the wide side) with
    ``P(|sum_j coefficients_j e_j| < m) >= 1 - alpha`` for independent discrete Laplace
    ``e_j`` of ``scales`` (``<= m`` with ``exact``: the value is one noisy count, never
    rounded). A function of public numbers only."""
    groups: Counter[tuple[float, float]] = Counter()
    for c, s in zip(coefficients.tolist(), scales.tolist(), strict=True):
        if abs(c) > 10.0**-_DIGITS:
            groups[(round(c, _DIGITS), s)] += 1
    return _margin(tuple(sorted(groups.items())), alpha, exact)
