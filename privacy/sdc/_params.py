"""The parameters of a suppression release, the marker of a hidden cell, and the guarantee as
the release metadata states it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

DEFAULT_THRESHOLD = 5
MARKER = ".."
"""What a reader sees in place of every suppressed count (see :mod:`privacy.sdc` for why
it is not ``<5``)."""


@dataclass(frozen=True)
class SDCParams:
    """The parameters of a suppression release, validated on construction.

    ``threshold``: counts with ``0 < count < threshold`` are suppressed. ``protection``: the
    least width ``upper - lower`` of every suppressed cell's feasible interval; it defaults to
    the threshold.
    """

    threshold: int = DEFAULT_THRESHOLD
    protection: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int):
            raise TypeError(f"threshold must be an int, not {type(self.threshold).__name__}")
        if self.threshold < 1:
            raise ValueError(f"threshold must be at least 1, got {self.threshold}")
        if self.protection is not None and not (
            math.isfinite(self.protection) and self.protection > 0
        ):
            raise ValueError(f"protection must be a positive finite number, got {self.protection}")

    @property
    def protection_level(self) -> float:
        return float(self.threshold if self.protection is None else self.protection)

    def describe(self) -> dict[str, Any]:
        """The parameters and the guarantee, as published in the release metadata."""
        p = self.protection_level
        return {
            "mechanism": "cell_suppression",
            "threshold": self.threshold,
            "protection_level": p,
            "upper_protection_level": p,
            "lower_protection_level": p,
            "primary_rule": f"0 < count < {self.threshold}; zeros are always published, so "
            "every suppressed cell is at least 1",
            "protection_rule": (
                "for every cell x with 0 < x < threshold, and every change d of a cell against "
                "an earlier partner release of the year with 0 < |d| < threshold, the "
                "whole-number solutions consistent with everything published (all tables, "
                "their margins and relations, suppressed cells >= 1, earlier partner releases) "
                f"reach x + {p:g} upwards and max(floor, x - {p:g}) downwards, where floor is "
                "the least value the published zeros and grand totals allow (1 for a single "
                "cell); no suppressed cell is fixed by the published cells"
            ),
            "audit": "one joint system over all tables and earlier partner releases of the "
            "year; secondary suppressions chosen by MILP with capacity cuts, protection proved "
            "by integer programming (scipy.optimize.milp, HiGHS)",
            "marker": MARKER,
            "epsilon": None,
        }
