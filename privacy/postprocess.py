"""Post-processing of noisy counts: non-negative integers that add up, then small-cell markers.

Everything here is a function of noisy values and public parameters only, so it keeps the
DP guarantee of the mechanism (post-processing). Nothing here sees a true count.

Method, per table:

1. **Total.** The table's released total is fixed first (see ``TotalRule`` in
   :mod:`privacy.mechanisms`): the noisy year total for ``victims_by_year``, an earlier
   table's released cell for tables that must agree with it (every person table adds up to
   the released number of victims; forced-labour tables to the released forced-labour cell;
   police calls by reason to the released police cell), or the sum of the noisy cells. A
   total is clipped at 0.
2. **Projection** (:func:`project_to_simplex`). The noisy cells ``y`` are projected in
   Euclidean distance onto ``{x >= 0, sum(x) = total}``: ``x_i = max(y_i - tau, 0)`` with the
   one ``tau`` that makes the sum right (Duchi et al. 2008). Because ``y`` and the total are
   integers, ``tau`` is a rational ``p / q`` and the projection is computed exactly in integer
   arithmetic: no float drift can break the sum. The projection keeps the order of the cells,
   and sends the many empty categories (every country) to 0 instead of to noisy +/- values.
3. **Rounding** (:func:`round_preserving_sum`). Largest remainder: every cell gets the floor
   of its projected value, and the ``k`` units still missing from the total go to the ``k``
   largest fractional parts (ties: larger noisy value, then code-list order). The result is
   non-negative integers with exactly the total, each within 1 of the projection.
4. **Suppression** (:func:`publish_cells`). A post-processed value below the threshold
   becomes ``<threshold`` with status ``suppressed`` and no number. This is decided on the
   noisy, post-processed value, never on the true count (which would leak it).

The released total is published too. Where a table has few suppressed cells, the total minus
the published cells bounds or gives the suppressed values; that reveals a post-processed DP
value, not a true count, so the guarantee holds; the threshold is a presentation rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from privacy.model import PUBLISHED as STATUS_PUBLISHED
from privacy.model import SUPPRESSED as STATUS_SUPPRESSED
from privacy.model import TOTAL, VALUE_COLUMNS

PUBLISHED_COLUMNS = VALUE_COLUMNS


def _check_total(total: int) -> None:
    if isinstance(total, bool) or not isinstance(total, int | np.integer) or total < 0:
        raise ValueError(f"total must be a non-negative integer, not {total!r}")


def _projection(noisy: Sequence[int], total: int) -> tuple[list[int], list[int], int]:
    """Integer form of the projection: ``x_i = (num_i) / q`` with ``num_i >= 0``."""
    y = [int(v) for v in noisy]
    n = len(y)
    if total == 0 or n == 0:
        return [0] * n, [0] * n, 1
    # Duchi et al.: sort descending; rho = the largest j with u_j - (cumsum_j - total) / j > 0.
    u = sorted(y, reverse=True)
    cumsum = 0
    rho, rho_sum = 0, 0
    for j, value in enumerate(u, start=1):
        cumsum += value
        if value * j - (cumsum - total) > 0:
            rho, rho_sum = j, cumsum
    # tau = (rho_sum - total) / rho; x_i = max(y_i - tau, 0) = max(y_i * rho - p, 0) / rho.
    q, p = rho, rho_sum - total
    numerators = [max(v * q - p, 0) for v in y]
    return numerators, y, q


def project_to_simplex(noisy: Sequence[int], total: int) -> npt.NDArray[np.float64]:
    """Euclidean projection of integer ``noisy`` onto ``{x >= 0, sum(x) = total}`` (floats,
    for inspection; :func:`consistent_counts` uses the exact integer form)."""
    _check_total(total)
    numerators, _, q = _projection(noisy, total)
    return np.asarray(numerators, dtype="float64") / q


def round_preserving_sum(
    numerators: Sequence[int], q: int, total: int, tiebreak: Sequence[int] | None = None
) -> npt.NDArray[np.int64]:
    """Largest-remainder rounding of ``numerators / q`` (which sum to ``total``) to integers
    that sum to ``total``. Ties go to the larger ``tiebreak`` value, then the earlier cell."""
    _check_total(total)
    if q <= 0:
        raise ValueError(f"denominator must be positive, not {q!r}")
    if sum(numerators) != total * q:
        raise ValueError("numerators / q must sum to total")
    floors = [v // q for v in numerators]
    remainders = [v % q for v in numerators]
    missing = total - sum(floors)
    keys = tiebreak if tiebreak is not None else [0] * len(numerators)
    order = sorted(range(len(numerators)), key=lambda i: (-remainders[i], -keys[i], i))
    out = np.asarray(floors, dtype="int64")
    for i in order[:missing]:
        out[i] += 1
    return out


def consistent_counts(noisy: Sequence[int], total: int) -> npt.NDArray[np.int64]:
    """Non-negative integers that sum to ``total``, as close to ``noisy`` as the projection
    allows (see the module docstring). Post-processing only."""
    _check_total(total)
    numerators, y, q = _projection(noisy, total)
    return round_preserving_sum(numerators, q, int(total), tiebreak=y)


def clip_nonnegative(noisy: Sequence[int]) -> npt.NDArray[np.int64]:
    """Each noisy count clipped at 0 (for tables whose cells do not add up to a total)."""
    values: npt.NDArray[np.int64] = np.asarray([int(v) for v in noisy], dtype="int64")
    return np.maximum(values, 0)


def total_from_cells(noisy: Sequence[int]) -> int:
    """A released total from the table's own noisy cells: their sum, clipped at 0."""
    return max(0, sum(int(v) for v in noisy))


def display(value: int | None, threshold: int) -> str:
    """How a released value is shown: the number, or ``<threshold`` below it."""
    if value is None or value < threshold:
        return f"<{threshold}"
    return str(int(value))


def publish_cells(
    dims: pd.DataFrame | Mapping[str, Sequence[Any]],
    counts: Sequence[int] | npt.NDArray[np.int64],
    threshold: int,
    moe95: int,
    *,
    total: int | None = None,
    total_moe95: int | None = None,
) -> pd.DataFrame:
    """The public table: ``dims...``, ``count`` (Int64, <NA> when suppressed), ``status``
    (``published``/``suppressed``), ``display`` (``"12"`` or ``"<5"``) and ``moe95``. With
    ``total``, the released total is appended as a row whose every dimension is ``"total"``
    (the margin convention of :mod:`privacy.model`), shown or suppressed like a cell.

    Privacy contract: post-processing of DP counts; the threshold is applied to the released
    (noisy, post-processed) values, so suppression costs no privacy and leaks no true count.
    """
    values = [int(v) for v in counts]
    if isinstance(dims, pd.DataFrame):
        columns: dict[str, list[Any]] = {str(d): dims[d].tolist() for d in dims.columns}
    else:
        columns = {str(d): list(v) for d, v in dims.items()}
    clash = sorted(set(columns) & set(PUBLISHED_COLUMNS))
    if clash:
        raise ValueError(f"dimension names clash with published columns: {', '.join(clash)}")
    for d, cells in columns.items():
        if len(cells) != len(values):
            raise ValueError(f"{len(values)} counts for {len(cells)} cells of {d!r}")
    if any(v < 0 for v in values):
        raise ValueError("released counts must be non-negative")
    margins: list[int | None] = [int(moe95)] * len(values)
    if total is not None:
        if total < 0:
            raise ValueError("a released total must be non-negative")
        for cells in columns.values():
            cells.append(TOTAL)
        values.append(int(total))
        margins.append(total_moe95)
    hidden = [v < threshold for v in values]
    return pd.DataFrame(
        {
            **columns,
            "count": pd.array(
                [None if h else v for v, h in zip(values, hidden, strict=True)], dtype="Int64"
            ),
            "status": [STATUS_SUPPRESSED if h else STATUS_PUBLISHED for h in hidden],
            "display": [display(v, threshold) for v in values],
            "moe95": pd.array(margins, dtype="Int64"),
        }
    )
