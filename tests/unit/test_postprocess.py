"""Post-processing: non-negative integers that add up to the released total, then markers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy.postprocess import (
    clip_nonnegative,
    consistent_counts,
    display,
    project_to_simplex,
    publish_cells,
    round_preserving_sum,
    total_from_cells,
)

noisy_vectors = st.lists(st.integers(min_value=-60, max_value=400), min_size=1, max_size=60)
totals = st.integers(min_value=0, max_value=500)


@given(noisy=noisy_vectors, total=totals)
def test_consistent_counts_are_nonnegative_integers_summing_to_total(
    noisy: list[int], total: int
) -> None:
    out = consistent_counts(noisy, total)
    assert out.dtype == np.int64
    assert (out >= 0).all()
    assert int(out.sum()) == total


@given(noisy=noisy_vectors, total=totals)
def test_rounding_stays_within_one_of_the_projection(noisy: list[int], total: int) -> None:
    projected = project_to_simplex(noisy, total)
    assert projected.sum() == pytest.approx(total)
    assert (projected >= 0).all()
    assert np.abs(consistent_counts(noisy, total) - projected).max() < 1 + 1e-9


@given(noisy=noisy_vectors, total=totals)
def test_order_of_cells_is_kept(noisy: list[int], total: int) -> None:
    out = consistent_counts(noisy, total)
    for i in range(len(noisy)):
        for j in range(len(noisy)):
            if noisy[i] > noisy[j]:
                assert out[i] >= out[j]


@given(st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=40))
def test_consistent_input_is_left_alone(cells: list[int]) -> None:
    assert consistent_counts(cells, sum(cells)).tolist() == cells


@given(noisy=noisy_vectors, total=totals)
def test_projection_is_the_closest_point(noisy: list[int], total: int) -> None:
    """No other point of the simplex we try is closer (a check of optimality)."""
    x = project_to_simplex(noisy, total)
    y = np.asarray(noisy, dtype="float64")
    best = float(((x - y) ** 2).sum())
    n = len(noisy)
    for candidate in (np.full(n, total / n), consistent_counts(noisy, total).astype(float)):
        assert best <= float(((candidate - y) ** 2).sum()) + 1e-6


def test_projection_examples() -> None:
    assert project_to_simplex([10, 0, -3], 10).tolist() == [10.0, 0.0, 0.0]
    assert project_to_simplex([6, 6, -2], 10).tolist() == [5.0, 5.0, 0.0]
    assert consistent_counts([3, 3, 3], 10).tolist() == [4, 3, 3]  # tie: code-list order
    assert consistent_counts([3, 4, 3], 10).tolist() == [3, 4, 3]
    assert consistent_counts([-4, -9, -1], 0).tolist() == [0, 0, 0]
    assert consistent_counts([-4, -9, -1], 2).tolist() == [0, 0, 2]


def test_round_preserving_sum_refuses_inconsistent_input() -> None:
    with pytest.raises(ValueError, match=r"^numerators / q must sum to total$"):
        round_preserving_sum([1, 1], 2, 5)
    with pytest.raises(ValueError, match=r"^total must be a non-negative integer, not -1$"):
        consistent_counts([1], -1)


@given(st.lists(st.integers(min_value=-50, max_value=50), max_size=30))
def test_clip_and_own_total(noisy: list[int]) -> None:
    assert (clip_nonnegative(noisy) >= 0).all()
    assert total_from_cells(noisy) == max(0, sum(noisy))


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
