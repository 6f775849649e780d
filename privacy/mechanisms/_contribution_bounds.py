"""Contribution bounds: the year's rows cut so that one privacy unit adds or removes at most
one row (step 1 of :mod:`privacy.mechanisms`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import polars as pl

from privacy.mechanisms._specs import ADDITIVE_MEASURES

_FACT_COLUMNS = (
    "person_ref",
    "authority",
    "channel",
    "place",
    "citizenship",
    "region",
    "exploitation",
    "industry",
    "gender",
    "age_band",
    "status",
)


def _polars(
    frame: pd.DataFrame, strings: Sequence[str], others: Sequence[str] = ()
) -> pl.DataFrame:
    """The columns we need, with fixed types (an empty or all-null column has none)."""
    schema: dict[str, Any] = {c: pl.String for c in strings}
    schema["year"] = pl.Int64
    if "value" in others:
        schema["value"] = pl.Int64
    return pl.from_pandas(frame.loc[:, [*strings, "year", *others]], schema_overrides=schema)


def bound_persons(facts: pd.DataFrame, year: int) -> pl.DataFrame:
    """The year's facts with one row per person: the latest ``assessed_on`` wins (ties keep
    input order). This enforces the contribution bound; see :mod:`privacy.mechanisms`."""
    frame = _polars(facts, _FACT_COLUMNS, ["assessed_on"])
    in_year = frame.filter(pl.col("year") == year)
    refs = in_year.get_column("person_ref")
    if refs.n_unique() == in_year.height:  # the usual case, and the cheapest check
        return in_year
    repeated = refs.is_duplicated()
    # Only the persons with several rows need ordering: sorting every person_ref is what
    # bench.bench_publish's dp_release would pay (its synthetic year repeats 0.1% of persons).
    latest = (
        in_year.filter(repeated)
        .with_row_index("_order")
        .sort(["assessed_on", "_order"], nulls_last=False)
        .unique(subset=["person_ref"], keep="last", maintain_order=True)
        .drop("_order")
    )
    return pl.concat([in_year.filter(~repeated), latest])


def bound_calls(hotline: pd.DataFrame, year: int) -> pl.DataFrame:
    """The year's hotline calls, one row per ``event_id``."""
    frame = _polars(hotline, ["event_id", "caller", "reason"])
    calls = frame.filter(pl.col("year") == year)
    if calls.get_column("event_id").n_unique() == calls.height:
        return calls
    return calls.unique(subset=["event_id"], keep="first", maintain_order=True)


def outreach_rows(outreach: pd.DataFrame, year: int) -> pl.DataFrame:
    """The year's outreach log rows of additive measures, one row per (event, measure)."""
    frame = _polars(outreach, ["event_id", "place", "measure"], ["value"])
    return frame.filter(
        (pl.col("year") == year) & pl.col("measure").is_in(list(ADDITIVE_MEASURES))
    ).unique(subset=["event_id", "measure"], keep="first", maintain_order=True)
