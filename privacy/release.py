"""The differentially private release of a reporting year's public tables.

:func:`release_dp` goes from the read model's inputs to public tables in four steps:
bound contributions and count exactly (:mod:`privacy.mechanisms`), let the caller spend the
budget (``before_noise``), draw the noise with OpenDP for every measured table
(``privacy.params.MEASURED_TABLES``), then post-process: one joint fit of every table
(:mod:`privacy.estimate`) and the small-cell markers (:mod:`privacy.postprocess`). Nothing
random happens before the budget is spent, and nothing that depends on the data decides what
is released except through the mechanism or a documented post-processing step.

Hotline calls and outreach activity (decided here, see ``privacy.mechanisms``):

- Hotline calls are released with DP under their own unit, one call (de-duplicated by
  ``event_id``, one cell per table). Calls carry no ``person_ref``, so a person whom several
  calls concern is protected at that multiple of the call tables' epsilon.
- Outreach activity is what the teams report as totals per place and period. The centre holds
  no person-level data for it, so no per-person bound can be enforced; the safe default is to
  noise it anyway: every additive measure (team activity such as shifts and visits too, so
  the table has one contract) is released with discrete Laplace noise under the unit "one
  counted unit" (L1 distance 1 on the reported counts), and ``assessed_victims`` per place
  comes from the de-duplicated facts (one person, at most one place). The per-person minimum
  and maximum uses are order statistics of one person and are withheld.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from domain.codes import CODE_LIST_VERSION
from privacy.estimate import Layout, estimate, layout, release_values, round_estimate
from privacy.mechanisms import (
    HistogramSpec,
    TablePlan,
    bound_calls,
    bound_persons,
    exact_counts_many,
    noisy_counts,
    outreach_counts,
    outreach_rows,
    plan_table,
    table_specs,
)
from privacy.model import Release
from privacy.params import DERIVED_TABLES, MEASURED_TABLES, RELEASED_TABLES, PrivacyParams
from privacy.postprocess import display, publish_cells

__all__ = [
    "BeforeNoise",
    "Prepared",
    "Release",
    "ReleasedTable",
    "ReportInputs",
    "expected_accuracy",
    "prepare_release",
    "release_dp",
    "release_from_measurements",
    "released_values",
]

BeforeNoise = Callable[[Mapping[str, float]], None]
"""Called with table -> epsilon after every measurement is built and checked, before any noise
is drawn; it spends the budget, and if it raises, no noise is drawn and nothing is released."""

DEFINITION = (
    "pure epsilon-differential privacy (max divergence) under adding or removing one privacy "
    "unit; tables compose sequentially, so a unit's loss is the sum over the tables it is in"
)
POSTPROCESSING = (
    "one joint generalised least-squares fit of every table from every measurement, under "
    "the public equalities between tables (each person table sums to victims_by_year, each "
    "by_region cell to its countries, each labour_by_industry cell to its genders, the labour "
    "tables to the forced_labour cell, police calls by reason to the police caller cell): "
    "unbiased for every cell; victims_by_year and labour_by_industry are derived from the fit "
    "and measured by nothing of their own. Then integers by top-down largest-remainder "
    "rounding (each within 1 of the fit, each group summing to the integer above it), then "
    "negative values released as 0 (so a table's cells can add up to a little more than its "
    "total). Values below the threshold are shown as '<threshold' (status 'suppressed', count "
    "empty), cells and totals alike. The total is the row whose every dimension is 'total'. "
    "Outreach cells are clipped at 0 one by one."
)
PUBLIC = (
    "the code lists and every category of every table (all ISO countries, industries, "
    "statuses, ...), the reporting year and the cut-off date, the table definitions and "
    "filters, epsilon per table, the mechanism and its scale, the threshold and alpha"
)

_TOTAL_RULES = {
    "own": "the fitted year total (the sum of every person table)",
    "sum": "the sum of the table's fitted cells",
    "none": "none: cells are different measures; each is clipped at 0",
}
MOE_MEANING = (
    "for each cell, |released value - true count| <= moe95 with probability >= {level} for "
    "any data: computed from the public scales and the joint fit's coefficients (noise, fit, "
    "rounding and clipping at 0 all accounted for), before the small-cell threshold"
)


class ReportInputs(Protocol):
    """What the read model provides (``infra.readmodel.load_report_inputs``)."""

    @property
    def facts(self) -> pd.DataFrame: ...
    @property
    def hotline(self) -> pd.DataFrame: ...
    @property
    def outreach(self) -> pd.DataFrame: ...


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Prepared:
    """A release ready to draw its noise: every measurement built and checked, the exact
    counts bound and held inside. Nothing random has happened yet.

    ``epsilons`` (table -> epsilon) is what :meth:`measure` will spend; the caller records the
    spend first. :meth:`measure` draws the noise (once per call: every call is a new
    release's worth of privacy loss) and returns the noisy measurements, which are DP outputs
    and may be stored; :func:`release_from_measurements` turns them into the public tables
    without looking at the data again.
    """

    year: int
    params: PrivacyParams
    epsilons: Mapping[str, float]
    _plans: Mapping[str, TablePlan] = field(repr=False)
    _exact: Mapping[str, list[int]] = field(repr=False)

    def measure(self) -> dict[str, list[int]]:
        """Draw the noise of every measurement (OpenDP). Call only after the spend."""
        return {name: noisy_counts(self._plans[name], self._exact[name]) for name in self._plans}


def prepare_release(
    inputs: ReportInputs, year: int, params: PrivacyParams | None = None
) -> Prepared:
    """Bound contributions, count exactly and plan every measurement of ``year``'s release.

    A value outside its code list raises ``ValueError`` here, before anything is spent.
    """
    params = params or PrivacyParams()
    specs = table_specs(year)
    plans = {
        name: plan_table(specs[name], params.epsilon_for(name), params.alpha)
        for name in MEASURED_TABLES
    }
    persons = bound_persons(inputs.facts, year)
    calls = bound_calls(inputs.hotline, year)
    logs = outreach_rows(inputs.outreach, year)
    measured = [specs[name] for name in MEASURED_TABLES]
    exact = exact_counts_many([s for s in measured if s.source == "facts"], persons)
    exact |= exact_counts_many([s for s in measured if s.source == "hotline"], calls)
    outreach = specs["outreach_activity"]
    exact[outreach.name] = outreach_counts(outreach, logs, persons)
    return Prepared(
        year=year,
        params=params,
        epsilons=MappingProxyType({name: plan.epsilon for name, plan in plans.items()}),
        _plans=MappingProxyType(plans),
        _exact=MappingProxyType(exact),
    )


def release_dp(
    inputs: ReportInputs,
    year: int,
    params: PrivacyParams | None = None,
    *,
    as_of: str | None = None,
    release_id: str | None = None,
    released_by: str | None = None,
    released_at: str | None = None,
    before_noise: BeforeNoise | None = None,
) -> Release:
    """Release every public table of ``year`` with differential privacy.

    Privacy contract:

    - Unit: one person for the person tables (``victims_by_year`` ... ``status_at_cutoff``,
      and ``assessed_victims`` in ``outreach_activity``); one call for the hotline tables;
      one counted unit of a team-reported measure for the rest of ``outreach_activity``.
      Contributions are bounded by the code, not assumed: facts are cut to ``year`` and
      de-duplicated to one row per person (one cell per table); calls by ``event_id``.
    - Loss: pure DP, ``params.epsilon_for(table)`` per table, ``params.epsilon_total`` for the
      release; a person's loss is ``params.epsilon_by_unit()["person"]``. Each table's OpenDP
      privacy map is checked to equal its planned epsilon.
    - Mechanism: discrete Laplace (OpenDP ``make_laplace`` on integer vectors, after
      ``make_count_by_categories``), scale in the metadata.
    - Threshold: released values below ``params.threshold`` are published as
      ``<threshold`` (post-processing of the noisy values, never of true counts).
    - Public: the code lists and categories, the year and cut-off, table definitions,
      epsilons, scales, threshold and alpha (``PUBLIC``).

    ``before_noise`` (usually the budget ledger's spend) is called once with table -> epsilon
    before any noise is drawn; if it raises, the exception propagates and nothing is drawn.
    A value outside its code list raises ``ValueError`` before ``before_noise`` is called.
    """
    prepared = prepare_release(inputs, year, params)
    if before_noise is not None:
        before_noise(dict(prepared.epsilons))
    return release_from_measurements(
        prepared.measure(),
        year,
        prepared.params,
        as_of=as_of,
        release_id=release_id,
        released_by=released_by,
        released_at=released_at,
    )


def release_from_measurements(
    noisy: Mapping[str, Sequence[int]],
    year: int,
    params: PrivacyParams | None = None,
    *,
    as_of: str | None = None,
    release_id: str | None = None,
    released_by: str | None = None,
    released_at: str | None = None,
) -> Release:
    """The public tables from the noisy measurements of :meth:`Prepared.measure`.

    Post-processing only: a function of the noisy values and public parameters, so it may be
    run again (for example after a failed write) and gives the same release every time.
    """
    params = params or PrivacyParams()
    specs = table_specs(year)
    plans = {
        name: plan_table(specs[name], params.epsilon_for(name), params.alpha)
        for name in MEASURED_TABLES
    }
    _check_measurements(noisy, specs)
    fit = layout(year, params)
    rounded = round_estimate(fit, estimate(fit, noisy))
    values = np.maximum(rounded, 0)

    tables: dict[str, pd.DataFrame] = {}
    table_meta: dict[str, dict[str, Any]] = {}
    for name in RELEASED_TABLES:
        spec = specs[name]
        plan = plans.get(name)
        counts = fit.cells(values, name)
        margins = fit.cells(fit.moe95, name)
        total, total_moe, rule = _total(spec, fit, values, rounded)
        # The released total is a margin row (every dimension "total"); victims_by_year is
        # its own total, and outreach measures have none.
        table = publish_cells(
            spec.dims_columns(),
            counts,
            params.threshold,
            margins,
            total=total if spec.total.kind in ("parent", "sum") else None,
            total_moe95=total_moe,
        )
        suppressed = sum(c < params.threshold for c in counts)
        tables[name] = table
        table_meta[name] = {
            "dims": list(spec.dims),
            "unit": spec.unit,
            "contribution_bound": spec.contribution,
            "measured": plan is not None,
            "epsilon": plan.epsilon if plan else 0.0,
            "privacy_map": plan.privacy_map if plan else None,
            "d_in": plan.d_in if plan else None,
            "mechanism": plan.mechanism if plan else _DERIVED,
            "scale": plan.scale if plan else None,
            "alpha": params.alpha,
            "moe95": max(margins),
            "moe95_meaning": MOE_MEANING.format(level=f"{1 - params.alpha:.0%}"),
            "threshold": params.threshold,
            "total": None if total is None or total < params.threshold else total,
            "total_display": None if total is None else display(total, params.threshold),
            "total_rule": rule,
            "total_moe95": total_moe,
            "cells": len(spec.cells),
            "suppressed_cells": suppressed,
        }

    privacy: dict[str, Any] = {
        "definition": DEFINITION,
        "mechanism": "discrete Laplace (OpenDP make_laplace over integers), pure DP",
        "epsilon_total": math.fsum(p.epsilon for p in plans.values()),
        "derived_tables": list(DERIVED_TABLES),
        "epsilon_by_unit": params.epsilon_by_unit(),
        "weights": dict(params.weights),
        "alpha": params.alpha,
        "threshold": params.threshold,
        "marker": f"<{params.threshold}",
        "postprocessing": POSTPROCESSING,
        "public": PUBLIC,
        "opendp_version": version("opendp"),
        "tables": table_meta,
    }
    metadata: dict[str, Any] = {
        "method": "differential_privacy",
        "year": year,
        "as_of": as_of,
        "threshold": params.threshold,
        "code_list_version": CODE_LIST_VERSION,
        "release_id": release_id,
        "released_by": released_by,
        "released_at": released_at or _now(),
        "privacy": privacy,
    }
    return Release(tables=tables, metadata=metadata)


@dataclass(frozen=True)
class ReleasedTable:
    """One table's released values before the small-cell threshold, and each cell's 95%
    margin, in ``table_specs(year)[table].categories`` order (the total row excluded)."""

    values: list[int]
    moe95: list[int]


def released_values(
    noisy: Mapping[str, Sequence[int]], year: int, params: PrivacyParams | None = None
) -> dict[str, ReleasedTable]:
    """Every table's post-processed values before the threshold (for accuracy studies: the
    published table hides those below it). Post-processing only."""
    params = params or PrivacyParams()
    _check_measurements(noisy, table_specs(year))
    fit = layout(year, params)
    values = release_values(fit, noisy)
    return {
        name: ReleasedTable(fit.cells(values, name), fit.cells(fit.moe95, name))
        for name in RELEASED_TABLES
    }


def expected_accuracy(year: int, params: PrivacyParams | None = None) -> dict[str, dict[str, Any]]:
    """What a release of ``year`` under ``params`` would spend and how accurate each table
    would be, from the public parameters alone: no data is read, no noise drawn, nothing
    spent (``cmm publish --dry-run``).

    Per table: ``epsilon`` (0 for a derived table), ``unit``, ``cells``, the smallest and
    largest cell ``moe95`` (the 95% margin of what is published), and ``std_error``, the
    largest standard error of a cell before rounding."""
    params = params or PrivacyParams()
    specs = table_specs(year)
    fit = layout(year, params)
    out: dict[str, dict[str, Any]] = {}
    for name in RELEASED_TABLES:
        margins = fit.cells(fit.moe95, name)
        start, stop = fit.offsets[name]
        out[name] = {
            "epsilon": params.epsilon_for(name) if name in MEASURED_TABLES else 0.0,
            "measured": name in MEASURED_TABLES,
            "unit": specs[name].unit,
            "cells": len(specs[name].cells),
            "moe95_min": min(margins),
            "moe95_max": max(margins),
            "std_error": round(float(fit.std[start:stop].max()), 2),
        }
    return out


_DERIVED = "none of its own: derived from the joint fit of the measured tables (epsilon 0)"


def _check_measurements(
    noisy: Mapping[str, Sequence[int]], specs: Mapping[str, HistogramSpec]
) -> None:
    missing = [name for name in MEASURED_TABLES if name not in noisy]
    if missing:
        raise ValueError(f"no measurement for table(s) {', '.join(missing)}")
    for name in MEASURED_TABLES:
        if len(noisy[name]) != len(specs[name].categories):
            raise ValueError(
                f"table {name!r}: {len(noisy[name])} measurements for "
                f"{len(specs[name].categories)} cells"
            )


def _total(
    spec: HistogramSpec, fit: Layout, values: npt.NDArray[np.int64], rounded: npt.NDArray[np.int64]
) -> tuple[int | None, int | None, str]:
    """(released total or None, its margin, how the total was chosen). A ``sum`` total is
    the sum of the table's rounded cells before negatives are shown as 0 (the rounded fitted
    sum), clipped at 0."""
    rule = spec.total
    if rule.kind == "none":
        return None, None, _TOTAL_RULES["none"]
    if rule.kind == "parent":
        index = fit.total_index[spec.name]
        how = f"the released {rule.table} cell {rule.key!r}"
        return int(values[index]), int(fit.moe95[index]), how
    if rule.kind == "sum":
        total = max(0, sum(fit.cells(rounded, spec.name)))
        return total, fit.sum_moe95[spec.name], _TOTAL_RULES["sum"]
    return None, None, _TOTAL_RULES["own"]
