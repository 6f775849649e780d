"""Exact counts of the bounded rows over the public categories: no noise, never released as
such (step 4 of :mod:`privacy.mechanisms`: the same function as OpenDP's counting).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from privacy.mechanisms._specs import ASSESSED_VICTIMS, KEY_SEPARATOR, HistogramSpec


def _keys_of(frame: pl.LazyFrame, spec: HistogramSpec) -> pl.LazyFrame:
    """One category key per bounded row that passes the table's filters."""
    for column, value in spec.where:
        frame = frame.filter(pl.col(column) == value)
    recode = dict(spec.recode)
    exprs = [pl.col(k).cast(pl.String).fill_null("") for k in spec.keys]
    exprs = [
        e.replace(dict(recode[k])) if k in recode else e
        for e, k in zip(exprs, spec.keys, strict=True)
    ]
    key = exprs[0] if len(exprs) == 1 else pl.concat_str(exprs, separator=KEY_SEPARATOR)
    return frame.select(key.alias("key"))


def _vector(spec: HistogramSpec, counted: Mapping[str, int]) -> list[int]:
    unexpected = sorted(set(counted) - set(spec.categories))
    if unexpected:
        raise ValueError(
            f"table {spec.name!r}: values outside the code list for {', '.join(spec.keys)}: "
            f"{', '.join(map(repr, unexpected[:10]))}; fix the data, the release was not made"
        )
    return [int(counted.get(c, 0)) for c in spec.categories]


def exact_counts(spec: HistogramSpec, bounded: pl.DataFrame) -> list[int]:
    """Counts per category of the bounded rows, in ``spec.categories`` order: the same
    function as OpenDP's ``make_count_by_categories(null_category=False)`` on
    :func:`category_keys`."""
    return exact_counts_many([spec], bounded)[spec.name]


def exact_counts_many(
    specs: Sequence[HistogramSpec], bounded: pl.DataFrame
) -> dict[str, list[int]]:
    """:func:`exact_counts` of several tables over the same rows, as one parallel polars
    query per table."""
    rows = bounded.lazy()
    queries = [_keys_of(rows, spec).group_by("key").len() for spec in specs]
    out: dict[str, list[int]] = {}
    for spec, counted in zip(specs, pl.collect_all(queries), strict=True):
        pairs = zip(counted["key"].to_list(), counted["len"].to_list(), strict=True)
        out[spec.name] = _vector(spec, dict(pairs))
    return out


def category_keys(spec: HistogramSpec, bounded: pl.DataFrame) -> list[str]:
    """The per-row category keys that OpenDP's counting transformation takes as input."""
    keys: list[str] = _keys_of(bounded.lazy(), spec).collect().get_column("key").to_list()
    return keys


def outreach_counts(spec: HistogramSpec, logs: pl.DataFrame, persons: pl.DataFrame) -> list[int]:
    """Sum of each additive measure per (place, measure), and the year's victims per place of
    first contact (``assessed_victims``; persons without a place are in no cell)."""
    sums = logs.group_by("place", "measure").agg(pl.col("value").sum())
    counted: dict[str, int] = {
        f"{p}{KEY_SEPARATOR}{m}": int(v)
        for p, m, v in sums.select("place", "measure", "value").iter_rows()
    }
    by_place = persons.filter(pl.col("place").is_not_null()).get_column("place").value_counts()
    for place, n in zip(by_place["place"].to_list(), by_place["count"].to_list(), strict=True):
        counted[f"{place}{KEY_SEPARATOR}{ASSESSED_VICTIMS}"] = int(n)
    if any(v < 0 for v in counted.values()):
        raise ValueError("table 'outreach_activity': negative reported values")
    return _vector(spec, counted)
