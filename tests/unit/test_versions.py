"""Contract versions: stored version-1 events are read as version 2 without rewriting the
store, and a version-1 stream reports exactly as the same stream in version 2."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from eventsourcing.application import Application

from domain.case import Case
from domain.events import SCHEMA_VERSION, parse_event, to_record
from domain.versions import upcast
from infra.encoding import decode_state, encode_event, encode_record
from projections.projection import record_from_state
from projections.report import build_report, report_to_json
from simulation.simulate import load_profile, simulate

V1_CONTACT: dict[str, Any] = {
    "event_id": "0189c7a0-0000-7000-8000-000000000001",
    "type": "ContactRegistered",
    "schema_version": 1,
    "occurred_at": "2012-03-01T10:00:00Z",
    "recorded_at": "2012-03-01T10:30:00Z",
    "source": "police",
    "person_ref": "P-3fa9c2e1b7d4",
    "payload": {"channel": "police"},
}


def as_version_1(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same events as a version-1 producer sends them."""
    return [{**r, "schema_version": 1} for r in records]


def test_the_current_version_is_2_and_upcasting_changes_only_the_number() -> None:
    assert SCHEMA_VERSION == 2
    record = to_record(parse_event(json.dumps(V1_CONTACT)))
    assert record["schema_version"] == 1  # stored as the producer wrote it
    read = upcast(dict(record))
    assert read == {**record, "schema_version": 2}


def test_a_stored_version_1_event_is_read_as_version_2_and_stays_version_1_in_the_store() -> None:
    event = parse_event(json.dumps(V1_CONTACT))
    encoded = encode_event(event)
    assert encoded == encode_record(to_record(event))
    state = decode_state(encoded.state)
    assert state["schema_version"] == 1  # the stored bytes are not rewritten
    record = record_from_state(encoded.topic, state)
    assert record is not None and record["schema_version"] == 2

    # Through eventsourcing's own mapper and repository as well.
    app: Application[Any] = Application()
    case = Case.open(V1_CONTACT["person_ref"], datetime.fromisoformat(event.recorded_at))
    assert case.record(event)
    app.save(case)
    stored = app.recorder.select_events(case.id)
    assert b'"schema_version":1' in stored[1].state
    again = app.repository.get(case.id)
    assert [r["schema_version"] for r in again.records] == [2]


@pytest.mark.parametrize("seed", [1, 3])
def test_a_version_1_stream_reports_as_the_version_2_stream(seed: int) -> None:
    records = list(simulate(load_profile("cmm-2012"), seed=seed))
    assert {r["schema_version"] for r in records} == {2}
    v1 = as_version_1(records)
    for r in v1:
        parse_event(json.dumps(r), "2100-01-01T00:00:00.000000Z")  # valid version-1 events
    v2_report = report_to_json(build_report(records, 2012, "2013-01-31"))
    assert report_to_json(build_report(v1, 2012, "2013-01-31")) == v2_report


def test_version_2_payloads_encode_alike_on_both_paths() -> None:
    assessment = {
        **V1_CONTACT,
        "event_id": "0189c7a0-0000-7000-8000-000000000002",
        "type": "AssessmentDecided",
        "schema_version": 2,
        "payload": {
            "authority": "cmm",
            "outcome": "victim",
            "exploitation": "sexual_exploitation",
            "additional_forms": ["forced_criminality", "forced_labour"],
            "citizenship": "RO",
            "gender": "unknown",
            "age": None,
            "legal_residence": True,
            "kind": "appeal",
        },
    }
    event = parse_event(json.dumps(assessment))
    record = to_record(event)
    assert "age" not in record["payload"]
    assert record["payload"]["additional_forms"] == ["forced_criminality", "forced_labour"]
    assert encode_event(event) == encode_record(record)
