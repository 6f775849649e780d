"""Tables in and out: exact counts with their margins added (checked first), and the published
frame with every hidden cell shown as the marker.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from privacy.model import PUBLISHED, SUPPRESSED, TOTAL
from privacy.sdc._params import MARKER

Key = tuple[Hashable, ...]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


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
