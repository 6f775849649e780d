"""The OpenDP measurements: each table's checked chain and the only place where noise is
drawn (steps 3 and 4 of :mod:`privacy.mechanisms`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import opendp.prelude as dp

from privacy.mechanisms._specs import HistogramSpec

dp.enable_features("contrib")


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
