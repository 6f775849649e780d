"""Presentation of released values: small-cell markers and the public table's columns.

Everything here is a function of released (noisy, post-processed) values and public
parameters only, so it keeps the DP guarantee of the mechanism. Nothing here sees a true count.
The released values themselves come from the joint fit of :mod:`privacy.estimate`.

Suppression (:func:`publish_cells`): a released value below the threshold becomes
``<threshold`` with status ``suppressed`` and no number. This is decided on the released
value, never on the true count (which would leak it). The released total is published too;
the total minus the published cells bounds the suppressed values, but that reveals a
post-processed DP value, not a true count, so the guarantee holds: the threshold is a
presentation rule.
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


def display(value: int | None, threshold: int) -> str:
    """How a released value is shown: the number, or ``<threshold`` below it."""
    if value is None or value < threshold:
        return f"<{threshold}"
    return str(int(value))


def publish_cells(
    dims: pd.DataFrame | Mapping[str, Sequence[Any]],
    counts: Sequence[int] | npt.NDArray[np.int64],
    threshold: int,
    moe95: int | Sequence[int],
    *,
    total: int | None = None,
    total_moe95: int | None = None,
) -> pd.DataFrame:
    """The public table: ``dims...``, ``count`` (Int64, <NA> when suppressed), ``status``
    (``published``/``suppressed``), ``display`` (``"12"`` or ``"<5"``) and ``moe95`` (one for
    every cell, or one per cell). With
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
    if isinstance(moe95, int | np.integer):
        margins: list[int | None] = [int(moe95)] * len(values)
    else:
        margins = [int(m) for m in moe95]
        if len(margins) != len(values):
            raise ValueError(f"{len(margins)} margins for {len(values)} counts")
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
