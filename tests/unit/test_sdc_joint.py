"""Joint suppression on small tables, attacked with an integer program written here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from privacy.sdc import ProtectionError, release_sdc


def attack_1d(published: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Every hidden cell's whole-number range given the published cells, the total and the
    rule that zeros are published (a hidden cell is at least 1)."""
    rows = published.to_dict("records")
    n = len(rows)
    lo = np.array([1.0 if r["status"] == "suppressed" else float(r["count"]) for r in rows])
    hi = np.array([1e4 if r["status"] == "suppressed" else float(r["count"]) for r in rows])
    a = np.array([[1.0 if r["category"] != "total" else -1.0 for r in rows]])
    out = {}
    for i, r in enumerate(rows):
        if r["status"] != "suppressed":
            continue
        ends = []
        for sign in (-1.0, 1.0):
            c = np.zeros(n)
            c[i] = sign
            res = milp(
                c,
                constraints=LinearConstraint(a, 0, 0),
                integrality=np.ones(n),
                bounds=Bounds(lo, hi),
            )
            ends.append(sign * res.fun)
        out[r["category"]] = (ends[1], ends[0])  # (min, max)
    return out


def table(counts: dict[str, int]) -> dict[str, pd.DataFrame]:
    return {"things": pd.DataFrame({"category": list(counts), "count": list(counts.values())})}


def test_a_hidden_one_can_be_six_and_a_hidden_four_can_be_one() -> None:
    published = release_sdc(table({"a": 1, "b": 4, "c": 20, "d": 30, "e": 0})).tables["things"]
    ranges = attack_1d(published)
    assert {"a", "b"} <= set(ranges)
    assert ranges["a"][0] == 1 and ranges["a"][1] >= 1 + 5
    assert ranges["b"][0] <= 1 and ranges["b"][1] >= 4 + 5
    # Zeros are published, so the reader's bound "hidden means at least 1" is true.
    assert published.set_index("category").loc["e", "status"] == "published"


def test_width_alone_is_not_enough_two_ones_need_a_large_partner() -> None:
    """Two hidden cells of 1 and 1 out of a published total are each in [1, 1 + slack]: the
    old width rule passed a pattern whose cells cannot reach x + 5 unless a big cell hides
    with them."""
    published = release_sdc(table({"a": 1, "b": 1, "c": 3, "d": 40})).tables["things"]
    ranges = attack_1d(published)
    for cell in ("a", "b", "c"):
        assert ranges[cell][1] >= {"a": 1, "b": 1, "c": 3}[cell] + 5
    assert "d" in ranges  # only the big cell can give the small ones room


def test_a_table_that_cannot_be_protected_is_refused() -> None:
    with pytest.raises(ProtectionError, match="nothing is released"):
        release_sdc(table({"a": 1, "b": 2, "c": 3}))  # the total 6 is published; 1 cannot reach 6
