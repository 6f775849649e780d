"""Privacy parameters validate themselves with exact messages."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy.params import (
    DEFAULT_EPSILON_TOTAL,
    DEFAULT_THRESHOLD,
    DEFAULT_WEIGHTS,
    DERIVED_TABLES,
    MEASURED_TABLES,
    PERSON_TABLES,
    PrivacyParams,
    TableBudget,
)


def _weights(**changes: float) -> dict[str, float]:
    return {**DEFAULT_WEIGHTS, **changes}


def test_defaults() -> None:
    params = PrivacyParams()
    assert params.epsilon_total == DEFAULT_EPSILON_TOTAL == 5.0
    assert params.threshold == DEFAULT_THRESHOLD == 5
    assert params.alpha == 0.05
    assert tuple(params.weights) == MEASURED_TABLES


def test_frozen() -> None:
    params = PrivacyParams()
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.threshold = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        params.weights["by_authority"] = 9.0  # type: ignore[index]


@pytest.mark.parametrize("threshold", [2, 0, -5])
def test_threshold_below_three_refused(threshold: int) -> None:
    with pytest.raises(ValueError, match=rf"^threshold must be at least 3, not {threshold}$"):
        PrivacyParams(threshold=threshold)


@pytest.mark.parametrize("threshold", [5.0, "5", True])
def test_threshold_must_be_an_integer(threshold: object) -> None:
    with pytest.raises(ValueError, match=r"^threshold must be an integer, not "):
        PrivacyParams(threshold=threshold)  # type: ignore[arg-type]


def test_threshold_three_allowed() -> None:
    assert PrivacyParams(threshold=3).threshold == 3


@pytest.mark.parametrize("epsilon", [0, 0.0, -1.0, math.inf, math.nan])
def test_non_positive_epsilon_refused(epsilon: float) -> None:
    with pytest.raises(ValueError, match=r"^epsilon_total must be a positive finite number, not "):
        PrivacyParams(epsilon_total=epsilon)


def test_unknown_table_in_weights_refused() -> None:
    with pytest.raises(ValueError, match=r"^unknown table in weights: 'by_shoe_size'; "):
        PrivacyParams(weights=_weights(by_shoe_size=1.0))


@pytest.mark.parametrize("table", DERIVED_TABLES)
def test_a_derived_table_has_no_budget(table: str) -> None:
    """The year total and the forced-labour margin are post-processing of the other tables:
    giving them a weight, or asking for their epsilon, is refused."""
    with pytest.raises(ValueError, match=rf"^derived table in weights: '{table}'; "):
        PrivacyParams(weights=_weights(**{table: 1.0}))
    with pytest.raises(ValueError, match=rf"^table '{table}' is not measured"):
        PrivacyParams().epsilon_for(table)


def test_missing_table_in_weights_refused() -> None:
    weights = dict(DEFAULT_WEIGHTS)
    del weights["by_authority"]
    with pytest.raises(ValueError, match=r"^weights must name every table; missing: by_authority$"):
        PrivacyParams(weights=weights)


@pytest.mark.parametrize("weight", [0.0, -1.0, math.inf])
def test_non_positive_weight_refused(weight: float) -> None:
    with pytest.raises(
        ValueError,
        match=rf"^weight for table 'by_authority' must be a positive finite number, not {weight}$",
    ):
        PrivacyParams(weights=_weights(by_authority=weight))


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.5])
def test_alpha_must_be_in_open_unit_interval(alpha: float) -> None:
    with pytest.raises(
        ValueError, match=re.escape(f"alpha must be a float in (0, 1), not {alpha}")
    ):
        PrivacyParams(alpha=alpha)


def test_table_budget_validates() -> None:
    with pytest.raises(ValueError, match=r"^unknown table 'nope'; expected one of: "):
        TableBudget("nope", 1.0)
    with pytest.raises(
        ValueError,
        match=r"^epsilon for table 'by_authority' must be a positive finite number, not 0$",
    ):
        TableBudget("by_authority", 0)
    assert TableBudget("hotline_by_caller", 0.1).unit == "call"


def test_default_split() -> None:
    eps = PrivacyParams().epsilon_by_table()
    assert set(eps) == set(MEASURED_TABLES)
    assert eps["labour_by_industry_gender"] == pytest.approx(1.9 * eps["by_authority"])
    assert eps["outreach_activity"] == pytest.approx(eps["by_authority"] / 4)
    # A person is in 8 measurements of 11 weight units and the outreach table (0.25) of 12.25.
    assert PrivacyParams().epsilon_by_unit()["person"] == pytest.approx(5.0 * 11.25 / 12.25)
    assert math.fsum(eps.values()) == pytest.approx(5.0)


@settings(max_examples=50)
@given(
    total=st.floats(min_value=1e-3, max_value=100.0),
    weights=st.lists(
        st.floats(min_value=1e-3, max_value=1e3),
        min_size=len(MEASURED_TABLES),
        max_size=len(MEASURED_TABLES),
    ),
)
def test_split_adds_up_and_follows_weights(total: float, weights: list[float]) -> None:
    params = PrivacyParams(
        epsilon_total=total, weights=dict(zip(MEASURED_TABLES, weights, strict=True))
    )
    eps = params.epsilon_by_table()
    assert math.fsum(eps.values()) == pytest.approx(total, rel=1e-12)
    assert all(e > 0 for e in eps.values())
    a, b = MEASURED_TABLES[0], MEASURED_TABLES[1]
    assert eps[a] / eps[b] == pytest.approx(params.weights[a] / params.weights[b], rel=1e-9)
    by_unit = params.epsilon_by_unit()
    person = math.fsum(eps[t] for t in PERSON_TABLES if t in eps) + eps["outreach_activity"]
    assert by_unit["person"] == pytest.approx(person)
