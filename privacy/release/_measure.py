"""Before and at the noise: bound, count and plan every measurement, let the caller spend the
budget, then draw the noise (OpenDP).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

import pandas as pd

from privacy.mechanisms import (
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
from privacy.params import MEASURED_TABLES, PrivacyParams
from privacy.release._from_measurements import release_from_measurements

BeforeNoise = Callable[[Mapping[str, float]], None]
"""Called with table -> epsilon after every measurement is built and checked, before any noise
is drawn; it spends the budget, and if it raises, no noise is drawn and nothing is released."""


class ReportInputs(Protocol):
    """What the read model provides (``infra.readmodel.load_report_inputs``)."""

    @property
    def facts(self) -> pd.DataFrame: ...
    @property
    def hotline(self) -> pd.DataFrame: ...
    @property
    def outreach(self) -> pd.DataFrame: ...


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
