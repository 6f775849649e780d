"""The two encoders of stored events agree byte for byte."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.case import case_id
from domain.events import parse_event, to_record
from infra.encoding import case_hex, encode_event, encode_record
from simulation.simulate import load_profile, simulate


@pytest.mark.parametrize("seed", [1, 2])
def test_direct_encoding_equals_encoding_the_record(seed: int) -> None:
    events = [parse_event(json.dumps(e)) for e in simulate(load_profile("cmm-2012"), seed=seed)]
    assert {e.type for e in events} >= {
        "ContactRegistered",
        "AssessmentDecided",
        "SupportOffered",
        "SupportStatusChanged",
        "AccommodationChanged",
        "DepartedDenmark",
        "HotlineCallReceived",
        "OutreachActivityLogged",
        "CorrectionRecorded",
    }
    for event in events:
        assert encode_event(event) == encode_record(to_record(event))


def test_non_utc_offsets_are_stored_in_utc() -> None:
    event = parse_event(
        json.dumps(
            {
                "event_id": "0189c7a0-0000-7000-8000-000000000001",
                "type": "ContactRegistered",
                "schema_version": 1,
                "occurred_at": "2012-03-01T10:00:00+01:00",
                "recorded_at": "2012-03-01T10:30:00.25+01:00",
                "source": "police",
                "person_ref": "P-3fa9c2e1b7d4",
                "payload": {"channel": "police"},
            }
        )
    )
    record = to_record(event)
    assert (record["occurred_at"], record["recorded_at"]) == (
        "2012-03-01T09:00:00.000000Z",
        "2012-03-01T09:30:00.250000Z",
    )
    assert encode_event(event) == encode_record(record)


@given(st.text())
def test_a_case_stream_id_is_the_name_based_uuid_of_its_person(person_ref: str) -> None:
    assert case_hex(person_ref) == case_id(person_ref).hex
    assert case_hex(person_ref) == case_id(person_ref).hex  # remembered, the same
