"""Presentation: small-cell markers on released values, and the public table's columns."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy.postprocess import display, publish_cells


@settings(max_examples=50)
@given(
    counts=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=30),
    threshold=st.integers(min_value=3, max_value=12),
    total=st.one_of(st.none(), st.integers(min_value=0, max_value=400)),
)
def test_no_number_below_the_threshold_is_published(
    counts: list[int], threshold: int, total: int | None
) -> None:
    dims = {"cell": [f"c{i}" for i in range(len(counts))]}
    table = publish_cells(dims, counts, threshold, moe95=7, total=total)
    assert list(table.columns) == ["cell", "count", "status", "display", "moe95"]
    assert str(table["count"].dtype) == "Int64"
    for row in table.to_dict("records"):
        if row["status"] == "suppressed":
            assert pd.isna(row["count"])
            assert row["display"] == f"<{threshold}"
        else:
            assert row["status"] == "published"
            assert row["count"] >= threshold
            assert row["display"] == str(row["count"])
    assert len(table) == len(counts) + (total is not None)
    if total is not None:
        assert table.iloc[-1]["cell"] == "total"


def test_publish_cells_examples() -> None:
    table = publish_cells(
        {"gender": ["female", "male", "other"]}, [56, 10, 0], 5, moe95=8, total=66, total_moe95=4
    )
    assert table["display"].tolist() == ["56", "10", "<5", "66"]
    assert table["status"].tolist() == ["published", "published", "suppressed", "published"]
    assert table["moe95"].tolist() == [8, 8, 8, 4]
    assert display(4, 5) == "<5" and display(5, 5) == "5"


def test_publish_cells_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match=r"^released counts must be non-negative$"):
        publish_cells({"c": ["a"]}, [-1], 5, 3)
    with pytest.raises(ValueError, match=r"^dimension names clash with published columns: status$"):
        publish_cells({"status": ["a"]}, [1], 5, 3)
    with pytest.raises(ValueError, match=r"^2 counts for 1 cells of 'c'$"):
        publish_cells({"c": ["a"]}, [1, 2], 5, 3)
