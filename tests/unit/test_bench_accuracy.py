"""The accuracy benchmark's figures, on hand-made releases."""

from __future__ import annotations

import numpy as np
import pytest

from bench.bench_accuracy import Tally


def test_figures_count_only_cells_of_five_or_more() -> None:
    tally = Tally(np.asarray([0, 5, 12]))
    margins = np.asarray([3, 3, 3])
    tally.add(np.asarray([9, 7, 12]), margins, threshold=5)  # errors on the counted cells: 2, 0
    tally.add(np.asarray([0, 1, 8]), margins, threshold=5)  # errors: -4 (outside), -4 (outside)
    figures = tally.figures()
    assert figures["mae"] == pytest.approx((2 + 0 + 4 + 4) / 4)
    assert figures["coverage"] == pytest.approx(2 / 4)
    # Mean signed errors: cell 5 -> -1, cell 12 -> -2; over the margin 3.
    assert figures["worst_bias_over_moe"] == pytest.approx(2 / 3)
    assert figures["published_share_10"] == pytest.approx(1.0)  # 12 and 8: 8 >= 5


def test_a_table_without_cells_of_five_has_no_figures() -> None:
    tally = Tally(np.asarray([0, 1, 4]))
    tally.add(np.asarray([3, 2, 1]), np.asarray([3, 3, 3]), threshold=5)
    assert tally.figures() == {}
