"""Reading a released table's rows: its dimensions, its total rows, and each cell's shown count
and margin of error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from privacy.model import SUPPRESSED, TABLES, TOTAL, VALUE_COLUMNS


def _dims(name: str, table: pd.DataFrame) -> list[str]:
    spec = TABLES.get(name)
    if spec is not None and all(d in table.columns for d in spec.dimension_names):
        return spec.dimension_names
    return [c for c in table.columns if c not in VALUE_COLUMNS]


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in table.to_dict("records")]


def _is_total_row(row: Mapping[str, Any], dims: list[str]) -> bool:
    return any(str(row[d]) == TOTAL for d in dims)


def _value(row: Mapping[str, Any]) -> int | None:
    if str(row.get("status")) == SUPPRESSED:
        return None
    count = row.get("count")
    if count is None or pd.isna(count):
        return None
    return int(count)


def _moe(row: Mapping[str, Any]) -> float | None:
    moe = row.get("moe95")
    if moe is None or pd.isna(moe):
        return None
    value = float(moe)
    return value if math.isfinite(value) and value > 0 else None
