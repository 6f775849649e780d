"""After the noise: the public tables and their metadata from the noisy measurements alone
(post-processing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from domain.codes import CODE_LIST_VERSION
from privacy.estimate import Layout, estimate, layout, round_estimate
from privacy.mechanisms import HistogramSpec, plan_table, table_specs
from privacy.model import Release
from privacy.params import DERIVED_TABLES, MEASURED_TABLES, RELEASED_TABLES, PrivacyParams
from privacy.postprocess import display, publish_cells
from privacy.release._contract_text import (
    DEFINITION,
    DERIVED_MECHANISM,
    MOE_MEANING,
    POSTPROCESSING,
    PUBLIC,
    TOTAL_RULES,
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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
            "mechanism": plan.mechanism if plan else DERIVED_MECHANISM,
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
        return None, None, TOTAL_RULES["none"]
    if rule.kind == "parent":
        index = fit.total_index[spec.name]
        how = f"the released {rule.table} cell {rule.key!r}"
        return int(values[index]), int(fit.moe95[index]), how
    if rule.kind == "sum":
        total = max(0, sum(fit.cells(rounded, spec.name)))
        return total, fit.sum_moe95[spec.name], TOTAL_RULES["sum"]
    return None, None, TOTAL_RULES["own"]
