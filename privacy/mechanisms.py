"""The OpenDP measurements behind the DP release: public categories, bounded contributions,
exact counts, and the only place where noise is drawn.

How a table is released (pure DP, discrete Laplace):

1. **Bound contributions** (:func:`bound_persons`, :func:`bound_calls`,
   :func:`outreach_rows`). The fact table is cut to the reporting year and de-duplicated to one
   row per ``person_ref`` (the latest assessment wins; ties keep input order). The kept row is a
   function of that person's own rows only, so adding or removing one person adds or removes
   at most one row: symmetric distance 1. Each person table counts each kept row in exactly
   one cell (or none, when a filter such as "forced labour only" drops it), so one person
   changes one table by at most 1 in L1. The code enforces this; it never assumes the read
   model already did. Hotline calls are de-duplicated by ``event_id`` the same way.
2. **Count over public categories.** Every cell comes from the code lists (every country,
   industry, status, ...), never from the data, so the set of cells reveals nothing. A value
   outside its code list is a data error: :func:`exact_counts` raises before any budget is
   spent or noise drawn.
3. **Plan** (:func:`plan_table`). The measurement is built from OpenDP constructors as the
   chain ``make_count_by_categories >> make_laplace`` (``vector_domain(atom_domain(T=str))``,
   ``symmetric_distance()`` in; ``max_divergence`` out), with the smallest scale whose privacy
   map at ``d_in = 1`` is at most the planned epsilon (``binary_search_param``); the map is then
   checked to equal the planned epsilon up to float rounding, never above it.
4. **Count fast, noise with OpenDP.** Re-scanning 1M rows through OpenDP per table costs
   seconds, so the counts are computed once with polars (:func:`exact_counts`) and only the
   Laplace step of the planned chain is applied to them (:func:`noisy_counts`). The fast
   counts equal OpenDP's ``make_count_by_categories`` on the same keys (a unit test checks it),
   so the released output has exactly the planned chain's distribution.

``make_laplace`` over integers samples the discrete Laplace distribution
(``P(k) ~ exp(-|k| / scale)``, variance ``2 e^(-1/s) / (1 - e^(-1/s))^2``). No numpy or
``random`` noise is used anywhere in the privacy layer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import opendp.prelude as dp
import pandas as pd
import polars as pl

from domain.codes import (
    AgeBand,
    Authority,
    CallerType,
    CallReason,
    Channel,
    ChannelGroup,
    ExploitationForm,
    Gender,
    Industry,
    OutreachMeasure,
    Place,
    SupportStatus,
)
from domain.countries import COUNTRIES, Region
from privacy.params import LISTED_CITIZENSHIPS, RELEASED_TABLES, UNIT_OF, Unit

dp.enable_features("contrib")

KEY_SEPARATOR = "|"
"""Joins the codes of a multi-dimensional cell into one category key (no code contains it)."""

ASSESSED_VICTIMS = "assessed_victims"
"""Outreach measure derived from the facts: the year's victims first contacted at the place
(the same name as ``projections.report.ASSESSED_VICTIMS``)."""

ADDITIVE_MEASURES: tuple[str, ...] = tuple(
    m.value for m in OutreachMeasure if m.aggregation.value == "sum"
)
"""Outreach measures that add up over logs and are released with noise. The per-person
minimum and maximum (``health_uses_per_person_min/max``) are order statistics of one
person's behaviour: a counting mechanism cannot protect them, so they are withheld."""

Source = Literal["facts", "hotline", "outreach"]


@dataclass(frozen=True, slots=True)
class TotalRule:
    """Where a table's released total comes from (see :mod:`privacy.postprocess`).

    - ``own``: the table's single noisy cell, clipped at 0, is its total (``victims_by_year``).
    - ``sum``: the sum of the table's noisy cells, clipped at 0.
    - ``parent``: one released cell of an earlier table (``table``, ``key``), so tables agree.
    - ``none``: cells of different measures do not add up; each is clipped at 0 on its own.
    """

    kind: Literal["own", "sum", "parent", "none"]
    table: str = ""
    key: str = ""


@dataclass(frozen=True, slots=True)
class HistogramSpec:
    """A public table: its dimensions and every cell, from the code lists only."""

    name: str
    source: Source
    dims: tuple[str, ...]
    keys: tuple[str, ...]
    """Columns of the bounded rows whose values, joined by ``KEY_SEPARATOR``, name the cell."""
    cells: tuple[tuple[str, ...], ...]
    """One tuple of dimension values per cell, in code-list order."""
    categories: tuple[str, ...]
    """The cell keys, aligned with ``cells``."""
    where: tuple[tuple[str, str], ...]
    """Equality filters applied to the bounded rows before counting (public rules)."""
    total: TotalRule
    contribution: str
    """How one privacy unit is bounded to L1 distance 1 on this table's counts."""
    recode: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    """Key column -> (code, cell code) pairs: a public many-to-one rule that puts several codes
    in one cell (the countries a release does not list go to their region's other cell)."""

    @property
    def unit(self) -> Unit:
        return UNIT_OF[self.name]

    def dims_columns(self) -> dict[str, list[str | int]]:
        """The cells as one list per dimension (the year as an integer)."""
        return {
            d: [int(c[i]) if d == "year" else c[i] for c in self.cells]
            for i, d in enumerate(self.dims)
        }


_PERSON = (
    "one person: the facts are cut to the reporting year and de-duplicated to one row per "
    "person_ref; each row falls in at most one cell"
)
_CALL = (
    "one hotline call: the calls are cut to the reporting year and de-duplicated by "
    "event_id; each call falls in at most one cell"
)
_OUTREACH = (
    "one counted unit of a team-reported measure (a shift, visit, contact, use or person "
    "counted), or one person in assessed_victims (de-duplicated facts, at most one place): "
    "either changes one cell by 1; a person counted k times by the teams is protected at "
    "k times the table's epsilon"
)


def _spec(
    name: str,
    source: Source,
    dims: Sequence[str],
    cells: Sequence[Sequence[str]],
    *,
    keys: Mapping[str, str] | None = None,
    where: Sequence[tuple[str, str]] = (),
    total: TotalRule,
    contribution: str,
    recode: Mapping[str, Mapping[str, str]] | None = None,
) -> HistogramSpec:
    """``keys`` maps each key column of the bounded rows to the dimension holding its code
    (default: every dimension is a column of the same name)."""
    key_map = dict(keys) if keys is not None else {d: d for d in dims}
    key_columns = tuple(key_map)
    key_index = [list(dims).index(d) for d in key_map.values()]
    frozen_cells = tuple(tuple(str(v) for v in c) for c in cells)
    categories = tuple(KEY_SEPARATOR.join(c[i] for i in key_index) for c in frozen_cells)
    if len(set(categories)) != len(categories):
        raise ValueError(f"table {name!r} has duplicate cells")
    return HistogramSpec(
        name,
        source,
        tuple(dims),
        key_columns,
        frozen_cells,
        categories,
        tuple(where),
        total,
        contribution,
        tuple((c, tuple(sorted(m.items()))) for c, m in (recode or {}).items()),
    )


OTHER_PREFIX = "other_"
"""Cell code of the countries of a region that the release does not list: ``other_<region>``."""


def citizenship_cells() -> list[list[str]]:
    """``by_citizenship``'s cells: each listed country (``LISTED_CITIZENSHIPS``) in code order,
    then one ``other_<region>`` cell per region with unlisted countries, in region order."""
    listed = [[c, COUNTRIES[c].region.value] for c in sorted(LISTED_CITIZENSHIPS)]
    regions = {COUNTRIES[c].region for c in COUNTRIES if c not in LISTED_CITIZENSHIPS}
    others = [[f"{OTHER_PREFIX}{r.value}", r.value] for r in Region if r in regions]
    return listed + others


def citizenship_recode() -> dict[str, str]:
    """Every unlisted country code -> its region's other cell (listed codes keep their own)."""
    return {
        code: f"{OTHER_PREFIX}{country.region.value}"
        for code, country in COUNTRIES.items()
        if code not in LISTED_CITIZENSHIPS
    }


def table_specs(year: int) -> dict[str, HistogramSpec]:
    """Every public table of ``year``'s release, in ``RELEASED_TABLES`` order (a table's
    total may come from an earlier table). All cells are public: they depend on the code
    lists and the year."""
    victims_total = TotalRule("parent", "victims_by_year", str(year))
    labour_total = TotalRule("parent", "by_exploitation", ExploitationForm.FORCED_LABOUR.value)
    labour = (("exploitation", ExploitationForm.FORCED_LABOUR.value),)
    group_order = {g.value: i for i, g in enumerate(ChannelGroup)}
    channels = sorted(Channel, key=lambda c: group_order[c.group.value])  # stable: code order
    specs = [
        _spec(
            "victims_by_year",
            "facts",
            ["year"],
            [[str(year)]],
            total=TotalRule("own"),
            contribution=_PERSON,
        ),
        _spec(
            "by_authority",
            "facts",
            ["authority"],
            [[c] for c in Authority.codes()],
            total=victims_total,
            contribution=_PERSON,
        ),
        _spec(
            "by_channel",
            "facts",
            ["channel_group", "channel"],
            [[c.group.value, c.value] for c in channels],
            keys={"channel": "channel"},
            total=victims_total,
            contribution=_PERSON,
        ),
        _spec(
            "by_region",
            "facts",
            ["region"],
            [[r.value] for r in Region],
            total=victims_total,
            contribution=_PERSON,
        ),
        _spec(
            "by_citizenship",
            "facts",
            ["citizenship", "region"],
            citizenship_cells(),
            keys={"citizenship": "citizenship"},
            total=victims_total,
            contribution=_PERSON,
            recode={"citizenship": citizenship_recode()},
        ),
        _spec(
            "by_exploitation",
            "facts",
            ["exploitation"],
            [[c] for c in ExploitationForm.codes()],
            total=victims_total,
            contribution=_PERSON,
        ),
        _spec(
            "labour_by_industry",
            "facts",
            ["industry"],
            [[c] for c in Industry.codes()],
            where=labour,
            total=labour_total,
            contribution=_PERSON,
        ),
        _spec(
            "labour_by_industry_gender",
            "facts",
            ["industry", "gender"],
            [[i, g] for i in Industry.codes() for g in Gender.codes()],
            where=labour,
            total=labour_total,
            contribution=_PERSON,
        ),
        _spec(
            "by_gender",
            "facts",
            ["gender"],
            [[c] for c in Gender.codes()],
            total=victims_total,
            contribution=_PERSON,
        ),
        _spec(
            "by_age_band",
            "facts",
            ["age_band"],
            [[c] for c in AgeBand.codes()],
            total=victims_total,
            contribution=_PERSON,
        ),
        # The dimension is "support_status": "status" is the published/suppressed column.
        _spec(
            "status_at_cutoff",
            "facts",
            ["support_status"],
            [[c] for c in SupportStatus.codes()],
            keys={"status": "support_status"},
            total=victims_total,
            contribution=_PERSON,
        ),
        _spec(
            "hotline_by_caller",
            "hotline",
            ["caller"],
            [[c] for c in CallerType.codes()],
            total=TotalRule("sum"),
            contribution=_CALL,
        ),
        _spec(
            "hotline_police_by_reason",
            "hotline",
            ["reason"],
            [[c] for c in CallReason.codes()],
            where=(("caller", CallerType.POLICE.value),),
            total=TotalRule("parent", "hotline_by_caller", CallerType.POLICE.value),
            contribution=_CALL,
        ),
        _spec(
            "outreach_activity",
            "outreach",
            ["place", "measure"],
            [[p, m] for p in Place.codes() for m in (*ADDITIVE_MEASURES, ASSESSED_VICTIMS)],
            total=TotalRule("none"),
            contribution=_OUTREACH,
        ),
    ]
    out = {s.name: s for s in specs}
    assert tuple(out) == RELEASED_TABLES
    return out


# ----------------------------------------------------------------------------------------------
# Contribution bounds


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
    input order). This enforces the contribution bound; see the module docstring."""
    frame = _polars(facts, _FACT_COLUMNS, ["assessed_on"])
    in_year = frame.filter(pl.col("year") == year)
    refs = in_year.get_column("person_ref")
    if refs.n_unique() == in_year.height:  # the usual case, and the cheapest check
        return in_year
    repeated = refs.is_duplicated()
    # Only the persons with several rows need ordering (sorting 1M strings costs ~1 s).
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


# ----------------------------------------------------------------------------------------------
# Exact counts (no noise; never released as such)


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


# ----------------------------------------------------------------------------------------------
# Measurements


@dataclass(frozen=True, slots=True)
class TablePlan:
    """A table's measurement, checked before any data is touched.

    ``measurement`` is the Laplace step that draws the noise; ``chain`` is the full OpenDP
    pipeline from bounded rows (or, for outreach, from the reported count vector) whose
    ``privacy_map`` was checked: ``chain.map(d_in) == epsilon`` (never above it)."""

    table: str
    epsilon: float
    scale: float
    d_in: int
    privacy_map: float
    moe95: int
    alpha: float
    measurement: Any
    chain: Any
    n_cells: int

    @property
    def mechanism(self) -> str:
        return (
            "discrete Laplace: OpenDP make_laplace on vector_domain(atom_domain(T=int)), "
            "l1_distance(T=int), max_divergence"
        )


MAP_TOLERANCE = 1e-9
"""Relative slack for float rounding in the privacy map check (the map may fall below the
plan by this much; it may never exceed it)."""


def _counting(categories: tuple[str, ...]) -> Any:
    return dp.t.make_count_by_categories(
        dp.vector_domain(dp.atom_domain(T=str)),
        dp.symmetric_distance(),
        categories=list(categories),
        null_category=False,
    )


@cache
def _plan(
    table: str, categories: tuple[str, ...], from_rows: bool, epsilon: float, alpha: float
) -> TablePlan:
    d_in = 1
    if from_rows:
        counting = _counting(categories)
        space = (counting.output_domain, counting.output_metric)
    else:
        counting = None
        space = (dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int))

    def build(scale: float) -> Any:
        laplace = dp.m.make_laplace(*space, scale=scale)
        return laplace if counting is None else counting >> laplace

    scale = float(dp.binary_search_param(build, d_in=d_in, d_out=epsilon))
    chain = build(scale)
    measurement: Any = dp.m.make_laplace(*space, scale=scale)
    privacy_map = float(chain.map(d_in))
    # The noise step alone, on counts at L1 distance d_in, must not cost more than the chain.
    if float(measurement.map(d_in)) > privacy_map or not (
        epsilon * (1 - MAP_TOLERANCE) <= privacy_map <= epsilon
    ):
        raise RuntimeError(
            f"table {table!r}: privacy map {privacy_map!r} does not equal the planned "
            f"epsilon {epsilon!r}"
        )
    moe = float(dp.discrete_laplacian_scale_to_accuracy(scale, alpha))
    return TablePlan(
        table=table,
        epsilon=epsilon,
        scale=scale,
        d_in=d_in,
        privacy_map=privacy_map,
        # OpenDP: the floor keeps the coverage (|noise| <= floor(acc) with prob >= 1 - alpha).
        moe95=math.floor(moe),
        alpha=alpha,
        measurement=measurement,
        chain=chain,
        n_cells=len(categories),
    )


def plan_table(spec: HistogramSpec, epsilon: float, alpha: float) -> TablePlan:
    """The checked OpenDP measurement for ``spec`` at ``epsilon`` (pure DP). Depends only on
    public information (categories, epsilon, alpha), so plans are cached across releases."""
    return _plan(spec.name, spec.categories, spec.source != "outreach", epsilon, alpha)


def noisy_counts(plan: TablePlan, exact: Sequence[int]) -> list[int]:
    """Release ``exact`` with the plan's discrete Laplace noise. The only function that draws
    noise in the privacy layer.

    Privacy contract: unit as in the table's spec (one person, one call or one outreach unit),
    bounded to L1 distance ``plan.d_in = 1`` on ``exact``; loss ``plan.epsilon`` (pure DP,
    checked with OpenDP's privacy map); mechanism: discrete Laplace with ``plan.scale``; no
    threshold here (suppression is post-processing); public: the categories and their order,
    epsilon, scale.
    """
    if len(exact) != plan.n_cells:
        raise ValueError(f"table {plan.table!r}: {len(exact)} counts for {plan.n_cells} categories")
    return [int(v) for v in plan.measurement([int(v) for v in exact])]


def discrete_laplace_variance(scale: float) -> float:
    """Variance of the discrete Laplace distribution ``P(k) ~ exp(-|k| / scale)``."""
    q = math.exp(-1.0 / scale)
    return 2.0 * q / (1.0 - q) ** 2
