"""What a release is: the tables a privacy step hands to publication, and the columns
and markers every released table shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

PUBLISHED = "published"
SUPPRESSED = "suppressed"

TOTAL = "total"
"""Dimension value of a margin row: ``(industry="cleaning", gender="total")`` is the cleaning
row total. No code list uses ``total`` as a code, so it cannot be mistaken for a category."""

VALUE_COLUMNS: tuple[str, ...] = ("count", "status", "display", "moe95")
"""The columns after the dimensions in every released table, in this order."""


@dataclass(frozen=True)
class Release:
    """A set of tables that has passed a privacy step and may be published as it is.

    ``tables`` maps a table name (a key of :data:`TABLES`, or another name the producer chose)
    to a DataFrame with the dimension columns, then ``count`` (pandas ``Int64``, ``<NA>`` when
    suppressed), ``status`` (``"published"`` or ``"suppressed"``), ``display`` (the string a
    reader sees: ``"12"``, ``"<5"``, ``".."``) and ``moe95`` (the 95 % margin of error of the
    count, or None when the count is exact).

    ``metadata`` holds: ``year``, ``as_of`` (the cut-off date of the status figures),
    ``method`` (``"differential_privacy"`` or ``"suppression"``), ``privacy`` (the parameters of
    the method: epsilon per table, mechanism and privacy unit for DP; threshold, protection
    level and audit for SDC), ``threshold``, ``code_list_version``, ``released_at``,
    ``release_id`` and ``released_by``.

    Nothing in a Release depends on sensitive data except through the privacy step that made
    it, so every consumer may treat it as public (for SDC: public to the partners under
    agreement).
    """

    tables: dict[str, pd.DataFrame]
    metadata: dict[str, Any]
