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

Where things are (import them from here):

- ``_measure``: before and at the noise (:class:`ReportInputs`, :data:`BeforeNoise`,
  :class:`Prepared`, :func:`prepare_release`, :func:`release_dp`).
- ``_from_measurements``: after it, post-processing only (:func:`release_from_measurements`).
- ``_accuracy``: :func:`released_values` (before the threshold, for accuracy studies) and
  :func:`expected_accuracy` (from the public parameters alone).
- ``_contract_text``: the privacy contract in words, as the release metadata states it.
"""

from __future__ import annotations

from privacy.model import Release
from privacy.release._accuracy import ReleasedTable, expected_accuracy, released_values
from privacy.release._from_measurements import release_from_measurements
from privacy.release._measure import (
    BeforeNoise,
    Prepared,
    ReportInputs,
    prepare_release,
    release_dp,
)

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
