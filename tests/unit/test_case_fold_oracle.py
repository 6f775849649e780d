"""The case fold, by definition and in one pass, against an oracle that shares no code with
either (``tests.case_oracle``): same state as of any time, same versions, for any history.

The histories are those of ``test_case_history_fast`` (ties on both times, corrections of
unknown or mistyped targets, redelivered copies, records of other kinds, any order).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.bitemporal import prepare
from projections.case_fold import CaseState, fold_case, refold_versions
from projections.case_fold_fast import case_projection
from projections.case_rows import CaseVersion
from tests import case_oracle
from tests.unit.test_case_history_fast import (
    _CASE_KINDS,
    _INSTANTS,
    PERSON,
    Rec,
    _simulated_persons,
    events,
    histories,
)


def _state(state: CaseState) -> dict[str, Any]:
    return dataclasses.asdict(state)


def _versions(versions: list[CaseVersion]) -> list[case_oracle.Version]:
    return [
        (
            v.recorded_at,
            None if v.fact is None else dataclasses.asdict(v.fact),
            tuple(tuple(row) for row in v.contacts),
        )
        for v in versions
    ]


def assert_as_the_oracle_says(person_ref: str, records: list[Rec]) -> None:
    expected_versions = case_oracle.case_versions(person_ref, records)
    expected_state = case_oracle.case_state(person_ref, records)

    fast_versions, fast_state = case_projection(person_ref, records)
    assert _versions(fast_versions) == expected_versions
    assert _state(fast_state) == expected_state

    defined_versions, defined_state = refold_versions(person_ref, prepare(records))
    assert _versions(defined_versions) == expected_versions
    assert _state(defined_state) == expected_state
    assert _state(fold_case(person_ref, records)) == expected_state


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=histories())
def test_random_histories_fold_as_the_oracle_says(records: list[Rec]) -> None:
    assert_as_the_oracle_says(PERSON, records)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_close_calls_fold_as_the_oracle_says(data: st.DataObject) -> None:
    pool = data.draw(st.lists(st.sampled_from(_INSTANTS), min_size=1, max_size=3).map(tuple))
    records = data.draw(st.lists(events(pool, _CASE_KINDS), max_size=8))
    assert_as_the_oracle_says(PERSON, records)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=histories(), day=st.sampled_from(_INSTANTS))
def test_the_state_as_of_any_time_is_the_oracles(records: list[Rec], day: Any) -> None:
    as_of = datetime.fromisoformat(f"{day[0]}T{day[1]}+00:00")
    assert _state(fold_case(PERSON, records, as_of)) == case_oracle.case_state(
        PERSON, records, as_of
    )


@pytest.mark.parametrize("seed", [1])
def test_every_simulated_person_folds_as_the_oracle_says(seed: int) -> None:
    for person_ref, records in _simulated_persons(seed).items():
        assert_as_the_oracle_says(person_ref, records)
