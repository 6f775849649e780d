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
4. **Count fast, noise with OpenDP.** OpenDP's counting would re-scan every row for every
   table, so the counts are computed once with polars (:func:`exact_counts`) and only the
   Laplace step of the planned chain is applied to them (:func:`noisy_counts`); the benchmark
   of this choice is ``bench.bench_publish`` (``dp_release`` on a year of a million persons,
   against counting the same tables without privacy). The fast
   counts equal OpenDP's ``make_count_by_categories`` on the same keys (a unit test checks it),
   so the released output has exactly the planned chain's distribution.

``make_laplace`` over integers samples the discrete Laplace distribution
(``P(k) ~ exp(-|k| / scale)``, variance ``2 e^(-1/s) / (1 - e^(-1/s))^2``). No numpy or
``random`` noise is used anywhere in the privacy layer.

Where things are (import them from here):

- ``_specs``: the public tables (:class:`HistogramSpec`, :class:`TotalRule`,
  :func:`table_specs`) and the public cell rules they use (:data:`KEY_SEPARATOR`,
  :data:`ADDITIVE_MEASURES`, the ``other_<region>`` citizenship cells).
- ``_contribution_bounds``: step 1 (:func:`bound_persons`, :func:`bound_calls`,
  :func:`outreach_rows`).
- ``_exact_counts``: the counts of step 4 (:func:`exact_counts`, :func:`exact_counts_many`,
  :func:`outreach_counts`, and :func:`category_keys`, OpenDP's input for the same counts).
- ``_measurements``: steps 3 and 4 (:class:`TablePlan`, :func:`plan_table`,
  :func:`noisy_counts`, :func:`discrete_laplace_variance`).
"""

from __future__ import annotations

from privacy.mechanisms._contribution_bounds import bound_calls, bound_persons, outreach_rows
from privacy.mechanisms._exact_counts import (
    category_keys,
    exact_counts,
    exact_counts_many,
    outreach_counts,
)
from privacy.mechanisms._measurements import (
    MAP_TOLERANCE,
    TablePlan,
    discrete_laplace_variance,
    noisy_counts,
    plan_table,
)
from privacy.mechanisms._specs import (
    ADDITIVE_MEASURES,
    ASSESSED_VICTIMS,
    KEY_SEPARATOR,
    OTHER_PREFIX,
    HistogramSpec,
    Source,
    TotalRule,
    citizenship_cells,
    citizenship_group,
    citizenship_recode,
    table_specs,
)

__all__ = [
    "ADDITIVE_MEASURES",
    "ASSESSED_VICTIMS",
    "KEY_SEPARATOR",
    "MAP_TOLERANCE",
    "OTHER_PREFIX",
    "HistogramSpec",
    "Source",
    "TablePlan",
    "TotalRule",
    "bound_calls",
    "bound_persons",
    "category_keys",
    "citizenship_cells",
    "citizenship_group",
    "citizenship_recode",
    "discrete_laplace_variance",
    "exact_counts",
    "exact_counts_many",
    "noisy_counts",
    "outreach_counts",
    "outreach_rows",
    "plan_table",
    "table_specs",
]
