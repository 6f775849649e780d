"""How values read in the report: numbers, parameter names, table titles and the marker of a
hidden cell.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from privacy.model import TABLES


def _marker(meta: Mapping[str, Any]) -> str:
    privacy = meta.get("privacy")
    if isinstance(privacy, Mapping) and privacy.get("marker"):
        return str(privacy["marker"])
    return f"<{meta.get('threshold', 5)}"


def _num(value: Any) -> str:
    """Numbers as a reader wants them: 5 not 5.0 or 4.999999999999999, 0.3704 not
    0.37037037037037035 (the exact values are in datapackage.json)."""
    if isinstance(value, bool) or not isinstance(value, float | int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "unbounded" if value > 0 else str(value)
        value = float(f"{value:.4g}")
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
    return str(value)


_LABELS = {
    "epsilon": "Epsilon (ε)",
    "epsilon_total": "Epsilon, whole release (ε)",
    "epsilon_by_unit": "Epsilon per privacy unit (ε)",
    "moe95": "± 95 %",
    "total_display": "Total",
    "total_moe95": "Total ± 95 %",
    "protection_level": "Protection level (how far above and below its value a hidden "
    "small count could be)",
    "opendp_version": "OpenDP version",
}


def _humanise(key: str) -> str:
    if key in _LABELS:
        return _LABELS[key]
    text = key.replace("_", " ")
    return text[:1].upper() + text[1:]


def _table_title(name: str) -> str:
    spec = TABLES.get(name)
    return spec.title_en if spec else _humanise(name)
