"""Accuracy from the noisy measurements or from the public parameters alone: the values before
the small-cell threshold, and what a release would spend and how accurate it would be.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from privacy.estimate import layout, release_values
from privacy.mechanisms import table_specs
from privacy.params import MEASURED_TABLES, RELEASED_TABLES, PrivacyParams
from privacy.release._from_measurements import _check_measurements


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
