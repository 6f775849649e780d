"""Synthetic fact rows for tests: one assessed victim per row, every column the release reads."""

from __future__ import annotations

from typing import Any

import pandas as pd


def victims(n: int, year: int = 2012, **changes: Any) -> pd.DataFrame:
    """``n`` victims of ``year``, all alike (a Romanian woman of 25 assessed by the centre,
    sexual exploitation, support declined) except for ``changes``."""
    row: dict[str, Any] = {
        "year": year,
        "assessed_on": f"{year}-04-01",
        "authority": "cmm",
        "channel": "police",
        "channel_group": "police",
        "place": None,
        "citizenship": "RO",
        "region": "europe",
        "exploitation": "sexual_exploitation",
        "industry": None,
        "gender": "female",
        "age": 25,
        "age_band": "25-29",
        "status": "declined",
        **changes,
    }
    return pd.DataFrame([{"person_ref": f"P-{i:08x}", **row} for i in range(n)])
